"""Read the kernel's mount table (``/proc/self/mountinfo``).

Reading this file never touches the mounted filesystems, so it stays fast even when a
FUSE daemon hangs; it is the source of truth for "is something mounted here".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class MountEntry:
    """One line of mountinfo: where, what filesystem type, from which source."""

    mountpoint: str
    fstype: str
    fsroot: str
    """The folder of the source filesystem that is mounted (a bind mount's source)."""
    source: str
    options: str

    @property
    def readonly(self) -> bool:
        return "ro" in self.options.split(",")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[MountEntry]:
    """Parse mountinfo text; later entries stack on earlier ones at the same path."""
    entries = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 6 or len(tail) < 2:
            continue
        entries.append(
            MountEntry(
                mountpoint=_unescape(fields[4]),
                fstype=tail[0],
                fsroot=_unescape(fields[3]),
                source=_unescape(tail[1]),
                options=fields[5],
            )
        )
    return entries


def read_mounts(path: Path = MOUNTINFO) -> list[MountEntry]:
    """All current mounts, in mount order."""
    try:
        return parse_mountinfo(path.read_text(encoding="utf-8", errors="surrogateescape"))
    except OSError:
        return []


def find_mount(
    mountpoint: str | os.PathLike[str], path: Path = MOUNTINFO, *, table: Sequence[MountEntry] | None = None
) -> MountEntry | None:
    """The topmost mount at exactly ``mountpoint`` (no filesystem access), or None.

    ``table``: entries already read (one command reads the table once and passes it on)."""
    target = os.path.abspath(os.fspath(mountpoint))
    found = None
    for entry in read_mounts(path) if table is None else table:
        if entry.mountpoint == target:
            found = entry
    return found


def is_within(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``folder`` or below it, by path text alone (no filesystem access).

    An empty path (an unreadable working directory) is nowhere: never resolved against a
    working directory that may have been deleted.
    """
    if not os.fspath(path) or not os.fspath(folder):
        return False
    p, f = os.path.abspath(os.fspath(path)), os.path.abspath(os.fspath(folder))
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)
