"""One status sample: the drive's state, space on the drive and the VM, RAM, runtime age, GPUs.

:func:`take_sample` builds a :class:`StatusSample` from a controller in well under a
millisecond on a healthy mount without GPU; :class:`StatusSampler` does the same repeatedly
for a live display (it caches the drive's space for a few seconds and keeps a GPU history
for sparklines). The panel and ``python -m drivewidget status`` show the same sample.

It never blocks on a hung mount: the drive's space is read with
``bounded(..., shutil.disk_usage(root), timeout)``, so a FUSE daemon that does not answer
gives ``drive_disk.note == "not responding"`` after ``drive_timeout`` (and at once while that
call is still stuck). Nothing else touches the drive: the VM disk is measured on home (or ``/``).

It does **not** call ``controller.refresh()`` by default: a refresh re-probes the drive's root
(a listing, a network round trip on a cold cloud folder) and writes the controller's traits,
which fires UI observers on whatever thread sampled. The sample reads the traits as they are,
plus the live working directory; pass ``refresh=True`` (e.g. every few samples, or when
``drive_disk.note`` says the drive stopped answering) to re-read the mount first.

JSON (:meth:`StatusSample.to_json`, ``python -m drivewidget status --json``); keys are stable,
new keys may be added. Sizes are bytes, times seconds, ``null`` means unknown::

    version        1
    time           wall-clock time of the sample (epoch seconds)
    state          "unmounted" | "mounting" | "mounted" | "unmounting" | "stale" | "error"
    state_text     the state in words: "Mounted at <mountpoint>", "Not mounted", ...
    problem        why a stale mount is stale ("disconnected", "not responding"), else ""
    error          message of the controller's last failure, else ""
    readonly       whether the mount is read-only
    backend        the backend in words (its describe())
    mountpoint     where the drive is (or would be) mounted
    root           the folder users browse ("" when unknown)
    cwd            the kernel's working directory
    cwd_on_drive   whether cwd is on the mounted drive (work saved there persists)
    drive_disk     {used, total, free, path?, note?}: space on the drive; note says why unknown
                   ("not mounted", "not responding", "disconnected", ...)
    disk           {used, total, free, path}: the VM's own disk (lost when the runtime resets)
    ram            {used, total, free}: RAM; used = total - available
    runtime        {vm_age_s, kernel_age_s, colab, colab_max_s, colab_left_s}
    gpus           list, empty without a GPU; each:
                   {index, name, uuid, lost, utilization (percent), memory {used, total},
                    memory_v2, process_memory (this kernel), temperature (C),
                    power_draw (W), power_limit (W)}
    gpu_message    "" when GPUs are listed, else why not ("No GPU ..." with a Colab hint)
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..text import format_bytes, format_duration, printable, state_text
from ..timeouts import DRIVE_SPACE_TTL, SAMPLE_TIMEOUT
from .gpu import NVML, GpuHistory, GpuReading, GpuStatus, default_nvml
from .mounttable import is_within
from .probe import DISCONNECTED_ERRNOS, bounded
from .system import RuntimeInfo, Usage, disk_usage, ram_usage, runtime_info, vm_disk_path

if TYPE_CHECKING:
    from ..controller import DriveController

__all__ = [
    "DRIVE_TIMEOUT",
    "DRIVE_TTL",
    "JSON_VERSION",
    "GpuSource",
    "StatusSample",
    "StatusSampler",
    "format_bytes",
    "format_duration",
    "state_text",
    "take_sample",
]

JSON_VERSION = 1
DRIVE_TIMEOUT = SAMPLE_TIMEOUT
"""Seconds a sample waits for the drive's space (:data:`drivewidget.timeouts.SAMPLE_TIMEOUT`)."""
DRIVE_TTL = DRIVE_SPACE_TTL
"""Seconds :class:`StatusSampler` reuses the drive's space (:data:`drivewidget.timeouts.DRIVE_SPACE_TTL`)."""

GpuSource = NVML | Callable[[], GpuStatus] | None
"""Where GPU readings come from: an :class:`NVML` session, any callable returning a
:class:`GpuStatus` (e.g. ``lambda: GpuStatus(0.0, False)`` to skip GPUs), or None for the
shared session."""


