"""ColabBackend against a faithful fake of ``google.colab.drive`` that mounts for real (rclone).

The fake (tests/fakes/google/colab) mirrors colabtools' drive.py: its printed lines, its
exceptions and the order of its steps, including the trap that ``drive.mount`` kills every
Drive process before it checks the mountpoint. See its module docstring.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from drivewidget.backends import create_backend
from drivewidget.backends.colab import ColabBackend
from drivewidget.controller import DriveController
from drivewidget.errors import (
    AuthError,
    BackendUnavailable,
    InvalidMountpoint,
    MountError,
    MountTimeout,
    NotMounted,
    StaleMount,
    UnmountError,
)
from drivewidget.status.mounttable import find_mount

Make = Callable[..., DriveController]


def _mount_calls(drive: ModuleType) -> list[dict[str, object]]:
    return [args for name, args in drive.calls if name == "mount"]


def _flush_calls(drive: ModuleType) -> list[dict[str, object]]:
    return [args for name, args in drive.calls if name == "flush_and_unmount"]


def _healthy(ctrl: DriveController) -> bool:
    return ctrl.refresh() == "mounted" and "project" in os.listdir(ctrl.root)


def _freeze_drive(drive: ModuleType, ctrl: DriveController, monkeypatch: pytest.MonkeyPatch) -> int:
    """SIGSTOP the Drive process behind ``ctrl`` (a hung Drive); stale flushes wait 2 s."""
    import signal

    from drivewidget.backends import colab as colab_backend

    monkeypatch.setattr(colab_backend, "STALE_FLUSH_TIMEOUT_MS", 2000)
    pid = int(drive.daemons[ctrl.mountpoint].pid)
    os.kill(pid, signal.SIGSTOP)
    return pid


# -- without FUSE ------------------------------------------------------------------------------


def test_defaults_and_description() -> None:
    backend = ColabBackend()
    assert backend.default_mountpoint() == "/content/drive"
    assert backend.main_thread_only is True
    assert "fuse.drive" in backend.fstypes
    assert "timeout 120 s" in backend.describe()
    assert "timeout 5 s" in ColabBackend(timeout_ms=5000).describe()
    assert isinstance(create_backend("colab"), ColabBackend)
    with pytest.raises(ValueError, match="at least 1000"):
        ColabBackend(timeout_ms=999)  # Colab would wait int(0.999) == 0 s: forever


def test_relative_and_home_mountpoints_resolve_like_colab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_cwd: None
) -> None:
    monkeypatch.chdir(tmp_path)
    assert DriveController(ColabBackend(), mountpoint="drive").mountpoint == str(tmp_path / "drive")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ColabBackend().resolve_mountpoint("~/gdrive") == str(tmp_path / "home" / "gdrive")


def test_not_importable_is_backend_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_cwd: None
) -> None:
    monkeypatch.setitem(sys.modules, "google.colab", None)  # import google.colab -> ImportError
    monkeypatch.setitem(sys.modules, "google.colab.drive", None)
    backend = ColabBackend()
    with pytest.raises(BackendUnavailable, match="not a Colab runtime"):
        backend.check_available()
    ctrl = DriveController(backend, mountpoint=tmp_path / "drive")
    with pytest.raises(BackendUnavailable, match="DRIVEWIDGET_BACKEND"):
        ctrl.mount()
    assert ctrl.state == "error"
    assert "not a Colab runtime" in ctrl.error


def test_outside_colab_is_backend_unavailable(
    colab_module: ModuleType, tmp_path: Path, restore_cwd: None
) -> None:
    # google.colab importable (the fake), but no /var/colab/hostname: said before any click.
    with pytest.raises(BackendUnavailable, match="not a Colab runtime"):
        ColabBackend().check_available()
    ctrl = DriveController(ColabBackend(), mountpoint=tmp_path / "drive")
    with pytest.raises(BackendUnavailable, match="not a Colab runtime"):
        ctrl.mount()
    assert _mount_calls(colab_module) == []  # drive.mount was never asked
    # drive.mount's own refusal (NotImplementedError) is translated too.
    with pytest.raises(BackendUnavailable, match="unsupported in this environment"):
        ColabBackend().mount(str(tmp_path / "drive"))


def test_colab_enterprise_is_backend_unavailable(
    colab_drive: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERTEX_PRODUCT", "COLAB_ENTERPRISE")
    with pytest.raises(BackendUnavailable, match=r"Colab Enterprise.*rclone"):
        ColabBackend().check_available()


def test_mount_off_the_main_thread_is_refused(colab_module: ModuleType, tmp_path: Path) -> None:
    colab_module.IN_COLAB = True
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            ColabBackend().mount(str(tmp_path / "drive"))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], MountError)
    assert "main thread" in str(errors[0])
    assert _mount_calls(colab_module) == []


# -- real FUSE mounts through the fake -------------------------------------------------------


@pytest.mark.fuse
def test_mount_and_unmount_show_colabs_messages(
    colab_drive: ModuleType, colab_controller: Make, cloud: Path
) -> None:
    ctrl = colab_controller()
    mp = ctrl.mountpoint
    assert ctrl.state == "unmounted"
    said: list[str] = []
    ctrl.observe(lambda change: said.append(change["new"]), names="message")
    ctrl.mount()
    assert ctrl.state == "mounted"
    assert "Allow access in the window" in said[0] and "waits up to 1 s" in said[0]  # shown while waiting
    assert ctrl.message == f"Mounted at {mp}"  # Colab's printed line, captured
    assert ctrl.root == os.path.join(mp, "MyDrive")
    assert sorted(os.listdir(mp)) == [".shortcut-targets-by-id", "MyDrive", "Shareddrives"]
    entry = find_mount(mp)
    assert entry is not None and entry.source == "drive"
    (call,) = _mount_calls(colab_drive)
    assert call["mountpoint"] == mp and call["force_remount"] is False and call["timeout_ms"] == 1000
    assert call["thread"] == threading.main_thread().name
    (request,) = colab_drive._message.requests
    assert request["type"] == "request_auth" and request["request"] == {"authType": "dfs_ephemeral"}
    assert request["timeout_sec"] == 1

    ctrl.chdir("project")
    Path("new.txt").write_text("written on the drive")
    ctrl.unmount()
    assert ctrl.state == "unmounted"
    assert "Unmounted" in ctrl.message and ctrl.error == ""
    assert find_mount(mp) is None
    assert len(_flush_calls(colab_drive)) == 1
    assert (cloud / "MyDrive" / "project" / "new.txt").read_text() == "written on the drive"
    assert not os.getcwd().startswith(mp)


@pytest.mark.fuse
def test_legacy_my_drive_root(colab_drive: ModuleType, colab_controller: Make, cloud: Path) -> None:
    (cloud / "MyDrive").rename(cloud / "My Drive")
    ctrl = colab_controller()
    ctrl.mount()
    assert ctrl.root == os.path.join(ctrl.mountpoint, "My Drive")
    assert os.listdir(ctrl.root) == ["project"]
    ctrl.unmount()


@pytest.mark.fuse
def test_already_mounted_is_a_noop(colab_drive: ModuleType, colab_controller: Make) -> None:
    ctrl = colab_controller()
    ctrl.mount()
    pid = colab_drive.daemons[ctrl.mountpoint].pid
    ctrl.mount()
    assert "Already mounted" in ctrl.message
    assert len(_mount_calls(colab_drive)) == 1
    # Called directly while mounted, Colab prints its own line and mounts nothing.
    lines = ctrl.backend.mount(ctrl.mountpoint)
    mp = ctrl.mountpoint
    assert lines[0] == (
        f'Drive already mounted at {mp}; to attempt to forcibly remount, call drive.mount("{mp}", '
        "force_remount=True)."
    )
    assert colab_drive.daemons[mp].pid == pid
    assert _healthy(ctrl)
    ctrl.unmount()


@pytest.mark.fuse
def test_force_remount(colab_drive: ModuleType, colab_controller: Make) -> None:
    ctrl = colab_controller()
    ctrl.mount()
    pid = colab_drive.daemons[ctrl.mountpoint].pid
    ctrl.mount(force=True)
    assert ctrl.state == "mounted" and ctrl.message == f"Mounted at {ctrl.mountpoint}"
    assert [c["force_remount"] for c in _mount_calls(colab_drive)] == [False, True]
    assert len(_flush_calls(colab_drive)) == 1  # the old mount was flushed first
    assert colab_drive.daemons[ctrl.mountpoint].pid != pid
    assert _healthy(ctrl)
    ctrl.unmount()


@pytest.mark.fuse
def test_readonly(colab_drive: ModuleType, colab_controller: Make) -> None:
    ctrl = colab_controller()
    ctrl.mount(readonly=True)
    assert _mount_calls(colab_drive)[0]["readonly"] is True
    entry = find_mount(ctrl.mountpoint)
    assert entry is not None and entry.readonly and ctrl.readonly
    with pytest.raises(OSError):
        Path(ctrl.root, "nope.txt").write_text("x")
    ctrl.unmount()


def _bad_mountpoint(kind: str, tmp: Path) -> Path:
    if kind == "space":
        return tmp / "my drive"
    if kind == "symlink":
        (tmp / "real").mkdir()
        (tmp / "link").symlink_to(tmp / "real")
        return tmp / "link"
    if kind == "file":
        (tmp / "afile").write_text("x")
        return tmp / "afile"
    if kind == "non-empty":
        (tmp / "full").mkdir()
        (tmp / "full" / "keep.txt").write_text("x")
        return tmp / "full"
    assert kind == "missing parent"
    return tmp / "no" / "such" / "drive"


@pytest.mark.fuse
@pytest.mark.parametrize("kind", ["space", "symlink", "file", "non-empty", "missing parent"])
def test_bad_mountpoint_rejected_before_drive_mount(
    kind: str, colab_drive: ModuleType, colab_controller: Make, tmp_path: Path
) -> None:
    ctrl = colab_controller()
    ctrl.mount()
    bad = colab_controller(_bad_mountpoint(kind, tmp_path))
    with pytest.raises(InvalidMountpoint) as caught:
        bad.mount()
    assert bad.state == "error" and bad.error == str(caught.value)
    assert len(_mount_calls(colab_drive)) == 1  # drive.mount never saw the bad mountpoint ...
    assert _healthy(ctrl)  # ... so it could not kill the Drive process of the existing mount
    ctrl.unmount()


@pytest.mark.fuse
def test_fake_reproduces_the_kill_before_validate_trap(
    colab_drive: ModuleType, colab_controller: Make, tmp_path: Path
) -> None:
    """What the test above protects against: Colab's own check comes after the kill."""
    ctrl = colab_controller()
    ctrl.mount()
    full = _bad_mountpoint("non-empty", tmp_path)
    with pytest.raises(ValueError, match=r"^Mountpoint must not already contain files$"):
        colab_drive.mount(str(full))
    assert ctrl.refresh() == "stale"  # 'Transport endpoint is not connected'
    ctrl.unmount()
    ctrl.mount()
    assert _healthy(ctrl)
    ctrl.unmount()


