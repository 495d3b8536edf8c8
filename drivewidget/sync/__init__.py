"""Keep a local folder copied to the drive while a long run writes it (``ctrl.keep_synced``).

    job = ctrl.keep_synced("/content/run", "projects/mnist/run", every=60)   # returns at once
    job.state, job.last_synced, job.pending      # observable (traitlets)
    job.sync_now()                               # one pass now; a TransferResult
    job.stop(flush=True)                         # a final pass, then stop
    ctrl.sync_jobs                               # the running jobs

A file is copied only when it has been quiet for a short settle time and unchanged across
the copy; each copy goes to a hidden temporary name on the drive and is renamed over the
old file, so the drive never holds a torn file. Changes are noticed by inotify
(watchfiles), with periodic scans as the safety net; an unmount and the kernel's exit make
a final pass first. Modules: :mod:`.registry` (start, find, stop jobs), :mod:`.job` (the
background job), :mod:`.syncpass` (one pass), :mod:`.drive_side` (writes on the drive),
:mod:`.local_tree`, :mod:`.ledger`, :mod:`.watcher`, :mod:`.options`, :mod:`.paths`,
:mod:`.drive`.
"""

from __future__ import annotations

from .drive import ControllerDrive, FolderDrive, SyncDrive
from .job import SyncJob
from .options import SyncOptions
from .registry import adopt_jobs, keep_synced, stop_all, sync_jobs

__all__ = [
    "ControllerDrive",
    "FolderDrive",
    "SyncDrive",
    "SyncJob",
    "SyncOptions",
    "adopt_jobs",
    "keep_synced",
    "stop_all",
    "sync_jobs",
]
