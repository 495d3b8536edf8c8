"""Live updates: periodic ticks, after-cell ticks, pause, no leaked threads, no idle comm traffic."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from IPython.core.events import EventManager

from drivewidget import DriveController, DrivePanel
from drivewidget.status.gpu import NVML
from drivewidget.status.sample import StatusSampler
from drivewidget.testing import FakeBackend, FakeGPU, FakeNVML
from drivewidget.ui.live import LiveUpdater, running_updaters


class Ticks:
    def __init__(self) -> None:
        self.count = 0
        self.threads: set[str] = set()

    def tick(self) -> None:
        self.count += 1
        self.threads.add(threading.current_thread().name)


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_ticks_periodically_and_stops() -> None:
    ticks = Ticks()
    updater = LiveUpdater(ticks.tick, interval=0.02)
    updater.start()
    wait_for(lambda: ticks.count >= 3)
    assert "drivewidget-live" in ticks.threads
    updater.stop()
    assert not updater.running
    settled = ticks.count
    time.sleep(0.1)
    assert ticks.count == settled


def test_pause_and_resume() -> None:
    ticks = Ticks()
    updater = LiveUpdater(ticks.tick, interval=0.02)
    updater.start()
    wait_for(lambda: ticks.count >= 1)
    updater.pause()
    time.sleep(0.05)
    paused_at = ticks.count
    time.sleep(0.1)
    assert ticks.count == paused_at
    updater.resume()
    wait_for(lambda: ticks.count > paused_at)
    updater.stop()


def test_forgotten_owner_stops_the_thread() -> None:
    ticks = Ticks()
    updater = LiveUpdater(ticks.tick, interval=0.02)
    updater.start()
    del ticks
    import gc

    gc.collect()
    wait_for(lambda: not updater.running)


def test_after_cell_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Colab may drop thread updates: every cell run ticks too, on the main thread."""

    class Shell:
        events = EventManager(None, {"post_run_cell": lambda result: None})

    shell = Shell()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    ticks = Ticks()
    updater = LiveUpdater(ticks.tick, interval=3600)
    updater.start()
    shell.events.trigger("post_run_cell", None)
    assert ticks.count == 1 and threading.current_thread().name in ticks.threads
    updater.stop()
    shell.events.trigger("post_run_cell", None)
    assert ticks.count == 1  # unregistered


def test_panel_close_leaves_no_thread(controller: DriveController) -> None:
    panel = DrivePanel(controller, refresh_interval=0.02)
    assert panel.live.running
    panel.close()
    assert not panel.live.running
    assert panel.live not in running_updaters()


def test_live_status_changes_without_interaction(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    panel = DrivePanel(controller, refresh_interval=0.02)
    try:
        assert "Not mounted" in panel.state_view.value
        fake_backend.mounted = True  # mounted behind the panel's back (e.g. drive.mount in a cell)
        wait_for(lambda: "Mounted at" in panel.state_view.value)
        assert controller.state == "mounted"
        assert not panel.unmount_button.disabled
    finally:
        panel.close()


def test_pause_button(controller: DriveController, fake_backend: FakeBackend) -> None:
    panel = DrivePanel(controller, refresh_interval=0.02)
    try:
        panel.live_button.value = False
        assert panel.live.paused and panel.live_button.icon == "play"
        fake_backend.mounted = True
        time.sleep(0.1)
        assert "Not mounted" in panel.state_view.value
        panel.refresh_button.click()  # Refresh still works while paused
        assert "Mounted at" in panel.state_view.value
    finally:
        panel.close()


def test_unchanged_status_sends_no_comm_message(controller: DriveController) -> None:
    panel = DrivePanel(controller, live=False)
    sent: list[Any] = []
    for widget in (panel.status, panel.gpu, panel.state_view, panel.cwd_view, panel.mount_button):
        widget.send_state = lambda key=None, _w=widget: sent.append((_w, key))  # type: ignore[method-assign]
    frozen = panel.sampler.sample()
    panel.sampler.sample = lambda refresh=False: frozen  # type: ignore[method-assign]
    panel.refresh()
    panel.refresh()
    assert sent == []
    panel.close()


def test_gpu_shown_with_history(controller: DriveController) -> None:
    fake = FakeNVML([FakeGPU("NVIDIA T4", utilization=37, memory_used=2 << 30, memory_total=16 << 30)])
    sampler = StatusSampler(controller, gpu_source=NVML(fake))
    panel = DrivePanel(controller, live=False, sampler=sampler)
    try:
        panel.refresh()
        fake.gpus[0].utilization = 90
        panel.refresh()
        text = panel.gpu.text
        assert "GPU RAM" in text and "2.0 / 16.0 GiB" in text and "90%" in text  # the bars
        tooltip = panel.gpu.value  # the details, in the bars' tooltip
        assert "NVIDIA T4" in tooltip and "90% busy" in tooltip and "2.0 GiB / 16.0 GiB" in tooltip
        details = panel.more.section("GPU details")  # temperature, power, history: under More
        assert "▄▄▇" in details.text  # utilisation history: 37%, 37%, 90%
    finally:
        panel.close()


def test_no_gpu_message(controller: DriveController) -> None:
    fake = FakeNVML([], init_error=9)  # driver not loaded
    panel = DrivePanel(controller, live=False, sampler=StatusSampler(controller, gpu_source=NVML(fake)))
    assert "No GPU" in panel.gpu.text
    panel.close()


def test_hung_drive_does_not_block_live_updates(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    controller.mount()
    panel = DrivePanel(controller, live=False)
    fake_backend.hang.clear()
    try:
        started = time.monotonic()
        panel.refresh()
        assert time.monotonic() - started < 1.5
        assert "not responding" in panel.state_view.value
    finally:
        fake_backend.hang.set()
        panel.close()
