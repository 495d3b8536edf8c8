"""GPU readings through NVML (``nvidia-ml-py``, module ``pynvml``), never through ``nvidia-smi``.

One :class:`NVML` session wraps the library once, the way nvitop's ``api/libnvml.py`` does:

- ``pynvml`` is imported on first use (importing it costs ~35 ms; ``import drivewidget`` must not);
- ``nvmlInit()`` runs once, under a lock; a failure (no driver, no library, no GPU) is
  remembered with its reason and retried only after :data:`RETRY_AFTER` seconds, so a
  machine without a GPU pays for one failed init, not one per refresh;
- ``nvmlShutdown()`` runs at interpreter exit (or on :meth:`NVML.shutdown`);
- every query goes through :meth:`NVML.query`, which returns ``None`` ("N/A") for fields
  the GPU or driver does not support instead of raising;
- a GPU that vanishes (``NVMLError_GPUIsLost``, a handle that no longer resolves, a device
  count that shrinks) is reported as a :class:`GpuReading` with ``lost=True``; nothing raises.

Readings are small immutable (frozen) dataclasses stamped with the session's clock. Units: bytes for
memory, percent for utilisation, degrees Celsius, watts. ``None`` always means "not available".

``memory_used`` is NVML's v2 memory info (``nvmlDeviceGetMemoryInfo(h, version=nvmlMemory_v2)``),
which is what ``nvidia-smi`` shows; the v1 ``used`` also counts memory reserved by the driver
and disagrees. When v2 is not supported (old drivers) v1 is used and the reading says so
(``memory_v2=False``).

``process_memory`` is GPU memory used by *this* process (matched on ``os.getpid()`` among
NVML's compute and graphics processes). Inside a container with its own PID namespace NVML
reports host PIDs, so it can read 0 although the kernel uses the GPU; ``None`` when the
driver does not list processes at all.

    >>> from drivewidget.status.gpu import sample_gpus, sparkline
    >>> status = sample_gpus()          # GpuStatus; status.gpus == () without a GPU
    >>> status.message                  # "No GPU ..." (with a Colab hint) when there is none
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._env import in_colab

__all__ = [
    "NVML",
    "RETRY_AFTER",
    "SPARK_CHARS",
    "GpuHistory",
    "GpuReading",
    "GpuStatus",
    "default_nvml",
    "is_available",
    "no_gpu_message",
    "sample_gpus",
    "sparkline",
]

RETRY_AFTER = 300.0
"""Seconds before a failed ``nvmlInit`` is tried again (a driver rarely appears mid-session)."""

# NVML return codes (stable across NVML versions; also used by the fake module).
_NOT_SUPPORTED = 3
_INVALID_ARGUMENT = 2
_NOT_FOUND = 6
_LIBRARY_NOT_FOUND = 12
_DRIVER_NOT_LOADED = 9
_GPU_IS_LOST = 15
_RESET_REQUIRED = 16
_GPU_NOT_FOUND = 28
_LOST_CODES = frozenset({_GPU_IS_LOST, _RESET_REQUIRED, _GPU_NOT_FOUND})
"""Errors that mean the device itself is gone (or unusable until reset), not one field."""

SPARK_CHARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One GPU at one moment. ``None`` fields are not available on this GPU or driver."""

    index: int
    name: str
    uuid: str
    timestamp: float
    utilization: float | None = None
    """Percent of the last sample period a kernel ran on the GPU (0-100)."""
    memory_used: int | None = None
    """Bytes, as nvidia-smi shows them (NVML v2; see ``memory_v2``)."""
    memory_total: int | None = None
    temperature: float | None = None
    """Degrees Celsius."""
    power_draw: float | None = None
    """Watts."""
    power_limit: float | None = None
    """Watts (the enforced limit)."""
    process_memory: int | None = None
    """Bytes of GPU memory used by this process; None when the driver lists no processes."""
    memory_v2: bool = True
    """False when the driver lacks v2 memory info and ``memory_used`` includes reserved memory."""
    lost: bool = False
    """The GPU vanished (fell off the bus, needs a reset): every measurement is None."""

    @property
    def memory_fraction(self) -> float | None:
        """Used over total memory (0-1), or None."""
        if self.memory_used is None or not self.memory_total:
            return None
        return self.memory_used / self.memory_total


