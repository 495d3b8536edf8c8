"""The running keep-synced jobs of this process: one per (local folder, drive folder).

Running a cell again must show the job that already runs, never start a second one writing
the same files, so :func:`keep_synced` returns the running job for the same pair of
folders. The registry also makes the final passes when the kernel exits (``atexit``,
bounded by :data:`EXIT_TIMEOUT`), and registers each job as an unmount hold of its
controller, so an unmount makes a final pass first.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from typing import Any

from ..errors import Busy, InvalidPath, NotMounted, StaleMount, TransferBusy, from_os_error
from ..status.mounttable import is_within
from ..text import printable
from .drive import ControllerDrive, SyncDrive, as_sync_drive
from .job import SyncJob
from .options import SyncOptions
from .paths import drive_target, local_folder

__all__ = ["EXIT_TIMEOUT", "adopt_jobs", "keep_synced", "stop_all", "sync_jobs"]

EXIT_TIMEOUT = 30.0
"""Seconds the final passes at kernel exit may take, all jobs together: long enough for a
few checkpoints over a cloud mount, short enough that closing a notebook never hangs."""

_jobs: dict[tuple[str, str], SyncJob] = {}
_lock = threading.Lock()
_atexit_registered = False


def keep_synced(
    drive: object,
    local: str | os.PathLike[str],
    drive_folder: str | os.PathLike[str],
    *,
    every: float | None = None,
    **options: Any,
) -> SyncJob:
    """Start keeping ``local`` copied into ``drive_folder`` and return the job at once.

    ``drive``: a :class:`~drivewidget.controller.DriveController`, a
    :class:`~drivewidget.sync.drive.SyncDrive`, or a folder path. ``drive_folder`` is
    relative to the drive's root (or absolute inside the drive) and is created if missing;
    ``local`` is created if missing. ``every``: seconds between passes (default 60). Options:
    see :class:`~drivewidget.sync.options.SyncOptions` (``settle``, ``mirror_deletes``,
    ``confirm_uploads``...).

    If a job already keeps the same two folders in sync, that job is returned instead of
    starting a second one, with ``every`` and the options given here applied from its next
    pass (a cell run again with a changed option means the change; options not given keep
    their values). Raises :class:`NotMounted` /
    :class:`StaleMount` when the drive cannot be used now, :class:`InvalidPath` for bad
    folders, :class:`TransferBusy` when another job writes into the same drive folder.
    """
    sync_drive = as_sync_drive(drive)
    opts = SyncOptions.from_kwargs(every=every, **options)
    state = sync_drive.refresh()
    if state == "stale":
        raise StaleMount(
            "The drive does not answer (a stale mount): unmount it and mount it again, then start keeping "
            f"{printable(os.fspath(local))} in sync."
        )
    if state != "mounted":
        raise NotMounted(
            f"The drive is {state}: mount it first, then start keeping {printable(os.fspath(local))} in sync."
        )
    if isinstance(sync_drive, ControllerDrive) and sync_drive.controller.holds.closing:
        raise Busy("The drive is being unmounted. Mount it again, then start keeping a folder in sync.")
    if not sync_drive.writable:
        raise InvalidPath(
            "The drive is mounted read-only, so nothing can be kept in sync into it. Mount it writable first."
        )
    base, rel = drive_target(sync_drive, drive_folder)
    source = local_folder(sync_drive, local)
    dest = os.path.join(base, rel) if rel else base
    with _lock:
        existing = _jobs.get((source, dest))
    if existing is not None and existing.running:
        given = {k: v for k, v in {"every": every, **options}.items() if v is not None}
        existing.configure(existing.options.replace(**given))
        if isinstance(sync_drive, ControllerDrive):  # asked again through another controller
            _share_if_same_drive(existing, sync_drive)
        return existing
    with _lock:
        for (_, other_dest), job in _jobs.items():
            if is_within(dest, other_dest) or is_within(other_dest, dest):
                raise TransferBusy(
                    f"Another job is already {job.describe()}: two jobs writing into the same drive folder "
                    "would overwrite each other's files. Stop it first (job.stop()), or choose another folder."
                )
        try:
            os.makedirs(source, exist_ok=True)
        except OSError as exc:
            raise from_os_error(
                exc, doing="create the local folder", path=printable(source), area="this machine's disk"
            ) from exc
        job = SyncJob(sync_drive, source, base, rel, opts, on_stopped=_forget)
        if isinstance(sync_drive, ControllerDrive):
            job.attach_hold(sync_drive.controller, sync_drive.controller.holds.add(job))
        _jobs[(source, dest)] = job
        _register_atexit()
    return job.start()


def sync_jobs(drive: object = None) -> list[SyncJob]:
    """The running jobs, oldest first (a look: it changes nothing). With ``drive``: for a
    controller, the jobs whose final pass its unmount makes (started through it, or shared
    with it by :func:`adopt_jobs` or :func:`keep_synced`); for a SyncDrive, those syncing
    through it; for a folder path, those writing into the drive mounted there."""
    with _lock:
        jobs = list(_jobs.values())
    if drive is None:
        return jobs
    if isinstance(drive, (str, os.PathLike)):
        drive = os.path.abspath(os.fspath(drive))
        return [job for job in jobs if job.drive.mountpoint == drive]
    return [job for job in jobs if job.drive is drive or _drive_of(job) is drive or job.held_by(drive)]


def adopt_jobs(controller: object) -> list[SyncJob]:
    """Share with ``controller`` the running jobs of an earlier controller of the same drive
    (same mountpoint, root and backend: a panel's cell run again builds a new controller),
    then return its jobs (:func:`sync_jobs`).

    Sharing is explicit and adds, never moves: the job then also holds ``controller``'s
    unmount (which makes its final pass) and syncs through it from its next pass, while the
    earlier controllers keep their hold, so whichever unmounts the drive makes the final
    pass. Jobs on another backend at the same mountpoint are left alone."""
    drive = as_sync_drive(controller)
    if isinstance(drive, ControllerDrive):
        for job in sync_jobs():
            _share_if_same_drive(job, drive)
    return sync_jobs(controller)


def _share_if_same_drive(job: SyncJob, new: ControllerDrive) -> None:
    if job.held_by(new.controller) or not isinstance(job.drive, ControllerDrive):
        return
    old, ctrl = job.drive.controller, new.controller
    if (
        old.mountpoint == ctrl.mountpoint
        and old.root == ctrl.root
        and type(old.backend) is type(ctrl.backend)
        and _describe(old.backend) == _describe(ctrl.backend)
    ):
        job.share(new, ctrl, ctrl.holds.add(job))


def _describe(backend: object) -> str:
    describe = getattr(backend, "describe", None)
    return str(describe()) if callable(describe) else repr(backend)


def stop_all(flush: bool = True, timeout: float | None = None) -> list[str]:
    """Stop every job (with a final pass each, sharing ``timeout``); lines saying what happened."""
    deadline = None if timeout is None else time.monotonic() + timeout
    lines: list[str] = []
    for job in sync_jobs():
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        lines.extend(job.before_unmount(left if left is not None else 3600.0) if flush else [])
        if not flush:
            job.stop(flush=False)
    return lines


def _drive_of(job: SyncJob) -> object:
    drive: SyncDrive = job.drive
    return drive.controller if isinstance(drive, ControllerDrive) else drive


def _forget(job: SyncJob) -> None:
    with _lock:
        for key, value in list(_jobs.items()):
            if value is job:
                del _jobs[key]


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True


def _at_exit() -> None:
    """Kernel exit: a final pass of every job, bounded, saying so on stderr."""
    if not sync_jobs():
        return
    sys.stderr.write(f"drivewidget: final keep-in-sync pass before exit (at most {EXIT_TIMEOUT:.0f} s)...\n")
    for line in stop_all(flush=True, timeout=EXIT_TIMEOUT):
        sys.stderr.write(f"drivewidget: {line}\n")
    sys.stderr.flush()
