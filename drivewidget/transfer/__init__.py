"""Stage drive data to local disk and sync results back: fast over FUSE latency, and safe.

    from drivewidget.transfer import stage, sync_back, start_stage
    result = stage(ctrl, "datasets/imagenet-mini", "/content/data")   # waits; returns counts
    job = start_stage(ctrl, "datasets/imagenet-mini", "/content/data")  # background
    job.progress.describe(); job.cancel(); job.wait()

The modules, each with one job:

* :mod:`.options` - the values: :class:`CopyOptions`, :class:`TransferProgress`, :class:`TransferResult`;
* :mod:`.handle` - :class:`Transfer` (progress, callbacks, cancel, wait) and one transfer per destination;
* :mod:`.pool` - the bounded pool of daemon threads that may be abandoned on a hung drive;
* :mod:`.ends`, :mod:`.plan`, :mod:`.engine` - the engine: open both ends, plan, check space,
  copy in parallel, verify, rename into place (every file opened relative to a folder
  descriptor, links on the drive followed only inside it);
* :mod:`.files` - temporary names, mtime comparison, digests;
* :mod:`.start` - :func:`start_copy` / :func:`copy_tree` on any two folders;
* :mod:`.drive`, :mod:`.api` - ``stage`` / ``sync_back`` with the drive's rules, against the
  small :class:`~.drive.Drive` protocol (never the controller class).

The engine copies through the mount, for every backend, with a bounded pool of threads.
It does not delegate to ``rclone copy``: measured on a WebDAV remote with a 40 ms round
trip (``benchmarks/bench_stage.py``), ``rclone copy`` straight from the remote is about
1.5x faster for 2,000 small files when the remote takes parallel requests, equal when the
remote is paced (~100 requests/s) and for large files; a delegated stage would still need
this engine's own listing (free space, what is identical, conflicts), so the gain would be
small, at the price of guarantees ``rclone copy`` does not give (fsync before rename, a
read-back check, file names exactly as the mount shows them, data still in the mount's
upload queue).
"""

from __future__ import annotations

from .api import active_transfers, stage, start_stage, start_sync_back, sync_back
from .errors import NotEnoughSpace, TransferBusy, TransferError
from .handle import Transfer
from .options import DEFAULT_WORKERS, CopyOptions, TransferProgress, TransferResult
from .start import copy_tree, start_copy

__all__ = [
    "DEFAULT_WORKERS",
    "CopyOptions",
    "NotEnoughSpace",
    "Transfer",
    "TransferBusy",
    "TransferError",
    "TransferProgress",
    "TransferResult",
    "active_transfers",
    "copy_tree",
    "stage",
    "start_copy",
    "start_stage",
    "start_sync_back",
    "sync_back",
]
