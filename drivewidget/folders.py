"""The drive's folders without widgets: list them fast and safely, check a choice, create one.

Everything here reads the untrusted drive through :mod:`drivewidget.drivefs` (folders
opened one name at a time relative to a descriptor, symlinks followed only while they stay
inside the drive), and none of it has a deadline of its own: on a FUSE mount run it under
:func:`drivewidget.status.probe.bounded`. Errors are ``OSError`` with an errno; callers turn
them into messages with :func:`drivewidget.errors.from_os_error`.

Listing. On a FUSE mount of a cloud drive every ``stat`` is a round trip to the FUSE
daemon (and, for a folder not seen yet, to the cloud). ipyfilechooser 0.6.0 lists a folder
with ``os.listdir`` and then one ``os.path.isdir`` per entry, so a folder of 10,000 files
costs 10,000 stats. Here a folder is listed with ONE ``os.scandir`` pass over an open
descriptor and each entry's type comes from the directory entry itself (``d_type``), so a
regular entry costs no ``stat`` at all. Only entries whose type the filesystem did not
report (``DT_UNKNOWN``, where ``DirEntry`` does one ``lstat``) and symlinks (one check of
where they lead) cost a call; a symlink counts as a folder only when it leads to a folder
inside the area being browsed.

Huge folders are capped (:data:`DEFAULT_LIMIT` names shown, the totals reported, so the
UI can say "showing 1,000 of 10,200 — type a name to filter" or page), and a small cache
keyed by path avoids listing a folder the user has not changed again: an entry is reused
while the folder's own ``mtime``/inode are unchanged (one ``fstat`` of the folder, never
one per entry) and it is younger than ``ttl`` (changes made on another machine do not
always move a FUSE folder's mtime, so entries also expire).

Names are handled as ``str`` with Python's surrogate escapes, exactly as ``os.scandir``
returns them, and never pass through a shell; :func:`drivewidget.text.display_name` turns
one into text that is safe to send to a browser.

Layering::

    scan_folder(path, area=)     one fstat of the folder + one scandir pass -> Scan
    ListingCache.scan(path)      Scan, reused while valid (mtime, inode, expiry)
    make_listing(scan, ...)      filter hidden / by name, sort, cap, page -> Listing
    list_folder(path, ...)       the three together
    check_folder(path, area)     an existing folder inside ``area`` (links followed inside only)
    name_problem(name)           why ``name`` cannot be a new folder's name, or ""
    make_folder(parent, name, area)   mkdir relative to the parent's descriptor
    shared_drives_folder(root)   where Shared drives sit beside the root, if anywhere
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fnmatch
import functools
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from . import drivefs

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_TTL",
    "MAX_NAME_BYTES",
    "SHARED_DRIVE_NAMES",
    "Listing",
    "ListingCache",
    "Scan",
    "check_folder",
    "list_folder",
    "make_folder",
    "make_listing",
    "name_problem",
    "open_folder",
    "scan_folder",
    "shared_cache",
    "shared_drives_folder",
]

DEFAULT_LIMIT = 1000
"""Names shown at most per page: a Select with more is slow to render and useless to scroll."""
DEFAULT_TTL = 30.0
"""Seconds a cached listing is trusted even when the folder's mtime has not moved."""
RACY_WINDOW = 2.0
"""A folder modified this close to (or after) its listing may have changed within the same
timestamp tick (FUSE mtimes can be as coarse as a second), so its mtime proves nothing."""
MAX_NAME_BYTES = drivefs.MAX_NAME_BYTES
SHARED_DRIVE_NAMES = ("Shareddrives", "Shared drives")
"""How Colab (``<mountpoint>/Shareddrives``) and rclone users name the shared-drives folder."""


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


@contextlib.contextmanager
def open_folder(path: str | os.PathLike[str], area: str | os.PathLike[str] | None = None) -> Iterator[int]:
    """An ``O_PATH`` descriptor of the folder ``path``, closed when the block ends.

    With ``area`` (the drive's root, trusted), ``path`` must lie inside it and is opened one
    name at a time from there, following a symlink only while it stays inside ``area``
    (``EXDEV`` otherwise); without, ``path`` itself is the trusted starting point.
    """
    target = os.path.abspath(os.fspath(path))
    if area is None:
        fd = drivefs.open_dir(target)
    else:
        top = os.path.abspath(os.fspath(area))
        rel = os.path.relpath(target, top)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise OSError(errno.EXDEV, "is outside the drive", target)
        fd = drivefs.open_dir(top, "" if rel == os.curdir else rel, links="inside", area=top)
    try:
        yield fd
    finally:
        os.close(fd)


def scan_folder(
    path: str | os.PathLike[str],
    st: os.stat_result | None = None,
    *,
    area: str | os.PathLike[str] | None = None,
) -> Scan:
    """List ``path`` in one ``os.scandir`` pass over its descriptor; no ``stat`` per regular entry.

    ``area``: see :func:`open_folder`; a symlink counts as a folder only when it leads to a
    folder inside ``area`` (default: ``path`` itself). ``st`` is the folder's own stat if the
    caller already has it (taken *before* the scan, so a change during the scan shows up as
    a new mtime next time). Raises ``OSError``.
    """
    with open_folder(path, area) as fd:
        return _scan_open(os.path.abspath(os.fspath(path)), fd, st, area)


