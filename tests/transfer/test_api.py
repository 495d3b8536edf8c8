"""stage / sync_back against a controller: path checks with clear messages, background runs, and a
real rclone FUSE mount."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from drivewidget.controller import DriveController
from drivewidget.errors import Busy, InvalidPath, NotMounted, StaleMount
from drivewidget.testing import FakeBackend
from drivewidget.transfer import (
    TransferBusy,
    TransferProgress,
    active_transfers,
    stage,
    start_stage,
    sync_back,
)
from tests.transfer import Slow, contents, leftovers, make_tree, tree


@pytest.fixture
def mounted(controller: DriveController, drive_folder: Path) -> DriveController:
    make_tree(drive_folder / "project" / "data")
    controller.mount()
    return controller


def test_stage_copies_a_drive_folder_and_skips_it_next_time(
    mounted: DriveController, drive_folder: Path, tmp_path: Path
) -> None:
    local = tmp_path / "local" / "data"
    result = stage(mounted, "project/data", local)
    assert result.ok and result.kind == "stage" and result.copied == result.files_total > 20
    assert tree(local) == tree(drive_folder / "project" / "data")
    again = stage(mounted, drive_folder / "project" / "data", local)  # absolute works too
    assert again.copied == 0 and again.skipped == result.copied


def test_stage_one_file_into_a_folder(mounted: DriveController, tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    result = stage(mounted, "project/notes.txt", tmp_path / "here")
    assert result.copied == 1 and (tmp_path / "here" / "notes.txt").read_text() == "hello"
    assert result.dest == str(tmp_path / "here" / "notes.txt")


def test_stage_needs_a_mounted_drive(controller: DriveController, tmp_path: Path) -> None:
    with pytest.raises(NotMounted, match="Mount it before staging"):
        stage(controller, "project", tmp_path / "x")


def test_stage_from_a_stale_drive_says_so(
    mounted: DriveController, fake_backend: FakeBackend, tmp_path: Path
) -> None:
    fake_backend.stale = True
    with pytest.raises(StaleMount, match="Recover it"):
        stage(mounted, "project", tmp_path / "x")


def test_stage_from_a_hung_drive_does_not_hang(
    mounted: DriveController, fake_backend: FakeBackend, tmp_path: Path
) -> None:
    fake_backend.hang.clear()
    try:
        with pytest.raises(StaleMount, match="not responding"):
            stage(mounted, "project", tmp_path / "x")
    finally:
        fake_backend.hang.set()


@pytest.mark.parametrize(
    ("src", "dest", "message"),
    [
        ("../outside", "local", "is outside the drive"),
        ("/etc", "local", "is outside the drive"),
        ("project/missing", "local", "There is nothing at .*missing on the drive"),
        ("", "local", "No path given for the folder or file on the drive"),
        ("project\0x", "local", "NUL character"),
        ("project", "", "No path given for the local folder"),
        ("project", "DRIVE/elsewhere", "is on the drive; give the local folder"),
        ("project", "FILE/sub", "is a file, so .* cannot be created"),
        ("project", "FILE", "is a file; give a folder"),
    ],
)
def test_stage_rejects_bad_paths_with_clear_messages(
    mounted: DriveController, drive_folder: Path, tmp_path: Path, src: str, dest: str, message: str
) -> None:
    (tmp_path / "FILE").write_text("x")
    if dest.startswith(("DRIVE", "FILE")):
        dest = dest.replace("DRIVE", str(drive_folder)).replace("FILE", str(tmp_path / "FILE"))
    elif dest:
        dest = str(tmp_path / dest)
    with pytest.raises(InvalidPath, match=message):
        stage(mounted, src, dest)


def test_checks_that_need_the_drive_run_in_the_background(mounted: DriveController, tmp_path: Path) -> None:
    transfer = start_stage(mounted, "project/missing", tmp_path / "x")  # returns at once...
    with pytest.raises(InvalidPath, match="There is nothing at"):
        transfer.wait(10)  # ...and says what was wrong here
    assert isinstance(transfer.error, InvalidPath) and transfer.progress.phase == "failed"
    assert not (tmp_path / "x").exists()


def test_stage_rejects_a_link_out_of_the_drive(
    mounted: DriveController, drive_folder: Path, tmp_path: Path
) -> None:
    (drive_folder / "escape").symlink_to(tmp_path)
    with pytest.raises(InvalidPath, match="leads outside the drive"):
        stage(mounted, "escape", tmp_path / "x")


def test_background_stage_reports_progress_and_cancels(
    mounted: DriveController, tmp_path: Path, slow: Slow
) -> None:
    seen: list[TransferProgress] = []
    cancel = threading.Event()
    local = tmp_path / "local"
    transfer = start_stage(
        mounted, "project/data", local, workers=1, on_progress=seen.append, cancel_event=cancel
    )
    assert active_transfers(mounted) == [transfer] and active_transfers(None) == [transfer]
    assert slow.started.wait(10)
    with pytest.raises(TransferBusy):
        start_stage(mounted, "project", local)
    with pytest.raises(Busy, match="Cannot unmount while"):
        mounted.unmount()  # never pull the drive from under a running copy
    assert mounted.state == "mounted"
    cancel.set()  # a cancel token from outside works like transfer.cancel()
    result = transfer.wait(10)
    assert transfer.stop_event.is_set() and not leftovers(local)
    assert result.copied < result.files_total and active_transfers(mounted) == []
    assert seen and seen[-1].phase in ("cancelled", "done")


def test_sync_back_copies_results_into_the_drive_and_flushes(
    mounted: DriveController, fake_backend: FakeBackend, drive_folder: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    make_tree(results)
    result = sync_back(mounted, results, "project/results")
    assert result.ok and result.kind == "sync_back"
    assert tree(drive_folder / "project" / "results") == tree(results)
    assert "flush" in fake_backend.calls
    fake_backend.calls.clear()
    again = sync_back(mounted, results, "project/results")
    assert again.copied == 0 and "flush" not in fake_backend.calls  # nothing new: nothing to upload
    (results / "plain.txt").write_text("v2")
    assert sync_back(mounted, results, "project/results", flush=False).copied == 1
    assert "flush" not in fake_backend.calls


def test_sync_back_reports_a_failed_flush_as_a_warning(
    mounted: DriveController, fake_backend: FakeBackend, tmp_path: Path
) -> None:
    from drivewidget.errors import UnmountError

    (tmp_path / "r.txt").write_text("result")
    fake_backend.fail_flush = UnmountError("rclone is not answering")
    result = sync_back(mounted, tmp_path / "r.txt", "project")
    assert result.copied == 1 and any("could not be confirmed" in w for w in result.warnings)
    assert "rclone is not answering" in result.upload_unconfirmed


def test_newer_files_at_the_destination_are_kept_unless_asked(
    mounted: DriveController, drive_folder: Path, tmp_path: Path
) -> None:
    """Someone changed the drive's copy since: a sync from an older local copy must not undo it."""
    local = tmp_path / "draft.txt"
    local.write_text("old local draft")
    os.utime(local, (1_000_000_000, 1_000_000_000))
    on_drive = drive_folder / "project" / "draft.txt"
    on_drive.write_text("edited on another machine")
    result = sync_back(mounted, local, "project/")
    assert result.ok and result.copied == 0 and result.kept_newer == ("draft.txt",)
    assert "Kept 1 file(s) that are newer at the destination" in result.summary()
    assert on_drive.read_text() == "edited on another machine"
    assert sync_back(mounted, local, "project/", overwrite_newer=True).copied == 1
    assert on_drive.read_text() == "old local draft"
    staged = tmp_path / "staged"
    staged.mkdir()
    old = time.time() - 60
    os.utime(drive_folder / "project" / "notes.txt", (old, old))
    (staged / "notes.txt").write_text("my local edit")  # newer than the drive's notes.txt
    result = stage(mounted, "project/notes.txt", staged)
    assert result.kept_newer == ("notes.txt",) and (staged / "notes.txt").read_text() == "my local edit"


