"""A scriptable stand-in for the ``pynvml`` module, for tests without a GPU.

Pass it where a ``pynvml`` module is expected::

    from drivewidget.status._fake_nvml import FakeGPU, FakeNVML
    from drivewidget.status.gpu import NVML

    fake = FakeNVML([FakeGPU("NVIDIA A100", memory_total=40 << 30, memory_used=1 << 30)])
    nvml = NVML(fake)
    fake.gpus[0].unsupported.add("power")   # that field now raises NVMLError_NotSupported
    fake.vanish(0)                          # every query of GPU 0 now raises NVMLError_GPUIsLost

It mirrors the parts of ``pynvml`` that :mod:`drivewidget.status.gpu` uses: the
``NVMLError`` class whose constructor maps a code to a subclass (``NVMLError_NotSupported``,
``NVMLError_GPUIsLost``, ...), ``nvmlInit``/``nvmlShutdown`` (refcounted), device handles,
v1/v2 memory info (v1 ``used`` includes ``memory_reserved``, as on real drivers), and
compute/graphics process lists. ``calls`` counts every function called, by name.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

__all__ = ["FakeGPU", "FakeNVML", "FakeProcess"]

_ERRORS = {
    1: "Uninitialized",
    2: "InvalidArgument",
    3: "NotSupported",
    4: "NoPermission",
    6: "NotFound",
    9: "DriverNotLoaded",
    12: "LibraryNotFound",
    13: "FunctionNotFound",
    15: "GPUIsLost",
    16: "ResetRequired",
    25: "ArgumentVersionMismatch",
    28: "GpuNotFound",
    999: "Unknown",
}


class NVMLError(Exception):
    """Like ``pynvml.NVMLError``: ``NVMLError(code)`` builds the subclass for that code."""

    _classes: dict[int, type[NVMLError]] = {}  # noqa: RUF012 - filled once, below
    value: int

    def __new__(cls, value: int = 999) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._classes.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, value: int = 999) -> None:
        super().__init__(value)

    def __str__(self) -> str:
        return _ERRORS.get(self.value, f"NVML Error with code {self.value}")


for _code, _name in _ERRORS.items():
    NVMLError._classes[_code] = type(f"NVMLError_{_name}", (NVMLError,), {"__module__": __name__})


@dataclass
class FakeProcess:
    pid: int
    usedGpuMemory: int | None  # pynvml's spelling


@dataclass
class FakeGPU:
    """One scripted GPU. Set attributes between samples to change what NVML reports."""

    name: str = "NVIDIA Fake GPU"
    uuid: str = ""
    utilization: int = 0
    memory_total: int = 16 << 30
    memory_used: int = 0
    """What v2 memory info (and nvidia-smi) reports as used."""
    memory_reserved: int = 300 << 20
    """Driver-reserved memory: v1 ``used`` reports ``memory_used + memory_reserved``."""
    temperature: int = 40
    power_mw: int = 50_000
    power_limit_mw: int = 300_000
    compute_processes: list[FakeProcess] = field(default_factory=list)
    graphics_processes: list[FakeProcess] = field(default_factory=list)
    unsupported: set[str] = field(default_factory=set)
    """Fields that raise NotSupported: name, uuid, utilization, memory, memory_v2, temperature,
    power, power_limit, enforced_power_limit, processes, graphics_processes."""
    lost: bool = False
    """Every query raises NVMLError_GPUIsLost."""


class FakeNVML:
    """A ``pynvml`` look-alike with scripted GPUs (see the module docstring).

    ``init_error``: an NVML error code that ``nvmlInit`` raises (e.g. 12, library not found,
    as on a machine without a driver; 9, driver not loaded). Set it to None to let a later
    init succeed.
    """

    NVML_TEMPERATURE_GPU = 0
    nvmlMemory_v2 = 0x02000028
    NVMLError = NVMLError

    def __init__(self, gpus: list[FakeGPU] | None = None, *, init_error: int | None = None) -> None:
        self.gpus: list[FakeGPU] = list(gpus or [])
        for i, gpu in enumerate(self.gpus):
            gpu.uuid = gpu.uuid or f"GPU-fake-{i:04d}"
        self.init_error = init_error
        self.refcount = 0
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        # NVMLError_NotSupported etc., as attributes of the module
        for cls in NVMLError._classes.values():
            if cls.__name__ == name:
                return cls
        raise AttributeError(name)

    # -- scripting ------------------------------------------------------------------

    def vanish(self, index: int) -> None:
        """GPU ``index`` falls off the bus: its queries raise GPUIsLost (the count is unchanged)."""
        self.gpus[index].lost = True

    def remove(self, index: int) -> None:
        """GPU ``index`` disappears from the device list (the count shrinks)."""
        del self.gpus[index]

    # -- the pynvml surface ---------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1

    def _check(self) -> None:
        if self.refcount <= 0:
            raise NVMLError(1)

    def _gpu(self, handle: Any, field_name: str) -> FakeGPU:
        self._check()
        gpu: FakeGPU = handle.gpu
        if gpu.lost or not any(g is gpu for g in self.gpus):
            raise NVMLError(15)
        if field_name in gpu.unsupported:
            raise NVMLError(3)
        return gpu

    def nvmlInit(self) -> None:
        self._count("nvmlInit")
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.refcount += 1

    def nvmlShutdown(self) -> None:
        self._count("nvmlShutdown")
        self._check()
        self.refcount -= 1

    def nvmlDeviceGetCount(self) -> int:
        self._count("nvmlDeviceGetCount")
        self._check()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        self._count("nvmlDeviceGetHandleByIndex")
        self._check()
        if not 0 <= index < len(self.gpus):
            raise NVMLError(2)
        if self.gpus[index].lost:
            raise NVMLError(15)
        return SimpleNamespace(gpu=self.gpus[index])

    def nvmlDeviceGetName(self, handle: Any) -> str:
        self._count("nvmlDeviceGetName")
        return self._gpu(handle, "name").name

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        self._count("nvmlDeviceGetUUID")
        return self._gpu(handle, "uuid").uuid

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any:
        self._count("nvmlDeviceGetUtilizationRates")
        gpu = self._gpu(handle, "utilization")
        return SimpleNamespace(gpu=gpu.utilization, memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: Any, version: int | None = None) -> Any:
        self._count("nvmlDeviceGetMemoryInfo_v2" if version else "nvmlDeviceGetMemoryInfo")
        gpu = self._gpu(handle, "memory")
        if version:
            if "memory_v2" in gpu.unsupported:
                raise NVMLError(13)  # FunctionNotFound: an old driver without nvmlDeviceGetMemoryInfo_v2
            free = gpu.memory_total - gpu.memory_used - gpu.memory_reserved
            return SimpleNamespace(
                version=version,
                total=gpu.memory_total,
                reserved=gpu.memory_reserved,
                free=free,
                used=gpu.memory_used,
            )
        used = gpu.memory_used + gpu.memory_reserved
        return SimpleNamespace(total=gpu.memory_total, free=gpu.memory_total - used, used=used)

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        self._count("nvmlDeviceGetTemperature")
        return self._gpu(handle, "temperature").temperature

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        self._count("nvmlDeviceGetPowerUsage")
        return self._gpu(handle, "power").power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:
        self._count("nvmlDeviceGetEnforcedPowerLimit")
        return self._gpu(handle, "enforced_power_limit").power_limit_mw

    def nvmlDeviceGetPowerManagementLimit(self, handle: Any) -> int:
        self._count("nvmlDeviceGetPowerManagementLimit")
        return self._gpu(handle, "power_limit").power_limit_mw

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[FakeProcess]:
        self._count("nvmlDeviceGetComputeRunningProcesses")
        return list(self._gpu(handle, "processes").compute_processes)

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: Any) -> list[FakeProcess]:
        self._count("nvmlDeviceGetGraphicsRunningProcesses")
        return list(self._gpu(handle, "graphics_processes").graphics_processes)
