"""Touch a shared, untrusted drive safely: the one layer every read and write of it goes through.

A drive folder is shared with collaborators, so any name on it may be a symlink to
``/etc``, a FIFO, ``/dev/zero``, a huge or changing file, or a folder swapped for a link
between a check and its use. Checking a path string and then using it is therefore never
enough. The functions here work on *open descriptors* instead:

* folders are walked one name at a time relative to a directory descriptor
  (``openat`` with ``O_NOFOLLOW | O_DIRECTORY``), so a symlink anywhere below the starting
  folder is refused (``links="refuse"``) or followed only when what it leads to is
  inside the drive (``links="inside"``: checked on the opened descriptor, never on a
  path string, so swapping a folder for a link after the check changes nothing);
* files are opened ``O_NONBLOCK`` (a FIFO can never block the open), checked with
  ``fstat`` to be regular files, and only then switched back to blocking reads;
* what is read to be parsed is capped (:data:`MAX_READ`), and reading stops there;
* writes go to an exclusive temporary file with a random name in the target folder
  (``O_CREAT | O_EXCL | O_NOFOLLOW`` relative to the folder's descriptor), are fsynced,
  and replace the target with ``renameat`` (which never follows a link at the target);
* "is it inside the drive" is answered for an open descriptor, from the kernel's own
  path of it (``/proc/self/fd``), or by walking ``..`` and comparing (device, inode);
* :class:`Visited` remembers (device, inode) of folders entered while following links,
  so loops and diamonds are entered once.

The starting point (``base``: a path or a directory descriptor) is trusted: it is the
drive's root, the mountpoint, or a folder the user named on local disk, and it is opened
following links like any path the user types. Everything *below* it is untrusted.

None of these calls has a deadline of its own: on a FUSE mount run them under
:func:`drivewidget.status.probe.bounded` (or on a worker that may be abandoned).
Errors are ``OSError`` with an errno, so callers map them to messages as they map any
filesystem error: ``ELOOP`` a symlink that is not followed, ``EXDEV`` a link leading
outside the drive, ``EINVAL`` a FIFO, socket or device where a regular file is needed (or
a bad name), ``EFBIG`` a file over the read cap.

API (stable; the sync and transfer code use it)::

    split_relative(rel) -> tuple[str, ...]          check a relative path, split it in names
    open_dir(base, rel="", *, links="refuse", area=None, create=False) -> int   (O_PATH fd)
    open_listable(dir_fd) -> int                    a readable fd of a folder, for os.scandir
    stat_at(dir_fd, name, *, links="refuse", area=None) -> stat    (never opens for reading)
    open_file_at(dir_fd, name, *, links, area) -> (fd, stat)     one name in an open folder
    open_file(base, rel, *, links="refuse", area=None) -> (fd, stat)           (regular only)
    read_bytes(base, rel, *, limit=MAX_READ, links="refuse", area=None) -> bytes
    write_atomic(base, rel, data, *, mode=0o600) -> None
    temp_file(dir_fd, *, prefix, suffix, mode) -> (fd, name)      exclusive, random name
    real_path(fd) -> str                              the kernel's path of an open fd
    is_inside(fd, area) -> bool                       fd is ``area`` or below it
    Visited().first(st) -> bool                       (dev, ino) not seen before
    printable(text) -> str                            a name fit for a message
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from typing import Literal

from .text import printable

__all__ = [
    "MAX_READ",
    "Links",
    "Visited",
    "is_inside",
    "open_dir",
    "open_file",
    "open_file_at",
    "open_listable",
    "opened",
    "printable",
    "read_bytes",
    "real_path",
    "split_relative",
    "stat_at",
    "temp_file",
    "temp_name",
    "write_atomic",
]

Links = Literal["refuse", "inside", "follow"]
"""How symlinks *below* the starting folder are treated: ``refuse`` them (ELOOP), follow them
only when they lead ``inside`` the area (EXDEV otherwise), or ``follow`` them anywhere (only
for trusted local folders)."""

MAX_READ = 1 << 20
"""Bytes read at most from a file that is parsed (settings): a link to /dev/zero or a 10 GB
file planted on the drive must not fill memory."""
MAX_NAME_BYTES = 255
TEMP_TRIES = 32

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
_PATH = getattr(os, "O_PATH", os.O_RDONLY)
_DIR = _PATH | os.O_DIRECTORY | _CLOEXEC
"""Folders are held with ``O_PATH``: no FUSE open/release round trip, no read permission
needed; enough for ``openat``, ``mkdirat``, ``renameat``, ``fstatat`` and ``fchdir``."""
_PROC_FD = "/proc/self/fd"


# -- names -----------------------------------------------------------------------------


def split_relative(rel: str | os.PathLike[str]) -> tuple[str, ...]:
    """``"a/b/c"`` -> ``("a", "b", "c")``; ``""`` and ``"."`` -> ``()``.

    Raises ``OSError(EINVAL)`` for an absolute path, a ``..`` name, a NUL, or a name over
    255 bytes: the result names a place *below* the starting folder, by construction.
    """
    text = os.fspath(rel)
    if "\0" in text:
        raise OSError(errno.EINVAL, "a path cannot contain a NUL character", printable(text))
    if os.path.isabs(text):
        raise OSError(errno.EINVAL, "an absolute path where a path inside the drive is needed", text)
    names = tuple(name for name in text.split(os.sep) if name not in ("", os.curdir))
    for name in names:
        if name == os.pardir:
            raise OSError(errno.EINVAL, "'..' cannot be used in a path inside the drive", text)
        if len(os.fsencode(name)) > MAX_NAME_BYTES:
            raise OSError(errno.ENAMETOOLONG, "a name is longer than 255 bytes", text)
    return names


# -- where a descriptor is -------------------------------------------------------------


def real_path(fd: int) -> str:
    """The kernel's path of an open descriptor ("" when /proc is not available)."""
    with contextlib.suppress(OSError):
        path = os.readlink(f"{_PROC_FD}/{fd}")
        if path.startswith(os.sep):
            return path
    return ""


