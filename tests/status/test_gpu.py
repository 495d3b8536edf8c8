"""GPU readings through NVML: a scripted fake NVML, plus one real-NVML test (skips without a GPU)."""

from __future__ import annotations

import atexit
import os
import sys
import threading

import pytest

from drivewidget.status import gpu as gpumod
from drivewidget.status._fake_nvml import FakeGPU, FakeNVML, FakeProcess
from drivewidget.status.gpu import NVML, GpuHistory, GpuReading, GpuStatus, no_gpu_message, sparkline

GiB = 1 << 30
MiB = 1 << 20


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(fake: FakeNVML, clock: FakeClock, **kw: object) -> NVML:
    nvml = NVML(fake, clock=clock, colab=False, **kw)  # type: ignore[arg-type]
    return nvml


@pytest.fixture
def two_gpus() -> FakeNVML:
    return FakeNVML(
        [
            FakeGPU(
                "NVIDIA A100-SXM4-40GB",
                utilization=37,
                memory_total=40 * GiB,
                memory_used=3 * GiB,
                memory_reserved=500 * MiB,
                temperature=55,
                power_mw=123_456,
                power_limit_mw=400_000,
            ),
            FakeGPU(
                "Tesla T4",
                utilization=0,
                memory_total=15 * GiB,
                memory_used=0,
                temperature=38,
                power_mw=9_000,
                power_limit_mw=70_000,
            ),
        ]
    )


# -- init -----------------------------------------------------------------------------


def test_init_failure_is_remembered_and_retried_after_a_long_interval(clock: FakeClock) -> None:
    fake = FakeNVML([FakeGPU()], init_error=12)  # NVML library not found: no driver
    nvml = make(fake, clock, retry_after=300.0)
    for _ in range(20):
        status = nvml.sample()
        assert status == GpuStatus(clock(), False, (), "No GPU (no NVIDIA driver).")
        assert not nvml.is_available()
    assert fake.calls["nvmlInit"] == 1  # no retry storm
    assert nvml.reason == "no NVIDIA driver"

    fake.init_error = None  # the driver appears...
    clock.advance(299)
    assert not nvml.is_available()  # ...but we only look again after retry_after
    assert fake.calls["nvmlInit"] == 1
    clock.advance(2)
    assert nvml.is_available()
    assert fake.calls["nvmlInit"] == 2
    assert nvml.sample().available
    assert fake.calls["nvmlInit"] == 2
    assert nvml.reason == ""
    nvml.shutdown()


def test_init_failure_reasons(clock: FakeClock) -> None:
    assert "driver" in make(FakeNVML(init_error=9), clock).sample().message
    message = make(FakeNVML(init_error=999), clock).sample().message
    assert message.startswith("No GPU (NVML: ")


