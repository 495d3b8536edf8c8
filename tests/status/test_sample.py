"""Status samples: controller state, drive space with a deadline, JSON keys, the sampler's cache."""

from __future__ import annotations

import errno
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drivewidget.controller import DriveController
from drivewidget.status import sample as samplemod
from drivewidget.status._fake_nvml import FakeGPU, FakeNVML, FakeProcess
from drivewidget.status.gpu import NVML, GpuStatus
from drivewidget.status.sample import (
    StatusSample,
    StatusSampler,
    format_bytes,
    format_duration,
    state_text,
    take_sample,
)
from drivewidget.testing import FakeBackend

GiB = 1 << 30
REQUIRED_KEYS = {"state", "backend", "mountpoint", "root", "cwd", "ram", "disk", "gpus"}
DOCUMENTED_KEYS = REQUIRED_KEYS | {
    "version",
    "time",
    "state_text",
    "problem",
    "error",
    "readonly",
    "cwd_on_drive",
    "drive_disk",
    "runtime",
    "gpu_message",
}


def no_gpu() -> GpuStatus:
    return GpuStatus(0.0, False, (), "No GPU.")


class FakeClock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def fake_ps() -> Any:
    return SimpleNamespace(
        virtual_memory=lambda: SimpleNamespace(total=8 * GiB, available=6 * GiB),
        Process=lambda pid: SimpleNamespace(create_time=lambda: 1_000.0 if pid == 1 else 4_000.0),
        boot_time=lambda: 0.0,
    )


def sample(ctrl: DriveController | None, **kw: Any) -> StatusSample:
    kw.setdefault("gpu_source", no_gpu)
    return take_sample(ctrl, **kw)


# -- controller state --------------------------------------------------------------------


def test_unmounted(controller: DriveController, fake_backend: FakeBackend) -> None:
    s = sample(controller, clock=FakeClock(7.0), wall=lambda: 5_000.0, ps=fake_ps(), colab=False)
    assert s.state == "unmounted" and s.state_text == "Not mounted"
    assert s.timestamp == 7.0 and s.time == 5_000.0
    assert s.backend == fake_backend.describe()
    assert s.mountpoint == fake_backend.folder
    assert s.cwd == os.getcwd() and not s.cwd_on_drive
    assert s.drive_disk.note == "not mounted" and not s.drive_disk.known
    assert s.drive_responding
    assert s.ram.used == 2 * GiB and s.ram.total == 8 * GiB
    assert s.runtime.vm_age == 4_000.0 and s.runtime.kernel_age == 1_000.0
    assert s.disk.known
    assert s.gpus == ()


def test_json_has_the_documented_keys(controller: DriveController) -> None:
    controller.mount()
    data = sample(controller).to_json()
    assert set(data) == DOCUMENTED_KEYS
    for key in ("ram", "disk", "drive_disk"):
        assert isinstance(data[key]["used"], int) and isinstance(data[key]["total"], int), key
    assert data["gpus"] == [] and data["gpu_message"] == "No GPU."
    assert data["version"] == 1
    assert json.loads(json.dumps(data)) == data
    for key in sorted(DOCUMENTED_KEYS):  # every key is documented in the module docstring
        assert f"\n    {key} " in (samplemod.__doc__ or "")


def test_json_when_unknown_is_still_a_mapping(controller: DriveController) -> None:
    data = sample(controller).to_json()
    assert data["drive_disk"] == {"used": None, "total": None, "free": None, "note": "not mounted"}


def test_mounted_and_cwd_on_drive(controller: DriveController, drive_folder: Path) -> None:
    controller.mount()
    s = sample(controller)
    assert s.state == "mounted" and s.state_text == f"Mounted at {drive_folder}"
    assert s.root == str(drive_folder)
    assert s.drive_disk.known and s.drive_disk.path == str(drive_folder)
    assert not s.cwd_on_drive
    controller.chdir("project")
    s = sample(controller)
    assert s.cwd == str(drive_folder / "project") and s.cwd_on_drive
    assert "on the drive: saved" in s.to_text()
    controller.unmount()
    s = sample(controller)
    assert not s.cwd_on_drive and "on the VM disk" in s.to_text()