@dataclass(frozen=True)
class StatusSample:
    """Everything the status display shows, at one moment. Immutable; see the module docstring."""

    timestamp: float
    """The sampler's clock (monotonic by default): use it for rates and ages of samples."""
    time: float
    """Wall-clock time (epoch seconds)."""
    state: str
    backend: str
    mountpoint: str
    root: str
    cwd: str
    cwd_on_drive: bool
    problem: str = ""
    error: str = ""
    readonly: bool = False
    drive_disk: Usage = field(default_factory=Usage)
    disk: Usage = field(default_factory=Usage)
    ram: Usage = field(default_factory=Usage)
    runtime: RuntimeInfo = field(default_factory=lambda: RuntimeInfo(None, None))
    gpu: GpuStatus = field(default_factory=lambda: GpuStatus(0.0, False))
    words: str = ""
    """The controller's own description of its state (``describe_state()``), when sampled from one."""

    @property
    def gpus(self) -> tuple[GpuReading, ...]:
        return self.gpu.gpus

    @property
    def state_text(self) -> str:
        """The mount state in words ('Mounted at /content/drive', 'Not mounted', ...)."""
        if self.words:
            return self.words
        return state_text(self.state, self.mountpoint, self.problem, self.error, self.readonly)

    @property
    def drive_responding(self) -> bool:
        """False when the last look at the drive timed out or failed (call controller.refresh())."""
        return self.state != "stale" and self.drive_disk.note not in ("not responding", "disconnected")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with the documented keys (module docstring)."""
        return {
            "version": JSON_VERSION,
            "time": self.time,
            "state": self.state,
            "state_text": self.state_text,
            "problem": self.problem,
            "error": self.error,
            "readonly": self.readonly,
            "backend": self.backend,
            "mountpoint": self.mountpoint,
            "root": self.root,
            "cwd": self.cwd,
            "cwd_on_drive": self.cwd_on_drive,
            "drive_disk": self.drive_disk.to_json(),
            "disk": self.disk.to_json(),
            "ram": self.ram.to_json(),
            "runtime": self.runtime.to_json(),
            "gpus": [_gpu_json(g) for g in self.gpu.gpus],
            "gpu_message": self.gpu.message,
        }

    def lines(self) -> list[str]:
        """Human-readable lines (what ``python -m drivewidget status`` prints)."""
        out = [f"Drive: {self.state_text}"]
        if self.backend:
            out.append(f"Backend: {self.backend}")
        if self.root:
            out.append(f"Root: {printable(self.root)}")
        where = (
            "on the drive: saved" if self.cwd_on_drive else "on the VM disk: lost when the runtime is reset"
        )
        out.append(f"Working directory: {printable(self.cwd)} ({where})")  # names from the drive
        out.append(f"Drive space: {_usage_text(self.drive_disk)}")
        out.append(f"VM disk: {_usage_text(self.disk)}")
        out.append(f"RAM: {_usage_text(self.ram)}")
        out.append(f"Runtime: {_runtime_text(self.runtime)}")
        if self.gpu.gpus:
            out.extend(_gpu_text(g) for g in self.gpu.gpus)
        if self.gpu.message:
            out.append(self.gpu.message)
        return out

    def to_text(self) -> str:
        return "\n".join(self.lines())


# -- taking samples ---------------------------------------------------------------------


def take_sample(
    controller: DriveController | None,
    clock: Callable[[], float] = time.monotonic,
    gpu_source: GpuSource = None,
    *,
    wall: Callable[[], float] = time.time,
    drive_timeout: float = DRIVE_TIMEOUT,
    refresh: bool = False,
    error: str = "",
    ps: Any = None,
    colab: bool | None = None,
) -> StatusSample:
    """Sample the status now (cheap, never blocks longer than ``drive_timeout`` on the drive).

    ``controller`` None gives a sample with state "error" and ``error`` as the message (the
    CLI uses it when no backend can be built). ``refresh=True`` calls ``controller.refresh()``
    first. ``ps`` (a psutil stand-in) and ``colab`` are for tests.
    """
    return _sample(controller, clock, wall, gpu_source, drive_timeout, refresh, error, ps, colab, None)


class StatusSampler:
    """Repeated samples of one controller, for a live display.

    Reuses the drive's space for ``drive_ttl`` seconds (only answers that succeeded) and
    records each GPU reading in :attr:`history` (for :func:`~drivewidget.status.gpu.sparkline`).
    Thread-safe; :attr:`last` is the latest sample.
    """

    def __init__(
        self,
        controller: DriveController | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        gpu_source: GpuSource = None,
        history_length: int = 60,
        drive_timeout: float = DRIVE_TIMEOUT,
        drive_ttl: float = DRIVE_TTL,
        ps: Any = None,
        colab: bool | None = None,
    ) -> None:
        self.controller = controller
        self.history = GpuHistory(history_length)
        self.last: StatusSample | None = None
        self._clock, self._wall, self._gpu_source = clock, wall, gpu_source
        self._drive_timeout, self._drive_ttl = drive_timeout, drive_ttl
        self._ps, self._colab = ps, colab
        self._lock = threading.Lock()
        self._drive_cache: tuple[tuple[str, str], float, Usage] | None = None

    def sample(self, refresh: bool = False) -> StatusSample:
        """Take a sample now, add its GPUs to the history, and return it.

        ``refresh=True`` calls ``controller.refresh()`` first, outside the sampler's lock, so
        observers of the controller's traits may call :meth:`invalidate`.
        """
        if refresh and self.controller is not None:
            self.controller.refresh()
        with self._lock:
            result = _sample(
                self.controller,
                self._clock,
                self._wall,
                self._gpu_source,
                self._drive_timeout,
                False,
                "",
                self._ps,
                self._colab,
                self._cached_drive,
            )
            self.history.add(result.gpu)
            self.last = result
            return result

    def _cached_drive(self, mountpoint: str, root: str, timeout: float) -> Usage:
        key, now = (mountpoint, root), self._clock()
        cached = self._drive_cache
        if cached is not None and cached[0] == key and now - cached[1] < self._drive_ttl:
            return cached[2]
        usage = drive_usage(mountpoint, root, timeout)
        self._drive_cache = (key, now, usage) if usage.known else None
        return usage

    def invalidate(self) -> None:
        """Forget the cached drive space (e.g. after a mount, unmount or a big copy); never blocks."""
        self._drive_cache = None


def drive_usage(mountpoint: str, root: str, timeout: float = DRIVE_TIMEOUT) -> Usage:
    """Space on the drive, read on a probe thread with a deadline (see the module docstring).

    Probes are grouped under their own key (``statfs:<mountpoint>``), not the controller's, so
    a slow-but-alive statfs never makes a chdir answer "not responding"; a hung mount still
    holds at most one stuck statfs thread.
    """
    result = bounded(f"statfs:{mountpoint}", lambda: _statfs(root), timeout)
    if result.timed_out:
        return Usage(path=root, note="not responding")
    if result.error is not None or result.value is None:
        exc = result.error
        return Usage(path=root, note=_probe_error_text(exc))
    du = result.value
    return Usage(used=du.used, total=du.total, free=du.free, path=root)


_statfs = shutil.disk_usage
"""How the drive's space is read (a module attribute so tests can make it hang or fail)."""


