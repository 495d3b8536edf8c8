"""How a keep-synced job works: its settings, checked once, with the reasons for the defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..transfer.options import CopyOptions

__all__ = ["SyncOptions"]


@dataclass(frozen=True)
class SyncOptions:
    """Settings of :func:`~drivewidget.sync.keep_synced` (all keyword arguments there)."""

    every: float = 60.0
    """Seconds between passes (a pass with nothing changed touches neither disk nor drive)."""
    settle: float = 0.5
    """A file is copied only once its size and times have not changed for this long. Training
    loops rewrite checkpoints every couple of seconds with a second or two of quiet between
    writes, so this must stay well below a second or busy files would never be copied."""
    settle_wait: float = 5.0
    """How long a pass waits for files that are being written to become quiet (then the next
    pass takes them), so a checkpoint rewritten every few seconds still makes every pass."""
    unsettled_after: float = 120.0
    """A file that has not been quiet for this long (and at least 3 passes) is reported in
    ``job.unsettled``: it changes too often to ever be copied whole."""
    mirror_deletes: bool = False
    """Delete on the drive what was deleted locally: only files this job wrote there, and
    only while the drive still holds the version it wrote (a file changed there since is
    kept, and the pass says so), and folders left empty. Off by default: a local deletion
    never costs the drive's copy."""
    confirm_uploads: bool = True
    """After a pass that copied something, wait until the drive has uploaded it, so that
    ``last_synced`` means "in the cloud", not just "in the mount's cache". A pass waits at
    most ``max(every, CONFIRM_FLOOR)`` (the queue holds other programs' files too); a longer
    upload is reported as still uploading and the next pass checks again. A final pass and
    ``sync_now`` wait for it (within their own timeout)."""
    rescan_every: float = 600.0
    """Seconds between safety-net scans (every local file, and the drive folder's listing),
    which catch what change notifications missed and copies deleted on the drive. Stretched
    to 200 times a scan's duration, so a huge folder costs at most 0.5 % of a core."""
    workers: int = 8
    """Files copied at once (a cloud's round trips overlap)."""
    verify: bool = True
    """Read each copy back (from the temporary file) and compare it with what was read locally."""
    fsync: bool = True
    """Flush each file before it is renamed into place."""
    overwrite_newer: bool = False
    """Replace drive files that are newer than the local file (someone changed them there)."""

    def __post_init__(self) -> None:
        for name in ("every", "settle", "settle_wait", "unsettled_after", "rescan_every"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0 or value != value:
                raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")
        if self.every < 0.05:
            raise ValueError(f"every must be at least 0.05 s, not {self.every!r}")
        CopyOptions(workers=self.workers)  # the same bounds as other transfers

    def copy_options(self) -> CopyOptions:
        """The options of each pass's :class:`~drivewidget.transfer.Transfer`."""
        return CopyOptions(
            workers=self.workers,
            verify=self.verify,
            fsync=self.fsync,
            overwrite_newer=self.overwrite_newer,
            symlinks="skip",
        )

    def replace(self, **changes: Any) -> SyncOptions:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> SyncOptions:
        """The defaults with ``kwargs`` applied; unknown names raise ``TypeError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(
                f"unknown keep_synced option(s): {', '.join(unknown)} (known: {', '.join(sorted(names))})"
            )
        return cls(**{k: v for k, v in kwargs.items() if v is not None})
