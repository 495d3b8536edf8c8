"""start.py: where a copy goes (a folder, a file into a folder, a new name), paths that contain each other."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivewidget.errors import DriveError, InvalidPath
from drivewidget.transfer import copy_tree, start_copy


def test_one_path_inside_the_other_is_rejected(src: Path) -> None:
    with pytest.raises(InvalidPath, match="one is inside the other"):
        start_copy(src, src / "copy")
    with pytest.raises(InvalidPath, match="one is inside the other"):
        start_copy(src / "dir0", src)


def test_single_file_into_folder_or_to_a_path(src: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    into = start_copy(src / "plain.txt", folder)
    assert into.wait(10).copied == 1 and into.dest == str(folder / "plain.txt")
    renamed = copy_tree(src / "plain.txt", tmp_path / "new" / "name.txt")
    assert (
        renamed.copied == 1
        and (tmp_path / "new" / "name.txt").read_bytes() == (src / "plain.txt").read_bytes()
    )
    assert copy_tree(src / "plain.txt", folder).skipped == 1


def test_missing_source_raises_from_wait(tmp_path: Path) -> None:
    transfer = start_copy(tmp_path / "nope", tmp_path / "dest")
    with pytest.raises(InvalidPath, match="There is nothing at"):
        transfer.wait(10)
    assert isinstance(transfer.error, DriveError) and transfer.result is not None
