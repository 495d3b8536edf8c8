"""LocalBackend: the embedded default, as a bind mount (root) and in place (no privileges)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drivewidget import DriveController
from drivewidget.backends import create_backend, detect_backend
from drivewidget.backends.local import LocalBackend
from drivewidget.errors import InvalidMountpoint, NotMounted, RemoteNotFound
from drivewidget.status.mounttable import find_mount

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    (folder / "project").mkdir(parents=True)
    (folder / "project" / "a.txt").write_text("a")
    return folder


def test_in_place_mode_needs_no_mount(source: Path, restore_cwd: None) -> None:
    ctrl = DriveController(LocalBackend(source, bind=False), mountpoint="/nonexistent/never/used")
    ctrl.mount()
    assert ctrl.state == "mounted"
    assert ctrl.root == str(source)
    assert "nothing is mounted from a cloud" in ctrl.message
    ctrl.chdir("project")
    ctrl.unmount()
    assert ctrl.state == "unmounted"
    assert not os.getcwd().startswith(str(source))


@needs_root
@pytest.mark.root
def test_bind_mount_shows_in_mount_table(
    source: Path, tmp_path: Path, mount_guard: list[str], restore_cwd: None
) -> None:
    mountpoint = tmp_path / "a" / "drive"
    (tmp_path / "a").mkdir()
    mount_guard.append(str(mountpoint))
    ctrl = DriveController(LocalBackend(source, bind=True), mountpoint=mountpoint)
    ctrl.mount()
    assert find_mount(mountpoint) is not None  # the missing last folder was created
    assert ctrl.root == str(mountpoint)
    assert (mountpoint / "project" / "a.txt").read_text() == "a"
    ctrl.chdir("project")
    ctrl.unmount()
    assert find_mount(mountpoint) is None
    assert not os.getcwd().startswith(str(mountpoint))


@needs_root
@pytest.mark.root
def test_bind_mount_readonly(source: Path, tmp_path: Path, mount_guard: list[str]) -> None:
    mountpoint = tmp_path / "ro"
    mount_guard.append(str(mountpoint))
    ctrl = DriveController(LocalBackend(source, bind=True), mountpoint=mountpoint)
    ctrl.mount(readonly=True)
    with pytest.raises(OSError):
        (mountpoint / "new.txt").write_text("x")
    ctrl.unmount()


@needs_root
@pytest.mark.root
def test_survives_a_new_controller(source: Path, tmp_path: Path, mount_guard: list[str]) -> None:
    """A kernel restart keeps mounts: a new controller starts in 'mounted'."""
    mountpoint = tmp_path / "m"
    mount_guard.append(str(mountpoint))
    DriveController(LocalBackend(source, bind=True), mountpoint=mountpoint).mount()
    again = DriveController(LocalBackend(source, bind=True), mountpoint=mountpoint)
    assert again.state == "mounted"
    again.unmount()


@needs_root
@pytest.mark.parametrize("kind", ["symlink", "file", "nonempty", "missing parent"])
def test_bad_mountpoints(kind: str, source: Path, tmp_path: Path, mount_guard: list[str]) -> None:
    mountpoint = tmp_path / "mp"
    if kind == "symlink":
        (tmp_path / "real").mkdir()
        mountpoint.symlink_to(tmp_path / "real")
    elif kind == "file":
        mountpoint.write_text("x")
    elif kind == "nonempty":
        mountpoint.mkdir()
        (mountpoint / "x").write_text("x")
    else:
        mountpoint = tmp_path / "missing" / "mp"
    mount_guard.append(str(mountpoint))
    ctrl = DriveController(LocalBackend(source, bind=True), mountpoint=mountpoint)
    with pytest.raises(InvalidMountpoint):
        ctrl.mount()
    assert ctrl.state == "error"
    assert find_mount(mountpoint) is None


def test_missing_folder(tmp_path: Path) -> None:
    ctrl = DriveController(LocalBackend(tmp_path / "gone", bind=False))
    with pytest.raises(RemoteNotFound, match="does not exist"):
        ctrl.mount()
    with pytest.raises(NotMounted):
        ctrl.unmount()


def test_default_folder_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    backend = LocalBackend(bind=False)
    ctrl = DriveController(backend)
    ctrl.mount()
    assert Path(ctrl.root).is_dir()
    assert str(tmp_path / "data") in ctrl.root


def test_detect_backend_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setenv("DRIVEWIDGET_BACKEND", "local")
    monkeypatch.setenv("DRIVEWIDGET_SOURCE", str(tmp_path))
    backend = detect_backend()
    assert isinstance(backend, LocalBackend) and backend.folder == str(tmp_path)
    monkeypatch.setenv("DRIVEWIDGET_MOUNTPOINT", str(tmp_path / "mp"))
    assert DriveController().mountpoint == str(tmp_path / "mp")
    monkeypatch.setenv("DRIVEWIDGET_BACKEND", "rclone")
    assert detect_backend().describe() == f"rclone {tmp_path}"


def test_unknown_backend_name_is_explained() -> None:
    from drivewidget.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="choose one of colab, rclone, ocamlfuse, local"):
        create_backend("dropbox")


@needs_root
@pytest.mark.root
def test_a_folder_inside_another_bind_mount_is_recognised(
    tmp_path: Path, mount_guard: list[str], restore_cwd: None
) -> None:
    """A Docker volume or btrfs subvolume: the mount table's fsroot is not a suffix of the path."""
    import subprocess

    (tmp_path / "hostvol" / "proj" / "data").mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    mount_guard.append(str(work))
    subprocess.run(["mount", "--bind", str(tmp_path / "hostvol" / "proj"), str(work)], check=True)
    mountpoint = tmp_path / "drive"
    mount_guard.insert(0, str(mountpoint))
    ctrl = DriveController(LocalBackend(work / "data", bind=True), mountpoint=mountpoint)
    ctrl.mount()
    assert ctrl.state == "mounted"
    ctrl.unmount()
    assert find_mount(mountpoint) is None
    other = DriveController(LocalBackend(tmp_path / "hostvol", bind=True), mountpoint=tmp_path / "other")
    mount_guard.insert(0, str(tmp_path / "other"))
    (tmp_path / "other").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(tmp_path / "other")], check=True)
    assert find_mount(tmp_path / "other") is not None
    assert other.refresh() == "unmounted"  # someone's tmpfs there is not this folder


def test_a_folder_reached_through_a_symlink_is_the_drive(tmp_path: Path, restore_cwd: None) -> None:
    (tmp_path / "real" / "project").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    ctrl = DriveController(LocalBackend(tmp_path / "link", bind=False), mountpoint="/nonexistent/x")
    ctrl.mount()
    ctrl.chdir("project")
    assert ctrl.cwd_on_drive  # getcwd() gives the real path: the root is resolved to match
    ctrl.unmount()
    assert not os.getcwd().startswith(str(tmp_path / "real"))