def _probe_error_text(exc: OSError | None) -> str:
    if exc is None:
        return "unavailable"
    if exc.errno in DISCONNECTED_ERRNOS:
        return "disconnected"
    return exc.strerror or str(exc) or "unavailable"


def _gpu_status(source: GpuSource) -> GpuStatus:
    if source is None:
        return default_nvml().sample()
    if isinstance(source, NVML):
        return source.sample()
    try:
        return source()
    except Exception as exc:  # noqa: BLE001 - a broken custom source shows as "No GPU", never a traceback
        return GpuStatus(time.monotonic(), False, (), f"No GPU (GPU source failed: {exc}).")


def _sample(
    controller: DriveController | None,
    clock: Callable[[], float],
    wall: Callable[[], float],
    gpu_source: GpuSource,
    drive_timeout: float,
    refresh: bool,
    error: str,
    ps: Any,
    colab: bool | None,
    drive_fn: Callable[[str, str, float], Usage] | None,
) -> StatusSample:
    timestamp, now = clock(), wall()
    try:
        cwd = os.getcwd()
    except OSError:  # the working directory was deleted (or its mount vanished)
        cwd = controller.cwd if controller is not None else ""
    if controller is None:
        state, backend, mountpoint, root, problem, readonly = "error", "", "", "", "", False
        words = ""
        drive = Usage(note="no backend")
    else:
        if refresh:
            controller.refresh()
        state, mountpoint, root = controller.state, controller.mountpoint, controller.root
        problem, readonly, error = controller.problem, controller.readonly, error or controller.error
        backend = controller.backend.describe()
        words = controller.describe_state()
        if state == "mounted" and root:
            drive = (drive_fn or drive_usage)(mountpoint, root, drive_timeout)
        elif state == "stale":
            drive = Usage(path=root, note=problem or "disconnected")
        elif state in ("mounting", "unmounting"):
            drive = Usage(path=root, note=state)
        else:
            drive = Usage(note="not mounted")
    on_drive = state in ("mounted", "stale") and bool(
        (root and is_within(cwd, root)) or (mountpoint and is_within(cwd, mountpoint))
    )
    return StatusSample(
        timestamp=timestamp,
        time=now,
        state=state,
        backend=backend,
        mountpoint=mountpoint,
        root=root,
        cwd=cwd,
        cwd_on_drive=on_drive,
        problem=problem,
        error=error,
        readonly=readonly,
        drive_disk=drive,
        disk=disk_usage(vm_disk_path(avoid=mountpoint or None)),
        ram=ram_usage(ps),
        runtime=runtime_info(ps, wall=lambda: now, colab=colab),
        gpu=_gpu_status(gpu_source),
        words=words,
    )