@dataclass(frozen=True, slots=True)
class GpuStatus:
    """All GPUs at one moment, or why there are none (``message``)."""

    timestamp: float
    available: bool
    """NVML works and at least one GPU is present."""
    gpus: tuple[GpuReading, ...] = ()
    message: str = ""
    """Empty when GPUs are shown; else a human-readable reason ("No GPU ...")."""


def no_gpu_message(reason: str = "", colab: bool | None = None) -> str:
    """The text to show instead of GPUs; in Colab it says how to get one."""
    text = "No GPU"
    if reason:
        text += f" ({reason})"
    if in_colab() if colab is None else colab:
        text += (
            ". To get one in Colab: Runtime > Change runtime type > choose a GPU, then run the cells again"
        )
    return text + "."


class _Lost(Exception):
    """Internal: the device behind a handle is gone."""


class _Device:
    """What stays true of one GPU index while it exists: its handle, name and uuid."""

    __slots__ = ("handle", "lost", "name", "uuid")

    def __init__(self, handle: Any, name: str, uuid: str) -> None:
        self.handle, self.name, self.uuid, self.lost = handle, name, uuid, False


class NVML:
    """One NVML session: lazy import, one init under a lock, shutdown at exit, queries that never raise.

    ``module`` is the ``pynvml`` module to use (a fake in tests, see
    :class:`drivewidget.status._fake_nvml.FakeNVML`); None imports ``pynvml`` on first use.
    ``clock`` stamps readings (and times init retries); ``pid`` is the process whose GPU
    memory ``process_memory`` reports.
    """

    def __init__(
        self,
        module: Any = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        retry_after: float = RETRY_AFTER,
        pid: int | None = None,
        colab: bool | None = None,
    ) -> None:
        self._module = module
        self._clock = clock
        self._retry_after = retry_after
        self._pid = os.getpid() if pid is None else pid
        self._colab = colab
        self._lock = threading.RLock()
        self._initialized = False
        self._failed_at: float | None = None
        self._reason = ""
        self._devices: dict[int, _Device] = {}
        self._memory_v2 = True
        self._process_fns: dict[str, str | None] = {}
        self._atexit = False

    # -- session ------------------------------------------------------------------

    @property
    def reason(self) -> str:
        """Why NVML is not usable ("" when it is, or before the first try)."""
        return self._reason

    def init(self) -> bool:
        """Initialise NVML once; False (and :attr:`reason`) when it cannot be used.

        A failure is remembered: further calls return False at once until ``retry_after``
        seconds have passed, then try once more.
        """
        if self._initialized:
            return True
        with self._lock:
            if self._initialized:
                return True
            now = self._clock()
            if self._failed_at is not None and now - self._failed_at < self._retry_after:
                return False
            try:
                if self._module is None:
                    import pynvml

                    self._module = pynvml
                self._module.nvmlInit()
            except ImportError:
                self._fail(now, "nvidia-ml-py is not installed: pip install nvidia-ml-py")
                return False
            except Exception as exc:  # noqa: BLE001 - NVMLError, OSError from dlopen, ...: all mean "no GPU"
                self._fail(now, _init_reason(exc))
                return False
            self._initialized, self._failed_at, self._reason = True, None, ""
            self._devices.clear()
            if not self._atexit:
                atexit.register(self.shutdown)
                self._atexit = True
            return True

    def _fail(self, now: float, reason: str) -> None:
        self._failed_at, self._reason = now, reason

    def shutdown(self) -> None:
        """Shut NVML down (idempotent); a later query initialises it again."""
        with self._lock:
            if self._atexit:
                atexit.unregister(self.shutdown)
                self._atexit = False
            if not self._initialized:
                return
            self._initialized = False
            self._devices.clear()
            with contextlib.suppress(Exception):  # nothing useful to do about it at shutdown
                self._module.nvmlShutdown()

    def is_available(self) -> bool:
        """Whether NVML works and at least one GPU is present and not known to be lost."""
        count = self.device_count()
        devices = self._devices
        return any(i not in devices or not devices[i].lost for i in range(count))

    def device_count(self) -> int:
        """Number of GPUs NVML sees (0 when NVML is unusable)."""
        if not self.init():
            return 0
        count = self.query("nvmlDeviceGetCount")
        return count if isinstance(count, int) else 0

    # -- queries ------------------------------------------------------------------

    def query(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``pynvml.<fn>(*args, **kwargs)``; None when unsupported, failing or the GPU is lost."""
        try:
            return self._call(fn, *args, **kwargs)
        except _Lost:
            return None

    def _call(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        """Like :meth:`query` but raises :class:`_Lost` when the device is gone."""
        module = self._module
        try:
            return getattr(module, fn)(*args, **kwargs)
        except Exception as exc:  # NotSupported, NoPermission, version mismatch, ...: all N/A
            if _code(exc) in _LOST_CODES:
                raise _Lost(str(exc)) from exc
            return None

    def _device(self, index: int) -> _Device | None:
        """The cached device at ``index``, (re)opening its handle; None when it cannot be opened."""
        device = self._devices.get(index)
        if device is not None and not device.lost:
            return device
        try:
            handle = self._module.nvmlDeviceGetHandleByIndex(index)
        except Exception:  # noqa: BLE001 - lost, not found, invalid index: the GPU is not there
            return None
        name = _text(self.query("nvmlDeviceGetName", handle)) or (device.name if device else f"GPU {index}")
        uuid = _text(self.query("nvmlDeviceGetUUID", handle)) or (device.uuid if device else "")
        device = _Device(handle, name, uuid)
        self._devices[index] = device
        return device

    def sample(self) -> GpuStatus:
        """Read every GPU now. Never raises; lost GPUs come back with ``lost=True``."""
        now = self._clock()
        if not self.init():
            return GpuStatus(now, False, (), no_gpu_message(self._reason, self._colab))
        with self._lock:
            count = self.query("nvmlDeviceGetCount")
            if not isinstance(count, int):
                count = 0
            readings = []
            for index in range(count):
                device = self._device(index)
                if device is None:
                    readings.append(self._lost_reading(index, now))
                    continue
                try:
                    readings.append(self._read(index, device, now))
                except _Lost:
                    device.lost = True
                    readings.append(self._lost_reading(index, now))
            # GPUs seen before that the count no longer covers have vanished.
            readings.extend(
                self._lost_reading(index, now) for index in sorted(self._devices) if index >= count
            )
        if not readings:
            return GpuStatus(now, False, (), no_gpu_message("no NVIDIA GPU found", self._colab))
        available = any(not r.lost for r in readings)
        message = "" if available else no_gpu_message("the GPU is lost: restart the runtime", self._colab)
        return GpuStatus(now, available, tuple(readings), message)

    def _lost_reading(self, index: int, now: float) -> GpuReading:
        device = self._devices.get(index)
        if device is not None:
            device.lost = True
        name = device.name if device is not None else f"GPU {index}"
        uuid = device.uuid if device is not None else ""
        return GpuReading(index, name, uuid, now, lost=True)

    def _read(self, index: int, device: _Device, now: float) -> GpuReading:
        h, call = device.handle, self._call
        util = call("nvmlDeviceGetUtilizationRates", h)
        used, total, v2 = self._memory(h)
        temp = call("nvmlDeviceGetTemperature", h, getattr(self._module, "NVML_TEMPERATURE_GPU", 0))
        power = call("nvmlDeviceGetPowerUsage", h)
        limit = call("nvmlDeviceGetEnforcedPowerLimit", h)
        if limit is None:
            limit = call("nvmlDeviceGetPowerManagementLimit", h)
        return GpuReading(
            index=index,
            name=device.name,
            uuid=device.uuid,
            timestamp=now,
            utilization=_num(getattr(util, "gpu", None)),
            memory_used=used,
            memory_total=total,
            temperature=_num(temp),
            power_draw=_watts(power),
            power_limit=_watts(limit),
            process_memory=self._process_memory(h),
            memory_v2=v2,
        )

    def _memory(self, h: Any) -> tuple[int | None, int | None, bool]:
        """(used, total, is_v2): v2 info like nvidia-smi, else v1 (remembered per session)."""
        if self._memory_v2:
            version = getattr(self._module, "nvmlMemory_v2", None)
            info = self._call("nvmlDeviceGetMemoryInfo", h, version=version) if version else None
            if info is not None:
                return _int(getattr(info, "used", None)), _int(getattr(info, "total", None)), True
            self._memory_v2 = False  # unsupported by this driver (or binding): stop asking
        info = self._call("nvmlDeviceGetMemoryInfo", h)
        return _int(getattr(info, "used", None)), _int(getattr(info, "total", None)), False

    def _process_memory(self, h: Any) -> int | None:
        """Bytes used by this process over compute and graphics contexts; None if unlisted."""
        listed = False
        per_pid: dict[int, int] = {}
        for kind in ("Compute", "Graphics"):
            procs = self._processes(kind, h)
            if procs is None:
                continue
            listed = True
            for proc in procs:
                pid, used = getattr(proc, "pid", None), getattr(proc, "usedGpuMemory", None)
                if pid == self._pid and isinstance(used, int):
                    # One context can show in both lists: count the larger, not the sum.
                    per_pid[pid] = max(per_pid.get(pid, 0), used)
        return sum(per_pid.values()) if listed else None

    def _processes(self, kind: str, h: Any) -> Sequence[Any] | None:
        base = f"nvmlDeviceGet{kind}RunningProcesses"
        known = self._process_fns.get(kind, "")
        if known is None:
            return None
        for fn in [known] if known else [base, f"{base}_v2"]:
            procs = self._call(fn, h)
            if procs is not None:
                self._process_fns[kind] = fn
                return list(procs)
        self._process_fns[kind] = None
        return None


def _code(exc: BaseException) -> int | None:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


def _init_reason(exc: BaseException) -> str:
    code = _code(exc)
    if code in (_LIBRARY_NOT_FOUND, _DRIVER_NOT_LOADED):
        return "no NVIDIA driver"
    if code in _LOST_CODES:
        return "the GPU is lost: restart the runtime"
    return f"NVML: {exc}" if str(exc) else f"NVML: {type(exc).__name__}"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _watts(milliwatts: Any) -> float | None:
    value = _num(milliwatts)
    return None if value is None else value / 1000.0


# -- the default session --------------------------------------------------------

_default: NVML | None = None
_default_lock = threading.Lock()


def default_nvml() -> NVML:
    """The process-wide session every caller shares (created on first use, never inits at import)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = NVML()
    return _default


def is_available() -> bool:
    """Whether this machine has a usable NVIDIA GPU (NVML initialises and sees one)."""
    return default_nvml().is_available()


def sample_gpus(source: NVML | None = None) -> GpuStatus:
    """Read all GPUs with ``source`` (default: the shared session)."""
    return (source or default_nvml()).sample()


# -- history and sparklines -------------------------------------------------------


class GpuHistory:
    """The last ``length`` utilisation and memory percentages of each GPU, for sparklines.

    Thread-safe; add a :class:`GpuStatus` per refresh. Lost GPUs and N/A fields add None
    (a gap in the sparkline).
    """

    def __init__(self, length: int = 60) -> None:
        if length < 1:
            raise ValueError("length must be at least 1")
        self.length = length
        self._lock = threading.Lock()
        self._util: dict[int, deque[float | None]] = {}
        self._mem: dict[int, deque[float | None]] = {}

    def add(self, status: GpuStatus) -> None:
        with self._lock:
            for gpu in status.gpus:
                fraction = gpu.memory_fraction
                self._series(self._util, gpu.index).append(gpu.utilization)
                self._series(self._mem, gpu.index).append(None if fraction is None else 100.0 * fraction)

    def _series(self, table: dict[int, deque[float | None]], index: int) -> deque[float | None]:
        series = table.get(index)
        if series is None:
            series = table[index] = deque(maxlen=self.length)
        return series

    def utilization(self, index: int) -> tuple[float | None, ...]:
        """Utilisation percentages of GPU ``index``, oldest first."""
        with self._lock:
            return tuple(self._util.get(index, ()))

    def memory(self, index: int) -> tuple[float | None, ...]:
        """Memory used, as percent of total, of GPU ``index``, oldest first."""
        with self._lock:
            return tuple(self._mem.get(index, ()))

    def indices(self) -> tuple[int, ...]:
        with self._lock:
            return tuple(sorted(self._util))

    def clear(self) -> None:
        with self._lock:
            self._util.clear()
            self._mem.clear()


def sparkline(
    values: Iterable[float | None], lo: float = 0.0, hi: float = 100.0, width: int | None = None
) -> str:
    """Render values as ``▁▂▃▄▅▆▇█`` (None: a space); ``lo``/``hi`` bound the scale.

    With ``width`` the newest ``width`` values are shown, left-padded with spaces.
    """
    items = list(values)
    if width is not None:
        items = items[-width:] if width > 0 else []
    span = hi - lo
    top = len(SPARK_CHARS) - 1
    out = []
    for value in items:
        if value is None or value != value:  # None or NaN
            out.append(" ")
            continue
        level = 0.0 if span <= 0 else (min(max(value, lo), hi) - lo) / span
        out.append(SPARK_CHARS[int(level * top + 0.5)])
    text = "".join(out)
    return text.rjust(width) if width is not None else text
