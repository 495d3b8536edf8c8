"""Change notifications for a local folder, through watchfiles (inotify on Linux).

The job needs to know *which* paths changed, so a pass looks at those only; it does not rely
on notifications being complete (a full scan at start and periodic safety-net scans catch
what they miss, e.g. files inside a folder that was moved in whole). watchfiles runs its own
thread in Rust; the Python side wakes only when something changed, or to check the stop flag
every :data:`STEP_MS` milliseconds (about 0.01 % of a core when nothing changes).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

__all__ = ["Watcher"]

log = logging.getLogger(__name__)

STEP_MS = 500
"""How long watchfiles waits for more changes before reporting a batch (and how often an idle
watcher checks its stop flag). Passes are seconds apart, so there is no hurry."""
DEBOUNCE_MS = 2000
"""The longest a batch of changes is held back while a file keeps changing."""


class Watcher:
    """Calls ``on_change`` with sets of relative paths that changed under ``root``.

    ``on_change`` runs on the watcher's thread. ``problem`` says why notifications stopped
    (then the job falls back to scanning on every pass); ``identity`` is the watched folder's
    (device, inode), so the job can notice the folder being replaced and start a new watcher.
    """

    def __init__(self, root: str, on_change: Callable[[set[str]], None]) -> None:
        self.root = root
        self.on_change = on_change
        self.problem = ""
        self.identity: tuple[int, int] | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Notifications are flowing: watchfiles was imported and its watch loop runs."""
        return (
            self._ready.is_set() and self._thread is not None and self._thread.is_alive() and not self.problem
        )

    def start(self) -> bool:
        """Start watching; False (and ``problem`` set) when the folder cannot be watched.

        watchfiles is imported on the watcher's own thread, never the caller's: an import
        searches ``sys.path`` and the working directory, which may be on a drive that hangs,
        and a kernel must never block on that. Until the import is done, :attr:`running` is
        False and the job scans on every pass instead.
        """
        try:
            st = os.stat(self.root)
        except OSError as exc:
            self.problem = f"cannot watch {self.root}: {exc.strerror or exc}"
            return False
        self.identity = (st.st_dev, st.st_ino)
        self._thread = threading.Thread(target=self._run, name="drivewidget-keep-synced-watch", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            from watchfiles import watch
        except ImportError as exc:  # a declared dependency; a broken install scans instead
            self.problem = f"watchfiles cannot be imported ({exc}); changes are found by scanning"
            return
        self._ready.set()
        prefix = self.root.rstrip(os.sep) + os.sep
        try:
            for changes in watch(
                self.root,
                watch_filter=None,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                stop_event=self._stop,
                rust_timeout=0,
                raise_interrupt=False,
                recursive=True,
                ignore_permission_denied=True,
            ):
                paths = {path[len(prefix) :] for _, path in changes if path.startswith(prefix)}
                if any(path.rstrip(os.sep) == self.root.rstrip(os.sep) for _, path in changes):
                    paths.add("")  # the folder itself (deleted, replaced)
                if paths:
                    try:
                        self.on_change(paths)
                    except Exception:  # the job's bookkeeping must not kill the watcher
                        log.exception("keep-synced: change callback failed")
        except Exception as exc:  # noqa: BLE001 - inotify limits, a vanished folder...
            self.problem = f"change notifications stopped ({exc}); changes are found by scanning"
            log.info("keep-synced watcher for %s stopped: %s", self.root, exc)
        else:
            if not self._stop.is_set():
                self.problem = "change notifications stopped; changes are found by scanning"
