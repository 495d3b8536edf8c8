"""Keep a display up to date while the user works in other cells.

Three triggers, because no single one works everywhere:

* a daemon thread ticks every ``interval`` seconds (JupyterLab, Notebook 7, Voila);
* IPython's ``post_run_cell`` event ticks after every cell, so the display is right in Colab,
  which may drop widget updates made from background threads (colabtools issue 3373);
* a Refresh button (the panel's) ticks on demand.

The thread runs each tick inside the context captured where the display was created: with
ipykernel 7 the cell's parent message lives in context variables, and outputs or comm
messages sent from a plain thread would otherwise have no parent. The thread holds only a
weak reference to the display, stops when it is closed or garbage-collected, and exits with
the kernel (daemon thread, stopped at interpreter exit).
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger("drivewidget")

DEFAULT_INTERVAL = 2.0

_live: weakref.WeakSet[LiveUpdater] = weakref.WeakSet()


class LiveUpdater:
    """Calls ``tick`` periodically and after each cell run until :meth:`stop`."""

    def __init__(self, tick: Callable[[], None], interval: float = DEFAULT_INTERVAL) -> None:
        self._tick = weakref.WeakMethod(tick) if hasattr(tick, "__self__") else (lambda: tick)
        self.interval = interval
        self._paused = threading.Event()
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._context = contextvars.copy_context()
        self._ipython: Any = None
        _live.add(self)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def start(self) -> None:
        """Start the thread and the after-each-cell hook (idempotent)."""
        if self._stopped.is_set() or self.running:
            return
        self._context = contextvars.copy_context()
        self._thread = threading.Thread(target=self._run, name="drivewidget-live", daemon=True)
        self._thread.start()
        self._register_cell_hook()

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop for good and wait for the thread (no leaked threads)."""
        self._stopped.set()
        self._wake.set()
        self._unregister_cell_hook()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def poke(self) -> None:
        """Tick soon on the live thread (e.g. right after a state change), without blocking."""
        self._wake.set()

    def tick_now(self) -> None:
        """Run one tick on the calling thread (Refresh button, after-cell hook)."""
        tick = self._tick()
        if tick is None:
            self.stop(timeout=0)
            return
        with self._lock:
            try:
                tick()
            except Exception:
                log.debug("drivewidget live update failed", exc_info=True)

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopped.is_set():
                break
            if not self._paused.is_set():
                self._context.run(self.tick_now)

    def _after_cell(self, *_: Any) -> None:
        if not self._paused.is_set() and not self._stopped.is_set():
            self.tick_now()

    def _register_cell_hook(self) -> None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        if shell is not None and self._ipython is None:
            shell.events.register("post_run_cell", self._after_cell)
            self._ipython = shell

    def _unregister_cell_hook(self) -> None:
        shell, self._ipython = self._ipython, None
        if shell is not None:
            with contextlib.suppress(ValueError):
                shell.events.unregister("post_run_cell", self._after_cell)


def running_updaters() -> list[LiveUpdater]:
    """Updaters whose thread is alive (for tests and diagnostics)."""
    return [updater for updater in list(_live) if updater.running]


@atexit.register
def _stop_all() -> None:
    for updater in list(_live):
        updater.stop(timeout=0.5)
