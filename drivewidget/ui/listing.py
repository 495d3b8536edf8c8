"""Fast folder listings for network filesystems (no widgets here).

On a FUSE mount of a cloud drive every ``stat`` is a round trip to the FUSE daemon (and,
for a folder not seen yet, to the cloud). ipyfilechooser 0.6.0 lists a folder with
``os.listdir`` and then one ``os.path.isdir`` per entry, so a folder of 10,000 files costs
10,000 stats. This module lists a folder with ONE ``os.scandir`` pass and takes each
entry's type from the directory entry itself (``d_type``, which ``readdir`` returns with
the names), so a regular entry costs no ``stat`` at all. Only entries whose type the
filesystem did not report (``DT_UNKNOWN``, where Python's ``DirEntry`` does one ``lstat``)
and symlinks (one ``stat`` to see whether they lead to a folder) cost a call.

Huge folders are capped (:data:`DEFAULT_LIMIT` names shown, the totals reported, so the
UI can say "showing 1,000 of 10,200 — type a name to filter" or page), and a small cache
keyed by path avoids listing a folder the user has not changed again: an entry is reused
while the folder's own ``mtime``/inode are unchanged (one ``stat`` of the folder, never
one per entry) and it is younger than ``ttl`` (changes made on another machine do not
always move a FUSE folder's mtime, so entries also expire).

Names are handled as ``str`` with Python's surrogate escapes, exactly as ``os.scandir``
returns them, and never pass through a shell; :func:`display_name` turns one into text
that is safe to send to a browser (undecodable bytes shown as ``\\xff``).

Layering::

    scan_folder(path)            one stat of the folder + one scandir pass -> Scan
    ListingCache.scan(path)      Scan, reused while valid (mtime, inode, expiry)
    make_listing(scan, ...)      filter hidden / by name, sort, cap, page -> Listing
    list_folder(path, ...)       the three together
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_TTL",
    "Listing",
    "ListingCache",
    "Scan",
    "display_name",
    "list_folder",
    "make_listing",
    "safe_text",
    "scan_folder",
    "shared_cache",
]

DEFAULT_LIMIT = 1000
"""Names shown at most per page: a Select with more is slow to render and useless to scroll."""
DEFAULT_TTL = 30.0
"""Seconds a cached listing is trusted even when the folder's mtime has not moved."""
RACY_WINDOW = 2.0
"""A folder modified this close to (or after) its listing may have changed within the same
timestamp tick (FUSE mtimes can be as coarse as a second), so its mtime proves nothing."""


def _sort_key(name: str) -> tuple[str, str]:
    return (name.casefold(), name)


@dataclass(frozen=True)
class Scan:
    """Everything one ``scandir`` pass learnt about a folder (hidden names included)."""

    path: str
    folders: tuple[str, ...]
    """Sub-folders (and symlinks to folders), sorted case-insensitively."""
    raw_files: tuple[str, ...]
    """Everything else (files, broken symlinks, sockets, ...), in directory order."""
    mtime_ns: int
    ino: int
    dev: int
    scanned_at: float
    """``time.monotonic()`` when the scan began (for the cache's expiry)."""
    scanned_wall: float
    """``time.time()`` when the scan began (compared with the folder's mtime)."""
    hidden_files: int = 0
    """How many of ``files`` are hidden (so a folders-only view need not filter them)."""

    @functools.cached_property
    def files(self) -> tuple[str, ...]:
        """``raw_files`` sorted like ``folders``; sorted on first use, so a folders-only view
        of a folder of 10,000 files never pays for sorting them."""
        return tuple(sorted(self.raw_files, key=_sort_key))

    @property
    def total(self) -> int:
        return len(self.folders) + len(self.raw_files)


