"""Stage drive data to local disk and sync results back: the drive's path rules, then the engine.

``stage`` copies a folder (or file) of the mounted drive to this machine's disk, where
reading is fast; ``sync_back`` copies results from local disk into the drive and, by
default, waits until the drive has uploaded them. Both validate their paths first and
raise a :class:`~drivewidget.errors.DriveError` that says what to do:

* the drive must be mounted (:class:`NotMounted`) and answering (:class:`StaleMount`);
* the drive side must be inside ``controller.root`` (relative paths are taken from the
  root; links on it are followed only inside it), the local side must not be on the
  drive, however it gets there (a link into the drive counts) (:class:`InvalidPath`);
* ``sync_back`` needs a writable mount (:class:`InvalidPath`);
* one transfer per destination at a time (:class:`TransferBusy`).

The ``start_*`` forms return a running :class:`~drivewidget.transfer.Transfer` at
once (the panel renders its progress and offers ``cancel()``); the plain forms wait and
return the :class:`~drivewidget.transfer.TransferResult`. Ctrl-C while waiting
cancels cleanly.

The controller is reached only through the small :class:`~.drive.Drive` protocol (this
module never imports it); the unmount guard is a hold registered with it.

``start_*`` never waits for the drive longer than a status refresh (0.5 s): it checks the
mount state and the paths as text at once (raising at once), and the checks that must
touch the drive (does the source exist, does it lead outside the drive) run first thing
in the background, with a deadline, so a slow or hung mount never blocks a button
callback. Their errors come out of ``wait()`` (and ``Transfer.error``), like every error
that stops a transfer.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .. import drivefs
from .._env import current_dir
from ..errors import Busy, DriveError, InvalidPath, NotMounted, StaleMount, from_os_error
from ..status.mounttable import find_mount, is_within
from ..status.probe import bounded
from ..text import printable
from ..timeouts import FS_TIMEOUT
from ..userpaths import given_path, names_the_drive
from .drive import Drive, unconfirmed_text
from .engine import copy_engine
from .handle import DoneCallback, ProgressCallback, Transfer
from .handle import active_transfers as _active_transfers
from .options import CopyOptions, TransferResult
from .start import start_copy, wait_interruptibly

T = TypeVar("T")
_DIR = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC

__all__ = ["active_transfers", "stage", "start_stage", "start_sync_back", "sync_back"]

_HELD: weakref.WeakSet[Any] = weakref.WeakSet()
_HELD_LOCK = threading.Lock()


class _RunningTransfers:
    """The unmount guard of one controller's transfers: unmounting under a copy is refused."""

    def __init__(self, controller: Drive) -> None:
        self._controller = weakref.ref(controller)

    def __call__(self) -> None:
        controller = self._controller()
        running = _active_transfers(controller) if controller is not None else []
        if running:
            raise Busy(
                f"Cannot unmount while {running[0].describe()} is running. Cancel it or wait for it to finish."
            )


def _hold_unmount(controller: Drive) -> None:
    """Register (once per controller) the guard that keeps the drive mounted under a copy."""
    with _HELD_LOCK:
        if controller not in _HELD:
            _HELD.add(controller)
            controller.holds.add_guard(_RunningTransfers(controller))


def start_stage(
    controller: Drive,
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    on_progress: ProgressCallback | None = None,
    on_done: DoneCallback | None = None,
    cancel_event: threading.Event | None = None,
    **options: Any,
) -> Transfer:
    """Start copying ``src`` (on the drive) to ``dest`` (local disk) in the background.

    ``src`` is relative to ``controller.root`` unless absolute. A folder's contents go into
    ``dest`` (created if missing); running again skips files that are already identical,
    so it also resumes an interrupted run. ``options``: see
    :class:`~drivewidget.transfer.CopyOptions` (``workers``, ``checksum``, ``verify``,
    ``fsync``, ``symlinks``, ``reserve``, ``retries``).
    """
    opts = CopyOptions.from_kwargs(**options)
    root = _require_mounted(controller, "staging")
    _hold_unmount(controller)
    source = _drive_path(controller, root, src, "the folder or file on the drive to stage")
    target = _local_path(controller, dest, "the local folder to stage into")
    into_folder = given_path(dest, "the local folder to stage into").endswith(os.sep)

    engine = copy_engine(src_area=root)

    def run(transfer: Transfer) -> None:
        is_dir = _check_drive_source(controller, root, source)
        target_is_dir = _check_local_dest(controller, root, target, is_dir)
        if not is_dir and (into_folder or target_is_dir):
            transfer.dest = os.path.join(target, os.path.basename(source))
        engine(transfer)

    return start_copy(
        source,
        target,
        checked=True,
        engine=run,
        kind="stage",
        options=opts,
        on_progress=on_progress,
        on_done=on_done,
        cancel_event=cancel_event,
        owner=controller,
    )


