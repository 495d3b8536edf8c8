"""The local side of a keep-synced job: what files there are, and when each was last changed.

A file is described by its :class:`Stamp` (size, modification and change times). It is
*quiet* once neither time has moved for the settle time: the change time (``ctime``) cannot
be set by a program, so a writer that puts an old modification time back (``cp -p``,
``rsync -t``) still counts as recent. Only regular files are synced; symbolic links,
sockets, FIFOs and devices are listed as skipped (a drive cannot hold them, and opening a
FIFO would block).
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field

from ..transfer.files import TEMP_RE

__all__ = ["LocalScan", "Stamp", "scan", "stamp_of"]


@dataclass(frozen=True)
class Stamp:
    """What identifies one version of a local file."""

    size: int
    mtime_ns: int
    ctime_ns: int

    def quiet_at(self, settle: float) -> float:
        """Wall-clock time from which the file counts as quiet (no change for ``settle`` s)."""
        return max(self.mtime_ns, self.ctime_ns) / 1e9 + settle

    def quiet(self, settle: float, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.quiet_at(settle)


def stamp_of(st: os.stat_result) -> Stamp:
    return Stamp(st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass
class LocalScan:
    """Regular files under a folder (relative path -> stamp), its folders, and what was left out."""

    files: dict[str, Stamp] = field(default_factory=dict)
    folders: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)
    """Relative paths that are not regular files or folders (links, FIFOs, ...)."""
    errors: list[str] = field(default_factory=list)
    """Folders that could not be listed, in words."""


def scan(root: str, rel: str = "", into: LocalScan | None = None) -> LocalScan:
    """Everything under ``root/rel`` (``rel`` itself included when it is a folder).

    Raises ``FileNotFoundError`` only when ``root`` itself is missing.
    """
    result = into if into is not None else LocalScan()
    if rel:
        result.folders.add(rel)
    stack = [rel]
    while stack:
        folder = stack.pop()
        path = os.path.join(root, folder) if folder else root
        try:
            with os.scandir(path) as entries:
                listed = list(entries)
        except FileNotFoundError:
            if not folder:
                raise
            continue  # removed while we looked
        except OSError as exc:
            if not folder:
                raise
            result.errors.append(
                f"{folder}: cannot be listed ({exc.strerror or exc}); its files are not synced."
            )
            continue
        for entry in listed:
            if TEMP_RE.match(entry.name):
                continue
            child = os.path.join(folder, entry.name) if folder else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                result.files[child] = stamp_of(st)
            elif stat.S_ISDIR(st.st_mode):
                result.folders.add(child)
                stack.append(child)
            else:
                result.skipped.append(child)
    return result


def lstat(root: str, rel: str) -> os.stat_result | None:
    try:
        return os.lstat(os.path.join(root, rel))
    except (FileNotFoundError, NotADirectoryError):
        return None
