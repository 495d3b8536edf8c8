"""keep_synced with a DriveController: the unmount makes a final pass, real rclone mounts work."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from drivewidget.controller import DriveController
from drivewidget.errors import NotMounted, StaleMount
from drivewidget.sync import FolderDrive, keep_synced, sync_jobs
from drivewidget.testing import FakeBackend
from drivewidget.timeouts import HOLD_TIMEOUT, REFRESH_TIMEOUT
from drivewidget.transfer.pool import STUCK_GRACE

from .conftest import tree, wait_for

FAST = {"every": 0.2, "settle": 0.1, "settle_wait": 1.0}


def test_needs_a_mounted_drive(controller: DriveController, local: Path) -> None:
    with pytest.raises(NotMounted, match="mount it first"):
        keep_synced(controller, local, "project/run", **FAST)
    assert not sync_jobs()


def test_unmount_makes_a_final_pass_and_says_so(controller: DriveController, local: Path) -> None:
    controller.mount()
    job = controller.keep_synced(local, "project/run", **{**FAST, "every": 3600})
    assert controller.sync_jobs == [job] == sync_jobs(controller)
    assert controller.keep_synced(local, "project/run", every=3600) is job
    assert job in list(controller.holds)
    assert wait_for(lambda: job.last_synced is not None)
    (local / "ckpt.pt").write_bytes(b"written just before unmount")
    controller.unmount()
    assert job.state == "stopped"
    assert "final pass copied 1 file(s)" in controller.message
    assert (Path(controller.backend.folder) / "project" / "run" / "ckpt.pt").read_bytes() == (  # type: ignore[attr-defined]
        b"written just before unmount"
    )
    assert job not in list(controller.holds)
    assert not sync_jobs(controller)


def test_reading_sync_jobs_of_another_controller_changes_nothing(
    controller: DriveController, fake_backend: FakeBackend, local: Path
) -> None:
    controller.mount()
    job = controller.keep_synced(local, "project/run", **{**FAST, "every": 3600})
    other = DriveController(fake_backend)  # the same drive, another controller
    assert other.sync_jobs == [] and sync_jobs(other) == []
    assert job in list(controller.holds) and job not in list(other.holds)
    assert wait_for(lambda: job.last_synced is not None)
    (local / "ckpt.pt").write_bytes(b"written just before unmount")
    controller.unmount()  # the job's own controller still makes its final pass
    assert job.state == "stopped"
    assert "final pass copied 1 file(s)" in controller.message


def test_keep_synced_again_from_another_controller_shares_the_job(
    controller: DriveController, fake_backend: FakeBackend, local: Path
) -> None:
    controller.mount()
    job = controller.keep_synced(local, "project/run", **{**FAST, "every": 3600})
    other = DriveController(fake_backend)
    assert other.keep_synced(local, "project/run", every=3600) is job  # never a second job
    assert other.sync_jobs == [job] == controller.sync_jobs
    assert job in list(other.holds) and job in list(controller.holds)
    assert wait_for(lambda: job.last_synced is not None)
    other.unmount()
    assert job.state == "stopped"
    assert job not in list(controller.holds)


def test_real_rclone_mount_stop_flush_is_byte_identical(
    rclone_controller: DriveController, local: Path
) -> None:
    ctrl = rclone_controller
    ctrl.mount()
    for i in range(30):
        (local / f"d{i % 4}").mkdir(exist_ok=True)
        (local / f"d{i % 4}" / f"f{i}.bin").write_bytes(os.urandom(5000 + i))
    job = keep_synced(ctrl, local, "project/run", **FAST)
    assert wait_for(lambda: job.last_synced is not None, timeout=30)
    (local / "d0" / "f0.bin").write_bytes(b"changed after the first pass")
    result = job.stop(flush=True)
    assert result is not None and result.ok and result.upload_unconfirmed == ""
    mounted = Path(ctrl.root) / "project" / "run"
    assert tree(mounted) == tree(local)
    ctrl.unmount()
    cloud = Path(ctrl.backend.remote) / "project" / "run"  # type: ignore[attr-defined]
    assert tree(cloud) == tree(local)  # uploaded, not just in rclone's cache


def test_a_hung_drive_never_hangs_the_job_or_the_unmount(
    rclone_controller: DriveController, local: Path
) -> None:
    ctrl = rclone_controller
    ctrl.mount()
    (local / "a.bin").write_bytes(b"a")
    job = keep_synced(ctrl, local, "project/run", **FAST)
    assert wait_for(lambda: job.last_synced is not None, timeout=30)
    pid = ctrl.backend._children[ctrl.mountpoint].pid  # type: ignore[attr-defined]
    os.kill(pid, signal.SIGSTOP)
    try:
        (local / "b.bin").write_bytes(b"b")  # the next pass blocks on the frozen daemon
        time.sleep(1.0)
        done = threading.Event()
        worker = threading.Thread(target=lambda: (ctrl.unmount(), done.set()), daemon=True)
        worker.start()
        # a deadline, not a timing: the hold's bounded final pass plus the abandon grace
        assert done.wait(HOLD_TIMEOUT + STUCK_GRACE + 30), "unmount hung behind the job"
        assert ctrl.state == "unmounted"
        assert job.state == "stopped"
        assert "stopped without a final pass: The drive is not answering" in ctrl.message, ctrl.message
        assert "1 changed file(s) did not reach the drive" in ctrl.message
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def test_real_rclone_mount_mirror_deletes_what_the_job_wrote(
    rclone_controller: DriveController, local: Path
) -> None:
    ctrl = rclone_controller
    ctrl.mount()
    (local / "gone.bin").write_bytes(b"deleted locally after the copy")
    (local / "kept.bin").write_bytes(b"stays")
    job = keep_synced(ctrl, local, "project/run", mirror_deletes=True, **FAST)
    mounted = Path(ctrl.root) / "project" / "run"
    assert wait_for(lambda: job.last_synced is not None and job.pending == 0, timeout=30)
    (local / "gone.bin").unlink()
    result = job.stop(flush=True)
    assert result is not None and result.ok
    assert tree(mounted) == tree(local)  # the drive's file still matched what the job wrote


def test_a_folder_drive_on_a_hung_mount_answers_stale_at_once(
    rclone_controller: DriveController, local: Path
) -> None:
    ctrl = rclone_controller
    ctrl.mount()
    drive = FolderDrive(ctrl.root)
    assert drive.refresh() == "mounted"
    pid = ctrl.backend._children[ctrl.mountpoint].pid  # type: ignore[attr-defined]
    os.kill(pid, signal.SIGSTOP)
    try:
        answers: list[str] = []
        worker = threading.Thread(target=lambda: answers.append(drive.refresh()), daemon=True)
        worker.start()
        worker.join(REFRESH_TIMEOUT + 5)  # a deadline, not a timing: the answer is bounded
        assert answers == ["stale"]
        with pytest.raises(StaleMount):
            keep_synced(drive, local, "project/run", **FAST)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def test_a_slow_upload_queue_never_holds_a_pass_much_longer_than_every(
    controller: DriveController, fake_backend: FakeBackend, local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drivewidget.sync import syncpass

    monkeypatch.setattr(syncpass, "CONFIRM_FLOOR", 0.5, raising=False)
    uploading = threading.Event()  # other writers keep the backend's upload queue busy
    flushes: list[float] = []

    def busy_flush(mountpoint: str, progress: object = None) -> None:
        flushes.append(time.monotonic())
        uploading.wait(60)

    monkeypatch.setattr(fake_backend, "flush", busy_flush)
    controller.mount()
    (local / "ckpt.pt").write_bytes(b"checkpoint")
    try:
        job = controller.keep_synced(local, "project/run", every=0.2, settle=0.1, settle_wait=1.0)
        assert wait_for(lambda: job.last_result is not None, timeout=10), "the pass waited for the queue"
        result = job.last_result
        assert result is not None and result.copied == 1
        assert "still uploading" in result.upload_unconfirmed
        assert "not answer" not in result.upload_unconfirmed
        (local / "more.pt").write_bytes(b"more")
        assert wait_for(lambda: job.last_result is not None and job.last_result.copied == 1
                        and job.last_result is not result, timeout=10)  # fmt: skip
        assert len(flushes) == 1  # the next pass waits on the same flush, never piles up another
    finally:
        uploading.set()