def stage(
    controller: Drive, src: str | os.PathLike[str], dest: str | os.PathLike[str], **kwargs: Any
) -> TransferResult:
    """Copy ``src`` from the drive to ``dest`` on local disk and return the result (see :func:`start_stage`)."""
    return wait_interruptibly(start_stage(controller, src, dest, **kwargs))


def start_sync_back(
    controller: Drive,
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    flush: bool = True,
    on_progress: ProgressCallback | None = None,
    on_done: DoneCallback | None = None,
    cancel_event: threading.Event | None = None,
    **options: Any,
) -> Transfer:
    """Start copying ``src`` (local disk) to ``dest`` on the drive in the background.

    ``dest`` is relative to ``controller.root`` unless absolute. With ``flush`` (the
    default) the transfer also waits until the drive has uploaded what was copied (phase
    ``flushing``), so the results are safe in the cloud when it is done.
    """
    opts = CopyOptions.from_kwargs(**options)
    root = _require_mounted(controller, "syncing back")
    _hold_unmount(controller)
    if controller.readonly or _mounted_readonly(controller):
        raise InvalidPath(
            f"The drive at {controller.mountpoint} is mounted read-only, so nothing can be copied to it. "
            "Mount it again writable (ctrl.mount(readonly=False, force=True)), then sync back."
        )
    source = _local_path(controller, src, "the local folder or file to sync back")
    try:
        st = os.stat(source)
    except OSError as exc:
        raise from_os_error(exc, doing="open", path=printable(source)) from exc
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        raise InvalidPath(
            f"{printable(source)} is not a regular file or a folder, so it cannot be synced back."
        )
    target = _drive_path(controller, root, dest, "the folder on the drive to sync back into")
    is_dir = stat.S_ISDIR(st.st_mode)
    into_folder = given_path(dest, "the folder on the drive to sync back into").endswith(os.sep)
    backend, mountpoint = controller.backend, controller.mountpoint
    engine = copy_engine(dest_area=root)

    def run(transfer: Transfer) -> None:
        _check_local_source(controller, root, source)
        transfer.dest = _check_drive_dest(controller, root, source, target, is_dir, into_folder)
        engine(transfer)
        if not flush or transfer.stopping or not transfer.progress.files_copied:
            return
        if not backend.confirms_uploads:
            transfer.note_upload_unconfirmed(unconfirmed_text(backend))
            return
        transfer.set_phase("flushing")
        transfer.note_message("waiting for the drive to upload the copied files...")
        try:
            backend.flush(mountpoint, progress=transfer.note_message)
        except DriveError as exc:
            transfer.note_upload_unconfirmed(str(exc))

    return start_copy(
        source,
        target,
        checked=True,
        kind="sync_back",
        options=opts,
        on_progress=on_progress,
        on_done=on_done,
        cancel_event=cancel_event,
        engine=run,
        owner=controller,
    )


def sync_back(
    controller: Drive, src: str | os.PathLike[str], dest: str | os.PathLike[str], **kwargs: Any
) -> TransferResult:
    """Copy ``src`` from local disk to ``dest`` on the drive and return the result (see :func:`start_sync_back`)."""
    return wait_interruptibly(start_sync_back(controller, src, dest, **kwargs))


def active_transfers(controller: Drive | None = None) -> list[Transfer]:
    """Transfers running now (of ``controller`` when given): e.g. to refuse unmounting under them."""
    return _active_transfers(controller)


# -- checks ----------------------------------------------------------------------------


