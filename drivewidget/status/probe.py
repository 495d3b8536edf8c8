"""Filesystem calls with a deadline.

A hung FUSE daemon makes ``stat``, ``listdir`` and even ``os.path.ismount`` block forever,
and nothing can interrupt a thread stuck in such a call. So every access to a mount from
the UI path runs here: on a daemon thread, awaited with a timeout. While an earlier call
on the same path is still stuck, new calls answer "not responding" at once instead of
piling up more stuck threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..errors import DISCONNECTED_ERRNOS  # re-exported: its home is drivewidget.errors
from ..timeouts import PROBE_TIMEOUT

T = TypeVar("T")

DEFAULT_TIMEOUT = PROBE_TIMEOUT
"""A look at a mount (see :data:`drivewidget.timeouts.PROBE_TIMEOUT`)."""

__all__ = ["DEFAULT_TIMEOUT", "DISCONNECTED_ERRNOS", "ProbeResult", "bounded", "probe_dir"]


@dataclass(frozen=True)
class ProbeResult(Generic[T]):
    """Outcome of a bounded call: a value, an OSError, or a timeout (``timed_out``)."""

    value: T | None = None
    error: OSError | None = None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.error is None


class _Call(Generic[T]):
    def __init__(self, fn: Callable[[], T]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: ProbeResult[T] = ProbeResult(timed_out=True)

    def __call__(self) -> None:
        try:
            self.result = ProbeResult(value=self.fn())
        except OSError as exc:
            self.result = ProbeResult(error=exc)
        except Exception as exc:  # noqa: BLE001 - reported, never raised on a daemon thread
            self.result = ProbeResult(error=OSError(str(exc)))
        finally:
            self.done.set()


_stuck: dict[str, _Call[object]] = {}
_stuck_lock = threading.Lock()


def bounded(key: str, fn: Callable[[], T], timeout: float = DEFAULT_TIMEOUT) -> ProbeResult[T]:
    """Run ``fn`` with a deadline; ``key`` (usually a mountpoint) groups calls that can hang together."""
    with _stuck_lock:
        previous = _stuck.get(key)
        if previous is not None:
            if not previous.done.is_set():
                return ProbeResult(timed_out=True)
            del _stuck[key]
    call: _Call[T] = _Call(fn)
    threading.Thread(target=call, name=f"drivewidget-probe:{key}", daemon=True).start()
    if call.done.wait(timeout):
        return call.result
    with _stuck_lock:
        _stuck[key] = call  # type: ignore[assignment]
    return ProbeResult(timed_out=True)


def probe_dir(path: str, timeout: float = DEFAULT_TIMEOUT) -> ProbeResult[os.stat_result]:
    """Stat and open a folder within ``timeout``: proves a FUSE daemon answers."""

    def look() -> os.stat_result:
        st = os.stat(path)
        with os.scandir(path) as it:
            next(it, None)
        return st

    return bounded(path, look, timeout)
