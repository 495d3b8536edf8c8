"""DriveController state machine, against the scriptable FakeBackend."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from drivewidget import DriveController
from drivewidget.errors import (
    AuthError,
    Busy,
    InvalidPath,
    MountError,
    NotMounted,
    StaleMount,
    UnmountError,
)
from drivewidget.status.mounttable import MountEntry
from drivewidget.testing import FakeBackend


def test_starts_unmounted(controller: DriveController) -> None:
    assert controller.state == "unmounted"
    assert controller.error == ""


def test_starts_mounted_when_already_mounted(fake_backend: FakeBackend, restore_cwd: None) -> None:
    fake_backend.mounted = True  # e.g. mounted before a kernel restart
    ctrl = DriveController(fake_backend)
    assert ctrl.state == "mounted"
    ctrl.mount()
    assert fake_backend.calls == []  # never a second mount on top of the first
    assert "Already mounted" in ctrl.message


def test_mount_unmount_cycle_reports_states(controller: DriveController, fake_backend: FakeBackend) -> None:
    seen: list[str] = []
    controller.observe(lambda change: seen.append(change["new"]), names="state")
    controller.mount()
    assert controller.state == "mounted"
    assert controller.root == fake_backend.folder
    controller.unmount()
    assert seen == ["mounting", "mounted", "unmounting", "unmounted"]
    assert fake_backend.calls == ["mount", "flush", "unmount"]


def test_mount_failure_sets_error_state(controller: DriveController, fake_backend: FakeBackend) -> None:
    fake_backend.fail_mount = AuthError("Authorisation was refused.")
    with pytest.raises(AuthError):
        controller.mount()
    assert controller.state == "error"
    assert controller.error == "Authorisation was refused."
    controller.mount()  # retry works and clears the error
    assert controller.state == "mounted"
    assert controller.error == ""


def test_unexpected_backend_exception_is_translated(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    fake_backend.fail_mount = RuntimeError("boom")  # type: ignore[assignment]
    with pytest.raises(MountError, match="boom"):
        controller.mount()
    assert controller.state == "error"


def test_backend_success_without_mount_is_an_error(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    fake_backend.on_mount = lambda: setattr(fake_backend, "mounted", False)
    with pytest.raises(MountError, match="reported success"):
        controller.mount()
    assert controller.state == "error"


def test_second_mount_while_mounting_is_refused(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    gate = threading.Event()
    fake_backend.mount_delay = gate
    worker = threading.Thread(target=controller.mount)
    worker.start()
    while controller.state != "mounting":
        time.sleep(0.01)
    with pytest.raises(Busy):
        controller.mount()
    with pytest.raises(Busy):
        controller.unmount()
    assert controller.refresh() == "mounting"  # refresh never fights a running command
    gate.set()
    worker.join(5)
    assert controller.state == "mounted"
    assert fake_backend.calls == ["mount"]
    assert fake_backend.max_overlap == 1


def test_mount_when_mounted_is_noop_and_force_remounts(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    controller.mount()
    controller.mount()
    assert fake_backend.calls == ["mount"]
    controller.mount(force=True)
    assert fake_backend.calls == ["mount", "flush", "unmount", "mount"]
    assert controller.state == "mounted"


def test_unmount_when_not_mounted_raises(controller: DriveController) -> None:
    with pytest.raises(NotMounted, match="nothing to unmount"):
        controller.unmount()
    assert controller.state == "unmounted"
    assert "Nothing is mounted" in controller.error


def test_unmount_leaves_the_drive_first(controller: DriveController, tmp_path: Path) -> None:
    controller.mount()
    controller.chdir("project", add_to_sys_path=True)
    inside = os.getcwd()
    assert inside.endswith("project")
    assert sys.path[0] == inside
    controller.unmount()
    assert not os.getcwd().startswith(controller.mountpoint)
    assert inside not in sys.path
    assert controller.cwd == os.getcwd()


def test_flush_failure_keeps_mount(controller: DriveController, fake_backend: FakeBackend) -> None:
    controller.mount()
    fake_backend.fail_flush = UnmountError("3 files still uploading")
    with pytest.raises(UnmountError):
        controller.unmount()
    assert fake_backend.mounted
    assert controller.state == "mounted"  # the truth, with the failure in error
    assert "still uploading" in controller.error


def test_stale_detected_and_recovered(controller: DriveController, fake_backend: FakeBackend) -> None:
    controller.mount()
    fake_backend.stale = True
    assert controller.refresh() == "stale"
    assert controller.problem == "disconnected"
    with pytest.raises(StaleMount, match="Unmount"):
        controller.mount()
    controller.unmount()
    assert fake_backend.calls[-1] == "unmount_stale"
    assert "flush" not in fake_backend.calls[1:]  # a dead mount cannot be flushed
    controller.mount()
    assert controller.state == "mounted"


def test_force_mount_recovers_stale(controller: DriveController, fake_backend: FakeBackend) -> None:
    controller.mount()
    fake_backend.stale = True
    controller.refresh()
    controller.mount(force=True)
    assert controller.state == "mounted"


def test_hung_drive_refresh_is_bounded(controller: DriveController, fake_backend: FakeBackend) -> None:
    controller.mount()
    fake_backend.hang.clear()
    try:
        for _ in range(3):
            started = time.monotonic()
            assert controller.refresh() == "stale"
            assert time.monotonic() - started < 1.0
        assert controller.problem == "not responding"
        started = time.monotonic()
        with pytest.raises(StaleMount):
            controller.chdir("project")
        assert time.monotonic() - started < 1.0
    finally:
        fake_backend.hang.set()
    time.sleep(0.05)
    assert controller.refresh() == "mounted"


def test_external_unmount_seen_on_refresh(controller: DriveController, fake_backend: FakeBackend) -> None:
    controller.mount()
    fake_backend.mounted = False
    assert controller.refresh() == "unmounted"


class TestChdir:
    def test_relative_to_root(self, controller: DriveController) -> None:
        controller.mount()
        target = controller.chdir("project/data")
        assert os.getcwd() == target == os.path.join(controller.root, "project", "data")
        assert controller.cwd == target
        assert controller.cwd_on_drive

    def test_absolute_inside(self, controller: DriveController) -> None:
        controller.mount()
        target = os.path.join(controller.root, "project")
        assert controller.chdir(target) == target

    def test_requires_mount(self, controller: DriveController) -> None:
        with pytest.raises(NotMounted):
            controller.chdir("project")
        assert controller.error

    def test_missing_folder(self, controller: DriveController) -> None:
        controller.mount()
        before = os.getcwd()
        with pytest.raises(InvalidPath, match="no folder"):
            controller.chdir("nope")
        assert os.getcwd() == before
        assert "no folder" in controller.error

    def test_file(self, controller: DriveController) -> None:
        controller.mount()
        with pytest.raises(InvalidPath, match="is a file"):
            controller.chdir("project/notes.txt")

    def test_outside_drive(self, controller: DriveController, tmp_path: Path) -> None:
        controller.mount()
        with pytest.raises(InvalidPath, match="outside the drive"):
            controller.chdir(str(tmp_path))
        with pytest.raises(InvalidPath, match="outside the drive"):
            controller.chdir("../..")

    def test_symlink_leading_outside(self, controller: DriveController, tmp_path: Path) -> None:
        controller.mount()
        (tmp_path / "elsewhere").mkdir()
        os.symlink(tmp_path / "elsewhere", Path(controller.root) / "escape")
        with pytest.raises(InvalidPath, match="outside the drive"):
            controller.chdir("escape")

    def test_sys_path_entry_replaced(self, controller: DriveController) -> None:
        controller.mount()
        first = controller.chdir("project", add_to_sys_path=True)
        second = controller.chdir("project/data", add_to_sys_path=True)
        assert second in sys.path and first not in sys.path

    def test_awkward_names(self, controller: DriveController) -> None:
        controller.mount()
        for name in ["with space", "quo'te\"s", "ünïcødé ✓", "$(touch pwned)", "x" * 255]:
            Path(controller.root, name).mkdir()
            assert controller.chdir(name) == os.path.join(controller.root, name)
        assert not Path(controller.root, "pwned").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_chdir_without_permission_as_unprivileged_user(restore_cwd: None) -> None:
    """Root may enter any folder, so check it in a forked child that became 'nobody'."""
    import pwd
    import shutil
    import tempfile

    base = tempfile.mkdtemp(prefix="dw-perm-")
    try:
        os.chmod(base, 0o755)
        (Path(base) / "locked").mkdir(mode=0o700)
        ctrl = DriveController(FakeBackend(base))
        ctrl.mount()
        nobody = pwd.getpwnam("nobody")
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: drop privileges, try, report through the pipe
            try:
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                try:
                    ctrl.chdir("locked")
                    outcome = "ENTERED"
                except InvalidPath as exc:
                    outcome = f"REFUSED {exc}"
                os.write(write_end, outcome.encode())
            finally:
                os._exit(0)
        os.close(write_end)
        os.waitpid(pid, 0)
        with os.fdopen(read_end) as pipe:
            outcome = pipe.read()
        assert outcome.startswith("REFUSED No permission"), outcome
    finally:
        shutil.rmtree(base)


def test_set_backend_only_when_unmounted(controller: DriveController, tmp_path: Path) -> None:
    other = FakeBackend(str(tmp_path))
    controller.mount()
    with pytest.raises(Busy, match="still mounted"):
        controller.set_backend(other)
    assert controller.error
    controller.unmount()
    controller.set_backend(other)
    assert controller.backend is other and controller.state == "unmounted"
    assert "Next mount: Fake drive" in controller.message
    controller.mount()
    assert other.calls == ["mount"]


def test_command_waits_for_a_background_refresh(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    """A click that lands while the live loop refreshes must run, not be refused as busy."""
    in_refresh = threading.Event()
    original = fake_backend.is_mounted

    def slow_is_mounted(mountpoint: str, table: Sequence[MountEntry] | None = None) -> bool:
        if threading.current_thread().name == "refresher":
            in_refresh.set()
            time.sleep(0.3)
        return original(mountpoint, table)

    fake_backend.is_mounted = slow_is_mounted  # type: ignore[method-assign]
    refresher = threading.Thread(target=controller.refresh, name="refresher")
    refresher.start()
    in_refresh.wait(5)
    controller.mount()
    refresher.join(5)
    assert controller.state == "mounted"


def test_unmounted_behind_our_back_moves_cwd_out(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    """Found by the state machine: an external unmount must not leave the kernel inside the drive."""
    controller.mount()
    controller.chdir("project", add_to_sys_path=True)
    inside = os.getcwd()
    fake_backend.mounted = False  # e.g. fusermount -u in a terminal, or drive.flush_and_unmount()
    assert controller.refresh() == "unmounted"
    assert not os.getcwd().startswith(fake_backend.folder)
    assert inside not in sys.path
    assert "unmounted outside drivewidget" in controller.message


def test_cwd_on_drive_only_while_mounted(controller: DriveController) -> None:
    os.chdir(controller.mountpoint)  # the empty mountpoint folder is the VM's own disk
    controller.refresh()
    assert not controller.cwd_on_drive
    controller.mount()
    assert controller.cwd_on_drive


class TestDeletedWorkingDirectory:
    """A folder deleted under the kernel (a sync from another machine, `rm -r` in a cell)."""

    def test_unmount_still_works_and_moves_out(self, controller: DriveController, drive_folder: Path) -> None:
        controller.mount()
        doomed = drive_folder / "project" / "gone"
        doomed.mkdir()
        controller.chdir("project/gone")
        doomed.rmdir()
        assert controller.refresh() == "mounted"  # no FileNotFoundError from os.getcwd()
        assert controller.cwd == ""
        controller.unmount()
        assert controller.state == "unmounted"
        assert os.getcwd() == controller.cwd != ""
        assert not os.getcwd().startswith(str(drive_folder))

    def test_controller_built_in_a_deleted_folder(
        self, fake_backend: FakeBackend, tmp_path: Path, restore_cwd: None
    ) -> None:
        doomed = tmp_path / "scratch"
        doomed.mkdir()
        os.chdir(doomed)
        doomed.rmdir()
        ctrl = DriveController(fake_backend)
        ctrl.mount()
        ctrl.chdir("project")
        ctrl.unmount()
        assert os.getcwd() == os.path.expanduser("~")


def test_safe_folder_is_never_inside_the_drive(tmp_path: Path, restore_cwd: None) -> None:
    """A drive used in place (root outside the mountpoint) and a kernel started inside it."""
    drive = tmp_path / "drive"
    (drive / "project").mkdir(parents=True)

    class InPlace(FakeBackend):
        def root(self, mountpoint: str) -> str:
            return str(drive)

    os.chdir(drive)
    ctrl = DriveController(InPlace(str(tmp_path / "mnt")), mountpoint=tmp_path / "mnt")
    ctrl.mount()
    ctrl.chdir("project")
    ctrl.unmount()
    assert not os.getcwd().startswith(str(drive))


def test_a_chdir_that_answers_too_late_changes_nothing(
    controller: DriveController, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drive answers after the deadline: the user was told it failed, so cwd must stay."""
    import drivewidget.controller as module

    controller.mount()
    start = os.getcwd()
    slow_open = module._FolderOpener.open

    def late(self: module._FolderOpener) -> int | None:
        time.sleep(0.4)
        return slow_open(self)

    monkeypatch.setattr(module, "FS_TIMEOUT", 0.1)
    monkeypatch.setattr(module._FolderOpener, "open", late)
    with pytest.raises(StaleMount, match="not responding"):
        controller.chdir("project")
    time.sleep(0.6)  # the probe thread finishes now
    assert os.getcwd() == start
    open_fds = os.listdir("/proc/self/fd")
    assert not any(
        os.readlink(f"/proc/self/fd/{fd}").endswith("/project")
        for fd in open_fds
        if os.path.exists(f"/proc/self/fd/{fd}")
    )