def is_inside(fd: int, area: str | int) -> bool:
    """Whether the open ``fd`` is the folder ``area`` (a trusted path or fd) or below it.

    Decided from the descriptors, not from path strings a collaborator can change: the
    kernel's path of each (``/proc/self/fd``), else by walking ``..`` up from ``fd`` until
    the area's (device, inode) or the filesystem root is reached.
    """
    area_fd = os.open(area, _DIR) if isinstance(area, str) else area
    try:
        here, top = real_path(fd), real_path(area_fd)
        if here and top:
            here = here.removesuffix(" (deleted)")
            return here == top or here.startswith(top.rstrip(os.sep) + os.sep)
        return _inside_by_inode(fd, os.fstat(area_fd))
    finally:
        if isinstance(area, str):
            os.close(area_fd)


def _inside_by_inode(fd: int, area: os.stat_result) -> bool:
    target = (area.st_dev, area.st_ino)
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) == target:
        return True
    current = os.open("..", _DIR, dir_fd=fd) if stat.S_ISDIR(st.st_mode) else -1
    if current < 0:
        return False  # a file's folder cannot be found from the file itself without /proc
    try:
        for _ in range(4096):
            st = os.fstat(current)
            if (st.st_dev, st.st_ino) == target:
                return True
            parent = os.open("..", _DIR, dir_fd=current)
            pst = os.fstat(parent)
            os.close(current)
            current = parent
            if (pst.st_dev, pst.st_ino) == (st.st_dev, st.st_ino):
                return False  # the filesystem root: its '..' is itself
        return False
    finally:
        os.close(current)


class Visited:
    """(device, inode) of folders already entered: follow links into each folder once.

    Thread-safe; ``first(st)`` is True the first time a folder is seen.
    """

    def __init__(self) -> None:
        self._seen: set[tuple[int, int]] = set()
        self._lock = threading.Lock()

    def first(self, st: os.stat_result) -> bool:
        key = (st.st_dev, st.st_ino)
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            return True

    def __contains__(self, st: object) -> bool:
        return isinstance(st, os.stat_result) and (st.st_dev, st.st_ino) in self._seen


# -- folders ---------------------------------------------------------------------------


def _open_base(base: str | int) -> int:
    """A new descriptor of the trusted starting folder (a path is followed like any typed path)."""
    if isinstance(base, int):
        return os.open(".", _DIR, dir_fd=base)
    return os.open(base, _DIR)


def _area_fd(base_fd: int, area: str | int | None) -> tuple[int, bool]:
    """A descriptor of the area links must stay inside (default: the starting folder), and
    whether the caller must close it."""
    if area is None:
        return os.open(".", _DIR, dir_fd=base_fd), True
    if isinstance(area, int):
        return area, False
    return os.open(area, _DIR), True


