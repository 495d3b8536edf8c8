"""A keep-synced job on a plain folder drive: what it copies, when, and what it never does."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from drivewidget.errors import InvalidPath, TransferBusy
from drivewidget.sync import FolderDrive, SyncJob, keep_synced, sync_jobs, syncpass
from drivewidget.sync.drive_side import is_temp_name, temp_tag

from .conftest import tree, wait_for, write_old

FAST = {"every": 0.2, "settle": 0.1, "settle_wait": 1.0, "confirm_uploads": False}


def visible(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree(root).items() if not is_temp_name(os.path.basename(k))}


def test_first_pass_copies_everything_and_stop_flush_leaves_an_identical_copy(
    local: Path, drive: FolderDrive
) -> None:
    for i in range(20):
        (local / f"d{i % 3}").mkdir(exist_ok=True)
        (local / f"d{i % 3}" / f"f{i}.bin").write_bytes(os.urandom(1000 + i))
    job = keep_synced(drive, local, "run", **FAST)
    dest = Path(drive.root) / "run"
    assert wait_for(lambda: job.last_synced is not None)
    assert visible(dest) == tree(local)
    (local / "late.txt").write_text("written just before stop")
    (local / "d0" / "f0.bin").write_bytes(b"changed")
    result = job.stop(flush=True)
    assert result is not None and result.ok
    assert job.state == "stopped"
    assert tree(dest) == tree(local)  # byte-identical, and no temporary file left
    assert not sync_jobs()


def test_running_again_returns_the_running_job(local: Path, drive: FolderDrive) -> None:
    job = keep_synced(drive, local, "run", **FAST)
    again = keep_synced(drive, str(local) + "/", "./run", every=5)
    assert again is job
    assert job.every == 5
    assert sync_jobs() == [job]
    with pytest.raises(TransferBusy, match="already keeping"):
        keep_synced(drive, local.parent / "other", "run/sub", **FAST)


def test_running_again_with_other_options_applies_them_to_the_running_job(
    local: Path, drive: FolderDrive
) -> None:
    job = keep_synced(drive, local, "run", **FAST)
    assert not job.mirror_deletes
    again = keep_synced(drive, local, "run", every=0.3, mirror_deletes=True, workers=2)
    assert again is job
    assert job.mirror_deletes and job.options.workers == 2 and job.every == 0.3
    assert job.options.settle == FAST["settle"]  # what is not given keeps its value
    with pytest.raises(ValueError, match="settle"):
        keep_synced(drive, local, "run", every=0.3, settle=-1)
    assert job.options.settle == FAST["settle"]  # a bad option changes nothing


def test_only_changed_files_are_copied(local: Path, drive: FolderDrive) -> None:
    for i in range(50):
        (local / f"f{i}").write_bytes(b"x" * i)
    job = keep_synced(drive, local, "run", **FAST)
    assert wait_for(lambda: job.last_result is not None and job.last_result.copied == 50)
    synced = job.last_synced
    (local / "f7").write_bytes(b"new content")
    assert wait_for(lambda: job.last_synced != synced and job.pending == 0)
    assert job.last_result is not None
    assert job.last_result.copied == 1
    assert job.last_result.files_total < 50  # the pass looked only at what changed
    assert (Path(drive.root) / "run" / "f7").read_bytes() == b"new content"


def test_a_busy_file_waits_until_it_is_quiet_and_is_never_copied_half_way(
    local: Path, drive: FolderDrive
) -> None:
    path = local / "busy.bin"
    path.write_bytes(b"a" * 1000)
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            path.write_bytes(bytes([n % 256]) * 1000)
            time.sleep(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        job = keep_synced(drive, local, "run", **{**FAST, "settle_wait": 0.3})
        assert wait_for(lambda: job.last_result is not None)
        time.sleep(1.0)
        assert not (Path(drive.root) / "run" / "busy.bin").exists()
        assert job.pending >= 1
    finally:
        stop.set()
        thread.join()
    assert wait_for(lambda: (Path(drive.root) / "run" / "busy.bin").exists())
    assert wait_for(lambda: job.pending == 0)
    assert (Path(drive.root) / "run" / "busy.bin").read_bytes() == path.read_bytes()


def test_a_file_that_never_settles_is_reported(local: Path, drive: FolderDrive) -> None:
    path = local / "log.txt"
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            with path.open("a") as handle:
                handle.write("x")
            time.sleep(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        job = keep_synced(drive, local, "run", **{**FAST, "settle_wait": 0.1, "unsettled_after": 0.5})
        assert wait_for(lambda: job.unsettled == ["log.txt"])
        assert "log.txt" in job.error and "keep changing" in job.error
        assert job.state == "error"
        assert "log.txt" in job.status_text()
    finally:
        stop.set()
        thread.join()
    assert wait_for(lambda: job.unsettled == [] and job.state == "idle")


@pytest.mark.parametrize("mirror", [False, True])
def test_local_deletions_reach_the_drive_only_when_asked(
    local: Path, drive: FolderDrive, mirror: bool
) -> None:
    (local / "sub").mkdir()
    (local / "sub" / "a").write_text("a")
    (local / "b").write_text("b")
    dest = Path(drive.root) / "run"
    dest.mkdir()
    (dest / "theirs").write_text("a collaborator's file")
    job = keep_synced(drive, local, "run", mirror_deletes=mirror, **FAST)
    assert wait_for(lambda: (dest / "b").exists() and (dest / "sub" / "a").exists())
    (local / "b").unlink()
    (local / "sub" / "a").unlink()
    (local / "sub").rmdir()
    (local / "c").write_text("c")
    assert wait_for(lambda: (dest / "c").exists())
    job.stop(flush=True)
    assert (dest / "theirs").exists()  # never the drive's own files
    assert (dest / "b").exists() is not mirror
    assert (dest / "sub").exists() is not mirror


def test_temporary_leftovers_on_the_drive_are_removed(local: Path, drive: FolderDrive) -> None:
    dest = Path(drive.root) / "run" / "sub"
    dest.mkdir(parents=True)
    leftover = dest / ".dw-0123456789abcdef.part"
    leftover.write_bytes(b"half a checkpoint")
    hours_ago = time.time() - 2 * 3600
    os.utime(leftover, (hours_ago, hours_ago))  # nobody has written it for hours
    (local / "sub").mkdir()
    (local / "sub" / "ckpt").write_bytes(b"whole")
    job = keep_synced(drive, local, "run", **FAST)
    assert wait_for(lambda: job.last_synced is not None)
    assert not leftover.exists()
    assert (dest / "ckpt").read_bytes() == b"whole"


def test_a_temporary_file_another_job_is_writing_now_is_left_alone(local: Path, drive: FolderDrive) -> None:
    dest = Path(drive.root) / "run"
    dest.mkdir()
    theirs = dest / ".dw-0123456789abcdef.part"  # another machine's job, writing into it now
    theirs.write_bytes(b"half of someone else's checkpoint")
    (local / "ckpt").write_bytes(b"whole")
    job = keep_synced(drive, local, "run", **FAST)
    assert wait_for(lambda: job.last_synced is not None)
    assert (dest / "ckpt").read_bytes() == b"whole"
    assert theirs.exists()


def test_this_jobs_own_leftovers_are_removed_by_its_next_run_at_once(local: Path, drive: FolderDrive) -> None:
    dest = Path(drive.root) / "run"
    (local / "ckpt").write_bytes(b"whole")
    job = keep_synced(drive, local, "run", **FAST)
    assert wait_for(lambda: job.last_synced is not None)
    job.stop(flush=False)
    # what a copy cut short by kill -9 leaves: a temporary file of this job, written a moment ago
    mine = dest / f".dw-{temp_tag(job.local, job.dest)}{'0' * (16 - len(temp_tag(job.local, job.dest)))}.part"
    mine.write_bytes(b"half a checkpoint")
    assert is_temp_name(mine.name)
    again = keep_synced(drive, local, "run", **FAST)  # the job started again (a new process)
    assert wait_for(lambda: again.last_synced is not None)
    assert not mine.exists()


def test_a_newer_file_on_the_drive_is_kept(local: Path, drive: FolderDrive) -> None:
    dest = Path(drive.root) / "run"
    dest.mkdir()
    write_old(local / "notes.txt", b"old local")  # older than the drive's version below
    (dest / "notes.txt").write_text("edited on the drive since")
    job = keep_synced(drive, local, "run", **FAST)
    assert wait_for(lambda: job.last_result is not None)
    assert (dest / "notes.txt").read_text() == "edited on the drive since"
    assert job.last_result is not None and job.last_result.kept_newer == ("notes.txt",)


def test_a_link_on_the_drive_is_never_written_through(
    local: Path, drive: FolderDrive, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, Path(drive.root) / "run")
    (local / "ckpt").write_text("data")
    job = keep_synced(drive, local, "run", **FAST)
    assert wait_for(lambda: job.state == "error")
    assert "symbolic link" in job.error
    assert list(outside.iterdir()) == []


def test_links_and_fifos_in_the_local_folder_are_skipped(
    local: Path, drive: FolderDrive, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("not to be copied")
    os.symlink(secret, local / "link")
    os.mkfifo(local / "fifo")
    (local / "real").write_text("real")
    job = keep_synced(drive, local, "run", **FAST)
    assert wait_for(lambda: job.last_synced is not None)
    assert sorted(os.listdir(Path(drive.root) / "run")) == ["real"]


def test_a_missing_drive_is_an_error_in_words_and_the_job_goes_on(local: Path, tmp_path: Path) -> None:
    folder = tmp_path / "gone-drive"
    folder.mkdir()
    drive = FolderDrive(folder)
    job = keep_synced(drive, local, "run", **FAST)
    assert wait_for(lambda: job.last_synced is not None)
    (folder / "run").rmdir()
    folder.rmdir()
    (local / "f").write_text("f")
    assert wait_for(lambda: job.state == "error")
    assert "not mounted" in job.error
    assert job.pending == 1
    folder.mkdir()
    assert wait_for(lambda: (folder / "run" / "f").exists())
    assert wait_for(lambda: job.state == "idle" and job.error == "" and job.pending == 0)


def test_read_only_drive_is_refused_in_words(local: Path, tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir()
    drive = FolderDrive(tmp_path / "ro", writable=False)
    with pytest.raises(InvalidPath, match="read-only"):
        keep_synced(drive, local, "run", **FAST)
    assert not sync_jobs()


def test_bad_folders_are_refused_at_once(local: Path, drive: FolderDrive, tmp_path: Path) -> None:
    with pytest.raises(InvalidPath, match="outside the drive"):
        keep_synced(drive, local, "/etc", **FAST)
    with pytest.raises(InvalidPath, match="on the drive"):
        keep_synced(drive, Path(drive.root) / "x", "run", **FAST)
    with pytest.raises(InvalidPath, match="is a file"):
        (tmp_path / "file").write_text("")
        keep_synced(drive, tmp_path / "file", "run", **FAST)
    with pytest.raises(InvalidPath, match="a part of the path is a file"):
        keep_synced(drive, tmp_path / "file" / "run", "run", **FAST)
    with pytest.raises(ValueError, match="every"):
        keep_synced(drive, local, "run", every=0)
    with pytest.raises(TypeError, match="unknown keep_synced option"):
        keep_synced(drive, local, "run", evry=3)
    assert not sync_jobs()


def test_sync_now_returns_a_transfer_result(local: Path, drive: FolderDrive) -> None:
    job = keep_synced(drive, local, "run", **{**FAST, "every": 3600})
    assert wait_for(lambda: job.last_synced is not None)
    (local / "now.txt").write_text("now")
    result = job.sync_now()
    assert result.copied == 1 and result.ok
    assert (Path(drive.root) / "run" / "now.txt").read_text() == "now"
    job.stop(flush=False)
    with pytest.raises(Exception, match="stopped"):
        job.sync_now()


def test_observers_may_read_the_job_from_any_callback(local: Path, drive: FolderDrive) -> None:
    seen: list[str] = []
    job = keep_synced(drive, local, "run", **FAST)

    def observer(change: dict[str, object]) -> None:  # runs on the job's and the watcher's threads
        seen.append(f"{change['name']}: {job.status_text()} {job.unsettled} {job.pending}")

    job.observe(observer, names=["state", "pending", "last_synced", "error"])
    for i in range(5):
        (local / f"f{i}").write_text(str(i))
        time.sleep(0.3)
    assert wait_for(lambda: len(visible(Path(drive.root) / "run")) == 5)
    assert any(line.startswith("pending: ") for line in seen)
    assert job.stop(flush=True) is not None


def test_a_folder_moved_in_whole_is_synced_and_folders_are_not_pending_files(
    local: Path, drive: FolderDrive, tmp_path: Path
) -> None:
    job = keep_synced(drive, local, "run", **{**FAST, "rescan_every": 3600})
    assert wait_for(lambda: job.last_synced is not None)
    outside = tmp_path / "prepared"
    (outside / "deep").mkdir(parents=True)
    for i in range(3):
        (outside / "deep" / f"f{i}").write_text(str(i))
    os.rename(outside, local / "moved")  # one event for the folder, none for its files
    assert wait_for(lambda: len(visible(Path(drive.root) / "run")) == 3)
    (local / "empty").mkdir()
    time.sleep(1.0)
    assert job.pending == 0


def test_mirror_deletes_never_deletes_a_drive_file_the_job_kept_because_it_is_newer(
    local: Path, drive: FolderDrive
) -> None:
    dest = Path(drive.root) / "run"
    dest.mkdir()
    write_old(local / "shared.txt", b"old local")  # older than the drive's version below
    (dest / "shared.txt").write_text("a collaborator's newer version")
    job = keep_synced(drive, local, "run", mirror_deletes=True, **FAST)
    assert wait_for(lambda: job.last_result is not None)
    assert job.last_result is not None and job.last_result.kept_newer == ("shared.txt",)
    (local / "shared.txt").unlink()
    result = job.stop(flush=True)
    assert result is not None
    assert (dest / "shared.txt").read_text() == "a collaborator's newer version"


def test_mirror_deletes_never_deletes_a_file_found_identical(local: Path, drive: FolderDrive) -> None:
    dest = Path(drive.root) / "run"
    dest.mkdir()
    (local / "same.txt").write_text("same")
    (dest / "same.txt").write_text("same")
    st = os.stat(local / "same.txt")
    os.utime(dest / "same.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    job = keep_synced(drive, local, "run", mirror_deletes=True, **FAST)
    assert wait_for(lambda: job.last_result is not None)
    assert job.last_result is not None and job.last_result.copied == 0
    (local / "same.txt").unlink()
    job.stop(flush=True)
    assert (dest / "same.txt").read_text() == "same"  # the job never put it there


@pytest.mark.parametrize("how", ["rewritten", "replaced, same size and time"])
def test_mirror_deletes_keeps_a_file_changed_on_the_drive_since_the_job_wrote_it(
    local: Path, drive: FolderDrive, how: str
) -> None:
    dest = Path(drive.root) / "run"
    (local / "a.txt").write_text("mine")
    (local / "b.txt").write_text("also mine")
    job = keep_synced(drive, local, "run", mirror_deletes=True, **FAST)
    assert wait_for(lambda: (dest / "a.txt").exists() and (dest / "b.txt").exists() and job.pending == 0)
    before = os.stat(dest / "a.txt")
    if how == "rewritten":
        (dest / "a.txt").write_text("a collaborator's edit")
    else:  # another inode put in its place, with the same size and modification time
        (dest / "new").write_text("edit")
        os.utime(dest / "new", ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(dest / "new", dest / "a.txt")
    (local / "a.txt").unlink()
    (local / "b.txt").unlink()
    result = job.stop(flush=True)
    assert result is not None
    assert (dest / "a.txt").exists()  # the collaborator's version is kept
    assert not (dest / "b.txt").exists()  # what the job wrote, unchanged, is deleted
    said = " ".join(result.warnings) + " " + job.message
    assert "a.txt" in said and "changed on the drive" in said


def test_a_file_the_job_wrote_then_edited_on_the_drive_is_kept_when_newer_than_the_local_change(
    local: Path, drive: FolderDrive
) -> None:
    dest = Path(drive.root) / "run"
    (local / "notes.txt").write_text("v1")
    job = keep_synced(drive, local, "run", **FAST)
    assert wait_for(lambda: (dest / "notes.txt").exists() and job.pending == 0)
    (dest / "notes.txt").write_text("a collaborator's edit, made after the local change below")
    write_old(local / "notes.txt", b"v2, written a minute ago")  # a change older than the edit
    result = job.sync_now()
    assert result.kept_newer == ("notes.txt",)
    assert (dest / "notes.txt").read_text().startswith("a collaborator's edit")


@pytest.mark.parametrize("watching", [True, False])
def test_pending_counts_files_not_yet_on_the_drive_in_full_passes_too(
    local: Path, drive: FolderDrive, monkeypatch: pytest.MonkeyPatch, watching: bool
) -> None:
    if not watching:  # no inotify: every pass is a full scan
        monkeypatch.setattr("drivewidget.sync.watcher.Watcher.start", lambda self: False)
    n = 12
    for i in range(n):
        write_old(local / f"f{i:02d}", os.urandom(2000))
    dest = Path(drive.root) / "run"
    seen: list[tuple[int, int]] = []  # (pending, files still missing on the drive) at each change

    def missing() -> int:
        on_drive = set(visible(dest)) if dest.exists() else set()
        return len(set(tree(local)) - on_drive)

    job = SyncJob(*job_args(drive, local), on_stopped=None)
    job.observe(lambda change: seen.append((change["new"], missing())), names=["pending"])
    job.start()
    try:
        assert wait_for(lambda: job.last_synced is not None and missing() == 0)
        assert max(p for p, _ in seen) == n  # the first (full) pass counted its candidates
        assert all(p >= m for p, m in seen)  # never fewer pending than files not on the drive
        assert len({p for p, _ in seen}) > 2  # it went down as files were committed
        assert job.pending == 0
        seen.clear()
        synced = job.last_synced
        for i in range(3):
            write_old(local / f"late{i}", b"late")
        assert wait_for(lambda: job.last_synced != synced and missing() == 0 and job.pending == 0)
        assert max(p for p, _ in seen) >= 1
        if not watching:  # (a notification may report one new file before the next is written)
            assert max(p for p, _ in seen) == 3 and all(p >= m for p, m in seen)
    finally:
        job.stop(flush=False)


def job_args(drive: FolderDrive, local: Path) -> tuple[object, ...]:
    from drivewidget.sync.options import SyncOptions

    opts = SyncOptions(**{**FAST, "workers": 1, "rescan_every": 3600})
    return (drive, str(local), drive.root, "run", opts)


class _SlowOnce(FolderDrive):
    """A folder drive whose look times out once (a busy machine), then answers."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.stale_answers = 0

    def refresh(self) -> str:
        if self.stale_answers == 0 and self.armed:
            self.stale_answers += 1
            return "stale"
        return super().refresh()

    armed = False


