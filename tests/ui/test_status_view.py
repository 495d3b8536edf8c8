"""Resource bars: real bars whose colour says how full, numbers beside them, details in tooltips."""

from __future__ import annotations

import dataclasses

from drivewidget import DriveController
from drivewidget.status.gpu import NVML
from drivewidget.status.sample import StatusSampler
from drivewidget.status.system import Usage
from drivewidget.testing import FakeGPU, FakeNVML
from drivewidget.ui.status_view import GPU_HELP_URL, GpuView, StatusView, bar


def test_bar_turns_amber_then_red_near_full() -> None:
    assert "dw-warn" not in bar("RAM", 0.5, "", "") and "dw-full" not in bar("RAM", 0.5, "", "")
    assert "dw-warn" in bar("RAM", 0.85, "", "")
    assert "dw-full" in bar("RAM", 0.97, "", "")
    assert "width:5%" in bar("RAM", 1.1 / 23.6, "", "")  # 1.1 of 23.6 GiB is not an empty bar
    assert "dw-track" not in bar("RAM", None, "unknown", "")


def test_ram_and_disk_bars_with_tooltips(controller: DriveController) -> None:
    sample = StatusSampler(controller).sample()
    sample = dataclasses.replace(sample, ram=Usage(used=1 << 30, total=4 << 30, free=3 << 30))
    view = StatusView()
    view.update(sample)
    assert "RAM" in view.text and "1.0 / 4.0 GiB" in view.text
    assert "System RAM: 1.0 GiB of 4.0 GiB used (25%)" in view.value and "3.0 GiB free" in view.value
    assert "Disk" in view.text


def test_gpu_bars_and_no_gpu(controller: DriveController) -> None:
    fake = FakeNVML([FakeGPU("NVIDIA T4", utilization=96, memory_used=31 << 29, memory_total=16 << 30)])
    sample = StatusSampler(controller, gpu_source=NVML(fake)).sample()
    view = GpuView()
    view.update(sample)
    assert "GPU RAM" in view.text and "GPU use" in view.text and "96%" in view.text
    assert view.value.count("dw-full") == 2  # memory and use both near full
    none = dataclasses.replace(sample, gpu=dataclasses.replace(sample.gpu, gpus=(), message="No GPU."))
    view.update(none)
    assert "No GPU" in view.text and GPU_HELP_URL not in view.value  # not Colab: no Colab advice
    colab = dataclasses.replace(none, runtime=dataclasses.replace(none.runtime, colab=True))
    view.update(colab)
    assert "how to get one" in view.text and GPU_HELP_URL in view.value


def test_a_used_amount_in_another_unit_than_the_total_keeps_its_unit(controller: DriveController) -> None:
    """991 MiB of 23.5 GiB is not '991.1 / 23.5 GiB' (that reads as 991 GiB)."""
    sample = StatusSampler(controller).sample()
    ram = Usage(used=991 << 20, total=int(23.5 * (1 << 30)), free=22 << 30)
    view = StatusView()
    view.update(dataclasses.replace(sample, ram=ram))
    assert "991.0 MiB / 23.5 GiB" in view.text
    fake = FakeNVML([FakeGPU("NVIDIA T4", utilization=3, memory_used=500 << 20, memory_total=15 << 30)])
    gpus = StatusSampler(controller, gpu_source=NVML(fake)).sample()
    gpu = GpuView()
    gpu.update(gpus)
    assert "500.0 MiB / 15.0 GiB" in gpu.text


def test_the_disk_is_said_to_be_lost_at_a_reset_only_on_colab(controller: DriveController) -> None:
    sample = StatusSampler(controller).sample()
    view = StatusView()
    for colab in (False, True):
        view.update(dataclasses.replace(sample, runtime=dataclasses.replace(sample.runtime, colab=colab)))
        assert "This machine&#x27;s disk" in view.value or "This machine's disk" in view.value
        assert ("lost when the VM resets" in view.value) == colab
