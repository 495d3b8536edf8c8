"""What a keep-synced job needs from a drive: a small protocol, and two ways to provide it.

A job never sees the :class:`~drivewidget.controller.DriveController`: it needs where the
drive is, whether it is usable now, whether it is writable, and a way to ask that what was
written has reached the cloud. :class:`SyncDrive` says exactly that.
:class:`ControllerDrive` adapts a controller (anything shaped like one, see
:class:`ControllerLike`), :class:`FolderDrive` presents a plain folder as a drive (a local
disk, a mount made by someone else, tests).
"""

from __future__ import annotations

import math
import os
import stat
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from ..errors import DISCONNECTED_ERRNOS, DriveError
from ..status.mounttable import find_mount
from ..status.probe import probe_dir
from ..timeouts import REFRESH_TIMEOUT
from ..transfer.drive import unconfirmed_text

__all__ = [
    "ControllerDrive",
    "ControllerLike",
    "FolderDrive",
    "SyncDrive",
    "as_sync_drive",
    "confirm_uploads_within",
]

Progress = Callable[[str], None]


@runtime_checkable
class SyncDrive(Protocol):
    """The drive as a keep-synced job sees it."""

    @property
    def mountpoint(self) -> str:
        """Where the drive is mounted (jobs are grouped by it: an unmount stops its jobs)."""

    @property
    def root(self) -> str:
        """The folder relative destinations start from (``""`` while not mounted)."""

    @property
    def writable(self) -> bool:
        """False on a read-only mount (a pass then fails with a message instead of writing)."""

    def refresh(self) -> str:
        """The state now, within a fraction of a second even on a hung mount: ``"mounted"``
        when the drive can be used; anything else ("unmounted", "stale", ...) when not."""

    def confirm_uploads(self, progress: Progress) -> str:
        """Wait until what was written has reached the cloud; ``""`` when confirmed, else why
        it could not be (the files are in the mount, maybe not yet in the cloud)."""


class _BackendLike(Protocol):
    label: str
    confirms_uploads: bool

    def flush(self, mountpoint: str, progress: Progress = ...) -> None: ...


class _HoldsLike(Protocol):
    def add(self, hold: Any) -> Callable[[], None]: ...

    @property
    def closing(self) -> bool: ...


class ControllerLike(Protocol):
    """The part of a :class:`~drivewidget.controller.DriveController` a job uses."""

    mountpoint: str
    root: str
    readonly: bool
    backend: _BackendLike
    holds: _HoldsLike

    def refresh(self) -> str: ...


class ControllerDrive:
    """A :class:`SyncDrive` over a controller: its state, its root, its backend's flush."""

    def __init__(self, controller: ControllerLike) -> None:
        self.controller = controller

    @property
    def mountpoint(self) -> str:
        return self.controller.mountpoint

    @property
    def root(self) -> str:
        return self.controller.root

    @property
    def writable(self) -> bool:
        if self.controller.readonly:
            return False
        entry = find_mount(self.controller.mountpoint)
        return entry is None or not entry.readonly

    def refresh(self) -> str:
        return self.controller.refresh()

    def confirm_uploads(self, progress: Progress) -> str:
        backend = self.controller.backend
        if not backend.confirms_uploads:
            return unconfirmed_text(backend)
        try:
            backend.flush(self.controller.mountpoint, progress)
        except DriveError as exc:
            return str(exc)
        return ""

    def __repr__(self) -> str:
        return f"ControllerDrive({self.controller!r})"


