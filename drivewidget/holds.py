"""Work that must be settled before the drive goes away: registered holds on unmount.

A running copy, a keep-synced job or anything else writing to the drive registers a
:class:`Hold` with the controller (``ctrl.holds.add(hold)``). Before unmounting, the
controller asks every hold to settle (:meth:`Holds.settle`): a hold either finishes its
work within the time it is given (a keep-synced job makes a final pass) and returns the
lines to tell the user, or refuses by raising a :class:`~drivewidget.errors.DriveError`
that says what to do (a copy still running). The controller knows nothing of the features
behind the holds, so the core state machine never imports them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

__all__ = ["Hold", "Holds"]


@runtime_checkable
class Hold(Protocol):
    """Something that must be settled before the drive is unmounted."""

    def describe(self) -> str:
        """What it is, in words (``"a copy of 'data' to local disk"``)."""
        ...

    def before_unmount(self, timeout: float) -> list[str]:
        """Settle within ``timeout`` seconds and return lines for the user, or raise a
        :class:`~drivewidget.errors.DriveError` to refuse the unmount."""
        ...


class Holds:
    """The holds of one controller: thread-safe, in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holds: list[Hold] = []

    def add(self, hold: Hold) -> Callable[[], None]:
        """Register ``hold``; returns the function that removes it (safe to call twice)."""
        with self._lock:
            self._holds.append(hold)

        def remove() -> None:
            with self._lock:
                if hold in self._holds:
                    self._holds.remove(hold)

        return remove

    def __iter__(self) -> Iterator[Hold]:
        with self._lock:
            return iter(list(self._holds))

    def __len__(self) -> int:
        with self._lock:
            return len(self._holds)

    def settle(self, timeout: float) -> list[str]:
        """Ask every hold to settle, sharing ``timeout`` seconds among them; the first
        refusal (a raised error) stops the unmount and is raised as it is."""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        for hold in list(self):
            lines.extend(hold.before_unmount(max(0.0, deadline - time.monotonic())))
        return lines