@pytest.mark.fuse
def test_auth_refused(colab_drive: ModuleType, colab_controller: Make) -> None:
    colab_drive._message.AUTH_ANSWER = "refuse"
    ctrl = colab_controller()
    with pytest.raises(AuthError) as caught:
        ctrl.mount()
    text = str(caught.value)
    assert "credential propagation was unsuccessful" in text and "allow access" in text
    assert ctrl.state == "error" and ctrl.error == text
    assert colab_drive.daemons == {}
    assert find_mount(ctrl.mountpoint) is None
    # The backend keeps Colab's exception as the cause (the controller re-raises `from None`).
    with pytest.raises(AuthError) as direct:
        ctrl.backend.mount(ctrl.mountpoint)
    assert type(direct.value.__cause__).__name__ == "MessageError"
    assert str(direct.value.__cause__) == "Error: credential propagation was unsuccessful"


@pytest.mark.fuse
def test_no_answer_is_auth_error_with_advice(colab_drive: ModuleType, colab_controller: Make) -> None:
    colab_drive._message.AUTH_ANSWER = "no answer"
    ctrl = colab_controller()
    started = time.monotonic()
    with pytest.raises(AuthError) as caught:
        ctrl.mount()
    assert time.monotonic() - started >= 1.0  # waited the whole auth timeout
    text = str(caught.value)
    assert "nobody answered" in text and "within 1 s (timeout_ms=1000)" in text
    assert f'drive.mount("{ctrl.mountpoint}")' in text and "in a cell once" in text
    assert ctrl.state == "error" and find_mount(ctrl.mountpoint) is None


