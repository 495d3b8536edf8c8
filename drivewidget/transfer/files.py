"""File-level pieces of a copy: temporary names, mtime comparison, whole writes, digests, fsync.

Everything here works on descriptors or on names relative to an open folder, so the copy
engine never follows a path string a collaborator could change under it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading

from .. import drivefs

__all__ = [
    "CHUNK",
    "NEWER_TOLERANCE_NS",
    "TEMP_RE",
    "TEMP_STALE_AFTER",
    "Stopped",
    "digest_at",
    "fsync_dir",
    "same_mtime",
    "temp_name",
    "umask",
    "write_all",
]

CHUNK = 1 << 20
"""Bytes per read and write: large enough that a FUSE round trip is paid per MiB, not per page."""
TEMP_RE = re.compile(r"\.dw-[0-9a-f]{16}\.part\Z")
"""Temporary names: never copied, and removed from destinations once abandoned."""
TEMP_STALE_AFTER = 3600.0
"""A temporary file found at a destination is removed only when nobody has written it for
this long: another machine's copy or keep-synced job may be writing it into the same
folder right now. (A copy's own leftover has a fixed name and is simply overwritten.)"""
NEWER_TOLERANCE_NS = 2_000_000_000
"""A destination file counts as newer only beyond this (clocks of two machines disagree)."""


class Stopped(Exception):
    """The transfer was asked to stop while a file was being read."""


def temp_name(name: str) -> str:
    """The temporary name a file is written under before it is renamed to ``name``.

    Short and fixed-length (any ``name`` up to the 255-byte limit still fits) and the same
    on every run, so a later run overwrites what an interrupted one left.
    """
    digest = hashlib.blake2b(os.fsencode(name), digest_size=8).hexdigest()
    return f".dw-{digest}.part"


def same_mtime(a_ns: int, b_ns: int) -> bool:
    """Whether two modification times are equal at the coarser precision of the two.

    A cloud drive keeps seconds (WebDAV) or milliseconds (Google Drive); a local disk keeps
    nanoseconds. A time that is a whole number of microseconds, milliseconds or seconds is
    taken to have been stored at that precision, and the other is truncated to match.
    """
    if a_ns == b_ns:
        return True
    for unit in (1_000, 1_000_000, 1_000_000_000):
        if (a_ns % unit == 0 or b_ns % unit == 0) and a_ns // unit == b_ns // unit:
            return True
    return False


def umask() -> int:
    """The process umask, read without changing it (``os.umask`` would, for every thread)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` (``os.write`` may write less)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def digest_at(
    dir_fd: int, name: str, stop: threading.Event, *, links: drivefs.Links, area: int | None
) -> bytes:
    """BLAKE2b of the regular file ``name`` in the open folder ``dir_fd`` (never a FIFO or device)."""
    fd, _ = drivefs.open_file_at(dir_fd, name, links=links, area=area)
    h = hashlib.blake2b(digest_size=32)
    try:
        while chunk := os.read(fd, CHUNK):
            if stop.is_set():
                raise Stopped()
            h.update(chunk)
    finally:
        os.close(fd)
    return h.digest()


def fsync_dir(dir_fd: int) -> None:
    """Make the renames in the folder ``dir_fd`` durable, where the filesystem can."""
    with contextlib.suppress(OSError):
        fd = drivefs.open_listable(dir_fd)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
