"""drivewidget.drivefs: the one safe way to touch the drive (unit tests of each primitive)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from drivewidget import drivefs


@pytest.fixture
def area(tmp_path: Path) -> Path:
    """A drive: folders a/b, a file, links inside and out, a FIFO; a secret outside."""
    root = tmp_path / "drive"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "file.txt").write_text("content")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("secret")
    (root / "in").symlink_to("a/b")
    (root / "out").symlink_to(tmp_path / "outside")
    (root / "out_file").symlink_to(tmp_path / "outside" / "secret")
    (root / "loop").symlink_to("loop")
    os.mkfifo(root / "fifo")
    return root


@pytest.mark.parametrize(
    ("rel", "names"),
    [("", ()), (".", ()), ("a/b", ("a", "b")), ("a//./b/", ("a", "b")), ("new\nline", ("new\nline",))],
)
def test_split_relative(rel: str, names: tuple[str, ...]) -> None:
    assert drivefs.split_relative(rel) == names


@pytest.mark.parametrize("rel", ["/etc", "..", "a/../..", "a/..", "a\0b", "x" * 256])
def test_split_relative_refuses_what_leaves_the_folder(rel: str) -> None:
    with pytest.raises(OSError) as info:
        drivefs.split_relative(rel)
    assert info.value.errno in (errno.EINVAL, errno.ENAMETOOLONG)
    assert "\0" not in str(info.value)


def test_open_dir_walks_without_following_links(area: Path) -> None:
    with drivefs.opened(drivefs.open_dir(str(area), "a/b")) as fd:
        assert drivefs.real_path(fd) == str(area / "a" / "b")
    for rel, code in (("in", errno.ELOOP), ("out", errno.ELOOP), ("a/file.txt", errno.ENOTDIR)):
        with pytest.raises(OSError) as info:
            drivefs.open_dir(str(area), rel)
        assert info.value.errno == code, rel
    with pytest.raises(FileNotFoundError):
        drivefs.open_dir(str(area), "a/missing")


def test_open_dir_follows_links_only_inside_the_area(area: Path, tmp_path: Path) -> None:
    with drivefs.opened(drivefs.open_dir(str(area), "in", links="inside")) as fd:
        assert drivefs.real_path(fd) == str(area / "a" / "b")
    with pytest.raises(OSError) as info:
        drivefs.open_dir(str(area), "out", links="inside")
    assert info.value.errno == errno.EXDEV and "outside the drive" in str(info.value)
    with pytest.raises(OSError) as loop:
        drivefs.open_dir(str(area), "loop", links="inside")
    assert loop.value.errno == errno.ELOOP
    with drivefs.opened(drivefs.open_dir(str(area), "out", links="follow")) as fd:
        assert drivefs.real_path(fd) == str(tmp_path / "outside")
    # the area may be wider than the starting folder (Colab: links from MyDrive to Shared drives)
    with drivefs.opened(drivefs.open_dir(str(area / "a"), "", links="inside", area=str(area))) as fd:
        assert drivefs.real_path(fd) == str(area / "a")


def test_open_dir_creates_missing_folders_but_never_through_a_link(area: Path) -> None:
    with drivefs.opened(drivefs.open_dir(str(area), "a/new/deeper", create=True, mode=0o700)) as fd:
        assert stat.S_ISDIR(os.fstat(fd).st_mode)
    assert (area / "a" / "new" / "deeper").is_dir()
    with pytest.raises(OSError):
        drivefs.open_dir(str(area), "out/planted", create=True)
    assert not (area.parent / "outside" / "planted").exists()


def test_open_dir_from_a_descriptor(area: Path) -> None:
    with (
        drivefs.opened(drivefs.open_dir(str(area))) as base,
        drivefs.opened(drivefs.open_dir(base, "a")) as fd,
    ):
        assert drivefs.real_path(fd) == str(area / "a")
        listable = drivefs.open_listable(fd)
        try:
            assert sorted(e.name for e in os.scandir(listable)) == ["b", "file.txt"]
        finally:
            os.close(listable)


def test_open_file_regular_files_only_and_never_blocks(area: Path) -> None:
    fd, st = drivefs.open_file(str(area), "a/file.txt")
    with drivefs.opened(fd):
        assert os.read(fd, 100) == b"content" and st.st_size == 7
        assert os.get_blocking(fd)
    with pytest.raises(OSError) as fifo:
        drivefs.open_file(str(area), "fifo")  # O_NONBLOCK: no writer needed to get an answer
    assert fifo.value.errno == errno.EINVAL and "named pipe" in str(fifo.value)
    with pytest.raises(OSError) as folder:
        drivefs.open_file(str(area), "a")
    assert folder.value.errno in (errno.EINVAL, errno.EISDIR)
    with pytest.raises(OSError) as link:
        drivefs.open_file(str(area), "out_file")
    assert link.value.errno == errno.ELOOP
    with pytest.raises(OSError) as out:
        drivefs.open_file(str(area), "out_file", links="inside")
    assert out.value.errno == errno.EXDEV


def test_read_bytes_is_capped(area: Path) -> None:
    (area / "big").write_bytes(b"x" * 1000)
    assert drivefs.read_bytes(str(area), "big", limit=1000) == b"x" * 1000
    with pytest.raises(OSError) as info:
        drivefs.read_bytes(str(area), "big", limit=999)
    assert info.value.errno == errno.EFBIG


def test_read_bytes_stops_at_the_cap_when_the_size_lies(area: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A FUSE file may report size 0 and stream on: reading stops at limit + 1 bytes."""
    (area / "stream").write_bytes(b"y" * 5000)
    real_fstat = os.fstat

    def small(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        return os.stat_result((st.st_mode, *st[1:6], 0, *st[7:]))  # size 0

    monkeypatch.setattr(drivefs.os, "fstat", small)
    with pytest.raises(OSError) as info:
        drivefs.read_bytes(str(area), "stream", limit=100)
    assert info.value.errno == errno.EFBIG


def test_write_atomic_replaces_a_planted_link_and_keeps_the_mode(area: Path, tmp_path: Path) -> None:
    (area / "settings").symlink_to(tmp_path / "outside" / "secret")
    old = os.umask(0)
    try:
        drivefs.write_atomic(str(area), "settings", b"{}\n", mode=0o600)
    finally:
        os.umask(old)
    assert (tmp_path / "outside" / "secret").read_text() == "secret"
    assert not (area / "settings").is_symlink() and (area / "settings").read_bytes() == b"{}\n"
    assert (area / "settings").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in area.iterdir() if p.name.endswith(".tmp")) == []
    with pytest.raises(OSError):
        drivefs.write_atomic(str(area), "out/planted", b"x")
    assert not (tmp_path / "outside" / "planted").exists()