def scan_folder(path: str | os.PathLike[str], st: os.stat_result | None = None) -> Scan:
    """List ``path`` in one ``os.scandir`` pass; no ``stat`` per regular entry.

    ``st`` is the folder's own stat if the caller already has it (taken *before* the scan,
    so a change during the scan shows up as a new mtime next time). Raises ``OSError``.
    """
    path = os.fspath(path)
    wall, mono = time.time(), time.monotonic()
    if st is None:
        st = os.stat(path)
    folders: list[str] = []
    files: list[str] = []
    with os.scandir(path) as entries:
        for entry in entries:
            name = entry.name
            try:
                # d_type known: no syscall. DT_UNKNOWN: DirEntry does one lstat (cached).
                if entry.is_dir(follow_symlinks=False):
                    folders.append(name)
                elif entry.is_symlink():  # answered from d_type / the lstat above
                    try:
                        is_folder = entry.is_dir()  # one stat, through the link
                    except OSError:
                        is_folder = False  # broken or looping link: not a folder
                    (folders if is_folder else files).append(name)
                else:
                    files.append(name)
            except FileNotFoundError:
                continue  # removed while we were listing
            except OSError:
                files.append(name)  # its type cannot be read (DT_UNKNOWN + failing lstat)
    folders.sort(key=_sort_key)
    return Scan(
        hidden_files=sum(1 for name in files if name.startswith(".")),
        path=path,
        folders=tuple(folders),
        raw_files=tuple(files),
        mtime_ns=st.st_mtime_ns,
        ino=st.st_ino,
        dev=st.st_dev,
        scanned_at=mono,
        scanned_wall=wall,
    )


@dataclass(frozen=True)
class Listing:
    """One page of a folder as a UI shows it: folders first, then files."""

    path: str
    folders: tuple[str, ...]
    """Folders on this page."""
    files: tuple[str, ...]
    """Files on this page (always empty for ``dirs_only``)."""
    total_folders: int
    """Folders that match (hidden and name filters applied), on every page."""
    total_files: int
    """Files that match (0 for ``dirs_only``)."""
    offset: int
    limit: int
    name_filter: str = ""
    dirs_only: bool = False
    files_not_shown: int = 0
    """With ``dirs_only``: how many (non-hidden) files the folder holds besides."""
    from_cache: bool = False

    @property
    def shown(self) -> int:
        return len(self.folders) + len(self.files)

    @property
    def total(self) -> int:
        return self.total_folders + self.total_files

    @property
    def capped(self) -> bool:
        """Whether some matching names are not on this page."""
        return self.shown < self.total

    @property
    def has_more(self) -> bool:
        return self.offset + self.shown < self.total

    def summary(self) -> str:
        """What a UI should say about this page: why names are missing, or nothing."""
        what = "folders" if self.dirs_only else "entries"
        if self.capped:
            first = f"{self.offset + 1:,}-{self.offset + self.shown:,}" if self.offset else f"{self.shown:,}"
            hint = "refine the filter" if self.name_filter else "type a name to filter"
            return f"Showing {first} of {self.total:,} {what} — {hint}."
        if self.total == 0:
            if self.name_filter:
                return f"No {what} match {self.name_filter!r}."
            return f"No {what} here."
        if self.name_filter:
            return f"{self.total:,} {what} match {self.name_filter!r}."
        return ""


def _matcher(name_filter: str) -> Callable[[str], bool]:
    needle = name_filter.casefold()
    if any(ch in needle for ch in "*?["):
        return lambda name: fnmatch.fnmatchcase(name.casefold(), needle)
    return lambda name: needle in name.casefold()


def make_listing(
    scan: Scan,
    *,
    dirs_only: bool = False,
    show_hidden: bool = False,
    name_filter: str = "",
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    from_cache: bool = False,
) -> Listing:
    """Filter (hidden names, ``name_filter``), cap and page a scan; touches no filesystem.

    ``name_filter`` matches case-insensitively as a substring, or as a glob when it holds
    ``*``, ``?`` or ``[``. ``limit`` <= 0 means no cap.
    """
    folders: list[str] | tuple[str, ...] = scan.folders
    files: list[str] | tuple[str, ...] = ()
    files_not_shown = 0
    if dirs_only:  # count the files left out without sorting or walking them
        files_not_shown = len(scan.raw_files) - (0 if show_hidden else scan.hidden_files)
    else:
        files = scan.files
    if not show_hidden:
        folders = [n for n in folders if not n.startswith(".")]
        files = [n for n in files if not n.startswith(".")]
    name_filter = name_filter.strip()
    if name_filter:
        match = _matcher(name_filter)
        folders = [n for n in folders if match(n)]
        files = [n for n in files if match(n)]
    offset = max(0, offset)
    stop = offset + limit if limit > 0 else None
    page_folders = tuple(folders[offset:stop])
    file_start = max(0, offset - len(folders))
    file_stop = None if stop is None else max(0, stop - len(folders))
    page_files = tuple(files[file_start:file_stop])
    return Listing(
        path=scan.path,
        folders=page_folders,
        files=page_files,
        total_folders=len(folders),
        total_files=len(files),
        offset=offset,
        limit=limit,
        name_filter=name_filter,
        dirs_only=dirs_only,
        files_not_shown=files_not_shown,
        from_cache=from_cache,
    )


