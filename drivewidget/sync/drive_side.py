"""Every write a keep-synced job makes on the drive goes through here: one small, careful layer.

The drive is untrusted (DESIGN.md): a collaborator may have put a symbolic link, a FIFO or a
file where a folder is expected. So nothing here follows a link or checks a path string once
and uses it later: through :mod:`drivewidget.drivefs`, the destination folder is opened
component by component from the drive's root (``O_PATH | O_NOFOLLOW | O_DIRECTORY``, a
link refused), and every later call is relative to such a
descriptor (``openat``, ``mkdirat``, ``renameat``, ``unlinkat``, ``fstatat`` without
following). A file is written to a hidden temporary name created exclusively in its
destination folder (``.dw-<16 hex digits>.part``: the job's tag, then random digits; matched
by :data:`~drivewidget.transfer.files.TEMP_RE`, so ``stage`` / ``sync_back`` skip it too),
flushed, and only then renamed over the final name, so the drive never holds a torn file
under a real name: a pass cut short leaves the previous complete version, and its temporary
file is removed by the job's next pass (the tag names the job: this machine, the two
folders, so a job started again after kill -9 recognises its own). Another job's temporary
files (another machine may copy into the same folder now) are removed only once nobody has
written them for :data:`TEMP_STALE_AFTER`.

A :class:`DestTree` lives for one pass; it counts its operations on the drive (``ops``),
which tests use to show that a pass touches the drive only for what changed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import socket
import stat
import threading
import time
import zlib
from collections.abc import Callable, Collection, Iterator

from .. import drivefs
from ..errors import InvalidPath
from ..status.mounttable import MountEntry, is_within, read_mounts
from ..text import printable
from ..transfer.files import CHUNK, TEMP_RE, TEMP_STALE_AFTER
from .ledger import DriveStamp

__all__ = ["DestTree", "KeptOnDrive", "TempFile", "is_temp_name"]


class KeptOnDrive(Exception):
    """The drive's file was kept: the commit's ``keep`` check said so (the copy is removed)."""


TEMP_PREFIX, TEMP_SUFFIX = ".dw-", ".part"
TAG_DIGITS, TEMP_HEX_DIGITS = 8, 16  # TEMP_RE: 16 hex digits in all
"""Temporary names are ``.dw-<16 hex digits>.part``: a job's :func:`temp_tag` (8 digits),
then 8 random ones (the file is created exclusively, so nothing planted is ever opened)."""


def temp_tag(local: str, dest: str) -> str:
    """8 hex digits naming one job's temporary files: this machine, the local folder and the
    drive folder. A job started again (after kill -9, or the kernel's restart) has the same
    tag, so its next pass recognises its own leftovers; another machine's job has another."""
    seed = "\0".join((socket.gethostname(), local, dest)).encode("utf-8", "surrogateescape")
    return hashlib.sha256(seed).hexdigest()[:TAG_DIGITS]


def is_temp_name(name: str) -> bool:
    return TEMP_RE.match(name) is not None


def split(rel: str) -> tuple[str, str]:
    """``rel`` as (folder, name): ``"a/b/c.bin"`` -> ``("a/b", "c.bin")``."""
    folder, _, name = rel.rpartition(os.sep)
    return folder, name


class DestTree:
    """The destination folder on the drive, reached through descriptors only (see the module)."""

    def __init__(self, root_fd: int, shown: str, *, stable_inodes: bool = True, tag: str = "") -> None:
        self._fds: dict[str, int] = {"": root_fd}
        self.tag = tag
        """This job's :func:`temp_tag` ("": random names, and only old leftovers removed)."""
        self.stable_inodes = stable_inodes
        """Whether a file keeps its inode number across renames and lookups here (not on
        FUSE drives: rclone numbers a file by the name it was looked up under)."""
        self._lock = threading.Lock()
        self.shown = shown
        """The destination as a path, for messages only (never opened by name again)."""
        self.ops = 0
        """Operations on the drive so far (opens, stats, writes, renames...)."""

    @classmethod
    def open(cls, base: str, rel: str, *, create: bool = True, tag: str = "") -> DestTree:
        """Open ``base/rel`` (``base``: the drive's root or mountpoint, trusted; ``rel`` is
        walked without following links, its missing folders created when ``create``);
        ``tag``: the job's :func:`temp_tag`."""
        fd = drivefs.open_dir(base)
        shown = os.path.join(base, rel) if rel else base
        tree = cls(fd, shown, stable_inodes=stable_inodes(base), tag=tag)
        tree.ops += 1
        try:
            if rel:
                tree._fds[""] = tree._walk(fd, rel, create=create, shown_base=base)
                os.close(fd)
        except BaseException:
            tree.close()
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
        return tree

    def close(self) -> None:
        with self._lock:
            fds, self._fds = list(self._fds.values()), {}
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> DestTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- folders -------------------------------------------------------------------------

    def folder(self, rel_dir: str, *, create: bool = True) -> int:
        """A descriptor of the folder ``rel_dir`` under the destination (cached for the pass)."""
        with self._lock:
            fd = self._fds.get(rel_dir)
            if fd is not None:
                return fd
        parent_rel, name = split(rel_dir)
        parent = self.folder(parent_rel, create=create)
        fd = self._walk(parent, name, create=create, shown_base=os.path.join(self.shown, parent_rel))
        with self._lock:
            if rel_dir in self._fds:  # another thread opened it meanwhile
                os.close(fd)
                return self._fds[rel_dir]
            self._fds[rel_dir] = fd
            return fd

    def _walk(self, start: int, rel: str, *, create: bool, shown_base: str) -> int:
        """Open the folders of ``rel`` one by one below ``start`` (:func:`drivefs.open_dir`:
        no link followed, missing folders made when ``create``); a new ``O_PATH`` descriptor."""
        try:
            names = drivefs.split_relative(rel)
        except OSError as exc:
            raise InvalidPath(f"{printable(rel)}: {exc.strerror}.") from None
        if not names:
            raise InvalidPath(f"{printable(rel)!r} is not a folder name here.")
        self.ops += len(names) * (2 if create else 1)
        try:
            return drivefs.open_dir(start, names, links="refuse", create=create)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                bad = os.fsdecode(exc.filename) if exc.filename else names[-1]
                upto = names[: names.index(bad) + 1] if bad in names else names
                raise InvalidPath(_not_a_folder(os.path.join(shown_base, *upto), exc.errno)) from exc
            raise

    # -- looking -------------------------------------------------------------------------

    def lstat(self, rel: str) -> os.stat_result | None:
        """What is at ``rel`` (not following a link), or None. A missing folder is None too."""
        folder, name = split(rel)
        try:
            fd = self.folder(folder, create=False)
            self.ops += 1
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def listing(self, rel_dir: str, wanted: Collection[str] | None = None) -> dict[str, os.stat_result]:
        """The entries of ``rel_dir`` (only ``wanted`` names when given; none if it is missing),
        without following links. Temporary files left by this job (an earlier pass, or the
        job before a kill -9) are removed, and those nobody has written for
        :data:`TEMP_STALE_AFTER` (another job's may be being written now)."""
        try:
            fd = self.folder(rel_dir, create=False)
        except FileNotFoundError:
            return {}
        found: dict[str, os.stat_result] = {}
        self.ops += 1
        now = time.time()
        for name, st in self._scan(fd):
            if is_temp_name(name):
                if self.is_own_temp(name) or now - st.st_mtime > TEMP_STALE_AFTER:
                    self.ops += 1
                    with contextlib.suppress(OSError):
                        os.unlink(name, dir_fd=fd)
            elif wanted is None or name in wanted:
                found[name] = st
        return found

    def _scan(self, fd: int) -> Iterator[tuple[str, os.stat_result]]:
        with drivefs.opened(drivefs.open_listable(fd)) as listable, os.scandir(listable) as entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                yield entry.name, st

    # -- changing ------------------------------------------------------------------------

    def is_own_temp(self, name: str) -> bool:
        return bool(self.tag) and name.startswith(TEMP_PREFIX + self.tag) and is_temp_name(name)

    def create_temp(self, rel_dir: str) -> TempFile:
        """A new, empty, exclusively created temporary file in ``rel_dir`` (made if missing),
        named with this job's tag (``O_CREAT | O_EXCL | O_NOFOLLOW``: nothing that exists,
        a planted link or FIFO, is ever opened)."""
        fd_dir = self.folder(rel_dir, create=True)
        self.ops += 1
        fd, name = drivefs.temp_file(
            fd_dir,
            prefix=TEMP_PREFIX + self.tag,
            suffix=TEMP_SUFFIX,
            mode=0o600,
            random_bytes=(TEMP_HEX_DIGITS - len(self.tag)) // 2,
        )
        return TempFile(self, fd_dir, fd, name)

    def remove_file(self, rel: str, expect: DriveStamp) -> str:
        """Delete the file ``rel`` if it is still the version ``expect`` (what the job wrote):
        ``"removed"``; ``"gone"`` when nothing is there; ``"changed"`` when something else
        is there now (another version, a link, a folder), which is left alone.

        The file is looked at without following a link, relative to its opened folder, just
        before it is removed (a change in the instant between the two cannot be ruled out:
        ``unlinkat`` has no condition)."""
        folder, name = split(rel)
        try:
            fd = self.folder(folder, create=False)
            self.ops += 1
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not expect.matches(st):
                return "changed"
            self.ops += 1
            os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            return "gone"
        return "removed"

    def remove_empty_folder(self, rel_dir: str) -> bool:
        """Remove the folder ``rel_dir`` if it is empty (a collaborator's files keep it)."""
        parent, name = split(rel_dir)
        try:
            fd = self.folder(parent, create=False)
            with self._lock:
                cached = self._fds.pop(rel_dir, None)
            if cached is not None:
                os.close(cached)
            self.ops += 1
            os.rmdir(name, dir_fd=fd)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False
            raise
        return True

    def sync_folders(self) -> None:
        """fsync every folder this pass opened (the renames become durable where it matters)."""
        with self._lock:
            fds = list(self._fds.values())
        for fd in fds:
            self.ops += 1
            with contextlib.suppress(OSError), drivefs.opened(drivefs.open_listable(fd)) as listable:
                os.fsync(listable)


class TempFile:
    """A temporary file being written on the drive; :meth:`commit` renames it into place."""

    def __init__(self, tree: DestTree, dir_fd: int, fd: int, name: str) -> None:
        self.tree, self.dir_fd, self.fd, self.name = tree, dir_fd, fd, name
        self.written = 0
        self.crc = 0
        self.committed: DriveStamp | None = None
        """After :meth:`commit`: what was put on the drive under the final name."""

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        self.crc = zlib.crc32(view, self.crc)
        self.written += len(view)
        while view:
            self.tree.ops += 1
            view = view[os.write(self.fd, view) :]

    def commit(
        self,
        final_name: str,
        *,
        mtime_ns: int,
        fsync: bool = True,
        verify: bool = True,
        utime_warn: list[str],
        keep: Callable[[os.stat_result], bool] | None = None,
    ) -> None:
        """Set the time, flush, check what was written, and rename over ``final_name``.

        Raises ``IsADirectoryError`` when a folder has that name on the drive, ``ValueError``
        when the bytes read back differ from those written, :class:`KeptOnDrive` when
        ``keep`` says the regular file now at ``final_name`` (looked at just before the
        rename, which costs nothing: the look for a folder is made anyway) must stay; the
        temporary file is removed in each case.
        """
        try:
            if fsync:
                self.tree.ops += 1
                os.fsync(self.fd)
            if verify:
                self._verify()
            # the time last, just before the rename: until then the temporary file's time is
            # its last write, so another job cleaning the folder sees it is being written
            try:
                os.utime(self.fd, ns=(mtime_ns, mtime_ns))
            except OSError as exc:
                utime_warn.append(exc.strerror or str(exc))
            os.close(self.fd)
            self.fd = -1
            self.tree.ops += 1
            try:
                st: os.stat_result | None = os.stat(final_name, dir_fd=self.dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "a folder has this name on the drive", final_name)
            if st is not None and stat.S_ISREG(st.st_mode) and keep is not None and keep(st):
                raise KeptOnDrive(final_name)
            self.tree.ops += 1
            os.rename(self.name, final_name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        except BaseException:
            self.discard()
            raise
        self.committed = self._look_committed(final_name)

    def _look_committed(self, final_name: str) -> DriveStamp | None:
        """What is under ``final_name`` now, as the drive shows it after the rename (a FUSE
        drive may number a renamed file anew: rclone derives inodes from the path)."""
        self.tree.ops += 1
        try:
            st = os.stat(final_name, dir_fd=self.dir_fd, follow_symlinks=False)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size != self.written:
            return None  # replaced at once by someone else: not ours to delete later
        return DriveStamp(st.st_size, st.st_mtime_ns, st.st_ino if self.tree.stable_inodes else 0)

    def _verify(self) -> None:
        """Read the temporary file back through the drive (a fresh descriptor, no link
        followed) and compare its size and CRC-32 with what was written."""
        self.tree.ops += 2
        fd, st = drivefs.open_file_at(self.dir_fd, self.name)
        with drivefs.opened(fd):
            if st.st_size != self.written:
                raise ValueError("the copy on the drive has the wrong size when read back")
            check, offset = 0, 0
            while offset <= self.written:
                self.tree.ops += 1
                chunk = os.read(fd, CHUNK)
                if not chunk:
                    break
                check = zlib.crc32(chunk, check)
                offset += len(chunk)
        if offset != self.written or check != self.crc:
            raise ValueError("the copy read back from the drive differs from what was written")

    def discard(self) -> None:
        """Close and remove the temporary file (after a failure or a cancel)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(OSError):
            os.unlink(self.name, dir_fd=self.dir_fd)


def stable_inodes(path: str) -> bool:
    """Whether files under ``path`` keep their inode numbers: not on a FUSE mount (the
    mount table says, without touching the drive), where numbers may follow the name a file
    was looked up under (rclone) and change on a rename."""
    found: MountEntry | None = None
    for entry in read_mounts():
        if is_within(path, entry.mountpoint) and (
            found is None or is_within(entry.mountpoint, found.mountpoint)
        ):
            found = entry
    return found is None or not found.fstype.startswith("fuse")


def _not_a_folder(shown: str, err: int) -> str:
    if err == errno.ELOOP:
        return (
            f"{printable(shown)} is a symbolic link on the drive; keep-synced never writes through links. "
            "Remove the link or choose another drive folder."
        )
    return (
        f"{printable(shown)} is a file on the drive where a folder is needed. "
        "Move it away or choose another folder."
    )
