"""What a keep-synced job knows to be on the drive: for each file, the local version it copied.

A pass compares local stamps with the ledger instead of with the drive, so a pass that finds
ten changed files touches the drive for those ten only. The ledger starts empty and is filled
by the first pass from one listing of the drive folder (files already identical there are not
copied again), and checked again the same way by the safety-net scans.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

from .local_tree import Stamp

__all__ = ["Ledger"]


class Ledger:
    """Relative path -> the :class:`Stamp` of the local version now on the drive (thread-safe)."""

    def __init__(self) -> None:
        self._known: dict[str, Stamp] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    def __contains__(self, rel: object) -> bool:
        return rel in self._known

    def get(self, rel: str) -> Stamp | None:
        return self._known.get(rel)

    def up_to_date(self, rel: str, stamp: Stamp) -> bool:
        return self._known.get(rel) == stamp

    def record(self, rel: str, stamp: Stamp) -> None:
        with self._lock:
            self._known[rel] = stamp

    def forget(self, rel: str) -> Stamp | None:
        with self._lock:
            return self._known.pop(rel, None)

    def under(self, rel: str) -> list[str]:
        """Known files at ``rel`` or inside the folder ``rel``."""
        prefix = rel + os.sep
        with self._lock:
            return [k for k in self._known if k == rel or k.startswith(prefix)]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._known))
