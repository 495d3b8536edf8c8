"""Run a panel action safely: never a traceback in the output area, never a hung kernel.

Backends that may block (rclone mounting, flushing) run on a worker thread so the kernel
keeps answering; Colab's mount runs inline because its auth prompt must come from the
main thread. Every failure becomes a message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..backends import available_backends
from ..errors import BackendUnavailable, Busy, DriveError

log = logging.getLogger("drivewidget")

Report = Callable[[str, str], None]
"""report(text, level) with level in info/success/warning/error."""


def explain(exc: BaseException) -> str:
    """The message a user sees for a failure: what happened and what to do."""
    if isinstance(exc, BackendUnavailable):
        usable = [name for name, why in available_backends().items() if not why]
        hint = f" Backends that work here: {', '.join(usable)}." if usable else ""
        return (
            f"{exc}{hint} Choose one with the DRIVEWIDGET_BACKEND environment variable "
            "or pass a backend to DriveController."
        )
    if isinstance(exc, DriveError):
        return str(exc)
    return (
        f"Unexpected problem ({type(exc).__name__}: {exc}). The drive was left as it was; "
        "click Refresh to see its state, and please report this."
    )


class ActionRunner:
    """Runs actions inline or on a worker thread and reports how each failed.

    It does not serialise anything itself: the controller is the one Busy guard (a second
    mount while one runs raises :class:`~drivewidget.errors.Busy`, reported as a warning).
    """

    def __init__(self, report: Report) -> None:
        self._report = report
        self._workers: list[threading.Thread] = []

    @property
    def running(self) -> bool:
        return any(worker.is_alive() for worker in self._workers)

    def run(self, action: Callable[[], object], *, name: str, inline: bool) -> None:
        """Start ``action``: on the calling thread with ``inline``, else on a worker thread."""
        if inline:
            self._guarded(action)
            return
        worker = threading.Thread(
            target=self._guarded, args=(action,), name=f"drivewidget-{name}", daemon=True
        )
        self._workers = [w for w in self._workers if w.is_alive()] + [worker]
        worker.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running actions end (tests and scripted use)."""
        for worker in list(self._workers):
            worker.join(timeout)

    def _guarded(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:
            if not isinstance(exc, DriveError):
                log.debug("drivewidget action failed", exc_info=True)
            self._report(explain(exc), "warning" if isinstance(exc, Busy) else "error")
