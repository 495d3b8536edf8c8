"""ends.py: the two ends are opened once and compared as open folders, whatever their spelling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drivewidget.errors import InvalidPath
from drivewidget.transfer import copy_tree, start_copy
from drivewidget.transfer.ends import Ends


def test_a_destination_that_is_a_link_into_the_source_is_refused(src: Path, tmp_path: Path) -> None:
    """Text says these are two places; the kernel says one is inside the other."""
    link = tmp_path / "alias"
    link.symlink_to(src / "dir0")
    transfer = start_copy(src, link / "copy", checked=True)  # a caller that checked only text
    with pytest.raises(InvalidPath, match="one is inside the other"):
        transfer.wait(10)
    assert not (src / "dir0" / "copy").exists()
    with pytest.raises(InvalidPath, match="one is inside the other"):
        copy_tree(src / "dir0", link.parent / "alias", checked=True)


def test_a_destination_that_is_a_file_is_refused(src: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidPath, match="is a file; give a folder"):
        Ends(str(src), str(tmp_path / "file"), follow=False, src_area=None, dest_area=None)


def test_a_drive_end_is_opened_below_its_area(tmp_path: Path) -> None:
    """On the drive, the path to the source is walked name by name: a link on the way that
    leads out of the drive is refused, even when it was given as the source itself."""
    drive = tmp_path / "drive"
    (drive / "data").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (drive / "escape").symlink_to(outside)
    (drive / "inner").symlink_to("data")
    ends = Ends(
        str(drive / "inner"), str(tmp_path / "dest"), follow=False, src_area=str(drive), dest_area=None
    )
    try:
        assert os.path.samestat(os.fstat(ends.src), os.stat(drive / "data"))
        assert not ends.dest_exists
    finally:
        ends.close()
    with pytest.raises(OSError) as info:
        Ends(str(drive / "escape"), str(tmp_path / "dest"), follow=False, src_area=str(drive), dest_area=None)
    assert "leads outside the drive" in str(info.value)
