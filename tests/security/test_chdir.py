"""Choosing a working folder (``ctrl.chdir``, ``panel.select``): never outside the drive.

The working folder decides where the user's code reads and writes, so a name on the drive
must never move it off the drive, whatever links, names or races a collaborator prepares.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from drivewidget import DrivePanel
from drivewidget.errors import InvalidPath

from .conftest import Shared


def inside(shared: Shared) -> bool:
    return os.path.realpath(os.getcwd()).startswith(os.path.realpath(shared.root) + os.sep)


def test_nul_in_a_path_is_refused_up_front(shared: Shared) -> None:
    """Issue 13, row 10: ``ctrl.chdir("proj/\\0x")`` reached the filesystem call and its error
    message held a raw NUL. It is refused as a bad path, the message shows ``\\x00``."""
    before = os.getcwd()
    with pytest.raises(InvalidPath) as info:
        shared.ctrl.chdir("project/\0x")
    message = str(info.value)
    assert "\0" not in message and "NUL" in message
    assert shared.ctrl.error == message and os.getcwd() == before


@pytest.mark.parametrize("path", ["..", "../..", "/etc", "~", "project/../../..", "/"])
def test_paths_that_leave_the_drive_are_refused(shared: Shared, path: str) -> None:
    """What held: ``..``, absolute paths, ``~`` (the user's home) are outside the drive."""
    before = os.getcwd()
    with pytest.raises(InvalidPath, match="outside the drive"):
        shared.ctrl.chdir(path)
    assert os.getcwd() == before


def test_symlinks_out_of_the_drive_are_refused(shared: Shared) -> None:
    """What held: ``escape -> <a folder of the user's>``, also deeper (``project/up -> ../..``),
    through chdir and through the panel's select."""
    (shared.source / "escape").symlink_to(shared.outside)
    (shared.source / "project" / "up").symlink_to("../..")
    panel = DrivePanel(shared.ctrl, live=False)
    before = os.getcwd()
    try:
        for path in ("escape", "project/up", "project/up/outside"):
            with pytest.raises(InvalidPath):
                shared.ctrl.chdir(path)
            with pytest.raises(InvalidPath):
                panel.select(path)
            assert os.getcwd() == before
    finally:
        panel.close()


def test_symlink_loops_are_an_error_not_a_hang(shared: Shared) -> None:
    """What held: ``a -> b``, ``b -> a``: a clear error at once."""
    (shared.source / "a").symlink_to("b")
    (shared.source / "b").symlink_to("a")
    with pytest.raises(InvalidPath):
        shared.ctrl.chdir("a")


@pytest.mark.parametrize("name", ["new\nline", "x" * 255, os.fsdecode(b"bad-\xff-utf8"), "\x1b[2J"])
def test_odd_names_work_and_are_shown_escaped(shared: Shared, name: str) -> None:
    """What held: names with newlines, 255-byte names, names that are not UTF-8, escape codes."""
    (shared.source / name).mkdir()
    target = shared.ctrl.chdir(name)
    assert target == os.path.join(shared.root, name) and os.getcwd() == target
    assert "\n" not in shared.ctrl.message and "\x1b" not in shared.ctrl.message


def test_folder_swapped_for_a_link_while_choosing(shared: Shared) -> None:
    """Attack: ``project/data`` is swapped for a link to a folder of the user's and back, as
    fast as possible, while the user chooses it. Every chdir that succeeds is on the drive."""
    folder = shared.source / "project" / "data"
    spare = shared.source / "project" / ".data-real"
    stop = threading.Event()
    # The folder's identity survives its renames; a path check of the cwd would race the swapper.
    real_data = os.stat(folder)

    def swap() -> None:
        while not stop.is_set():
            os.rename(folder, spare)
            os.symlink(shared.outside, folder)
            os.unlink(folder)
            os.rename(spare, folder)

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    entered = 0
    try:
        for _ in range(400):
            try:
                shared.ctrl.chdir("project/data")
            except InvalidPath:
                continue
            entered += 1
            here = os.stat(".")
            assert (here.st_dev, here.st_ino) == (real_data.st_dev, real_data.st_ino), os.getcwd()
    finally:
        stop.set()
        swapper.join(5)
    assert entered > 0 and inside(shared)


def test_a_file_or_fifo_is_not_a_folder(shared: Shared) -> None:
    """Attack: a FIFO named like a folder: refused at once (never opened for reading)."""
    os.mkfifo(shared.source / "pipe")
    (shared.source / "file").write_text("x")
    for name in ("pipe", "file"):
        with pytest.raises(InvalidPath, match="is a file, not a folder"):
            shared.ctrl.chdir(name)


def test_path_box_refuses_links_out(shared: Shared, tmp_path: Path) -> None:
    """What held: the chooser's path box and browse refuse a link out of the drive."""
    (shared.source / "escape").symlink_to(shared.outside)
    panel = DrivePanel(shared.ctrl, live=False)
    try:
        assert panel.chooser.browse("escape") is None
        assert "outside the drive" in panel.chooser.error
        assert panel.chooser.browse(str(shared.outside)) is None
    finally:
        panel.close()