def test_failed_force_remount_is_an_error_not_stuck_unmounting(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    controller.mount()
    fake_backend.fail_flush = UnmountError("3 files are still queued for upload")
    with pytest.raises(UnmountError, match="queued"):
        controller.mount(force=True)
    assert controller.state == "mounted"  # the truth: the old mount is still there
    assert "queued" in controller.error
    assert not controller.busy


def test_slow_first_answer_after_mount_is_not_a_failure(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    """A cold cloud root may take longer than one refresh allows right after mounting."""

    def cold_start() -> None:
        fake_backend.hang.clear()
        threading.Timer(1.0, fake_backend.hang.set).start()

    fake_backend.on_mount = cold_start
    controller.mount()
    assert controller.state == "mounted"
    assert controller.error == ""


def test_error_cleared_once_the_drive_is_found_mounted(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    fake_backend.fail_mount = MountError("network down")
    with pytest.raises(MountError):
        controller.mount()
    assert controller.error
    fake_backend.mounted = True  # mounted another way (e.g. a cell running drive.mount)
    assert controller.refresh() == "mounted"
    assert controller.error == ""


def test_colab_shared_drives_can_be_entered(tmp_path: Path, restore_cwd: None) -> None:
    """On Colab the root is <mp>/MyDrive, and Shared drives sit beside it in <mp>/Shareddrives."""
    mp = tmp_path / "drive"
    (mp / "MyDrive" / "project").mkdir(parents=True)
    (mp / "Shareddrives" / "Team").mkdir(parents=True)

    class ColabLike(FakeBackend):
        def root(self, mountpoint: str) -> str:
            return os.path.join(mountpoint, "MyDrive")

    ctrl = DriveController(ColabLike(str(mp)), mountpoint=mp)
    ctrl.mount()
    assert ctrl.chdir(mp / "Shareddrives" / "Team") == str(mp / "Shareddrives" / "Team")
    assert ctrl.chdir("project") == str(mp / "MyDrive" / "project")  # relative: from the root
    with pytest.raises(InvalidPath, match="outside the drive"):
        ctrl.chdir(tmp_path)


def test_read_only_is_refused_in_words_where_the_backend_cannot(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    """A capability, not a name check: a backend that cannot mount read-only is never asked to
    (a local folder used in place once 'mounted read-only' and stayed writable)."""
    fake_backend.supports_readonly = False
    with pytest.raises(MountError, match=r"cannot be mounted read-only\. Mount it without read-only"):
        controller.mount(readonly=True)
    assert "mount" not in fake_backend.calls and not controller.readonly
    controller.mount()
    assert controller.state == "mounted" and not controller.readonly


def test_busy_says_which_command_runs(controller: DriveController, fake_backend: FakeBackend) -> None:
    """The one Busy guard is the controller's, and its message is the one users read."""
    import threading

    fake_backend.mount_delay = threading.Event()
    mounting = threading.Thread(target=controller.mount)
    mounting.start()
    try:
        deadline = time.monotonic() + 5
        while controller.state != "mounting" and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(
            Busy, match=r"Cannot unmount now: the drive is mounting \(mount is still running\)"
        ):
            controller.unmount()
    finally:
        fake_backend.mount_delay.set()
        mounting.join(10)
    assert controller.state == "mounted"
