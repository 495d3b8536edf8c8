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

from ..errors import InvalidPath, NotMounted, StaleMount, TransferBusy, from_os_error
from ..status.mounttable import is_within
from ..text import printable
from .drive import ControllerDrive, SyncDrive, as_sync_drive
from .job import SyncJob
from .options import SyncOptions
from .paths import drive_target, local_folder

__all__ = ["EXIT_TIMEOUT", "keep_synced", "stop_all", "sync_jobs"]

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
    every: float = 60.0,
    **options: Any,
) -> SyncJob:
    """Start keeping ``local`` copied into ``drive_folder`` and return the job at once.

    ``drive``: a :class:`~drivewidget.controller.DriveController`, a
    :class:`~drivewidget.sync.drive.SyncDrive`, or a folder path. ``drive_folder`` is
    relative to the drive's root (or absolute inside the drive) and is created if missing;
    ``local`` is created if missing. Options: see :class:`~drivewidget.sync.options.SyncOptions`
    (``settle``, ``mirror_deletes``, ``confirm_uploads``...).

    If a job already keeps the same two folders in sync, that job is returned (with
    ``every`` updated) instead of starting a second one. Raises :class:`NotMounted` /
    :class:`StaleMount` when the drive cannot be used now, :class:`InvalidPath` for bad
    folders, :class:`TransferBusy` when another job writes into the same drive folder.
    """
    sync_drive = as_sync_drive(drive)
    opts = SyncOptions.from_kwargs(every=every, **options)
    state = sync_drive.refresh()
    if state != "mounted":
        kind = StaleMount if state == "stale" else NotMounted
        raise kind(
            f"The drive is {state}: mount it first, then start keeping {printable(os.fspath(local))} in sync."
        )
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
        if existing.every != opts.every:
            existing.every = opts.every
        sync_jobs(drive)  # a new controller of the same drive adopts it
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
            job.attach_hold(sync_drive.controller.holds.add(job))
        _jobs[(source, dest)] = job
        _register_atexit()
    return job.start()


def sync_jobs(drive: object = None) -> list[SyncJob]:
    """The running jobs, oldest first; with ``drive`` (a controller, SyncDrive or folder)
    those writing into it. A controller adopts the jobs of an earlier controller of the
    same mountpoint (a panel's cell run again): their unmount hold moves to it."""
    with _lock:
        jobs = list(_jobs.values())
    if drive is None:
        return jobs
    if isinstance(drive, (str, os.PathLike)):
        drive = os.path.abspath(os.fspath(drive))
        return [job for job in jobs if job.drive.mountpoint == drive]
    mine = []
    for job in jobs:
        if _drive_of(job) is drive or job.drive is drive:
            mine.append(job)
        elif _same_mount(job, drive):
            _adopt(job, drive)
            mine.append(job)
    return mine


def _same_mount(job: SyncJob, drive: object) -> bool:
    mountpoint = getattr(drive, "mountpoint", None)
    return isinstance(mountpoint, str) and job.drive.mountpoint == mountpoint and hasattr(drive, "holds")


def _adopt(job: SyncJob, controller: object) -> None:
    """Move ``job`` to ``controller`` (same mountpoint): its drive, and its unmount hold."""
    new = as_sync_drive(controller)
    if isinstance(new, ControllerDrive):
        job.rebind(new, new.controller.holds.add(job))


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
