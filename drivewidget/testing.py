"""Test helpers for drivewidget and for code built on it: a scriptable fake backend.

``FakeBackend`` serves a real local folder and can be told to fail, hang, go stale or
vanish, so controller and panel behaviour can be tested without FUSE or a cloud.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .backends.base import Backend, Progress
from .errors import DriveError
from .status._fake_nvml import FakeGPU, FakeNVML, FakeProcess
from .status.mounttable import MountEntry

__all__ = ["FakeBackend", "FakeGPU", "FakeNVML", "FakeProcess"]


@dataclass
class FakeBackend(Backend):
    """A backend whose truth and failures tests control.

    ``folder`` is the drive's content. ``mounted`` is the truth the mount table would give;
    ``stale`` makes the drive answer ENOTCONN; ``hang`` (an Event that is cleared) makes every
    access to the drive block until it is set. ``fail_mount``/``fail_unmount``/``fail_flush``
    hold an exception to raise once. ``calls`` records every backend operation, and
    ``max_overlap`` the most that ever ran at once (the controller must keep it at 1).
    """

    folder: str
    mounted: bool = False
    stale: bool = False
    hang: threading.Event = field(default_factory=lambda: _set_event())
    fail_mount: DriveError | None = None
    fail_unmount: DriveError | None = None
    fail_flush: DriveError | None = None
    mount_delay: threading.Event | None = None
    calls: list[str] = field(default_factory=list)
    max_overlap: int = 0
    on_mount: Callable[[], None] | None = None
    _running: int = 0
    _guard: threading.Lock = field(default_factory=threading.Lock)

    name = "fake"
    label = "Fake"

    def __post_init__(self) -> None:
        self.folder = os.path.abspath(self.folder)

    def describe(self) -> str:
        return f"Fake drive {self.folder}"

    def default_mountpoint(self) -> str:
        return self.folder

    def validate_mountpoint(self, mountpoint: str, table: Sequence[MountEntry] | None = None) -> None:
        return None

    def is_mounted(self, mountpoint: str, table: Sequence[MountEntry] | None = None) -> bool:
        return self.mounted

    def root(self, mountpoint: str) -> str:
        self.hang.wait()
        if self.stale:
            raise OSError(errno.ENOTCONN, "Transport endpoint is not connected", self.folder)
        return self.folder

    def _enter(self, name: str) -> None:
        with self._guard:
            self._running += 1
            self.max_overlap = max(self.max_overlap, self._running)
            self.calls.append(name)

    def _leave(self) -> None:
        with self._guard:
            self._running -= 1

    def mount(self, mountpoint: str, *, readonly: bool = False, force: bool = False) -> list[str]:
        self._enter("mount")
        try:
            if self.mount_delay is not None:
                self.mount_delay.wait(30)
            if self.fail_mount is not None:
                exc, self.fail_mount = self.fail_mount, None
                raise exc
            self.mounted, self.stale = True, False
            if self.on_mount:
                self.on_mount()
            return [f"Mounted at {mountpoint}"]
        finally:
            self._leave()

    def flush(self, mountpoint: str, progress: Progress = lambda _: None) -> None:
        self._enter("flush")
        try:
            if self.fail_flush is not None:
                exc, self.fail_flush = self.fail_flush, None
                raise exc
        finally:
            self._leave()

    def unmount(self, mountpoint: str, *, stale: bool = False) -> list[str]:
        self._enter("unmount_stale" if stale else "unmount")
        try:
            if self.fail_unmount is not None:
                exc, self.fail_unmount = self.fail_unmount, None
                raise exc
            self.mounted, self.stale = False, False
            return [f"Unmounted {mountpoint}"]
        finally:
            self._leave()


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event
