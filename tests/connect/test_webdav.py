"""Connect to real servers that need credentials (rclone serve webdav / s3 on loopback), mount, forget.

Checked throughout: no secret on any process's command line (scanned while everything runs),
none in messages, printed output or logs, and none in any file but the 0600 config, which
holds no trace of a connection once it is forgotten.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivewidget.backends.rclone import RcloneBackend
from drivewidget.connect import RcloneConfig, check_connection, connect_rclone
from drivewidget.connect.errors import CredentialsRejected, RemoteUnreachable
from drivewidget.controller import DriveController
from drivewidget.errors import RemoteNotFound

from ..conftest import _resume_and_reap, fuse_ready
from . import CmdlineScanner, files_containing, rclone, serve_s3, serve_webdav, variants

PASSWORD = "Tr0ub4dor&3 never-on-argv"
WRONG = "wrong-password-4711"
ACCESS_KEY = "AKIDCONNECTTEST"
SECRET_KEY = "s3cret/Key+ConnectTest0123456789"


@pytest.fixture
def backends() -> Iterator[list[RcloneBackend]]:
    """Backends a test mounts with; none of their rclone processes outlives the test."""
    made: list[RcloneBackend] = []
    yield made
    for backend in made:
        _resume_and_reap(backend)


def assert_no_leaks(
    tmp_path: Path,
    secrets: list[str],
    config: RcloneConfig,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    needles = [v for s in secrets for v in variants(s)]
    assert files_containing(tmp_path, needles, skip=[config.path]) == []
    out = capsys.readouterr()
    for needle in needles:
        assert needle not in out.out and needle not in out.err
        assert needle not in caplog.text


@pytest.mark.fuse
def test_webdav_wrong_then_right_password_mount_write_read_forget(
    tmp_path: Path,
    home: Path,
    mount_guard: list[str],
    restore_cwd: None,
    backends: list[RcloneBackend],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = RcloneConfig(program=rclone())
    with (
        serve_webdav(tmp_path / "served", "carol", PASSWORD) as server,
        CmdlineScanner([PASSWORD, WRONG]) as scan,
    ):
        fields = {"url": server.url, "user": "carol"}

        with pytest.raises(CredentialsRejected, match="wrong user name or password") as caught:
            connect_rclone("webdav", "dav", {**fields, "pass": WRONG}, config=config)
        assert WRONG not in str(caught.value)
        assert "dav" not in config, "a connection that failed its check was saved"

        done = connect_rclone("webdav", "dav", {**fields, "pass": PASSWORD}, config=config)
        assert "Connected" in done.message and PASSWORD not in done.message
        assert stat.S_IMODE(config.path.stat().st_mode) == 0o600
        obscured = config.sections()["dav"]["pass"]
        scan.needles.append(obscured.encode())
        assert PASSWORD not in config.path.read_text()

        backend = done.connection.make_backend()
        assert isinstance(backend, RcloneBackend)
        assert backend.remote == "dav:" and backend.config == str(config.path)
        backends.append(backend)
        mountpoint = tmp_path / "mnt"
        mount_guard.append(str(mountpoint))
        if not fuse_ready():
            pytest.skip("needs /dev/fuse and fusermount3 for the mount part")
        ctrl = DriveController(backend, mountpoint=str(mountpoint))
        ctrl.mount()
        assert ctrl.state == "mounted"
        (mountpoint / "notes").mkdir()
        (mountpoint / "notes" / "hello.txt").write_text("written through the mount")
        ctrl.unmount()
        assert (server.root / "notes" / "hello.txt").read_text() == "written through the mount"
        (server.root / "notes" / "reply.txt").write_text("written on the server")
        ctrl.mount()
        assert (mountpoint / "notes" / "hello.txt").read_text() == "written through the mount"
        assert (mountpoint / "notes" / "reply.txt").read_text() == "written on the server"
        ctrl.unmount()

        assert_no_leaks(tmp_path, [PASSWORD, WRONG, obscured], config, capsys, caplog)
        config.forget("dav")

    assert scan.scans > 20 and scan.hits == [], "a secret appeared on a command line"
    text = config.path.read_text()
    assert "dav" not in text and obscured not in text and server.url not in text
    assert "dav" not in config.meta_path.read_text()
    assert files_containing(tmp_path, [*variants(PASSWORD), obscured]) == []


@pytest.mark.fuse
def test_s3_wrong_key_unknown_bucket_then_mount_write_read_forget(
    tmp_path: Path,
    home: Path,
    mount_guard: list[str],
    restore_cwd: None,
    backends: list[RcloneBackend],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = RcloneConfig(program=rclone())
    with (
        serve_s3(tmp_path / "buckets", ACCESS_KEY, SECRET_KEY) as server,
        CmdlineScanner([SECRET_KEY]) as scan,
    ):
        (server.root / "data").mkdir()
        fields = {"provider": "Rclone", "endpoint": server.url, "access_key_id": ACCESS_KEY}

        with pytest.raises(CredentialsRejected, match="secret access key"):
            connect_rclone(
                "s3", "store", {**fields, "secret_access_key": "not-the-key", "path": "data"}, config=config
            )
        with pytest.raises(CredentialsRejected, match="access key ID"):
            connect_rclone(
                "s3",
                "store",
                {**fields, "access_key_id": "AKIDUNKNOWN", "secret_access_key": SECRET_KEY},
                config=config,
            )
        with pytest.raises(RemoteNotFound, match="'nobucket' does not exist"):
            connect_rclone(
                "s3", "store", {**fields, "secret_access_key": SECRET_KEY, "path": "nobucket"}, config=config
            )
        assert config.connections() == []

        done = connect_rclone(
            "s3", "store", {**fields, "secret_access_key": SECRET_KEY, "path": "data"}, config=config
        )
        assert done.connection.remote == "store:data"
        assert check_connection(done.connection, program=rclone()).entries == 0
        if fuse_ready():
            backend = done.connection.make_backend()
            backends.append(backend)  # type: ignore[arg-type]
            mountpoint = tmp_path / "mnt"
            mount_guard.append(str(mountpoint))
            ctrl = DriveController(backend, mountpoint=str(mountpoint))
            ctrl.mount()
            (mountpoint / "result.csv").write_text("a,b\n1,2\n")
            ctrl.unmount()
            assert (server.root / "data" / "result.csv").read_text() == "a,b\n1,2\n"
            ctrl.mount()
            assert (mountpoint / "result.csv").read_text() == "a,b\n1,2\n"
            ctrl.unmount()
        assert_no_leaks(tmp_path, [SECRET_KEY], config, capsys, caplog)
        config.forget("store")
    assert scan.hits == []
    assert SECRET_KEY not in config.path.read_text()
    assert files_containing(tmp_path, variants(SECRET_KEY)) == []


def test_server_gone_is_explained(tmp_path: Path, home: Path) -> None:
    config = RcloneConfig(program=rclone())
    with serve_webdav(tmp_path / "served", "carol", PASSWORD) as server:
        url = server.url
        connect_rclone("webdav", "dav", {"url": url, "user": "carol", "pass": PASSWORD}, config=config)
    with pytest.raises(RemoteUnreachable, match="refused the connection"):
        check_connection(config.get("dav"), program=rclone())


def test_the_cmdline_scanner_would_see_a_leak() -> None:
    import subprocess

    with CmdlineScanner(["needle-on-argv-0815"]) as scan:
        subprocess.run(["sh", "-c", "sleep 0.2", "needle-on-argv-0815"], check=True)
    assert scan.hits, "the scanner cannot see command lines, so its silence would prove nothing"
