"""The copy engine on local folders: correctness, skip, resume, cancel, space, concurrency, failures."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from drivewidget.errors import Busy, DriveError, InvalidPath
from drivewidget.transfer import CopyOptions, TransferProgress, copy_tree, engine, start_copy
from drivewidget.transfer.errors import NotEnoughSpace, TransferBusy
from drivewidget.transfer.files import CHUNK, TEMP_RE, same_mtime, temp_name
from drivewidget.transfer.handle import lock_path
from tests.transfer import Slow, install_slow, leftovers, make_tree, mtimes, tree


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    make_tree(folder)
    return folder


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Slow:
    return install_slow(monkeypatch)


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


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (1_700_000_000_123_456_789, 1_700_000_000_123_456_789, True),
        (1_700_000_000_123_456_789, 1_700_000_000_000_000_000, True),  # a cloud keeping seconds
        (1_700_000_000_123_456_789, 1_700_000_000_123_000_000, True),  # ...or milliseconds
        (1_700_000_000_123_456_789, 1_700_000_001_000_000_000, False),
        (1_700_000_000_123_456_789, 1_700_000_000_124_000_000, False),
        (1_700_000_000_123_456_789, 1_700_000_000_123_456_788, False),
    ],
)
def test_same_mtime_at_the_coarser_precision(a: int, b: int, same: bool) -> None:
    assert same_mtime(a, b) is same and same_mtime(b, a) is same


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


def test_temporary_names_are_short_and_stable() -> None:
    assert temp_name("x" * 255) == temp_name("x" * 255)
    assert len(temp_name("x" * 255)) < 30 and TEMP_RE.match(temp_name("a"))
    assert temp_name("a") != temp_name("b")


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


def test_concurrent_runs_into_the_same_place_are_rejected(src: Path, tmp_path: Path, slow: Slow) -> None:
    dest = tmp_path / "out" / "dest"
    first = start_copy(src, dest, workers=1)
    with pytest.raises(TransferBusy, match="Another transfer") as info:
        start_copy(src, dest)
    assert isinstance(info.value, Busy)
    with pytest.raises(TransferBusy):
        start_copy(src, dest / "dir0")  # inside the busy destination
    with pytest.raises(TransferBusy):
        start_copy(src / "dir0", tmp_path / "out")  # around it
    other = start_copy(src / "dir1", tmp_path / "elsewhere")  # elsewhere is fine
    first.cancel()
    first.wait(10)
    other.wait(10)
    slow.delay = 0
    assert copy_tree(src, dest).ok  # free again once the first is done


def test_a_transfer_in_another_process_is_rejected(src: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    probe = start_copy(src, dest)
    probe.wait(10)
    lock_file = lock_path(probe._lock_key)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "os.pwrite(fd, b'process 4242: stage gdrive -> /data', 0)\n"
            "print('locked', flush=True)\n"
            "time.sleep(30)\n",
            str(lock_file),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        with pytest.raises(TransferBusy, match="process 4242"):
            start_copy(src, dest)
    finally:
        holder.kill()
        holder.wait(5)
    assert copy_tree(src, dest).ok


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


def test_progress_snapshots_and_callbacks(src: Path, tmp_path: Path, slow: Slow) -> None:
    slow.delay = 0.05
    seen: list[TransferProgress] = []
    done = threading.Event()
    transfer = start_copy(
        src, tmp_path / "dest", workers=2, on_progress=seen.append, on_done=lambda t: done.set()
    )
    result = transfer.wait(20)
    assert done.wait(5) and result.ok
    phases = [p.phase for p in seen]
    assert phases[-1] == "done" and "copying" in phases
    last = seen[-1]
    assert last.files_done == last.files_total == result.files_total and last.fraction == 1.0
    assert last.bytes_done == last.bytes_total == result.bytes_copied
    assert all(isinstance(p.describe(), str) for p in seen) and last.describe().startswith("Done:")
    late: list[object] = []
    transfer.on_done(late.append)  # registered after the end: called at once
    assert late == [transfer]
    assert "Copied" in result.summary() and result.to_json()["ok"] is True


def test_a_broken_callback_does_not_break_the_copy(src: Path, tmp_path: Path) -> None:
    def broken(_: object) -> None:
        raise RuntimeError("display crashed")

    assert start_copy(src, tmp_path / "dest", on_progress=broken, on_done=broken).wait(10).ok


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="workers"):
        CopyOptions(workers=0)
    with pytest.raises(ValueError, match="symlinks"):
        CopyOptions(symlinks="maybe")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown transfer option"):
        CopyOptions.from_kwargs(wrokers=3)


def test_temporary_files_in_the_source_are_not_copied(src: Path, tmp_path: Path) -> None:
    (src / temp_name("x")).write_bytes(b"partial")
    result = copy_tree(src, tmp_path / "dest")
    assert result.ok and not leftovers(tmp_path / "dest")
