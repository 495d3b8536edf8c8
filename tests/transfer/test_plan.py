"""plan.py: what is identical, links (copied, followed, skipped, loops), conflicts, unreadable folders."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from drivewidget.errors import InvalidPath
from drivewidget.transfer import copy_tree
from drivewidget.transfer.files import temp_name
from tests.transfer import leftovers, tree


def test_rerun_skips_identical_and_copies_changed(src: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    first = copy_tree(src, dest)
    again = copy_tree(src, dest)
    assert again.copied == 0 and again.skipped == first.copied and again.ok
    assert again.bytes_skipped == first.bytes_copied
    (src / "plain.txt").write_bytes(b"new content")  # new size
    same_size = src / "dir1" / "sub" / "f3.dat"
    same_size.write_bytes(os.urandom(3000))  # same size, new mtime
    os.utime(same_size, ns=(0, same_size.stat().st_mtime_ns + 5_000_000_000))
    third = copy_tree(src, dest)
    assert third.copied == 2 and third.ok
    assert tree(dest) == tree(src)


def test_checksum_mode_compares_contents(src: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    copy_tree(src, dest)
    target = dest / "dir2" / "sub" / "f4.dat"
    st = target.stat()
    target.write_bytes(os.urandom(st.st_size))  # same size and mtime, other bytes
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert copy_tree(src, dest).copied == 0  # size + mtime cannot see it...
    fixed = copy_tree(src, dest, checksum=True)  # ...contents can
    assert fixed.copied == 1 and tree(dest) == tree(src)
    moved = dest / "plain.txt"
    os.utime(moved, ns=(0, 12345 * 10**9))  # same bytes, other mtime: identical by content
    again = copy_tree(src, dest, checksum=True)
    assert again.copied == 0 and again.skipped == again.files_total
    assert moved.stat().st_mtime_ns == (src / "plain.txt").stat().st_mtime_ns


@pytest.mark.parametrize("mode", ["copy", "follow", "skip"])
def test_symlinks(src: Path, tmp_path: Path, mode: str) -> None:
    (src / "to_file").symlink_to("plain.txt")
    (src / "to_dir").symlink_to("dir0")
    (src / "dir1" / "loop").symlink_to("..")
    dest = tmp_path / "dest"
    result = copy_tree(src, dest, symlinks=mode)
    if mode == "copy":
        assert result.ok and os.readlink(dest / "to_file") == "plain.txt"
        assert os.readlink(dest / "dir1" / "loop") == ".."
        assert copy_tree(src, dest, symlinks=mode).copied == 0  # same links: identical
    elif mode == "follow":
        assert (dest / "to_file").read_bytes() == (src / "plain.txt").read_bytes()
        assert not (dest / "to_file").is_symlink()
        assert (dest / "to_dir" / "sub" / "f2.dat").read_bytes() == (
            src / "dir0" / "sub" / "f2.dat"
        ).read_bytes()
        assert tree(dest / "dir0") == tree(src / "dir0")
        assert [e for e in result.errors if "loop" in e] == [
            "dir1/loop: a symbolic link back to a folder that contains it (a loop); not followed."
        ]
    else:
        assert result.ok and not (dest / "to_file").exists() and not os.path.lexists(dest / "to_dir")
        assert any("Skipped 3 symbolic link" in w for w in result.warnings)


def test_dangling_link_followed_is_reported(src: Path, tmp_path: Path) -> None:
    (src / "gone").symlink_to("nowhere")
    result = copy_tree(src, tmp_path / "dest", symlinks="follow")
    assert result.failed == 1 and any("a symbolic link to something missing" in e for e in result.errors)


def test_destination_conflicts(src: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    (dest / "plain.txt").mkdir(parents=True)  # a folder where the source has a file
    (dest / "dir0").write_text("a file where the source has a folder")
    (dest / "dir1").symlink_to(tmp_path)  # a link where the source has a folder
    result = copy_tree(src, dest)
    assert not result.ok
    joined = "\n".join(result.errors)
    assert "plain.txt: the destination has a folder with this name" in joined
    assert "dir0: the destination has a file where the source has a folder" in joined
    assert "dir1: the destination has a symbolic link here" in joined
    assert (dest / "with space.txt").exists()
    with pytest.raises(InvalidPath, match="is a file"):
        copy_tree(src, dest / "dir0")


def test_temporary_files_in_the_source_are_not_copied(src: Path, tmp_path: Path) -> None:
    (src / temp_name("x")).write_bytes(b"partial")
    result = copy_tree(src, tmp_path / "dest")
    assert result.ok and not leftovers(tmp_path / "dest")


def test_unreadable_file_and_folder_are_reported_in_words(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open
    top, locked = (src.stat().st_dev, src.stat().st_ino), (src / "dir2").stat().st_ino

    def fake_open(path: str, flags: int, *args: int, dir_fd: int | None = None) -> int:
        here = os.fstat(dir_fd) if dir_fd is not None else None
        readable = not flags & getattr(os, "O_PATH", 0)
        if here is not None and readable and path == "plain.txt" and (here.st_dev, here.st_ino) == top:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        if here is not None and readable and path == "." and here.st_ino == locked:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", fake_open)
    dest = tmp_path / "dest"
    result = copy_tree(src, dest)
    monkeypatch.undo()
    assert not result.ok and result.failed == 1
    assert any("plain.txt: no permission to read it" in e for e in result.errors)
    assert any("dir2: the folder cannot be listed (permission denied)" in e for e in result.errors)
    assert (dest / "with space.txt").exists() and not (dest / "plain.txt").exists()