def test_missing_pynvml_means_no_gpu(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    nvml = NVML(clock=clock, colab=False)
    status = nvml.sample()
    assert not status.available and status.gpus == ()
    assert "nvidia-ml-py is not installed" in status.message


def test_init_once_under_concurrency(two_gpus: FakeNVML, clock: FakeClock) -> None:
    nvml = make(two_gpus, clock)
    results: list[GpuStatus] = []
    threads = [threading.Thread(target=lambda: results.append(nvml.sample())) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert two_gpus.calls["nvmlInit"] == 1
    assert len(results) == 16 and all(r.available and len(r.gpus) == 2 for r in results)
    nvml.shutdown()


def test_shutdown_is_idempotent_and_reinit_works(two_gpus: FakeNVML, clock: FakeClock) -> None:
    nvml = make(two_gpus, clock)
    assert nvml.is_available()
    assert two_gpus.refcount == 1
    nvml.shutdown()
    nvml.shutdown()
    assert two_gpus.refcount == 0
    assert two_gpus.calls["nvmlShutdown"] == 1
    assert nvml.sample().available  # a query after shutdown initialises again
    assert two_gpus.refcount == 1
    nvml.shutdown()


def test_shutdown_registered_at_exit(
    monkeypatch: pytest.MonkeyPatch, two_gpus: FakeNVML, clock: FakeClock
) -> None:
    registered: list[object] = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(atexit, "unregister", registered.remove)
    nvml = make(two_gpus, clock)
    nvml.sample()
    nvml.sample()
    assert registered == [nvml.shutdown]
    nvml.shutdown()
    assert registered == []


def test_zero_gpus(clock: FakeClock) -> None:
    nvml = make(FakeNVML([]), clock)
    assert not nvml.is_available()
    status = nvml.sample()
    assert status.message == "No GPU (no NVIDIA GPU found)."
    assert status.gpus == ()
    nvml.shutdown()


def test_colab_hint() -> None:
    assert "Runtime > Change runtime type" in no_gpu_message("no NVIDIA driver", colab=True)
    assert "Colab" not in no_gpu_message("no NVIDIA driver", colab=False)
    assert no_gpu_message(colab=False) == "No GPU."


# -- readings ---------------------------------------------------------------------------


def test_several_gpus(two_gpus: FakeNVML, clock: FakeClock) -> None:
    nvml = make(two_gpus, clock)
    status = nvml.sample()
    assert status.available and status.message == "" and status.timestamp == 1000.0
    a100, t4 = status.gpus
    assert a100 == GpuReading(
        index=0,
        name="NVIDIA A100-SXM4-40GB",
        uuid="GPU-fake-0000",
        timestamp=1000.0,
        utilization=37.0,
        memory_used=3 * GiB,
        memory_total=40 * GiB,
        temperature=55.0,
        power_draw=123.456,
        power_limit=400.0,
        process_memory=0,
        memory_v2=True,
        lost=False,
    )
    assert a100.memory_fraction == pytest.approx(3 / 40)
    assert (t4.index, t4.name, t4.memory_used, t4.power_draw, t4.power_limit) == (1, "Tesla T4", 0, 9.0, 70.0)
    nvml.shutdown()


def test_name_and_uuid_are_read_once(two_gpus: FakeNVML, clock: FakeClock) -> None:
    nvml = make(two_gpus, clock)
    for _ in range(5):
        nvml.sample()
    assert two_gpus.calls["nvmlDeviceGetName"] == 2
    assert two_gpus.calls["nvmlDeviceGetUUID"] == 2
    assert two_gpus.calls["nvmlDeviceGetHandleByIndex"] == 2
    assert two_gpus.calls["nvmlDeviceGetUtilizationRates"] == 10
    nvml.shutdown()


def test_readings_follow_the_device(two_gpus: FakeNVML, clock: FakeClock) -> None:
    nvml = make(two_gpus, clock)
    nvml.sample()
    two_gpus.gpus[0].utilization = 99
    two_gpus.gpus[0].memory_used = 10 * GiB
    clock.advance(1.5)
    gpu0 = nvml.sample().gpus[0]
    assert (gpu0.utilization, gpu0.memory_used, gpu0.timestamp) == (99.0, 10 * GiB, 1001.5)
    nvml.shutdown()


def test_memory_v2_matches_nvidia_smi_and_v1_is_the_fallback(clock: FakeClock) -> None:
    fake = FakeNVML([FakeGPU(memory_total=16 * GiB, memory_used=2 * GiB, memory_reserved=300 * MiB)])
    nvml = make(fake, clock)
    reading = nvml.sample().gpus[0]
    assert reading.memory_used == 2 * GiB  # v2: reserved memory not counted, as nvidia-smi shows
    assert reading.memory_v2
    assert fake.calls["nvmlDeviceGetMemoryInfo"] == 0
    nvml.shutdown()

    old = FakeNVML(
        [
            FakeGPU(
                memory_total=16 * GiB,
                memory_used=2 * GiB,
                memory_reserved=300 * MiB,
                unsupported={"memory_v2"},
            )
        ]
    )
    nvml = make(old, clock)
    for _ in range(3):
        reading = nvml.sample().gpus[0]
        assert reading.memory_used == 2 * GiB + 300 * MiB  # v1 counts reserved memory
        assert reading.memory_total == 16 * GiB
        assert not reading.memory_v2
    assert old.calls["nvmlDeviceGetMemoryInfo_v2"] == 1  # unsupported once: not asked again
    assert old.calls["nvmlDeviceGetMemoryInfo"] == 3
    nvml.shutdown()


def test_module_without_v2_constant_uses_v1(clock: FakeClock) -> None:
    class OldBinding(FakeNVML):
        nvmlMemory_v2 = None  # type: ignore[assignment]

    fake = OldBinding([FakeGPU(memory_used=GiB, memory_reserved=MiB)])
    nvml = make(fake, clock)
    assert nvml.sample().gpus[0].memory_used == GiB + MiB
    nvml.shutdown()


def test_unsupported_fields_are_none(clock: FakeClock) -> None:
    fake = FakeNVML(
        [
            FakeGPU(
                unsupported={
                    "utilization",
                    "temperature",
                    "power",
                    "memory",
                    "processes",
                    "graphics_processes",
                    "enforced_power_limit",
                    "power_limit",
                }
            )
        ]
    )
    nvml = make(fake, clock)
    reading = nvml.sample().gpus[0]
    assert reading.utilization is None
    assert reading.temperature is None
    assert reading.power_draw is None and reading.power_limit is None
    assert reading.memory_used is None and reading.memory_total is None and reading.memory_fraction is None
    assert reading.process_memory is None
    assert not reading.lost
    nvml.shutdown()


def test_power_limit_falls_back_to_management_limit(clock: FakeClock) -> None:
    fake = FakeNVML([FakeGPU(power_limit_mw=250_000, unsupported={"enforced_power_limit"})])
    nvml = make(fake, clock)
    assert nvml.sample().gpus[0].power_limit == 250.0
    nvml.shutdown()


def test_unsupported_name_and_uuid(clock: FakeClock) -> None:
    fake = FakeNVML([FakeGPU(unsupported={"name", "uuid"})])
    nvml = make(fake, clock)
    reading = nvml.sample().gpus[0]
    assert (reading.name, reading.uuid) == ("GPU 0", "")
    nvml.shutdown()


def test_query_helper_never_raises(two_gpus: FakeNVML, clock: FakeClock) -> None:
    nvml = make(two_gpus, clock)
    assert nvml.init()
    assert nvml.query("nvmlDeviceGetCount") == 2
    assert nvml.query("nvmlNoSuchFunction") is None
    handle = two_gpus.nvmlDeviceGetHandleByIndex(0)
    two_gpus.vanish(0)
    assert nvml.query("nvmlDeviceGetTemperature", handle, 0) is None
    nvml.shutdown()


# -- this process's memory ------------------------------------------------------------------


def test_process_memory_of_this_process(clock: FakeClock) -> None:
    me = os.getpid()
    fake = FakeNVML(
        [
            FakeGPU(
                compute_processes=[FakeProcess(me, 700 * MiB), FakeProcess(me + 1, 5 * GiB)],
                graphics_processes=[FakeProcess(me, 700 * MiB)],  # the same context, listed twice
            ),
            FakeGPU(graphics_processes=[FakeProcess(me, 64 * MiB), FakeProcess(me + 2, GiB)]),
            FakeGPU(compute_processes=[FakeProcess(me + 3, GiB)]),
            FakeGPU(compute_processes=[FakeProcess(me, None)]),  # WDDM-style "not available"
        ]
    )
    nvml = make(fake, clock)
    gpus = nvml.sample().gpus
    assert [g.process_memory for g in gpus] == [700 * MiB, 64 * MiB, 0, 0]
    nvml.shutdown()


def test_process_memory_for_another_pid(clock: FakeClock) -> None:
    fake = FakeNVML([FakeGPU(compute_processes=[FakeProcess(4242, 3 * GiB)])])
    nvml = NVML(fake, clock=clock, pid=4242)
    assert nvml.sample().gpus[0].process_memory == 3 * GiB
    nvml.shutdown()


def test_process_list_falls_back_to_v2_function(clock: FakeClock) -> None:
    class OldDriver(FakeNVML):
        def nvmlDeviceGetComputeRunningProcesses(self, handle):  # type: ignore[no-untyped-def]
            raise RuntimeError("NVMLLibraryMismatchError: use a versioned function")

        def nvmlDeviceGetComputeRunningProcesses_v2(self, handle):  # type: ignore[no-untyped-def]
            self.calls["v2"] += 1
            return handle.gpu.compute_processes

    fake = OldDriver([FakeGPU(compute_processes=[FakeProcess(os.getpid(), 5 * MiB)])])
    nvml = make(fake, clock)
    assert nvml.sample().gpus[0].process_memory == 5 * MiB
    assert nvml.sample().gpus[0].process_memory == 5 * MiB
    assert fake.calls["v2"] == 2
    nvml.shutdown()


# -- vanishing GPUs ---------------------------------------------------------------------------


def test_vanished_gpu_is_reported_lost(two_gpus: FakeNVML, clock: FakeClock) -> None:
    nvml = make(two_gpus, clock)
    nvml.sample()
    two_gpus.vanish(1)
    status = nvml.sample()
    assert status.available
    good, lost = status.gpus
    assert not good.lost and good.utilization == 37.0
    assert lost.lost and lost.name == "Tesla T4" and lost.uuid == "GPU-fake-0001"
    assert lost.utilization is None and lost.memory_used is None and lost.process_memory is None
    assert nvml.sample().gpus[1].lost  # stays lost, no exception on later samples
    nvml.shutdown()


def test_all_gpus_lost(clock: FakeClock) -> None:
    fake = FakeNVML([FakeGPU("H100")])
    nvml = make(fake, clock)
    nvml.sample()
    fake.vanish(0)
    status = nvml.sample()
    assert not status.available
    assert status.gpus[0].lost and status.gpus[0].name == "H100"
    assert "lost" in status.message
    assert not nvml.is_available()
    assert nvml.device_count() == 1
    nvml.shutdown()


def test_gpu_lost_before_first_read(clock: FakeClock) -> None:
    fake = FakeNVML([FakeGPU("H100"), FakeGPU("H100")])
    fake.vanish(0)
    nvml = make(fake, clock)
    status = nvml.sample()
    assert [g.lost for g in status.gpus] == [True, False]
    assert status.gpus[0].name == "GPU 0"
    nvml.shutdown()


def test_gpu_removed_from_the_device_list(two_gpus: FakeNVML, clock: FakeClock) -> None:
    nvml = make(two_gpus, clock)
    nvml.sample()
    two_gpus.remove(1)
    status = nvml.sample()
    assert [(g.index, g.lost) for g in status.gpus] == [(0, False), (1, True)]
    assert status.gpus[1].name == "Tesla T4"
    nvml.shutdown()


def test_lost_gpu_that_comes_back(two_gpus: FakeNVML, clock: FakeClock) -> None:
    nvml = make(two_gpus, clock)
    nvml.sample()
    two_gpus.vanish(0)
    assert nvml.sample().gpus[0].lost
    two_gpus.gpus[0].lost = False  # reset by an admin
    reading = nvml.sample().gpus[0]
    assert not reading.lost and reading.name == "NVIDIA A100-SXM4-40GB"
    nvml.shutdown()


def test_device_count_failure_is_no_gpu(clock: FakeClock) -> None:
    class Broken(FakeNVML):
        def nvmlDeviceGetCount(self) -> int:
            raise self.NVMLError(15)

    nvml = make(Broken([FakeGPU()]), clock)
    status = nvml.sample()
    assert not status.available and status.gpus == ()
    assert status.message.startswith("No GPU")
    nvml.shutdown()


# -- default session --------------------------------------------------------------------------


def test_default_session_is_shared_and_lazy(monkeypatch: pytest.MonkeyPatch, two_gpus: FakeNVML) -> None:
    monkeypatch.setattr(gpumod, "_default", None)
    first = gpumod.default_nvml()
    assert first is gpumod.default_nvml()
    monkeypatch.setattr(gpumod, "_default", NVML(two_gpus))
    assert gpumod.is_available()
    assert len(gpumod.sample_gpus().gpus) == 2
    gpumod.default_nvml().shutdown()


# -- history and sparklines ---------------------------------------------------------------------


def test_history_is_fixed_length(two_gpus: FakeNVML, clock: FakeClock) -> None:
    nvml = make(two_gpus, clock)
    history = GpuHistory(length=3)
    for util in (10, 20, 30, 40):
        two_gpus.gpus[0].utilization = util
        history.add(nvml.sample())
    assert history.utilization(0) == (20.0, 30.0, 40.0)
    assert history.memory(0) == pytest.approx((7.5, 7.5, 7.5))
    assert history.utilization(1) == (0.0, 0.0, 0.0)
    assert history.indices() == (0, 1)
    assert history.utilization(7) == ()
    two_gpus.vanish(1)
    history.add(nvml.sample())
    assert history.utilization(1)[-1] is None and history.memory(1)[-1] is None
    history.clear()
    assert history.indices() == ()
    with pytest.raises(ValueError):
        GpuHistory(0)
    nvml.shutdown()


def test_sparkline() -> None:
    assert sparkline([0, 100]) == "▁█"
    assert sparkline([100 * i / 7 for i in range(8)]) == "▁▂▃▄▅▆▇█"
    assert sparkline([0, 12.5, 25, 37.5, 50, 62.5, 75, 87.5, 100]) == "▁▂▃▄▅▅▆▇█"  # halves round up
    assert sparkline([None, 50, float("nan")]) == " ▅ "
    assert sparkline([-10, 500]) == "▁█"  # clamped
    assert sparkline([3, 3], lo=3, hi=3) == "▁▁"
    assert sparkline([]) == ""
    assert sparkline([100, 0, 100], width=2) == "▁█"
    assert sparkline([100], width=4) == "   █"
    assert sparkline([100], width=0) == ""
    assert sparkline([5, 10], lo=0, hi=10) == "▅█"


# -- the real thing -------------------------------------------------------------------------------


@pytest.mark.gpu
def test_real_nvml() -> None:
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - any failure means: no GPU here
        pytest.skip(f"NVML not available: {exc}")
    try:
        count = pynvml.nvmlDeviceGetCount()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0) if count else None
        v1 = pynvml.nvmlDeviceGetMemoryInfo(handle) if handle is not None else None
    finally:
        pynvml.nvmlShutdown()
    if not count:
        pytest.skip("NVML works but sees no GPU")
    nvml = NVML()
    try:
        assert nvml.is_available()
        status = nvml.sample()
        assert status.available and len(status.gpus) == count
        g = status.gpus[0]
        assert g.name and g.uuid.startswith(("GPU-", "MIG-"))
        assert g.memory_total is not None and v1 is not None and g.memory_total == v1.total
        assert g.memory_used is not None and 0 <= g.memory_used <= g.memory_total
        if g.memory_v2:
            assert g.memory_used <= v1.used  # v2 leaves out reserved memory
        assert g.utilization is None or 0 <= g.utilization <= 100
        assert g.process_memory is None or g.process_memory >= 0
    finally:
        nvml.shutdown()