def _require_mounted(controller: Drive, doing: str) -> str:
    if controller.holds.closing:  # a final pass runs before the unmount: the state still says mounted
        raise Busy(f"The drive is being unmounted. Mount it again before {doing}.")
    state = controller.refresh()
    if state == "stale":
        raise StaleMount(f"{controller.describe_state()} Recover it (Unmount, then Mount) before {doing}.")
    if state in ("mounting", "unmounting"):
        raise Busy(f"The drive is {state}. Wait for it to finish, then try {doing} again.")
    if state != "mounted" or not controller.root:
        raise NotMounted(f"The drive is not mounted. Mount it before {doing}.")
    return controller.root


def _mounted_readonly(controller: Drive) -> bool:
    entry = find_mount(controller.mountpoint)
    return entry is not None and entry.readonly


def _drive_path(controller: Drive, root: str, path: str | os.PathLike[str], what: str) -> str:
    raw = given_path(path, what)
    target = os.path.normpath(raw if os.path.isabs(raw) else os.path.join(root, raw))
    if not is_within(target, root):
        raise InvalidPath(
            f"{printable(target)} is outside the drive. Give {what} under {printable(root)} (or relative to it)."
        )
    return target


def _local_path(controller: Drive, path: str | os.PathLike[str], what: str) -> str:
    raw = given_path(path, what)
    if not os.path.isabs(raw) and not current_dir():
        raise InvalidPath(
            f"The working directory was deleted, so the relative path {printable(raw)} means nothing: "
            f"give {what} as an absolute path, or choose a folder first."
        )
    target = os.path.abspath(raw)
    if names_the_drive(target, controller.mountpoint, controller.root):
        raise InvalidPath(
            f"{printable(target)} is on the drive; give {what} on this machine's disk, outside "
            f"{printable(controller.mountpoint)} (for example under {printable(os.path.expanduser('~'))})."
        )
    return target


def _bounded(controller: Drive, path: str, fn: Callable[[], T]) -> T:
    """Run a check that touches the drive with a deadline; its OSError as a DriveError."""
    result = bounded(controller.mountpoint, fn, FS_TIMEOUT)
    if result.timed_out:
        raise StaleMount(
            f"The drive is not responding: {printable(path)} could not be opened within {FS_TIMEOUT:g} s. "
            "Check the connection; if it stays stuck, unmount and mount again."
        )
    if result.error is not None:
        exc = result.error
        where = printable(path) if exc.errno == errno.EXDEV else f"{printable(path)} on the drive"
        raise from_os_error(
            exc, doing="open", path=where, area=printable(controller.root or controller.mountpoint)
        ) from exc
    return result.value  # type: ignore[return-value]


def _below(root: str, path: str) -> tuple[str, ...]:
    """``path`` (checked as text to be under ``root``) as names below it."""
    rel = os.path.relpath(path, root)
    return () if rel == os.curdir else drivefs.split_relative(rel)


def _check_drive_source(controller: Drive, root: str, source: str) -> bool:
    """The source exists inside the drive (links followed only inside it); True for a folder."""
    names = _below(root, source)

    def look() -> os.stat_result:
        if not names:
            return os.stat(root)
        with drivefs.opened(drivefs.open_dir(root, names[:-1], links="inside")) as parent:
            return drivefs.stat_at(parent, names[-1], links="inside", area=root)

    st = _bounded(controller, source, look)
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        raise InvalidPath(f"{printable(source)} is not a regular file or a folder, so it cannot be staged.")
    return stat.S_ISDIR(st.st_mode)


def _drive_areas(controller: Drive, root: str) -> Iterator[int]:
    """The drive's mountpoint and root, opened: a backend that mounts nothing (a local
    folder used in place) has no mountpoint folder, and its root is the drive."""
    for area in dict.fromkeys((controller.mountpoint, root)):
        if not area:
            continue
        try:
            fd = os.open(area, _DIR)
        except FileNotFoundError:
            continue
        with drivefs.opened(fd):
            yield fd


def _on_drive_really(controller: Drive, root: str, fd: int) -> bool:
    """Whether the open folder ``fd`` is on the drive (by the kernel's path, not by text)."""
    return any(drivefs.is_inside(fd, area) for area in _drive_areas(controller, root))


def _holds_drive(controller: Drive, root: str, fd: int) -> bool:
    """Whether the open folder ``fd`` holds the drive (its mountpoint or root is inside it)."""
    return any(drivefs.is_inside(area, fd) for area in _drive_areas(controller, root))