def test_temp_file_is_exclusive_and_unpredictable(area: Path) -> None:
    with drivefs.opened(drivefs.open_dir(str(area))) as folder:
        names = set()
        for _ in range(20):
            fd, name = drivefs.temp_file(folder, prefix=".x-", suffix=".part")
            os.close(fd)
            names.add(name)
        assert len(names) == 20 and all(n.startswith(".x-") and n.endswith(".part") for n in names)
        taken = {name for name in names}
        # Every name exists now: a clash is retried, never opened.
        fd, name = drivefs.temp_file(folder, prefix=".x-", suffix=".part")
        os.close(fd)
        assert name not in taken


def test_is_inside_by_inode_when_proc_is_missing(area: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drivefs, "real_path", lambda fd: "")
    with drivefs.opened(drivefs.open_dir(str(area), "a/b")) as fd:
        assert drivefs.is_inside(fd, str(area))
        assert not drivefs.is_inside(fd, str(area.parent / "outside"))
    with pytest.raises(OSError) as info:
        drivefs.open_dir(str(area), "out", links="inside")
    assert info.value.errno == errno.EXDEV


def test_visited_counts_each_folder_once(area: Path) -> None:
    seen = drivefs.Visited()
    st = os.stat(area / "a")
    assert seen.first(st) and not seen.first(os.stat(area / "a")) and st in seen
    assert seen.first(os.stat(area / "in"))  # a/b through the link: another folder


@pytest.mark.parametrize(
    ("text", "shown"),
    [("plain", "plain"), ("new\nline", "new\\nline"), ("nul\0", "nul\\x00"), ("\x1b[31m", "\\x1b[31m"),
     (os.fsdecode(b"bad\xff"), "bad\\xff"), ("lone\ud800", "lone\\ud800")],
)  # fmt: skip
def test_printable(text: str, shown: str) -> None:
    assert drivefs.printable(text) == shown