@pytest.mark.fuse
def test_drive_never_comes_up_is_mount_timeout(colab_drive: ModuleType, colab_controller: Make) -> None:
    colab_drive.DRIVE = "never up"
    ctrl = colab_controller()
    with pytest.raises(MountTimeout, match=r"within 31 s \(timeout_ms=1000 plus Colab's 30 s\)"):
        ctrl.mount()
    assert type(ctrl.backend) is ColabBackend
    assert ctrl.state == "error" and "mount again" in ctrl.error.lower()


@pytest.mark.fuse
def test_root_read_timeout_is_explained(colab_drive: ModuleType, colab_controller: Make) -> None:
    colab_drive.DRIVE = "root timeout"
    ctrl = colab_controller()
    with pytest.raises(MountTimeout) as caught:
        ctrl.mount()
    text = str(caught.value)
    assert "top folder of your Drive" in text and "Mount again" in text and "subfolders" in text
    assert "timeout during initial read" not in text  # Colab's wording is explained, not echoed


@pytest.mark.fuse
def test_drive_process_exits_is_mount_error(colab_drive: ModuleType, colab_controller: Make) -> None:
    colab_drive.DRIVE = "exits"
    ctrl = colab_controller(timeout_ms=5000)
    with pytest.raises(MountError) as caught:
        ctrl.mount()
    assert type(caught.value) is MountError
    assert "Colab: mount failed" in str(caught.value)