class FolderDrive:
    """A folder presented as a drive: always "mounted" while it is a folder; nothing to upload.

    For a local disk, a mount made by another tool, and tests.
    """

    def __init__(self, folder: str | os.PathLike[str], *, writable: bool = True) -> None:
        self.folder = os.path.abspath(os.path.expanduser(os.fspath(folder)))
        self._writable = writable

    @property
    def mountpoint(self) -> str:
        return self.folder

    @property
    def root(self) -> str:
        return self.folder

    @property
    def writable(self) -> bool:
        return self._writable

    def refresh(self) -> str:
        """``"mounted"`` when the folder can be listed now; ``"stale"`` when it does not
        answer within :data:`~drivewidget.timeouts.REFRESH_TIMEOUT` (a hung mount: the look
        runs on a worker thread, never blocking the caller) or is disconnected."""
        looked = probe_dir(self.folder, REFRESH_TIMEOUT)
        if looked.timed_out:
            return "stale"
        if looked.error is not None:
            return "stale" if looked.error.errno in DISCONNECTED_ERRNOS else "unmounted"
        return "mounted" if looked.value is not None and stat.S_ISDIR(looked.value.st_mode) else "unmounted"

    def confirm_uploads(self, progress: Progress) -> str:
        return ""

    def __repr__(self) -> str:
        return f"FolderDrive({self.folder!r})"


class _Confirm:
    """One ``drive.confirm_uploads`` running on its own thread (it may wait for a long
    upload queue: the backend's own limit is an hour), so a pass can stop waiting for it."""

    def __init__(self, drive: SyncDrive, progress: Progress) -> None:
        self.progress = progress
        self.reason = ""
        self.done = threading.Event()
        threading.Thread(
            target=self._run, args=(drive,), name="drivewidget-keep-synced-confirm", daemon=True
        ).start()

    def _run(self, drive: SyncDrive) -> None:
        try:
            self.reason = drive.confirm_uploads(lambda line: self.progress(line))
        except Exception as exc:  # noqa: BLE001 - a reason in words, never lost on a thread
            self.reason = str(exc) or type(exc).__name__
        finally:
            self.done.set()

    def wait(self, deadline: float, stop: threading.Event) -> bool:
        while not self.done.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
            if stop.is_set() or time.monotonic() >= deadline:
                return False
        return True


_confirms: dict[str, _Confirm] = {}
_confirms_lock = threading.Lock()


def confirm_uploads_within(
    drive: SyncDrive, progress: Progress, timeout: float, stop: threading.Event
) -> str:
    """``drive.confirm_uploads``, waited for at most ``timeout`` seconds (``math.inf``: the
    drive's own limit) or until ``stop`` is set: ``""`` when confirmed, else why not.

    A confirmation waits until the drive's whole upload queue is empty, files of other
    programs included, so it may take much longer than a pass should. Then the pass goes on
    ("still uploading") and the confirmation keeps running; the next pass waits for that one
    first (never a second one at once on the same drive), then asks again for its own files.
    """
    deadline = time.monotonic() + timeout if math.isfinite(timeout) else math.inf
    while True:  # looked at and started under one lock: two jobs never start two at once
        with _confirms_lock:
            running = _confirms.get(drive.mountpoint)
            if running is None or running.done.is_set():
                current = _confirms[drive.mountpoint] = _Confirm(drive, progress)
                break
            running.progress = progress
        if not running.wait(deadline, stop):
            return _still_uploading(timeout, stop)
    if not current.wait(deadline, stop):
        return _still_uploading(timeout, stop)
    return current.reason


def _still_uploading(timeout: float, stop: threading.Event) -> str:
    if stop.is_set():
        return "the pass was stopped before the drive had uploaded everything; the next pass checks again."
    return (
        f"the drive is still uploading after {timeout:.0f} s (files written into it by other programs count "
        "too); the files are in the drive's cache, and the next pass checks again."
    )


def as_sync_drive(drive: object) -> SyncDrive:
    """``drive`` itself when it is a :class:`SyncDrive`; a controller wrapped in
    :class:`ControllerDrive`; a path as a :class:`FolderDrive`."""
    if isinstance(drive, SyncDrive):
        return drive
    if isinstance(drive, (str, os.PathLike)):
        return FolderDrive(drive)
    if all(
        hasattr(drive, name) for name in ("backend", "mountpoint", "root", "refresh", "readonly", "holds")
    ):
        return ControllerDrive(drive)  # type: ignore[arg-type]
    raise TypeError(
        f"keep_synced needs a drive (a DriveController, a SyncDrive or a folder path), not {drive!r}"
    )
