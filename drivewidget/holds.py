"""Work that must be settled before the drive goes away: registered holds on unmount.

Two kinds, asked in two phases so that a refused unmount changes nothing:

* a **guard** (``ctrl.holds.add_guard(check)``) refuses without side effects: a function
  that raises a :class:`~drivewidget.errors.DriveError` saying what to do (a copy still
  running) and otherwise returns;
* a **hold** (``ctrl.holds.add(hold)``, a :class:`Hold`) settles its work within the time
  it is given (a keep-synced job makes a final pass and stops) and returns the lines to
  tell the user.

:meth:`Holds.settle` asks every guard first and only then the holds: a keep-synced job is
never stopped for an unmount that a running copy then refuses. The controller knows
nothing of the features behind them, so the core state machine never imports them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

__all__ = ["Guard", "Hold", "Holds"]

Guard = Callable[[], None]
"""Raises a :class:`~drivewidget.errors.DriveError` to refuse an unmount; no side effects."""


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
        self._guards: list[Guard] = []
        self._closing = False

    def add(self, hold: Hold) -> Callable[[], None]:
        """Register ``hold``; returns the function that removes it (safe to call twice)."""
        return self._register(self._holds, hold)

    def add_guard(self, guard: Guard) -> Callable[[], None]:
        """Register ``guard``; returns the function that removes it (safe to call twice)."""
        return self._register(self._guards, guard)

    def _register(self, into: list[Any], item: Any) -> Callable[[], None]:
        with self._lock:
            into.append(item)

        def remove() -> None:
            with self._lock:
                if item in into:
                    into.remove(item)

        return remove

    def __iter__(self) -> Iterator[Hold]:
        with self._lock:
            return iter(list(self._holds))

    def __len__(self) -> int:
        """How many holds and guards are registered."""
        with self._lock:
            return len(self._holds) + len(self._guards)

    def check(self) -> None:
        """Ask every guard; the first refusal is raised as it is and nothing has settled."""
        with self._lock:
            guards = list(self._guards)
        for guard in guards:
            guard()

    @property
    def closing(self) -> bool:
        """True from :meth:`settle` until :meth:`reopen`: the drive is going away, so new work
        that would need a hold (a copy, a keep-synced job) must not start."""
        return self._closing

    def settle(self, timeout: float) -> list[str]:
        """Ask every guard (:meth:`check`), then every hold to settle, sharing ``timeout``
        seconds among them; a refusal (a raised error) stops the unmount and is raised as it
        is. From here until :meth:`reopen` the holds are :attr:`closing`: a copy started
        during a final pass would otherwise be unmounted under."""
        self.check()
        self._closing = True
        try:
            deadline = time.monotonic() + timeout
            lines: list[str] = []
            for hold in list(self):
                lines.extend(hold.before_unmount(max(0.0, deadline - time.monotonic())))
            self.check()  # belt and braces: nothing that refuses has appeared meanwhile
        except BaseException:
            self._closing = False
            raise
        return lines

    def reopen(self) -> None:
        """The unmount is over (done or failed): new work may start again."""
        self._closing = False