class ListingCache:
    """Scans by folder path, reused while the folder is unchanged and younger than ``ttl``.

    Validation costs one ``stat`` of the folder itself. Thread-safe: a scan that finishes
    on a probe thread after its caller gave up still lands here, so the next try is fast.
    """

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        maxsize: int = 64,
        racy_window: float = RACY_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self.racy_window = racy_window
        self._clock = clock
        self._scans: OrderedDict[str, Scan] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._scans)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and os.path.abspath(path) in self._scans

    def scan(self, path: str | os.PathLike[str], *, refresh: bool = False) -> tuple[Scan, bool]:
        """Return ``(scan, from_cache)`` for ``path``; ``refresh`` forces a new listing."""
        key = os.path.abspath(os.fspath(path))
        st = os.stat(key)
        with self._lock:
            old = self._scans.get(key)
        if old is not None and not refresh and self._valid(old, st):
            with self._lock:
                if key in self._scans:
                    self._scans.move_to_end(key)
            return old, True
        started = self._clock()
        # scan_folder stamps time.monotonic(); re-stamp with our clock (tests drive expiry).
        new = dataclasses.replace(scan_folder(key, st), scanned_at=started)
        with self._lock:
            self._scans[key] = new
            self._scans.move_to_end(key)
            while len(self._scans) > self.maxsize:
                self._scans.popitem(last=False)
        return new, False

    def invalidate(self, path: str | os.PathLike[str] | None = None) -> None:
        """Forget ``path`` (and the folders below it), or everything when ``path`` is None."""
        with self._lock:
            if path is None:
                self._scans.clear()
                return
            key = os.path.abspath(os.fspath(path))
            prefix = key.rstrip(os.sep) + os.sep
            for cached in [k for k in self._scans if k == key or k.startswith(prefix)]:
                del self._scans[cached]

    def _valid(self, scan: Scan, st: os.stat_result) -> bool:
        if self._clock() - scan.scanned_at >= self.ttl:
            return False
        if (st.st_mtime_ns, st.st_ino, st.st_dev) != (scan.mtime_ns, scan.ino, scan.dev):
            return False
        # Modified within the racy window before the scan began: a later change in the
        # same timestamp tick would leave the mtime as it is, so do not trust it.
        return scan.scanned_wall - st.st_mtime_ns / 1e9 >= self.racy_window


shared_cache = ListingCache()
"""The cache choosers share unless given their own."""


def list_folder(
    path: str | os.PathLike[str],
    *,
    dirs_only: bool = False,
    show_hidden: bool = False,
    name_filter: str = "",
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    cache: ListingCache | None = None,
    refresh: bool = False,
) -> Listing:
    """List a folder fast: one scandir pass (or a valid cached one), filtered and capped.

    Without ``cache`` the folder is scanned afresh. Raises ``OSError`` (run it under
    :func:`drivewidget.status.probe.bounded` when the folder may be on a hung mount).
    """
    if cache is None:
        scan, hit = scan_folder(path), False
    else:
        scan, hit = cache.scan(path, refresh=refresh)
    return make_listing(
        scan,
        dirs_only=dirs_only,
        show_hidden=show_hidden,
        name_filter=name_filter,
        limit=limit,
        offset=offset,
        from_cache=hit,
    )


_CONTROL = {i: f"\\x{i:02x}" for i in [*range(0x20), 0x7F]}


def display_name(name: str) -> str:
    """Text safe to send to a browser for a file name from ``os.scandir``.

    Undecodable bytes (kept by Python as surrogate escapes, which JSON cannot carry) are
    shown as ``\\xff``; control characters such as a newline as ``\\x0a``.
    """
    return safe_text(name).translate(_CONTROL)


def safe_text(text: str) -> str:
    """``text`` (a message that may quote file names) with undecodable bytes shown as ``\\xff``,
    so it can be sent to a browser; line breaks are kept."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is not an escape
        return text.encode("utf-8", "backslashreplace").decode("ascii")