def _check_local_dest(controller: Drive, root: str, target: str, src_is_dir: bool) -> bool:
    """The local destination can be made, and is not on the drive however it is reached
    (a link into the drive is refused: a stage would copy the drive into itself), nor a
    folder that holds the drive (a source folder named like the mountpoint would be copied
    into the drive). True when it is an existing folder."""

    def look() -> tuple[str, bool, bool, bool]:
        existing = target
        while not os.path.lexists(existing):
            existing = os.path.dirname(existing)
        try:
            fd = os.open(existing, _DIR)
        except NotADirectoryError:
            return existing, False, False, False
        with drivefs.opened(fd):
            holds = existing == target and src_is_dir and _holds_drive(controller, root, fd)
            return existing, True, _on_drive_really(controller, root, fd), holds

    existing, is_dir, on_drive, holds_drive = _bounded(controller, target, look)
    if on_drive:
        raise InvalidPath(
            f"{printable(target)} leads onto the drive (through a symbolic link): give the local folder on "
            f"this machine's disk, outside {printable(controller.mountpoint)}."
        )
    if holds_drive:
        raise InvalidPath(
            f"{printable(target)} holds the drive's mountpoint {printable(controller.mountpoint)}: staging a "
            "folder's contents there could write into the drive. Give a folder of its own, for example "
            f"{printable(os.path.join(target, 'data'))}."
        )
    if existing != target and not is_dir:
        raise InvalidPath(
            f"{printable(existing)} is a file, so {printable(target)} cannot be created. Choose another destination."
        )
    if existing == target and src_is_dir and not is_dir:
        raise InvalidPath(f"{printable(target)} is a file; give a folder to stage the folder into.")
    return existing == target and is_dir


def _check_local_source(controller: Drive, root: str, source: str) -> None:
    """A local source that is really on the drive (through a link), or a folder that holds
    the drive's mountpoint (it would copy the drive into itself), is refused."""

    def look() -> tuple[bool, bool]:
        is_dir = os.path.isdir(source)
        with drivefs.opened(os.open(source if is_dir else os.path.dirname(source), _DIR)) as fd:
            if not is_dir:
                return _on_drive_really(controller, root, fd), False
            return _on_drive_really(controller, root, fd), _holds_drive(controller, root, fd)

    on_drive, holds_drive = _bounded(controller, source, look)
    if on_drive:
        raise InvalidPath(
            f"{printable(source)} leads onto the drive (through a symbolic link): give the local folder or file "
            "to sync back on this machine's disk."
        )
    if holds_drive:
        raise InvalidPath(
            f"{printable(source)} holds the drive's mountpoint {printable(controller.mountpoint)}: syncing it "
            "back would copy the drive into itself. Give the folder of your results."
        )


def _check_drive_dest(
    controller: Drive, root: str, source: str, target: str, src_is_dir: bool, into_folder: bool
) -> str:
    """The destination on the drive can be created inside it; returns the final path (a file into a folder)."""
    names = _below(root, target)

    def look() -> tuple[int, bool]:
        """How many names exist (links followed only inside the drive), and whether the last is a folder."""
        current = drivefs.open_dir(root)
        try:
            for count, name in enumerate(names):
                try:
                    st = drivefs.stat_at(current, name, links="inside", area=root)
                except FileNotFoundError:
                    return count, True
                if not stat.S_ISDIR(st.st_mode):
                    return count + 1, False
                child = drivefs.open_dir(current, (name,), links="inside", area=root)
                os.close(current)
                current = child
            return len(names), True
        finally:
            os.close(current)

    found, is_dir = _bounded(controller, target, look)
    existing = os.path.join(root, *names[:found]) if found else root
    if existing != target and not is_dir:
        raise InvalidPath(
            f"{printable(existing)} is a file, so {printable(target)} cannot be created on the drive."
        )
    if existing == target and src_is_dir and not is_dir:
        raise InvalidPath(
            f"{printable(target)} is a file on the drive; give a folder to sync the folder into."
        )
    if src_is_dir:
        return target
    if into_folder or (existing == target and is_dir):
        return os.path.join(target, os.path.basename(source))
    return target
