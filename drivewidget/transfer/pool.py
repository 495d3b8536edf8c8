"""A bounded pool of daemon threads for filesystem calls that may block forever.

A thread stuck in a call on a hung FUSE mount can never be joined or interrupted, so the
workers are daemons, the pool grows only as work arrives, and whoever waits on it waits
with a deadline (:func:`join_or_abandon`) and can walk away.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

__all__ = ["STUCK_GRACE", "Pool", "join_or_abandon"]

log = logging.getLogger(__name__)

STUCK_GRACE = 5.0
"""Seconds a stopping transfer waits for threads blocked on a drive that does not answer."""


class Pool:
    """Up to ``size`` daemon threads running tasks from a queue; tasks may submit more tasks.

    Threads start as work arrives (a single file needs one), and are daemons because a
    thread blocked on a hung FUSE mount can never be joined.
    """

    def __init__(self, size: int, name: str, on_error: Callable[[Exception], None] | None = None) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._pending = 0
        self._size = size
        self._name = name
        self._threads: list[threading.Thread] = []
        self._on_error = on_error
        """Told of a task that raised (tasks report their own errors; one that could not is a bug
        that must stop the work, never be lost in a log while the result says "ok")."""

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, task: Callable[[], None]) -> None:
        with self._cond:
            self._pending += 1
            grow = self._pending > len(self._threads) and len(self._threads) < self._size
            if grow:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
        self._queue.put(task)
        if grow:
            thread.start()

    def join(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self) -> None:
        with self._cond:
            count = len(self._threads)
        for _ in range(count):
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            try:
                task()
            except Exception as exc:  # never kill a worker
                log.exception("transfer task failed")
                if self._on_error is not None:
                    self._on_error(exc)
            finally:
                with self._cond:
                    self._pending -= 1
                    if self._pending == 0:
                        self._cond.notify_all()


def join_or_abandon(pool: Pool, stopping: Callable[[], bool], warn: Callable[[str], None]) -> None:
    """Wait until ``pool`` is idle; once ``stopping()`` turns true, wait at most
    :data:`STUCK_GRACE` seconds more, then abandon the blocked calls (and ``warn`` why)."""
    stopped_at = 0.0
    while not pool.join(0.1):
        if stopping():
            stopped_at = stopped_at or time.monotonic()
            if time.monotonic() - stopped_at > STUCK_GRACE:
                warn(
                    f"{pool.pending} file operation(s) were still blocked on a drive that does not "
                    "respond; they were abandoned (their temporary files are removed by the next run)."
                )
                return