def test_readonly_mount(controller: DriveController, drive_folder: Path) -> None:
    controller.mount(readonly=True)
    s = sample(controller)
    assert s.readonly and s.state_text == f"Mounted at {drive_folder} (read-only)"
    assert s.to_json()["readonly"] is True


def test_cwd_on_drive_follows_a_chdir_behind_the_controllers_back(
    controller: DriveController, drive_folder: Path
) -> None:
    controller.mount()
    os.chdir(drive_folder / "project" / "data")  # %cd in the notebook
    assert sample(controller).cwd_on_drive


def test_deleted_cwd_does_not_break_the_sample(controller: DriveController, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    os.chdir(gone)
    gone.rmdir()
    s = sample(controller)
    assert s.cwd == controller.cwd


def test_no_controller(tmp_path: Path) -> None:
    s = sample(None, error="No drive backend: rclone is not installed")
    assert s.state == "error" and s.backend == ""
    assert s.state_text == "Error: No drive backend: rclone is not installed"
    assert s.drive_disk.note == "no backend"
    assert set(s.to_json()) == DOCUMENTED_KEYS


def test_stale_mount(controller: DriveController, fake_backend: FakeBackend) -> None:
    controller.mount()
    fake_backend.stale = True
    controller.refresh()
    s = sample(controller)
    assert s.state == "stale" and s.problem == "disconnected"
    assert s.drive_disk.note == "disconnected" and not s.drive_responding
    assert s.state_text.startswith("Stale mount at") and "Unmount" in s.state_text


def test_refresh_is_opt_in(controller: DriveController, fake_backend: FakeBackend) -> None:
    fake_backend.mounted = True  # mounted behind the controller's back (e.g. a second kernel)
    assert sample(controller).state == "unmounted"  # the sample reads the traits as they are
    assert sample(controller, refresh=True).state == "mounted"
    assert controller.state == "mounted"


def test_mounting_state_does_not_touch_the_drive(controller: DriveController) -> None:
    controller.state = "mounting"
    s = sample(controller)
    assert s.drive_disk.note == "mounting" and s.drive_responding
    assert s.state_text.startswith("Mounting at")


# -- the drive's space, with a deadline ---------------------------------------------------


def test_hung_drive_answers_not_responding(
    controller: DriveController, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller.mount()
    release = threading.Event()
    calls: list[str] = []
    real = shutil.disk_usage

    def hanging(path: str) -> Any:
        calls.append(path)
        release.wait(30)
        return real(path)

    monkeypatch.setattr(samplemod, "_statfs", hanging)
    try:
        t0 = time.perf_counter()
        s = sample(controller, drive_timeout=0.1)
        first = time.perf_counter() - t0
        assert s.drive_disk.note == "not responding" and not s.drive_disk.known
        assert not s.drive_responding
        assert "Drive space: not responding" in s.to_text()
        assert 0.09 <= first < 1.0
        t0 = time.perf_counter()
        s = sample(controller, drive_timeout=0.1)
        assert time.perf_counter() - t0 < 0.05  # answered at once: the first call is still stuck
        assert s.drive_disk.note == "not responding"
        assert len(calls) == 1  # no pile of stuck threads
        # the controller's own probes are not blocked by a slow statfs
        assert controller.refresh() == "mounted"
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        s = sample(controller, drive_timeout=0.5)
        if s.drive_disk.known:
            break
        time.sleep(0.01)
    assert s.drive_disk.known


def test_disconnected_drive(controller: DriveController, monkeypatch: pytest.MonkeyPatch) -> None:
    controller.mount()

    def enotconn(path: str) -> Any:
        raise OSError(errno.ENOTCONN, "Transport endpoint is not connected", path)

    monkeypatch.setattr(samplemod, "_statfs", enotconn)
    s = sample(controller)
    assert s.drive_disk.note == "disconnected" and not s.drive_responding

    def eacces(path: str) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(samplemod, "_statfs", eacces)
    assert sample(controller).drive_disk.note == "Permission denied"


# -- GPUs ----------------------------------------------------------------------------------


def test_gpus_in_the_sample(controller: DriveController) -> None:
    fake = FakeNVML(
        [
            FakeGPU(
                "NVIDIA L4",
                utilization=80,
                memory_total=24 * GiB,
                memory_used=5 * GiB,
                temperature=61,
                power_mw=50_500,
                power_limit_mw=72_000,
                compute_processes=[FakeProcess(os.getpid(), GiB)],
            ),
            FakeGPU("NVIDIA L4", unsupported={"power", "temperature"}),
        ]
    )
    nvml = NVML(fake, colab=False)
    try:
        s = take_sample(controller, gpu_source=nvml)
        data = s.to_json()
        assert data["gpu_message"] == ""
        first, second = data["gpus"]
        assert first == {
            "index": 0,
            "name": "NVIDIA L4",
            "uuid": "GPU-fake-0000",
            "lost": False,
            "utilization": 80.0,
            "memory": {"used": 5 * GiB, "total": 24 * GiB},
            "memory_v2": True,
            "process_memory": GiB,
            "temperature": 61.0,
            "power_draw": 50.5,
            "power_limit": 72.0,
        }
        assert second["temperature"] is None and second["power_draw"] is None
        text = s.to_text()
        assert "GPU 0 NVIDIA L4: 80% busy, memory 5.0 GiB / 24.0 GiB, 61 °C, power 50 W / 72 W" in text
        assert "this kernel 1.0 GiB" in text
        assert "GPU 1 NVIDIA L4: 0% busy, memory 0 B / 16.0 GiB, temperature N/A, power N/A / 300 W" in text
        fake.vanish(1)
        text = take_sample(controller, gpu_source=nvml).to_text()
        assert "GPU 1 NVIDIA L4: lost" in text
    finally:
        nvml.shutdown()


def test_no_gpu_text(controller: DriveController) -> None:
    nvml = NVML(FakeNVML(init_error=12), colab=True)
    s = take_sample(controller, gpu_source=nvml)
    assert s.gpus == () and s.to_json()["gpus"] == []
    assert s.to_text().splitlines()[-1].startswith("No GPU (no NVIDIA driver). To get one in Colab")


def test_broken_gpu_source_is_no_gpu(controller: DriveController) -> None:
    def broken() -> GpuStatus:
        raise RuntimeError("boom")

    s = take_sample(controller, gpu_source=broken)
    assert s.gpus == () and "boom" in s.gpu.message


# -- the live sampler ----------------------------------------------------------------------


def test_sampler_caches_drive_space(controller: DriveController, monkeypatch: pytest.MonkeyPatch) -> None:
    controller.mount()
    clock = FakeClock(0.0)
    calls: list[str] = []
    real = shutil.disk_usage

    def counting(path: str) -> Any:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(samplemod, "_statfs", counting)
    fake = FakeNVML([FakeGPU(utilization=10)])
    nvml = NVML(fake, clock=clock)
    sampler = StatusSampler(controller, clock=clock, gpu_source=nvml, drive_ttl=10.0, history_length=4)
    try:
        for t in (0.0, 3.0, 9.9):
            clock.t = t
            s = sampler.sample()
            assert s.drive_disk.known and s.timestamp == t
        assert len(calls) == 1
        clock.t = 10.0
        sampler.sample()
        assert len(calls) == 2
        sampler.invalidate()
        sampler.sample()
        assert len(calls) == 3
        assert sampler.last is not None and sampler.last.timestamp == 10.0
        assert sampler.history.utilization(0) == (10.0, 10.0, 10.0, 10.0)  # length 4 of 6 samples
    finally:
        nvml.shutdown()


def test_sampler_does_not_cache_failures(
    controller: DriveController, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller.mount()
    calls: list[str] = []

    def failing(path: str) -> Any:
        calls.append(path)
        raise OSError(errno.EIO, "Input/output error", path)

    monkeypatch.setattr(samplemod, "_statfs", failing)
    sampler = StatusSampler(controller, clock=FakeClock(0.0), gpu_source=no_gpu)
    assert sampler.sample().drive_disk.note == "disconnected"
    assert sampler.sample().drive_disk.note == "disconnected"
    assert len(calls) == 2


def test_sampler_is_thread_safe(controller: DriveController) -> None:
    controller.mount()
    sampler = StatusSampler(controller, gpu_source=no_gpu)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                sampler.sample()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_sample_is_cheap(controller: DriveController) -> None:
    """The target is < 1 ms without GPU (benchmarks/bench_status.py); here a lenient bound."""
    controller.mount()
    sampler = StatusSampler(controller, gpu_source=no_gpu)
    sampler.sample()
    durations = []
    for _ in range(50):
        t0 = time.perf_counter()
        sampler.sample()
        durations.append(time.perf_counter() - t0)
    assert statistics.median(durations) < 0.005
    durations = []
    for _ in range(50):
        t0 = time.perf_counter()
        take_sample(controller, gpu_source=no_gpu)
        durations.append(time.perf_counter() - t0)
    assert statistics.median(durations) < 0.01


# -- words -----------------------------------------------------------------------------------


def test_state_text() -> None:
    assert state_text("mounted", "/content/drive") == "Mounted at /content/drive"
    assert state_text("unmounted", "/content/drive") == "Not mounted"
    assert state_text("mounting", "/m") == "Mounting at /m..."
    assert state_text("unmounting", "/m").startswith("Unmounting /m")
    assert (
        state_text("stale", "/m", "not responding")
        == "Stale mount at /m: not responding. Unmount to recover."
    )
    assert state_text("error", "/m", error="Mount failed: x") == "Error: Mount failed: x"
    assert state_text("error", "/m") == "Error"


def test_format_bytes() -> None:
    assert format_bytes(None) == "N/A"
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(15 * GiB) == "15.0 GiB"
    assert format_bytes(3 << 50) == "3.0 PiB"
    assert format_bytes(5 << 60) == "5120.0 PiB"


def test_format_duration() -> None:
    assert format_duration(None) == "N/A"
    assert format_duration(-5) == "0 s"
    assert format_duration(59.9) == "59 s"
    assert format_duration(60) == "1 min"
    assert format_duration(3725) == "1 h 02 min"
    assert format_duration(2 * 86400 + 3 * 3600) == "2 d 03 h"


def test_text_lines(controller: DriveController, drive_folder: Path) -> None:
    controller.mount()
    lines = sample(controller, ps=fake_ps(), colab=True, wall=lambda: 4_600.0).lines()
    assert lines[0] == f"Drive: Mounted at {drive_folder}"
    assert lines[1].startswith("Backend: Fake drive")
    assert any(line.startswith("Drive space: ") and "used of" in line for line in lines)
    assert "RAM: 2.0 GiB used of 8.0 GiB (25%)" in lines
    assert (
        "Runtime: up 1 h 00 min, kernel up 10 min, at most 11 h 00 min left of Colab's 12 h 00 min" in lines
    )
    assert lines[-1] == "No GPU."


# -- import cost -------------------------------------------------------------------------------


def test_import_is_light() -> None:
    """``import drivewidget`` (and the status modules, and the CLI) load no psutil, pynvml or ipywidgets."""
    code = (
        "import sys, drivewidget, drivewidget.status.sample, drivewidget.status.gpu, "
        "drivewidget.status.system, drivewidget.cli\n"
        "heavy = sorted(m for m in ('psutil', 'pynvml', 'ipywidgets') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_sampler_refresh_with_an_observer_that_invalidates(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    """A UI invalidates the cache when the state changes; a refreshing sample must not deadlock."""
    sampler = StatusSampler(controller, gpu_source=no_gpu)
    seen: list[str] = []

    def on_state(change: dict[str, Any]) -> None:
        seen.append(change["new"])
        sampler.invalidate()

    controller.observe(on_state, names="state")
    fake_backend.mounted = True
    done = threading.Event()
    result: list[StatusSample] = []

    def work() -> None:
        result.append(sampler.sample(refresh=True))
        done.set()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    assert done.wait(5), "sample(refresh=True) deadlocked"
    assert seen == ["mounted"] and result[0].state == "mounted" and result[0].drive_disk.known
