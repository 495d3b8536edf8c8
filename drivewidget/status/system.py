"""RAM, VM disk and runtime age of the machine the kernel runs on (psutil, imported lazily).

Nothing here touches the drive: the VM disk is measured on a path that is not inside the
mount (see :func:`vm_disk_path`), so a hung FUSE daemon cannot block a sample.

Runtime age:

- ``vm_age``: seconds since the runtime started. That is the start of PID 1, which is the
  boot on a VM and the container's start in a container (Colab's runtime, Docker), where
  ``psutil.boot_time()`` would give the host's boot instead; ``boot_time()`` is the fallback
  when PID 1 cannot be read.
- ``kernel_age``: seconds since this process (the notebook kernel) started.
- ``colab_left``: on Colab, seconds left of the maximum runtime (:data:`COLAB_MAX_RUNTIME`,
  12 h on the free tier) counted from ``vm_age``; a lower bound on what Colab may cut, since idle
  runtimes are reclaimed earlier. None outside Colab.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._env import in_colab
from .mounttable import is_within

__all__ = [
    "COLAB_MAX_RUNTIME",
    "RuntimeInfo",
    "SystemSample",
    "Usage",
    "disk_usage",
    "ram_usage",
    "runtime_info",
    "sample_system",
    "vm_disk_path",
]

COLAB_MAX_RUNTIME = 12 * 3600.0
"""Seconds a free Colab runtime may live at most."""


@dataclass(frozen=True)
class Usage:
    """Used and total bytes of something (RAM, a disk); None when unknown, with ``note`` saying why."""

    used: int | None = None
    total: int | None = None
    free: int | None = None
    path: str = ""
    """The path measured (disks only)."""
    note: str = ""
    """Why the numbers are missing ("not responding", "not mounted", ...); "" when known."""

    @property
    def known(self) -> bool:
        return self.used is not None and self.total is not None

    @property
    def fraction(self) -> float | None:
        """Used over total (0-1), or None."""
        if self.used is None or not self.total:
            return None
        return self.used / self.total

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"used": self.used, "total": self.total, "free": self.free}
        if self.path:
            data["path"] = self.path
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class RuntimeInfo:
    """How old the runtime and the kernel are, and (on Colab) how long the runtime may still live."""

    vm_age: float | None
    kernel_age: float | None
    colab: bool = False
    colab_left: float | None = None
    colab_max: float = COLAB_MAX_RUNTIME

    def to_json(self) -> dict[str, Any]:
        return {
            "vm_age_s": self.vm_age,
            "kernel_age_s": self.kernel_age,
            "colab": self.colab,
            "colab_max_s": self.colab_max if self.colab else None,
            "colab_left_s": self.colab_left,
        }


@dataclass(frozen=True)
class SystemSample:
    timestamp: float
    ram: Usage
    disk: Usage
    runtime: RuntimeInfo


def _psutil(ps: Any = None) -> Any:
    if ps is not None:
        return ps
    try:
        import psutil
    except ImportError:
        return None
    return psutil


def ram_usage(ps: Any = None) -> Usage:
    """RAM in use: total minus what is available to new programs (not counting reclaimable cache)."""
    ps = _psutil(ps)
    if ps is None:
        return Usage(note="psutil is not installed")
    try:
        vm = ps.virtual_memory()
    except Exception as exc:  # noqa: BLE001 - a broken /proc must not break the panel
        return Usage(note=f"unavailable: {exc}")
    total, available = int(vm.total), int(vm.available)
    return Usage(used=total - available, total=total, free=available)


def disk_usage(path: str) -> Usage:
    """Usage of the filesystem holding ``path``. Never call it on the drive (it can hang there)."""
    try:
        du = shutil.disk_usage(path)
    except OSError as exc:
        return Usage(path=path, note=exc.strerror or str(exc))
    return Usage(used=du.used, total=du.total, free=du.free, path=path)


def vm_disk_path(avoid: str | None = None) -> str:
    """The path whose filesystem is the VM's own disk: home, or ``/`` when home is inside ``avoid``."""
    home = os.path.expanduser("~")
    return os.sep if avoid and is_within(home, avoid) else home


_start_cache: tuple[float | None, float | None] | None = None


def _start_times(ps: Any) -> tuple[float | None, float | None]:
    """(runtime start, process start) as epoch seconds; cached for the real psutil (they never change)."""
    global _start_cache
    real = ps is None
    if real and _start_cache is not None:
        return _start_cache
    ps = _psutil(ps)
    if ps is None:
        return None, None
    runtime_start: float | None = None
    try:
        runtime_start = float(ps.Process(1).create_time())
    except Exception:  # noqa: BLE001 - no access to PID 1 (some sandboxes): use the boot time
        try:
            runtime_start = float(ps.boot_time())
        except Exception:  # noqa: BLE001
            runtime_start = None
    try:
        kernel_start: float | None = float(ps.Process(os.getpid()).create_time())
    except Exception:  # noqa: BLE001
        kernel_start = None
    if real:
        _start_cache = (runtime_start, kernel_start)
    return runtime_start, kernel_start


def runtime_info(
    ps: Any = None,
    *,
    wall: Callable[[], float] = time.time,
    colab: bool | None = None,
    max_runtime: float = COLAB_MAX_RUNTIME,
) -> RuntimeInfo:
    """Ages of the runtime and kernel now (``wall`` is the epoch clock; injectable for tests)."""
    runtime_start, kernel_start = _start_times(ps)
    now = wall()
    vm_age = None if runtime_start is None else max(0.0, now - runtime_start)
    kernel_age = None if kernel_start is None else max(0.0, now - kernel_start)
    on_colab = in_colab() if colab is None else colab
    left = max(0.0, max_runtime - vm_age) if on_colab and vm_age is not None else None
    return RuntimeInfo(vm_age, kernel_age, on_colab, left, max_runtime)


def sample_system(
    path: str | None = None,
    *,
    ps: Any = None,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    colab: bool | None = None,
) -> SystemSample:
    """RAM, the VM disk (of ``path``, default :func:`vm_disk_path`) and runtime ages, now."""
    return SystemSample(
        timestamp=clock(),
        ram=ram_usage(ps),
        disk=disk_usage(path or vm_disk_path()),
        runtime=runtime_info(ps, wall=wall, colab=colab),
    )
