"""handle.py: one transfer per destination (in this process and across processes), progress, callbacks."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from drivewidget.errors import Busy
from drivewidget.transfer import TransferProgress, copy_tree, start_copy
from drivewidget.transfer.errors import TransferBusy
from drivewidget.transfer.handle import lock_path
from tests.transfer import Slow


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