@pytest.mark.fuse
def test_flush_failure_keeps_the_mount(colab_drive: ModuleType, colab_controller: Make) -> None:
    ctrl = colab_controller()
    ctrl.mount()
    colab_drive.FLUSH_FAILS = True
    with pytest.raises(UnmountError, match="stays mounted and nothing is lost"):
        ctrl.unmount()
    assert str(ctrl.error).startswith("Google Drive could not write pending changes")
    assert _healthy(ctrl)
    colab_drive.FLUSH_FAILS = False
    ctrl.unmount()
    assert ctrl.state == "unmounted" and find_mount(ctrl.mountpoint) is None


@pytest.mark.fuse
def test_unmount_when_not_mounted(colab_drive: ModuleType, colab_controller: Make) -> None:
    ctrl = colab_controller()
    with pytest.raises(NotMounted):
        ctrl.unmount()
    assert _flush_calls(colab_drive) == []
    # Called directly, Colab's own answer comes back as a message.
    lines = ctrl.backend.unmount(ctrl.mountpoint)
    assert lines == ["Drive not mounted, so nothing to flush and unmount."]


@pytest.mark.fuse
def test_killed_drive_process_goes_stale_and_recovers(
    colab_drive: ModuleType, colab_controller: Make
) -> None:
    ctrl = colab_controller()
    ctrl.mount()
    colab_drive.kill_daemon(ctrl.mountpoint)
    assert ctrl.refresh() == "stale" and ctrl.problem == "disconnected"
    with pytest.raises(StaleMount):
        ctrl.mount()
    started = time.monotonic()
    ctrl.unmount()  # flush_and_unmount is tried, fails at once (no Drive process), then detach
    assert time.monotonic() - started < 10
    assert ctrl.state == "unmounted" and find_mount(ctrl.mountpoint) is None
    assert len(_flush_calls(colab_drive)) == 1
    ctrl.mount()
    assert _healthy(ctrl)
    ctrl.unmount()


