"""List the drive's likely first folders in the background right after a mount.

On a fresh FUSE mount the first listing of a folder goes to the cloud, so the chooser's first
open would be its slowest. Right after a mount the panel lists the root and the remembered
folder into the shared listing cache, one at a time on a background thread, each bounded in
time (a slow cloud folder is abandoned, never waited for), and stops on unmount, so the
chooser's first open is as fast as a revisit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import partial
from typing import Any

from ..folders import ListingCache, shared_cache
from ..status.probe import bounded

log = logging.getLogger("drivewidget")

PRELIST_TIMEOUT = 10.0
"""Seconds one folder's listing may take before it is abandoned (a cold cloud folder can be slow)."""


class Prelister:
    """At most one background run of listings; :meth:`cancel` stops it between folders."""

    def __init__(self, cache: ListingCache | None = None, timeout: float = PRELIST_TIMEOUT) -> None:
        self.cache = cache if cache is not None else shared_cache
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listed: list[str] = []
        """Folders listed by the last run (tests, diagnostics)."""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, controller: Any, folders: Iterable[str]) -> None:
        """List ``folders`` (inside ``controller.root``) in the background, after any earlier run stops."""
        self.cancel()
        wanted = list(dict.fromkeys(f for f in folders if f))
        area, mountpoint = controller.root, controller.mountpoint
        if not wanted or not area:
            return
        stop = self._stop = threading.Event()
        self.listed = []

        def run() -> None:
            for folder in wanted:
                if stop.is_set() or controller.state != "mounted":
                    return
                result = bounded(
                    f"drivewidget-prelist:{mountpoint}",
                    partial(self.cache.scan, folder, area=area),
                    self.timeout,
                )
                if result.timed_out:
                    return  # the drive is slow or stuck: the chooser will say so if it matters
                if result.error is None:
                    self.listed.append(folder)
                else:
                    log.debug("background listing of %s failed: %s", folder, result.error)

        self._thread = threading.Thread(target=run, name="drivewidget-prelist", daemon=True)
        self._thread.start()

    def cancel(self, wait: float = 0.0) -> None:
        """Stop after the folder being listed now (waiting up to ``wait`` s for it to finish)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait)
