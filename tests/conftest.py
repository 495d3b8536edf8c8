"""Shared fixtures: fake backends and controllers around them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from drivewidget.controller import DriveController
from drivewidget.testing import FakeBackend

if TYPE_CHECKING:
    from drivewidget.connect import RcloneConfig


@pytest.fixture
def restore_cwd() -> Iterator[None]:
    """Tests chdir into drives; put the process back where it was."""
    import os
    import sys

    cwd, path = os.getcwd(), list(sys.path)
    yield
    os.chdir(cwd)
    sys.path[:] = path


@pytest.fixture
def drive_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "drive"
    (folder / "project" / "data").mkdir(parents=True)
    (folder / "project" / "notes.txt").write_text("hello")
    return folder


@pytest.fixture
def fake_backend(drive_folder: Path) -> FakeBackend:
    return FakeBackend(str(drive_folder))


@pytest.fixture
def controller(fake_backend: FakeBackend, restore_cwd: None) -> DriveController:
    return DriveController(fake_backend)


@pytest.fixture
def probes_too_slow(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to make every later refresh of a controller miss its deadline, as on a drive
    too slow to answer, while the drive itself still works (uploads, flush, unmount).

    Deterministic: the look never runs. (Setting REFRESH_TIMEOUT to 1e-9 alone raced: on a
    busy machine the probe thread could finish before the deadline was checked.)"""
    import drivewidget.controller as controller_module
    from drivewidget.status.probe import ProbeResult

    real = controller_module.bounded

    def start() -> None:
        def bounded(key: str, fn: Callable[[], Any], timeout: float = 0.5) -> ProbeResult[Any]:
            if timeout == controller_module.REFRESH_TIMEOUT:
                return ProbeResult(timed_out=True)
            return real(key, fn, timeout)

        monkeypatch.setattr(controller_module, "REFRESH_TIMEOUT", 1e-9)  # no other deadline is this
        monkeypatch.setattr(controller_module, "bounded", bounded)

    return start


def fuse_ready() -> bool:
    import os

    from drivewidget.backends._process import find_program

    return os.path.exists("/dev/fuse") and find_program("fusermount3") is not None


needs_fuse = pytest.mark.skipif(not fuse_ready(), reason="needs /dev/fuse and fusermount3")


@pytest.fixture
def mount_guard() -> Iterator[list[str]]:
    """Mountpoints a test may create; whatever is still mounted there afterwards is removed."""
    import subprocess

    from drivewidget.status.mounttable import find_mount

    mountpoints: list[str] = []
    yield mountpoints
    for mountpoint in mountpoints:
        for _ in range(5):
            entry = find_mount(mountpoint)
            if entry is None:
                break
            if entry.fstype.startswith("fuse"):
                cmd = ["fusermount3", "-u", "-z", mountpoint]
            else:
                cmd = ["umount", "-l", mountpoint]
            subprocess.run(cmd, capture_output=True, timeout=10, check=False)


@pytest.fixture
def rclone_controller(tmp_path: Path, mount_guard: list[str], restore_cwd: None) -> Iterator[DriveController]:
    """A controller around a real ``rclone mount`` of a temp folder (source: tmp_path/'cloud')."""
    from drivewidget.backends.rclone import RcloneBackend

    if not fuse_ready():
        pytest.skip("needs /dev/fuse and fusermount3")
    cloud = tmp_path / "cloud"
    (cloud / "project").mkdir(parents=True)
    mountpoint = str(tmp_path / "mnt")
    mount_guard.append(mountpoint)
    backend = RcloneBackend(str(cloud))
    ctrl = DriveController(backend, mountpoint=mountpoint)
    yield ctrl
    _resume_and_reap(backend)


def _resume_and_reap(backend: object) -> None:
    """Let a SIGSTOPped rclone go on and make sure none of ours outlives the test."""
    import os
    import signal
    import subprocess

    children = getattr(backend, "_children", {})
    for child in list(children.values()):
        for sig in (signal.SIGCONT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(5)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """A private HOME and XDG folders, no RCLONE_* settings (see ``tests.connect.isolate``)."""
    from tests.connect import isolate

    return isolate(tmp_path, monkeypatch, request)


@pytest.fixture
def config(home: Path) -> RcloneConfig:
    """drivewidget's own (empty) rclone config, in the private home."""
    from drivewidget.connect import RcloneConfig
    from tests.connect import rclone

    return RcloneConfig(program=rclone())