@pytest.mark.fuse
def test_mount_survives_a_new_controller(colab_drive: ModuleType, colab_controller: Make) -> None:
    ctrl = colab_controller()
    ctrl.mount()
    again = colab_controller()  # a re-run cell: it must see the mount, not mount on top
    assert again.state == "mounted" and again.root == ctrl.root
    again.mount()
    assert "Already mounted" in again.message and len(_mount_calls(colab_drive)) == 1
    again.unmount()
    assert ctrl.refresh() == "unmounted"


# -- data safety and coexistence on Colab ----------------------------------------------------


@pytest.mark.fuse
def test_sync_back_says_colab_cannot_confirm_the_upload(
    colab_drive: ModuleType, colab_controller: Make, tmp_path: Path
) -> None:
    ctrl = colab_controller()
    ctrl.mount()
    (tmp_path / "r.txt").write_text("result")
    result = ctrl.sync_back(tmp_path / "r.txt", "project/")
    assert result.copied == 1 and result.ok
    assert "can confirm it only by unmounting" in result.upload_unconfirmed
    ctrl.unmount()


@pytest.mark.fuse
def test_a_drive_mounted_elsewhere_is_adopted_never_disconnected(
    colab_drive: ModuleType, colab_controller: Make, tmp_path: Path
) -> None:
    """A cell ran drive.mount('/content/gdrive'); the panel must not kill that Drive."""
    theirs = colab_controller(tmp_path / "content" / "gdrive")
    theirs.mount()
    assert ColabBackend().default_mountpoint() == theirs.mountpoint  # DrivePanel() shows that one
    ours = colab_controller()  # /content/drive
    calls = len(_mount_calls(colab_drive))
    with pytest.raises(InvalidMountpoint, match=r"already mounted at .*gdrive.*disconnect"):
        ours.mount()
    assert len(_mount_calls(colab_drive)) == calls  # drive.mount (which kills Drive) never ran
    assert _healthy(theirs)
    theirs.unmount()


def test_first_answer_waits_as_long_as_colab_does() -> None:
    assert ColabBackend(timeout_ms=30_000).first_answer_timeout() == 30.0


@pytest.mark.fuse
def test_slow_but_alive_drive_uploads_before_it_is_detached(
    colab_drive: ModuleType,
    colab_controller: Make,
    cloud: Path,
    monkeypatch: pytest.MonkeyPatch,
    probes_too_slow: Callable[[], None],
) -> None:

    ctrl = colab_controller()
    ctrl.mount()
    Path(ctrl.root, "project", "model.pt").write_bytes(b"weights")
    probes_too_slow()  # every probe is "too slow"
    assert ctrl.refresh() == "stale" and ctrl.problem == "not responding"
    ctrl.unmount()
    assert ctrl.state == "unmounted" and len(_flush_calls(colab_drive)) == 1
    assert (cloud / "MyDrive" / "project" / "model.pt").read_bytes() == b"weights"