# -- text -------------------------------------------------------------------------------


def _usage_text(usage: Usage) -> str:
    if not usage.known:
        return usage.note or "unknown"
    fraction = usage.fraction
    percent = f" ({100 * fraction:.0f}%)" if fraction is not None else ""
    return f"{format_bytes(usage.used)} used of {format_bytes(usage.total)}{percent}"


def _runtime_text(rt: RuntimeInfo) -> str:
    parts = [f"up {format_duration(rt.vm_age)}", f"kernel up {format_duration(rt.kernel_age)}"]
    if rt.colab and rt.colab_left is not None:
        parts.append(
            f"at most {format_duration(rt.colab_left)} left of Colab's {format_duration(rt.colab_max)}"
        )
    return ", ".join(parts)


def _num(value: float | None, unit: str, fmt: str = "{:.0f}") -> str:
    return "N/A" if value is None else fmt.format(value) + unit


GPU_LOST_TEXT = "lost (fell off the bus or needs a reset; restart the runtime)"


def gpu_parts(g: GpuReading) -> list[str]:
    """A GPU reading as short phrases ('37% busy', 'memory 2.0 GiB / 16.0 GiB', ...), N/A when unknown."""
    memory = f"{format_bytes(g.memory_used)} / {format_bytes(g.memory_total)}"
    power = f"{_num(g.power_draw, ' W')} / {_num(g.power_limit, ' W')}"
    parts = [
        f"{_num(g.utilization, '%')} busy",
        f"memory {memory}",
        _num(g.temperature, " °C") if g.temperature is not None else "temperature N/A",
        f"power {power}",
    ]
    if g.process_memory is not None:
        parts.append(f"this kernel {format_bytes(g.process_memory)}")
    return parts


def _gpu_text(g: GpuReading) -> str:
    head = f"GPU {g.index} {g.name}"
    if g.lost:
        return f"{head}: {GPU_LOST_TEXT}"
    return f"{head}: " + ", ".join(gpu_parts(g))


def _gpu_json(g: GpuReading) -> dict[str, Any]:
    return {
        "index": g.index,
        "name": g.name,
        "uuid": g.uuid,
        "lost": g.lost,
        "utilization": g.utilization,
        "memory": {"used": g.memory_used, "total": g.memory_total},
        "memory_v2": g.memory_v2,
        "process_memory": g.process_memory,
        "temperature": g.temperature,
        "power_draw": g.power_draw,
        "power_limit": g.power_limit,
    }
