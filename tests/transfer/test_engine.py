"""engine.py: every byte copied, cancel and resume, space, a changing or corrupted file, a bug in a task."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from drivewidget.transfer import copy_tree, engine, start_copy
from drivewidget.transfer.errors import NotEnoughSpace
from drivewidget.transfer.files import CHUNK, TEMP_STALE_AFTER, temp_name
from tests.transfer import Slow, install_slow, leftovers, mtimes, tree


def test_copies_every_byte_name_mode_and_mtime(src: Path, tmp_path: Path) -> None:
    (src / "link_rel").symlink_to("dir0/sub/f2.dat")
    dest = tmp_path / "dest"
    result = copy_tree(src, dest)
    assert result.ok, result.errors
    assert tree(dest) == tree(src)
    src_times, dest_times = mtimes(src), mtimes(dest)
    assert {k: v for k, v in dest_times.items() if k != "link_rel"} == {
        k: v for k, v in src_times.items() if k != "link_rel"
    }
    files = [k for k, v in tree(src).items() if v[0] != "dir"]
    assert result.copied == result.files_total == len(files)
    assert result.bytes_copied == sum(len(v[1]) for v in tree(src).values() if v[0] == "file")
    assert not leftovers(dest)


def test_cancel_leaves_no_half_written_file(src: Path, tmp_path: Path, slow: Slow) -> None:
    (src / "big.bin").write_bytes(os.urandom(8 << 20))
    dest = tmp_path / "dest"
    transfer = start_copy(src, dest, workers=2)
    assert slow.started.wait(10)
    transfer.cancel()
    result = transfer.wait(10)
    assert result.cancelled and not result.ok and transfer.progress.phase == "cancelled"
    assert not (dest / "big.bin").exists()  # 8 MiB at 1 MiB per 20 ms: cancelled mid-file
    assert not leftovers(dest)
    source = tree(src)
    for rel, entry in tree(dest).items():  # whatever exists is complete
        assert entry == source[rel]


def test_resume_after_cancel_and_after_a_crash(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "dest"
    slow = install_slow(monkeypatch, delay=0.05)
    transfer = start_copy(src, dest, workers=1)
    while transfer.progress.files_copied < 3:
        time.sleep(0.01)
    transfer.cancel()
    partial = transfer.wait(10)
    assert partial.cancelled and 3 <= partial.copied < partial.files_total
    monkeypatch.setattr(engine, "write_all", slow._real)
    # a crash (kill -9) leaves a temporary file behind: the next run removes it
    crash_left = dest / "dir1" / "sub" / temp_name("f2.dat")
    crash_left.parent.mkdir(parents=True, exist_ok=True)
    crash_left.write_bytes(b"half a file")
    rest = copy_tree(src, dest)
    assert rest.ok and rest.copied + rest.skipped == rest.files_total
    assert rest.skipped >= partial.copied
    assert tree(dest) == tree(src) and not leftovers(dest)


def test_refuses_to_fill_the_disk_before_copying(src: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    transfer = start_copy(src, dest, reserve=10**18)
    with pytest.raises(NotEnoughSpace, match=r"Not enough free space .* Nothing was copied"):
        transfer.wait(10)
    assert transfer.progress.phase == "failed"
    assert not dest.exists()


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs (needs root)")
def test_full_disk_real_tmpfs(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mount_guard: list[str]
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    mount_guard.append(str(small))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(small)], check=True)
    with pytest.raises(NotEnoughSpace, match="Free some space"):
        copy_tree(src, small / "data", reserve=0)
    assert not (small / "data").exists()
    # when free space shrinks after the check, ENOSPC stops the copy cleanly
    monkeypatch.setattr(engine.CopyEngine, "_check_space", lambda self: None)
    with pytest.raises(NotEnoughSpace, match="ran out of space"):
        copy_tree(src, small / "data", workers=2)
    assert not leftovers(small)
    source = tree(src)
    for rel, entry in tree(small / "data").items():
        assert entry == source[rel]


def test_file_changing_while_copied_is_retried_then_reported(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = src / "mib_plus_one.bin"
    writes = {"n": 0}

    def grow(_: int, data: bytes) -> None:  # the source grows after the first chunk of every try
        if len(data) == CHUNK and writes["n"] < writes.get("limit", 10**9):
            with open(victim, "ab") as handle:
                handle.write(b"more")
            writes["n"] += 1

    slow = Slow(delay=0, hook=grow)
    monkeypatch.setattr(engine, "write_all", slow)
    dest = tmp_path / "dest"
    result = copy_tree(src, dest, workers=1, retries=1)
    assert not result.ok and result.failed >= 1
    assert "mib_plus_one.bin" in result.changed
    assert any("changed while it was being copied" in e for e in result.errors)
    assert not (dest / "mib_plus_one.bin").exists() and not leftovers(dest)
    assert "changed while being copied" in result.summary()
    # grows once only: the retry gets a consistent copy
    writes.update(n=0, limit=1)
    second = copy_tree(src, dest, workers=1, retries=1)
    assert second.ok and (dest / "mib_plus_one.bin").read_bytes() == victim.read_bytes()


def test_corrupted_copy_is_not_kept(src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = engine.write_all

    def flip(fd: int, data: bytes) -> None:
        if len(data) > 1000:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        real(fd, data)

    monkeypatch.setattr(engine, "write_all", flip)
    dest = tmp_path / "dest"
    result = copy_tree(src, dest)
    assert result.failed >= 1 and any("differs from the source" in e for e in result.errors)
    assert not (dest / "mib_plus_one.bin").exists() and not leftovers(dest)
    monkeypatch.setattr(engine, "write_all", real)
    assert copy_tree(src, dest).ok and tree(dest) == tree(src)


def test_a_temporary_file_being_written_by_someone_else_is_left_alone(src: Path, tmp_path: Path) -> None:
    """Another machine's copy (or keep-synced job) writes ``.dw-*.part`` files into the same
    folder: a fresh one may be half way, so only one nobody wrote for TEMP_STALE_AFTER goes."""
    dest = tmp_path / "dest"
    dest.mkdir()
    theirs, abandoned = dest / ".dw-00000000aaaaaaaa.part", dest / ".dw-00000000bbbbbbbb.part"
    theirs.write_bytes(b"being written")
    abandoned.write_bytes(b"left by a crash long ago")
    old = time.time() - TEMP_STALE_AFTER - 60
    os.utime(abandoned, (old, old))
    result = copy_tree(src, dest)
    assert result.ok and theirs.read_bytes() == b"being written" and not abandoned.exists()
