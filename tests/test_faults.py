"""Fault injection through the panel on REAL rclone FUSE mounts: no lost data, no wedged kernel."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from drivewidget import DriveController, DrivePanel

pytestmark = pytest.mark.fuse


@pytest.fixture
def panel(rclone_controller: DriveController) -> DrivePanel:
    panel = DrivePanel(rclone_controller, live=False)
    yield panel
    panel.close()


def click(panel: DrivePanel, name: str) -> float:
    started = time.monotonic()
    getattr(panel, name).click()
    elapsed = time.monotonic() - started
    panel.wait()
    return elapsed


def daemon_pid(panel: DrivePanel) -> int:
    return panel.controller.backend._children[panel.controller.mountpoint].pid  # type: ignore[attr-defined]


def source(panel: DrivePanel) -> Path:
    return Path(panel.controller.backend.remote)  # type: ignore[attr-defined]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sigkill_shows_stale_and_recovers(panel: DrivePanel) -> None:
    click(panel, "mount_button")
    panel.select(os.path.join(panel.controller.root, "project"))
    os.kill(daemon_pid(panel), signal.SIGKILL)
    click(panel, "refresh_button")
    assert "Stale mount" in panel.state_view.value and "disconnected" in panel.state_view.value
    assert not panel.unmount_button.disabled and panel.mount_button.disabled
    click(panel, "unmount_button")
    assert panel.controller.state == "unmounted"
    assert not os.getcwd().startswith(panel.controller.mountpoint)
    click(panel, "mount_button")
    assert panel.controller.state == "mounted"
    click(panel, "unmount_button")


def test_sigstop_every_click_returns_within_a_second(panel: DrivePanel) -> None:
    click(panel, "mount_button")
    pid = daemon_pid(panel)
    os.kill(pid, signal.SIGSTOP)
    try:
        assert click(panel, "refresh_button") < 1.0
        assert "not responding" in panel.state_view.value
        for name in ("mount_button", "refresh_button"):
            assert click(panel, name) < 1.0
        started = time.monotonic()
        with contextlib.suppress(Exception):
            panel.select(os.path.join(panel.controller.root, "project"))
        assert time.monotonic() - started < 1.0
        assert click(panel, "unmount_button") < 1.0  # the unmount itself runs in the background
        assert panel.controller.state == "unmounted"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def test_files_written_then_unmounted_are_all_in_the_source(panel: DrivePanel) -> None:
    click(panel, "mount_button")
    root = Path(panel.controller.root)
    expected = {}
    for index in range(25):
        data = os.urandom(1000 * (index + 1))
        (root / "project" / f"part-{index}.bin").write_bytes(data)
        expected[f"part-{index}.bin"] = hashlib.sha256(data).hexdigest()
    click(panel, "unmount_button")
    assert panel.controller.state == "unmounted"
    for name, want in expected.items():
        assert digest(source(panel) / "project" / name) == want


def test_file_still_being_written_when_unmount_is_clicked(panel: DrivePanel) -> None:
    click(panel, "mount_button")
    target = Path(panel.controller.root, "project", "growing.bin")
    chunks = [os.urandom(64 * 1024) for _ in range(40)]
    started, writer_done = threading.Event(), threading.Event()

    def write() -> None:
        with open(target, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                handle.flush()
                started.set()
                time.sleep(0.01)
        writer_done.set()

    writer = threading.Thread(target=write)
    writer.start()
    started.wait(5)
    click(panel, "unmount_button")
    if not writer_done.is_set():  # refused while the file was open: nothing lost
        assert panel.controller.state == "mounted"
        assert "still open" in panel.message
    writer.join(10)
    if panel.controller.state == "mounted":
        click(panel, "unmount_button")
    assert panel.controller.state == "unmounted"
    assert digest(source(panel) / "project" / "growing.bin") == hashlib.sha256(b"".join(chunks)).hexdigest()


def test_mountpoint_removed_behind_the_panel(panel: DrivePanel) -> None:
    mountpoint = Path(panel.controller.mountpoint)
    click(panel, "mount_button")
    click(panel, "unmount_button")
    mountpoint.rmdir()
    click(panel, "mount_button")  # recreated
    assert panel.controller.state == "mounted"
    click(panel, "unmount_button")


def test_mountpoint_replaced_by_a_file_behind_the_panel(panel: DrivePanel) -> None:
    mountpoint = Path(panel.controller.mountpoint)
    click(panel, "mount_button")
    click(panel, "unmount_button")
    mountpoint.rmdir()
    mountpoint.write_text("not a folder")
    click(panel, "mount_button")
    assert panel.controller.state == "error"
    assert "is a file, not a folder" in panel.message and panel.message.level == "error"
    assert mountpoint.read_text() == "not a folder"
    mountpoint.unlink()
    click(panel, "mount_button")
    assert panel.controller.state == "mounted"
    click(panel, "unmount_button")
