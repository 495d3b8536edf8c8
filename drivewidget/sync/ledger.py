"""What a keep-synced job knows to be on the drive: for each file, the local version it
stands for, and what the job itself wrote there (if it wrote it).

A pass compares local stamps with the ledger instead of with the drive, so a pass that finds
ten changed files touches the drive for those ten only. The ledger starts empty and is filled
by the first pass from one listing of the drive folder (files already identical there are not
copied again), and checked again the same way by the safety-net scans.

Two stamps per file, kept apart: the local one says which local version the drive's file
stands for (so it is not copied again); the drive one (:class:`DriveStamp`) says what the
job itself committed there. Only files with a drive stamp were put there by the job, so
only they may be deleted with ``mirror_deletes``, and only while the drive's file still
matches that stamp (a collaborator's later edit is never deleted).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from ..transfer.files import same_mtime
from .local_tree import Stamp

__all__ = ["DriveStamp", "Ledger"]


@dataclass(frozen=True)
class DriveStamp:
    """What one file the job committed looks like on the drive: size, modification time
    and inode (0 when the drive does not give stable ones)."""

    size: int
    mtime_ns: int
    ino: int = 0

    def matches(self, st: os.stat_result | None) -> bool:
        """Whether ``st`` (a stat of the drive's file, links not followed) is still the
        version the job wrote: a regular file of the same size, modification time (at the
        drive's precision) and, where both are known, inode."""
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_size != self.size:
            return False
        if not same_mtime(st.st_mtime_ns, self.mtime_ns):
            return False
        return not (self.ino and st.st_ino and st.st_ino != self.ino)


@dataclass(frozen=True)
class _Entry:
    local: Stamp
    written: DriveStamp | None


class Ledger:
    """Relative path -> the :class:`Stamp` of the local version now on the drive, and the
    :class:`DriveStamp` of what the job wrote there (None: found there, not written)."""

    def __init__(self) -> None:
        self._known: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    def __contains__(self, rel: object) -> bool:
        return rel in self._known

    def get(self, rel: str) -> Stamp | None:
        entry = self._known.get(rel)
        return entry.local if entry is not None else None

    def written(self, rel: str) -> DriveStamp | None:
        """What the job itself committed at ``rel`` (None: nothing, or not by this job)."""
        entry = self._known.get(rel)
        return entry.written if entry is not None else None

    def up_to_date(self, rel: str, stamp: Stamp) -> bool:
        entry = self._known.get(rel)
        return entry is not None and entry.local == stamp

    def record(self, rel: str, stamp: Stamp, written: DriveStamp | None = None) -> None:
        """``rel`` stands for the local version ``stamp``; ``written``: what the job
        committed there (None when the job found it there or left the drive's copy)."""
        with self._lock:
            self._known[rel] = _Entry(stamp, written)

    def forget(self, rel: str) -> Stamp | None:
        with self._lock:
            entry = self._known.pop(rel, None)
        return entry.local if entry is not None else None

    def under(self, rel: str) -> list[str]:
        """Known files at ``rel`` or inside the folder ``rel``."""
        prefix = rel + os.sep
        with self._lock:
            return [k for k in self._known if k == rel or k.startswith(prefix)]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._known))