def open_dir(
    base: str | int,
    rel: str | os.PathLike[str] | tuple[str, ...] = "",
    *,
    links: Links = "refuse",
    area: str | int | None = None,
    create: bool = False,
    mode: int = 0o777,
) -> int:
    """Open folder ``rel`` below ``base`` one name at a time; returns an ``O_PATH`` descriptor.

    A name that is a symlink: ``links="refuse"`` raises ``OSError(ELOOP)``; ``"inside"``
    follows it and raises ``OSError(EXDEV)`` unless the folder reached is inside ``area``
    (default: ``base``); ``"follow"`` follows it anywhere. A file where a folder is needed
    raises ``NotADirectoryError``. ``create`` makes missing folders (``mkdirat``, ``mode``).
    The caller closes the descriptor.
    """
    names = rel if isinstance(rel, tuple) else split_relative(rel)
    fd = _open_base(base)
    area_fd, own_area = (-1, False) if links != "inside" else _area_fd(fd, area)
    try:
        for name in names:
            child = _open_child_dir(fd, name, links, area_fd, create, mode)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise
    finally:
        if own_area:
            os.close(area_fd)


def _open_child_dir(parent: int, name: str, links: Links, area_fd: int, create: bool, mode: int) -> int:
    try:
        return os.open(name, _DIR | _NOFOLLOW, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
        with contextlib.suppress(FileExistsError):  # made meanwhile: opened (and checked) below
            os.mkdir(name, mode, dir_fd=parent)
        return os.open(name, _DIR | _NOFOLLOW, dir_fd=parent)
    except (NotADirectoryError, OSError) as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "Not a folder", name) from None
        return _follow(parent, name, links, area_fd, _DIR)


def _follow(parent: int, name: str, links: Links, area_fd: int, flags: int) -> int:
    """Open the symlink ``name`` in ``parent`` through the link, as ``links`` allows."""
    if links == "refuse":
        raise OSError(errno.ELOOP, "a symbolic link (not followed)", name)
    fd = os.open(name, flags, dir_fd=parent)
    if links == "inside" and not is_inside(fd, area_fd):
        where = real_path(fd)
        os.close(fd)
        raise OSError(
            errno.EXDEV, f"leads outside the drive{f' (to {printable(where)})' if where else ''}", name
        )
    return fd


def stat_at(
    dir_fd: int, name: str, *, links: Links = "refuse", area: str | int | None = None
) -> os.stat_result:
    """``stat`` of ``name`` in the open folder ``dir_fd``: of a symlink itself with
    ``links="refuse"``; else of what it leads to (``"inside"``: EXDEV unless inside ``area``,
    default ``dir_fd``). Never opens the file for reading (``O_PATH``), so a FIFO is harmless."""
    if links == "refuse":
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    area_fd, own = (-1, False) if links != "inside" else _area_fd(dir_fd, area)
    try:
        try:
            fd = os.open(name, _PATH | _CLOEXEC | _NOFOLLOW, dir_fd=dir_fd)
            st = os.fstat(fd)
            os.close(fd)
            if not stat.S_ISLNK(st.st_mode):
                return st
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
        fd = _follow(dir_fd, name, links, area_fd, _PATH | _CLOEXEC)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)
    finally:
        if own:
            os.close(area_fd)


def open_listable(dir_fd: int) -> int:
    """A readable descriptor of the folder ``dir_fd`` (``O_PATH`` ones cannot be listed):
    pass it to ``os.scandir`` and close it afterwards."""
    return os.open(".", os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC, dir_fd=dir_fd)


@contextlib.contextmanager
def opened(fd: int) -> Iterator[int]:
    """Close ``fd`` when the block ends."""
    try:
        yield fd
    finally:
        os.close(fd)


# -- files -----------------------------------------------------------------------------