def test_one_look_that_times_out_does_not_skip_a_pass(local: Path, tmp_path: Path) -> None:
    drive = _SlowOnce(tmp_path / "slow")
    (tmp_path / "slow").mkdir()
    job = keep_synced(drive, local, "run", **{**FAST, "every": 3600})
    assert wait_for(lambda: job.last_synced is not None)
    (local / "final.txt").write_text("written before the stop")
    drive.armed = True
    result = job.stop(flush=True)
    assert result is not None and result.copied == 1, job.error
    assert drive.stale_answers == 1


def test_a_stopped_job_stays_stopped_when_its_stuck_pass_ends_later(
    drive: FolderDrive, local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second review: stop() gives up on a pass stuck on a hung drive; when that pass ended
    later it set the state back to 'idle', a 'running' job with no thread behind it."""
    gate, inside = threading.Event(), threading.Event()
    real = syncpass.SyncPass._copy_rounds

    def stuck(self, tree, candidates):  # type: ignore[no-untyped-def]
        inside.set()
        gate.wait(30)  # a drive that does not answer (ignores cancel, as a blocked syscall does)
        return real(self, tree, candidates)

    monkeypatch.setattr(syncpass.SyncPass, "_copy_rounds", stuck)
    write_old(local / "a.bin", b"a")
    job = keep_synced(drive, local, "run", every=3600, settle=0.1, settle_wait=1.0)
    assert inside.wait(10)
    job.stop(flush=False)  # gives up on the stuck pass after STUCK_GRACE
    assert job.state == "stopped" and not job.running
    gate.set()
    wait_for(lambda: job.state != "stopped", timeout=5)
    assert job.state == "stopped", f"a stopped job came back as {job.state!r} (running={job.running})"


def test_every_not_given_again_keeps_its_value(drive: FolderDrive, local: Path) -> None:
    """README: 'options not given keep their values'."""
    job = keep_synced(drive, local, "run", every=3600, settle=0.1)
    job.every = 5
    assert keep_synced(drive, local, "run") is job
    assert job.every == 5, f"every reset to {job.every} by a call that did not give it"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_local_folder_that_cannot_be_created_says_so(drive: FolderDrive) -> None:
    """Second review: the /proc message fix did not reach keep_synced ('There is nothing at')."""
    with pytest.raises(
        InvalidPath, match=r"^Cannot create /proc/dw-test/run: that place does not take new folders"
    ):
        keep_synced(drive, "/proc/dw-test/run", "run")