@pytest.mark.fuse
def test_hung_drive_is_detached_on_the_second_click(
    colab_drive: ModuleType, colab_controller: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    ctrl = colab_controller()
    ctrl.mount()
    pid = _freeze_drive(colab_drive, ctrl, monkeypatch)
    try:
        assert ctrl.refresh() == "stale" and ctrl.problem == "not responding"
        with pytest.raises(UnmountError, match=r"did not finish uploading within 2 s.*second click detaches"):
            ctrl.unmount()
        assert find_mount(ctrl.mountpoint) is not None  # nothing detached yet: it may be uploading
        ctrl.unmount()
        assert ctrl.state == "unmounted" and find_mount(ctrl.mountpoint) is None
    finally:
        os.kill(pid, signal.SIGCONT)


def test_other_threads_output_is_not_swallowed_while_colab_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from drivewidget.backends.colab import _captured

    def mount_like() -> None:
        print("Mounted at /content/drive")
        worker = threading.Thread(target=lambda: print("step 3 loss=0.3"))
        worker.start()
        worker.join()

    assert _captured(mount_like) == ["Mounted at /content/drive"]
    assert "step 3 loss=0.3" in capsys.readouterr().out


@pytest.mark.fuse
def test_allowed_access_then_failure_is_not_blamed_on_the_prompt(
    colab_drive: ModuleType, colab_controller: Make
) -> None:
    """Someone answered the sign-in prompt; Drive still failed, slowly: not 'nobody answered'."""
    colab_drive.DRIVE = "exits"
    colab_drive.FAIL_DELAY_S = 1.2  # fails after the auth timeout (1 s) has passed
    ctrl = colab_controller()
    with pytest.raises(MountError) as caught:
        ctrl.mount()
    assert type(caught.value) is MountError and "nobody answered" not in str(caught.value)


@pytest.mark.fuse
def test_unmount_off_the_main_thread_leaves_stdout_alone(
    colab_drive: ModuleType, colab_controller: Make
) -> None:
    """The panel unmounts on a worker thread; swapping the process-wide sys.stdout there
    would steal a cell's output (or a %%capture) meanwhile."""
    ctrl = colab_controller()
    ctrl.mount()
    before = sys.stdout
    worker = threading.Thread(target=ctrl.unmount)
    worker.start()
    worker.join(60)
    assert ctrl.state == "unmounted" and sys.stdout is before


@pytest.mark.fuse
def test_after_a_recovery_the_next_hang_is_flushed_again(
    colab_drive: ModuleType,
    colab_controller: Make,
    cloud: Path,
    monkeypatch: pytest.MonkeyPatch,
    probes_too_slow: Callable[[], None],
) -> None:
    """'Click again to detach' is remembered for that hang only, not for a later one."""
    import signal

    ctrl = colab_controller()
    ctrl.mount()
    pid = _freeze_drive(colab_drive, ctrl, monkeypatch)
    assert ctrl.refresh() == "stale"
    with pytest.raises(UnmountError, match="second click"):
        ctrl.unmount()
    os.kill(pid, signal.SIGCONT)  # it recovers on its own
    deadline = time.monotonic() + 10
    while ctrl.refresh() != "mounted" and time.monotonic() < deadline:
        time.sleep(0.1)  # the probe stuck during the hang finishes first
    assert ctrl.state == "mounted"
    ctrl.unmount()
    ctrl.mount()
    Path(ctrl.root, "project", "later.pt").write_bytes(b"weights")
    probes_too_slow()  # a later, slow spell
    assert ctrl.refresh() == "stale"
    calls = len(_flush_calls(colab_drive))
    ctrl.unmount()
    assert len(_flush_calls(colab_drive)) == calls + 1  # flushed first, not detached blindly
    assert (cloud / "MyDrive" / "project" / "later.pt").read_bytes() == b"weights"


def test_captured_stdout_keeps_the_real_streams_attributes() -> None:
    from drivewidget.backends.colab import _ThreadCapture

    capture = _ThreadCapture(sys.__stdout__)
    assert capture.encoding == sys.__stdout__.encoding and capture.fileno() == sys.__stdout__.fileno()