def _split_file(rel: str | os.PathLike[str] | tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    names = rel if isinstance(rel, tuple) else split_relative(rel)
    if not names:
        raise OSError(
            errno.EINVAL, "no file name given", os.fspath(rel) if not isinstance(rel, tuple) else ""
        )
    return names[:-1], names[-1]


def open_file(
    base: str | int,
    rel: str | os.PathLike[str] | tuple[str, ...],
    *,
    links: Links = "refuse",
    area: str | int | None = None,
) -> tuple[int, os.stat_result]:
    """Open the regular file ``rel`` below ``base`` for reading; returns ``(fd, fstat)``.

    Folders on the way are walked as :func:`open_dir` does (``links`` and ``area`` apply to
    the file's own name too). Opened non-blocking, so a FIFO cannot hang the open, then
    checked with ``fstat``: anything but a regular file raises ``OSError(EINVAL)``.
    """
    folders, name = _split_file(rel)
    parent = open_dir(base, folders, links=links, area=area)
    try:
        return open_file_at(parent, name, links=links, area=area if area is not None else base)
    finally:
        os.close(parent)


def open_file_at(
    dir_fd: int, name: str, *, links: Links = "refuse", area: str | int | None = None
) -> tuple[int, os.stat_result]:
    """:func:`open_file` for one ``name`` in the open folder ``dir_fd``."""
    flags = os.O_RDONLY | _CLOEXEC | _NONBLOCK | _NOCTTY
    try:
        fd = os.open(name, flags | _NOFOLLOW, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno != errno.ELOOP or links == "refuse":
            raise
        area_fd, own = _area_fd(dir_fd, area)
        try:
            fd = _follow(dir_fd, name, links, area_fd, flags)
        finally:
            if own:
                os.close(area_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"not a regular file ({_kind(st.st_mode)})", name)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def read_bytes(
    base: str | int,
    rel: str | os.PathLike[str] | tuple[str, ...],
    *,
    limit: int = MAX_READ,
    links: Links = "refuse",
    area: str | int | None = None,
) -> bytes:
    """The content of the regular file ``rel`` below ``base``, at most ``limit`` bytes.

    A bigger file (or one that grows past ``limit`` while read) raises ``OSError(EFBIG)``
    without reading more than ``limit + 1`` bytes.
    """
    fd, st = open_file(base, rel, links=links, area=area)
    try:
        if st.st_size > limit:
            raise OSError(
                errno.EFBIG,
                f"larger than {limit} bytes",
                os.fspath(rel) if not isinstance(rel, tuple) else "",
            )
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise OSError(
                errno.EFBIG,
                f"larger than {limit} bytes",
                os.fspath(rel) if not isinstance(rel, tuple) else "",
            )
        return b"".join(chunks)
    finally:
        os.close(fd)


# -- writing ---------------------------------------------------------------------------


def temp_name(prefix: str = ".tmp-", suffix: str = "", random_bytes: int = 8) -> str:
    """A random name (``random_bytes`` of randomness, 64 bits by default) nobody can plant a
    file under in advance."""
    return f"{prefix}{secrets.token_hex(random_bytes)}{suffix}"


def temp_file(
    dir_fd: int, *, prefix: str = ".tmp-", suffix: str = "", mode: int = 0o600, random_bytes: int = 8
) -> tuple[int, str]:
    """Create a new, empty file with a random name in the open folder ``dir_fd`` (like
    ``tempfile.mkstemp``, relative to a descriptor): ``O_CREAT | O_EXCL | O_NOFOLLOW``, so
    nothing that exists (a planted link, a FIFO) is ever opened. Returns ``(fd, name)``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _NOCTTY
    for _ in range(TEMP_TRIES):
        name = temp_name(prefix, suffix, random_bytes)
        try:
            return os.open(name, flags, mode, dir_fd=dir_fd), name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name (too many tries)", prefix)


def write_atomic(
    base: str | int,
    rel: str | os.PathLike[str] | tuple[str, ...],
    data: bytes,
    *,
    mode: int = 0o600,
    links: Links = "refuse",
    area: str | int | None = None,
) -> None:
    """Replace the file ``rel`` below ``base`` with ``data``, atomically, with ``mode``.

    Written to an exclusive temporary file in the same folder, fsynced, given ``mode``
    (whatever the umask), then renamed over the target: readers see the old or the new
    content, never a mix; a symlink (or anything else) at the target is replaced, never
    written through; a hard link to the target elsewhere keeps the old content.
    """
    folders, name = _split_file(rel)
    parent = open_dir(base, folders, links=links, area=area)
    try:
        fd, tmp = temp_file(parent, prefix=f".{name[:200]}.", suffix=".tmp", mode=mode)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fchmod(fd, mode)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=parent)
            raise
        with contextlib.suppress(OSError):  # the rename itself, durable where it can be
            listable = open_listable(parent)
            try:
                os.fsync(listable)
            finally:
                os.close(listable)
    finally:
        os.close(parent)