def test_sync_back_refuses_a_read_only_drive(controller: DriveController, tmp_path: Path) -> None:
    controller.mount(readonly=True)
    with pytest.raises(InvalidPath, match="read-only"):
        sync_back(controller, tmp_path, "project")


@pytest.mark.parametrize(
    ("src", "dest", "message"),
    [
        ("missing", "project", "There is nothing at"),
        ("DRIVE/project", "elsewhere", "is on the drive; give the local folder or file"),
        ("results", "/tmp", "is outside the drive"),
        ("results", "project/notes.txt", "is a file on the drive"),
        ("results", "project/notes.txt/sub", "is a file, so .* cannot be created on the drive"),
    ],
)
def test_sync_back_rejects_bad_paths(
    mounted: DriveController, drive_folder: Path, tmp_path: Path, src: str, dest: str, message: str
) -> None:
    (tmp_path / "results").mkdir()
    src = src.replace("DRIVE", str(drive_folder)) if src.startswith("DRIVE") else str(tmp_path / src)
    with pytest.raises(InvalidPath, match=message):
        sync_back(mounted, src, dest)


def test_options_are_passed_and_checked(mounted: DriveController, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unknown transfer option"):
        stage(mounted, "project", tmp_path / "x", wrokers=2)
    result = stage(mounted, "project", tmp_path / "x", workers=1, checksum=True, verify=False, fsync=False)
    assert result.ok


def test_stage_while_mounting_is_busy(
    mounted: DriveController, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mounted, "refresh", lambda: "mounting")
    with pytest.raises(Busy, match="mounting"):
        stage(mounted, "project", tmp_path / "x")


@pytest.mark.fuse
def test_stage_and_sync_back_through_a_real_rclone_mount(
    rclone_controller: DriveController, tmp_path: Path
) -> None:
    ctrl = rclone_controller
    cloud = Path(ctrl.backend.remote)  # type: ignore[attr-defined]
    files = make_tree(cloud / "project" / "data", utf8_only=True)
    ctrl.mount()
    local = tmp_path / "local"
    result = stage(ctrl, "project/data", local)
    assert result.ok, result.errors
    # rclone shows control characters in names as symbols (\n as U+240A): compare with the mount
    seen = contents(Path(ctrl.root) / "project" / "data")
    assert contents(local) == seen and result.copied == len(files)
    assert sorted(v for v in seen.values() if v is not None) == sorted(files.values())
    assert stage(ctrl, "project/data", local).copied == 0  # mtimes survived the mount
    (local / "new_result.bin").write_bytes(os.urandom(300_000))
    back = sync_back(ctrl, local, "project/results")
    assert back.ok, back.errors
    # sync_back waited for the upload: everything is in the remote before any unmount
    assert ctrl.backend.pending_uploads(ctrl.mountpoint) == (0, 0)  # type: ignore[attr-defined]
    uploaded = contents(cloud / "project" / "results")
    assert len(uploaded) == len(contents(local))
    assert uploaded["new_result.bin"] == (local / "new_result.bin").read_bytes()
    ctrl.unmount()
    assert not leftovers(cloud)
    ctrl.mount(readonly=True)
    assert contents(Path(ctrl.root) / "project" / "results") == contents(local)
    with pytest.raises(InvalidPath, match="read-only"):
        sync_back(ctrl, local, "project/results")
    ctrl.unmount()


def test_newer_by_clock_skew_only_or_identical_content_is_not_kept(
    mounted: DriveController, drive_folder: Path, tmp_path: Path
) -> None:
    local = tmp_path / "same.txt"
    local.write_text("identical")
    on_drive = drive_folder / "project" / "same.txt"
    on_drive.write_text("identical")
    now = time.time()
    os.utime(local, (now - 600, now - 600))
    result = sync_back(mounted, local, "project/", checksum=True)  # contents decide: identical
    assert result.kept_newer == () and result.skipped == 1
    (tmp_path / "skew.txt").write_text("v2 from this machine")
    os.utime(tmp_path / "skew.txt", (now - 1, now - 1))
    (drive_folder / "project" / "skew.txt").write_text("v1")  # "newer" by 1 s: clocks differ
    result = sync_back(mounted, tmp_path / "skew.txt", "project/")
    assert (
        result.copied == 1 and (drive_folder / "project" / "skew.txt").read_text() == "v2 from this machine"
    )


def test_a_relative_local_path_with_a_deleted_working_directory_is_explained(
    mounted: DriveController, tmp_path: Path
) -> None:
    doomed = tmp_path / "doomed"
    doomed.mkdir()
    os.chdir(doomed)
    doomed.rmdir()
    with pytest.raises(InvalidPath, match="working directory was deleted"):
        sync_back(mounted, "results", "project/")


def test_a_local_folder_used_in_place_stages_and_syncs_back(tmp_path: Path) -> None:
    """Without root the local backend mounts nothing: no mountpoint folder exists and the
    folder itself is the drive. Every stage once failed opening the missing mountpoint."""
    from drivewidget.backends.local import LocalBackend

    source = tmp_path / "shared"
    make_tree(source / "data")
    ctrl = DriveController(LocalBackend(source, bind=False), mountpoint=tmp_path / "mnt")
    ctrl.mount()
    assert not (tmp_path / "mnt").exists()
    result = stage(ctrl, "data", tmp_path / "local")
    assert result.ok and tree(tmp_path / "local") == tree(source / "data")
    back = sync_back(ctrl, tmp_path / "local", "copy")
    assert back.ok and tree(source / "copy") == tree(source / "data")
    with pytest.raises(InvalidPath, match="holds the drive"):  # the folder used in place is the drive
        stage(ctrl, "data", tmp_path)
    with pytest.raises(InvalidPath, match="on the drive"):
        stage(ctrl, "data", source / "inside")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_destination_that_cannot_be_created_says_so(mounted: DriveController) -> None:
    """Browser review: ``/proc/dw-test`` read "There is nothing at /proc/dw-test" and the
    section said "Stopped", as if something had run. Nothing was copied: the place cannot
    take a new folder, and the message says that, without "files copied so far"."""
    with pytest.raises(InvalidPath) as info:
        stage(mounted, "project/data", "/proc/dw-test")
    message = str(info.value)
    assert message.startswith("Cannot create /proc/dw-test: that place does not take new folders")
    assert "so far" not in message and "Choose a folder you can write to" in message