def _scan_open(path: str, fd: int, st: os.stat_result | None, area: str | os.PathLike[str] | None) -> Scan:
    wall, mono = time.time(), time.monotonic()
    if st is None:
        st = os.fstat(fd)
    folders: list[str] = []
    files: list[str] = []
    inside: str | int = os.fspath(area) if area is not None else fd
    with drivefs.opened(drivefs.open_listable(fd)) as listable, os.scandir(listable) as entries:
        for entry in entries:
            name = entry.name
            try:
                # d_type known: no syscall. DT_UNKNOWN: DirEntry does one lstat (cached).
                if entry.is_dir(follow_symlinks=False):
                    folders.append(name)
                elif entry.is_symlink():  # answered from d_type / the lstat above
                    (folders if _link_is_folder(fd, name, inside) else files).append(name)
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


def _link_is_folder(fd: int, name: str, area: str | int) -> bool:
    """A symlink is a folder for browsing only when it leads to a folder inside ``area``
    (one look through the link; broken, looping or leading-out links are not)."""
    try:
        return stat.S_ISDIR(drivefs.stat_at(fd, name, links="inside", area=area).st_mode)
    except OSError:
        return False


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

    Validation costs opening the folder and one ``fstat`` of it. Thread-safe: a scan that finishes
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

    def scan(
        self,
        path: str | os.PathLike[str],
        *,
        refresh: bool = False,
        area: str | os.PathLike[str] | None = None,
    ) -> tuple[Scan, bool]:
        """Return ``(scan, from_cache)`` for ``path``; ``refresh`` forces a new listing.

        ``area`` as for :func:`scan_folder`; the folder is opened (and so checked) each time.
        """
        key = os.path.abspath(os.fspath(path))
        with open_folder(key, area) as fd:
            st = os.fstat(fd)
            with self._lock:
                old = self._scans.get(key)
            if old is not None and not refresh and self._valid(old, st):
                with self._lock:
                    if key in self._scans:
                        self._scans.move_to_end(key)
                return old, True
            started = self._clock()
            # _scan_open stamps time.monotonic(); re-stamp with our clock (tests drive expiry).
            new = dataclasses.replace(_scan_open(key, fd, st, area), scanned_at=started)
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
    area: str | os.PathLike[str] | None = None,
) -> Listing:
    """List a folder fast: one scandir pass (or a valid cached one), filtered and capped.

    Without ``cache`` the folder is scanned afresh. Raises ``OSError`` (run it under
    :func:`drivewidget.status.probe.bounded` when the folder may be on a hung mount).
    """
    if cache is None:
        scan, hit = scan_folder(path, area=area), False
    else:
        scan, hit = cache.scan(path, refresh=refresh, area=area)
    return make_listing(
        scan,
        dirs_only=dirs_only,
        show_hidden=show_hidden,
        name_filter=name_filter,
        limit=limit,
        offset=offset,
        from_cache=hit,
    )


# -- checks and changes ----------------------------------------------------------------


def check_folder(path: str | os.PathLike[str], area: str | os.PathLike[str]) -> str:
    """``path`` (absolute, normalised) if it is an existing folder inside ``area``, reached
    without a symlink that leads out; raises ``OSError`` (``ENOENT``, ``ENOTDIR``, ``EXDEV``...)."""
    with open_folder(path, area):
        return os.path.abspath(os.fspath(path))


def name_problem(name: str) -> str:
    """Why ``name`` cannot be a new folder's name (in words that say what to do), or ""."""
    if not name or not name.strip():
        return "Type a name for the new folder."
    if name in (os.curdir, os.pardir):
        return f"{name!r} is not a folder name. Choose another name."
    if os.sep in name or (os.altsep and os.altsep in name):
        return "A folder name cannot contain '/'. Create one folder at a time."
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "A folder name cannot contain control characters such as a line break or NUL."
    try:
        size = len(os.fsencode(name))
    except UnicodeError:
        return "That name cannot be written as a file name. Choose another name."
    if size > MAX_NAME_BYTES:
        return f"That name is too long ({size} bytes; the limit is {MAX_NAME_BYTES})."
    return ""


def make_folder(parent: str | os.PathLike[str], name: str, area: str | os.PathLike[str]) -> str:
    """Create folder ``name`` in ``parent`` (inside ``area``) with ``mkdirat`` on the parent's
    descriptor, never through a path string a collaborator could swap; returns its path.

    Raises ``ValueError`` (with :func:`name_problem`'s words) for a bad name, ``OSError``
    otherwise (``EEXIST`` when anything, a dangling link included, has that name).
    """
    problem = name_problem(name)
    if problem:
        raise ValueError(problem)
    with open_folder(parent, area) as fd:
        os.mkdir(name, 0o777, dir_fd=fd)
    return os.path.join(os.path.abspath(os.fspath(parent)), name)


def shared_drives_folder(root: str | os.PathLike[str]) -> str | None:
    """The Shared drives folder beside or inside ``root`` (Colab: ``<mp>/Shareddrives`` beside
    ``<mp>/MyDrive``), or None. ``root`` and its parent are the trusted mount itself."""
    root_path = os.path.abspath(os.fspath(root))
    places = [root_path]
    if os.path.basename(root_path) == "MyDrive":
        places.insert(0, os.path.dirname(root_path))
    for place in places:
        for name in SHARED_DRIVE_NAMES:
            candidate = os.path.join(place, name)
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.stat(candidate, follow_symlinks=False).st_mode):
                    return candidate
    return None
