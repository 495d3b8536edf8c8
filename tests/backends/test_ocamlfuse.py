"""OcamlfuseBackend against a stand-in google-drive-ocamlfuse that makes REAL FUSE mounts.

The stand-in (tests/fakes/google-drive-ocamlfuse) takes the real program's options, files
and prompts, and mounts a local "cloud" folder with rclone. HOME is a temp folder, so
``~/.gdfuse`` is private to each test.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sqlite3
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivewidget import DriveController
from drivewidget.backends import create_backend
from drivewidget.backends.ocamlfuse import FSTYPE, OcamlfuseBackend, extract_code
from drivewidget.errors import (
    AuthError,
    BackendUnavailable,
    InvalidMountpoint,
    MountTimeout,
    NotMounted,
    UnmountError,
)
from drivewidget.status.mounttable import MountEntry, find_mount

from ._ocamlfuse_fixtures import (
    FAKE_PROGRAM,
    GdfuseWorld,
    ProcScanner,
    cleanup_mount,
    files_containing,
    make_world,
    processes_serving,
    requires_fuse,
    state_file_text,
    wait_gone,
)

CLIENT_ID = "123456789012-fakeclient.apps.googleusercontent.com"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_cwd: None) -> Iterator[GdfuseWorld]:
    w = make_world(tmp_path, monkeypatch)
    try:
        yield w
    finally:
        for backend in w.backends:
            backend.close()
        os.chdir(tmp_path)  # never sit inside a mount being detached
        cleanup_mount(w.mountpoint)


def _controller(world: GdfuseWorld, backend: OcamlfuseBackend) -> DriveController:
    return DriveController(backend, mountpoint=world.mountpoint)


def _authorised(world: GdfuseWorld, label: str | None = None, **kwargs: object) -> OcamlfuseBackend:
    backend = world.backend(label, **kwargs)
    backend.install_state_file(state_file_text().encode())
    return backend


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- mounting for real ------------------------------------------------------------------------


@pytest.mark.fuse
@requires_fuse
def test_service_account_mount_write_reaches_cloud(world: GdfuseWorld) -> None:
    key = world.service_account_key()
    ctrl = _controller(world, world.backend(service_account=key))
    ctrl.mount()
    entry = find_mount(ctrl.mountpoint)
    assert ctrl.state == "mounted" and entry is not None
    assert entry.fstype in ctrl.backend.fstypes
    assert ctrl.message == f"Mounted at {ctrl.mountpoint}"
    assert (Path(ctrl.root) / "project" / "notes.txt").read_text() == "hello from the cloud"
    payload = os.urandom(200_000)
    (Path(ctrl.mountpoint) / "project" / "result.bin").write_bytes(payload)
    ctrl.chdir("project")
    ctrl.unmount()
    assert ctrl.state == "unmounted" and find_mount(ctrl.mountpoint) is None
    assert not os.getcwd().startswith(str(ctrl.mountpoint))
    assert (world.cloud / "project" / "result.bin").read_bytes() == payload
    assert processes_serving(ctrl.mountpoint) == []  # the daemon was waited for
    # Like the real program, the stand-in saved the command-line option in its config.
    config = (world.gdfuse_dir() / "config").read_text()
    assert f"service_account_credentials_path={key}" in config


@pytest.mark.fuse
@requires_fuse
def test_installed_state_file_mounts_with_label(world: GdfuseWorld) -> None:
    backend = create_backend("ocamlfuse", "work")
    assert isinstance(backend, OcamlfuseBackend) and backend.account == "work"
    backend.program = str(FAKE_PROGRAM)
    world.backends.append(backend)
    assert not backend.authorised()
    path = Path(backend.install_state_file(state_file_text().encode()))
    assert path == world.gdfuse_dir("work") / "state"
    assert _mode(path) == 0o600 and _mode(world.gdfuse_dir("work") / "config") == 0o600
    assert backend.authorised()
    ctrl = _controller(world, backend)
    ctrl.mount()
    assert ctrl.state == "mounted"
    (Path(ctrl.root) / "new-folder").mkdir()
    (Path(ctrl.root) / "new-folder" / "a.txt").write_text("written through the mount")
    ctrl.unmount()
    assert (world.cloud / "new-folder" / "a.txt").read_text() == "written through the mount"
    # The program rewrote its files (it does on every run) and kept them private.
    assert _mode(world.gdfuse_dir("work") / "state") == 0o600
    assert _mode(world.gdfuse_dir("work") / "config") == 0o600


@pytest.mark.fuse
@requires_fuse
def test_readonly_mount_refuses_writes(world: GdfuseWorld) -> None:
    ctrl = _controller(world, _authorised(world))
    ctrl.mount(readonly=True)
    assert ctrl.readonly and ctrl.message.endswith("(read-only)")
    with pytest.raises(OSError):
        (Path(ctrl.mountpoint) / "x.txt").write_text("no")
    ctrl.unmount()
    assert not (world.cloud / "x.txt").exists()


@pytest.mark.fuse
@requires_fuse
def test_killed_daemon_is_stale_and_recovers(world: GdfuseWorld) -> None:
    ctrl = _controller(world, _authorised(world))
    ctrl.mount()
    pids = processes_serving(ctrl.mountpoint)
    assert pids, "the mount has a daemon"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert wait_gone(pids) == []
    assert ctrl.refresh() == "stale"
    assert find_mount(ctrl.mountpoint) is not None
    ctrl.unmount()  # lazy unmount of the stale mount
    assert ctrl.state == "unmounted" and find_mount(ctrl.mountpoint) is None
    ctrl.mount()
    assert ctrl.state == "mounted"
    assert (Path(ctrl.root) / "project" / "notes.txt").exists()
    ctrl.unmount()
    assert ctrl.state == "unmounted"


@pytest.mark.fuse
@requires_fuse
def test_a_new_controller_sees_the_existing_mount(world: GdfuseWorld) -> None:
    backend = _authorised(world)
    _controller(world, backend).mount()
    again = _controller(world, world.backend())
    assert again.state == "mounted"
    again.mount()  # no second mount on top of the first
    assert again.message.startswith("Already mounted")
    again.unmount()
    assert find_mount(world.mountpoint) is None


# -- authorisation ------------------------------------------------------------------------------


def test_not_authorised_raises_auth_error_with_guidance(world: GdfuseWorld) -> None:
    ctrl = _controller(world, world.backend())
    with pytest.raises(AuthError) as info:
        ctrl.mount()
    text = str(info.value)
    for words in ("state file", "service account", "loopback", "~/.gdfuse/default/state"):
        assert words in text
    assert ctrl.state == "error" and ctrl.error == text
    assert find_mount(ctrl.mountpoint) is None
    # The config was created private even though the mount was refused.
    assert _mode(world.gdfuse_dir() / "config") == 0o600


def test_standin_refuses_unauthorised_like_the_real_program(world: GdfuseWorld) -> None:
    world.mountpoint.mkdir()
    result = subprocess.run(
        [str(FAKE_PROGRAM), str(world.mountpoint)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 1
    assert result.stderr == "Error: You should specify a client id (-id) and a client secret (-secret)\n"
    assert find_mount(world.mountpoint) is None
    # What the backend makes of that output, should the program ever refuse after our checks.
    backend = world.backend()
    error = backend._mount_failure(str(world.mountpoint), result.stderr)
    assert isinstance(error, AuthError) and "service account" in str(error)


def test_headless_prompt_without_answer_is_end_of_file(world: GdfuseWorld) -> None:
    world.backend(client_id=CLIENT_ID, client_secret="GOCSPX-unused").set_client(CLIENT_ID, "GOCSPX-unused")
    result = subprocess.run(
        [str(FAKE_PROGRAM), "-headless"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert "Please, open the following URL in a web browser: https://accounts.google.com/" in result.stdout
    assert result.stdout.endswith("Please enter the verification code: ")
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Foauth2callback" in result.stdout
    assert result.stderr == "Error: End_of_file\n"


def test_wrong_code_is_refused_without_echoing_it(world: GdfuseWorld) -> None:
    backend = world.backend(client_id=CLIENT_ID, client_secret="GOCSPX-wrong-code-test")
    url = backend.begin_authorization()
    assert url is not None and CLIENT_ID in url
    code = "not-a-google-code-0123456789"
    with pytest.raises(AuthError) as info:
        backend.complete_authorization(code)
    assert "refused the code" in str(info.value)
    assert code not in str(info.value) and "GOCSPX" not in str(info.value)
    assert not backend.authorised()
    with pytest.raises(AuthError):
        backend.complete_authorization(code)  # nothing is waiting any more


def test_sign_in_needs_a_client(world: GdfuseWorld) -> None:
    with pytest.raises(AuthError, match="client ID and secret"):
        world.backend().begin_authorization()


def test_already_authorised_sign_in_returns_none(world: GdfuseWorld) -> None:
    backend = _authorised(world, client_id=CLIENT_ID, client_secret="GOCSPX-already")
    assert backend.begin_authorization() is None


def test_state_file_must_hold_a_token(world: GdfuseWorld) -> None:
    backend = world.backend()
    with pytest.raises(AuthError, match="no refresh token"):
        backend.install_state_file(b"client_id=x\nclient_secret=y\n")
    with pytest.raises(AuthError, match="not text"):
        backend.install_state_file(b"\xff\xfe\x00binary")
    assert not (world.gdfuse_dir() / "state").exists()


def test_missing_service_account_key(world: GdfuseWorld) -> None:
    ctrl = _controller(world, world.backend(service_account=world.tmp / "nope.json"))
    with pytest.raises(AuthError, match="does not exist"):
        ctrl.mount()
    bad = world.tmp / "bad.json"
    bad.write_text('{"type": "authorized_user"}')
    with pytest.raises(AuthError, match="not a service account key"):
        _controller(world, world.backend(service_account=bad)).mount()


@pytest.mark.parametrize(
    "answer",
    [
        "4/0AbCdEf-123_x",
        "  4/0AbCdEf-123_x\n",
        "http://127.0.0.1:8080/oauth2callback?code=4%2F0AbCdEf-123_x&scope=https://www.googleapis.com/auth/drive",
        "127.0.0.1:8080/oauth2callback?code=4/0AbCdEf-123_x",
    ],
)
def test_extract_code(answer: str) -> None:
    assert extract_code(answer) == "4/0AbCdEf-123_x"


# -- secrets ----------------------------------------------------------------------------------


@pytest.mark.fuse
@requires_fuse
def test_config_is_private_and_keeps_existing_keys(world: GdfuseWorld) -> None:
    secret = "GOCSPX-" + os.urandom(12).hex()
    config = world.gdfuse_dir() / "config"
    config.parent.mkdir(parents=True)
    config.write_text("umask=0002\nmy_custom_key=kept\nclient_secret=old-one\n")
    os.chmod(config, 0o644)
    backend = _authorised(world, client_id=CLIENT_ID, client_secret=secret)
    ctrl = _controller(world, backend)
    ctrl.mount()
    ctrl.unmount()
    assert _mode(config) == 0o600
    values = dict(line.split("=", 1) for line in config.read_text().splitlines())
    assert values["client_secret"] == secret and values["client_id"] == CLIENT_ID
    assert values["umask"] == "0002" and values["my_custom_key"] == "kept"
    assert values["oauth2_loopback"] == "true"
    assert files_containing(world.tmp, secret) == [config]


@pytest.mark.fuse
@requires_fuse
def test_secrets_never_reach_command_lines_messages_or_logs(
    world: GdfuseWorld, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "GOCSPX-" + os.urandom(12).hex()
    code = "4/0A" + os.urandom(16).hex()
    backend = world.backend(client_id=CLIENT_ID, client_secret=secret)
    ctrl = _controller(world, backend)
    messages: list[str] = []
    ctrl.observe(lambda change: messages.append(str(change["new"])), names=["message", "error"])
    scanner = ProcScanner([secret, code])
    with scanner.running():
        with pytest.raises(AuthError):
            ctrl.mount()  # not signed in yet
        url = backend.begin_authorization()
        assert url is not None and secret not in url
        lines = backend.complete_authorization(f"http://127.0.0.1:8080/oauth2callback?code={code}&scope=x")
        assert backend.authorised()
        ctrl.mount()
        assert ctrl.state == "mounted"
        (Path(ctrl.root) / "proof.txt").write_text("signed in")
        time.sleep(0.1)  # let the scanner see the running daemon
        ctrl.unmount()
    assert scanner.scans > 3
    assert scanner.hits == [], "a secret appeared in some process's command line or environment"
    out, err = capfd.readouterr()
    seen = [*lines, *messages, ctrl.message, ctrl.error, out, err, caplog.text]
    for needle in (secret, code, code.replace("/", "%2F")):
        assert not any(needle in text for text in seen)
    assert (world.cloud / "proof.txt").read_text() == "signed in"
    config = world.gdfuse_dir() / "config"
    assert files_containing(world.tmp, secret) == [config] and _mode(config) == 0o600
    assert files_containing(world.tmp, code) == []
    assert _mode(world.gdfuse_dir() / "state") == 0o600


# -- failures -----------------------------------------------------------------------------------


def test_program_missing(world: GdfuseWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    ctrl = _controller(world, world.backend(program=str(world.tmp / "google-drive-ocamlfuse")))
    with pytest.raises(BackendUnavailable) as info:
        ctrl.mount()
    text = str(info.value)
    assert "not packaged in Debian" in text and "ppa:alessandro-strada/ppa" in text
    assert "opam" in text and "fuse3" in text
    monkeypatch.setenv("PATH", str(world.tmp))
    with pytest.raises(BackendUnavailable, match="google-drive-ocamlfuse is not installed"):
        OcamlfuseBackend().check_available()


@pytest.mark.parametrize("kind", ["symlink", "file", "not-empty", "missing-parent"])
def test_bad_mountpoints(world: GdfuseWorld, kind: str) -> None:
    target = world.tmp / "mnt" / "bad"
    if kind == "symlink":
        (world.tmp / "real").mkdir()
        target.symlink_to(world.tmp / "real")
    elif kind == "file":
        target.write_text("x")
    elif kind == "not-empty":
        target.mkdir()
        (target / "keep.txt").write_text("x")
    else:
        target = world.tmp / "no-such-parent" / "drive"
    ctrl = DriveController(_authorised(world), mountpoint=target)
    with pytest.raises(InvalidMountpoint):
        ctrl.mount()
    assert ctrl.state == "error" and ctrl.error
    assert find_mount(target) is None


def test_unmount_when_not_mounted(world: GdfuseWorld) -> None:
    ctrl = _controller(world, _authorised(world))
    with pytest.raises(NotMounted):
        ctrl.unmount()


def test_mount_timeout(world: GdfuseWorld) -> None:
    slow = world.tmp / "google-drive-ocamlfuse"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    ctrl = _controller(world, _authorised(world, program=str(slow), mount_timeout=0.5))
    started = time.monotonic()
    with pytest.raises(MountTimeout, match=r"did not finish mounting within 0\.5 s"):
        ctrl.mount()
    assert time.monotonic() - started < 10


def test_mount_entry_accepts_only_its_own() -> None:
    def entry(fstype: str, source: str) -> MountEntry:
        return MountEntry(mountpoint="/m", fstype=fstype, fsroot="/", source=source, options="rw")

    backend = OcamlfuseBackend()
    for found, expected in [
        (entry(FSTYPE, "google-drive-ocamlfuse"), True),
        (entry("fuse.rclone", "google-drive-ocamlfuse"), True),  # the stand-in
        (entry("fuse.rclone", "gdrive:"), False),  # someone's rclone mount
        (entry("fuse.drive", "drive"), False),
    ]:
        assert backend.owns(found) is expected


def test_labels_are_plain_names() -> None:
    assert OcamlfuseBackend().account == "default"
    for bad in ("../x", "a/b", "-o"):
        with pytest.raises(BackendUnavailable):
            OcamlfuseBackend(bad)


# -- flush: the asynchronous upload queue ------------------------------------------------------


def _queue_db(world: GdfuseWorld, rows: int) -> Path:
    config = world.gdfuse_dir() / "config"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("async_upload_queue=true\n")
    db = world.gdfuse_dir() / "cache" / "cache.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE upload_queue (id INTEGER PRIMARY KEY, resource_id INTEGER, state TEXT)")
        conn.executemany(
            "INSERT INTO upload_queue (resource_id, state) VALUES (?, 'ToUpload')",
            [(i,) for i in range(rows)],
        )
        conn.commit()
    return db


def test_flush_waits_for_the_upload_queue(world: GdfuseWorld) -> None:
    db = _queue_db(world, 2)

    def drain() -> None:
        time.sleep(0.4)
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.execute("DELETE FROM upload_queue")
            conn.commit()

    progress: list[str] = []
    thread = threading.Thread(target=drain)
    thread.start()
    world.backend().flush(str(world.mountpoint), progress=progress.append)
    thread.join()
    assert progress == ["Waiting for 2 queued uploads to finish..."]


def test_flush_gives_up_without_unmounting(world: GdfuseWorld) -> None:
    _queue_db(world, 1)
    with pytest.raises(UnmountError, match="still queued"):
        world.backend(flush_timeout=0.2).flush(str(world.mountpoint))


def test_flush_without_queue_returns_at_once(world: GdfuseWorld) -> None:
    said: list[str] = []
    world.backend().flush(str(world.mountpoint), said.append)  # no config, no queue: uploads happen on close
    assert said == []  # nothing waited for, nothing to report
    assert not world.gdfuse_dir().exists()  # and flushing created none of the program's files
