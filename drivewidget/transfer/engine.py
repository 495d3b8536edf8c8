"""The copy engine: plan, check space, copy in parallel, verify, then rename into place.

Every request to a cloud drive mounted with FUSE waits for a network round trip, so a
file-by-file ``cp -r`` spends nearly all its time waiting. This engine keeps many requests
in flight and never trusts a half-done copy:

plan
    :mod:`.plan` lists both sides in parallel and decides what each file needs.
space
    Before anything is written, the destination's free space (less a reserve) must hold
    what will be copied, or :class:`~drivewidget.errors.NotEnoughSpace` says so and
    nothing is copied.
copy
    A bounded pool of threads (:data:`~.options.DEFAULT_WORKERS`) copies, largest files
    first. Each file is written under a temporary name (``.dw-<hash>.part``) in its
    destination folder, fsynced, given the source's permission bits and modification
    time, read back and compared (CRC-32) with the bytes read from the source, and only
    then renamed to its final name. So a cancel, a crash or a power cut never leaves a
    half-written file under its final name, and running again resumes: completed files
    are skipped and stale temporary files of the interrupted run are removed.
change detection
    A source file whose size or modification time changes while it is read is read again
    (``retries`` times); if it still changes it is left out, counted as failed and listed
    in ``TransferResult.changed``, never copied half old, half new.

Every file is opened relative to a folder descriptor of :class:`~.ends.Ends`, with
``O_NOFOLLOW`` and ``O_NONBLOCK``, and checked to be a regular file before a byte is read:
a folder swapped for a symlink after planning, or a file swapped for a FIFO, fails that
one file instead of reading outside the drive or blocking forever.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import stat
import threading
import time
import zlib
from collections.abc import Callable
from functools import partial

from .. import drivefs
from ..errors import DISCONNECTED_ERRNOS, NO_SPACE_ERRNOS, NotEnoughSpace, TransferError, from_os_error
from ..text import format_bytes, printable
from .ends import Ends, split
from .files import CHUNK, Stopped, digest_at, fsync_dir, temp_name, umask, write_all
from .handle import Transfer
from .plan import Item, Plan, Planner, whole_error
from .pool import Pool, join_or_abandon

__all__ = ["DEFAULT_RESERVE", "CopyEngine", "copy_engine", "run_python"]

DEFAULT_RESERVE = 256 * 1024 * 1024
"""Free space left on the destination (at most 5 % of its size)."""

_NO_LINKS = {errno.EPERM, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}
_OUT = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


class _Changed(Exception):
    pass


class _Corrupt(Exception):
    pass


class _Source(Exception):
    """An OSError met on the source side (the message says "cannot read", not "cannot write")."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc)
        self.exc = exc


class CopyEngine:
    """Plan, check space, copy: the engine behind ``start_copy``, ``stage`` and ``sync_back``.

    ``src_area`` / ``dest_area`` name the drive's root when that side is on the drive
    (see :class:`~.ends.Ends`).
    """

    def __init__(
        self, transfer: Transfer, *, src_area: str | None = None, dest_area: str | None = None
    ) -> None:
        self.t = transfer
        self.o = transfer.options
        self.src_area, self.dest_area = src_area, dest_area
        self.plan = Plan()
        self.bad_dirs: set[str] = set()
        self.touched: set[str] = set()
        self._umask = umask()
        self._lock = threading.Lock()
        self._pool: Pool | None = None
        self.ends: Ends | None = None

    def run(self) -> None:
        """Plan, check space, copy. Every filesystem call runs on the pool, so this thread can
        always give up on a drive that hangs once the transfer is cancelled."""
        pool = self._pool = Pool(self.o.workers, f"drivewidget-{self.t.kind}", on_error=self._bug)
        try:
            self.t.set_phase("listing")
            self._in_pool(self._open)
            ends = self.ends
            assert ends is not None
            planner = Planner(self.t, ends, pool.submit)
            self._in_pool(planner.start)
            self._join()
            self.plan = plan = planner.plan
            if plan.links_skipped:
                self.t.note_warning(f"Skipped {plan.links_skipped} symbolic link(s) (symlinks='skip').")
            if self.t.stopping:
                return
            self._in_pool(self._check_space)
            self.t.set_phase("copying")
            self._make_dirs()
            for folder, name in plan.stale:  # an interrupted run's temporary files, before new ones appear
                pool.submit(partial(self._remove_stale, folder, name))
            self._join()
            for item in sorted(plan.items, key=lambda i: -i.size):
                pool.submit(partial(self._copy, item))
            self._join()
            if self.o.fsync and not self.t.stopping:
                for folder in self.touched:
                    pool.submit(partial(self._fsync_folder, folder))
                self._join()
        finally:
            self._close(pool)

    def _close(self, pool: Pool) -> None:
        """Close the ends once no task uses them (tasks stuck on a hung drive: when they return)."""
        ends = self.ends
        if ends is not None and pool.pending:

            def close_later() -> None:
                pool.join()
                ends.close()
                pool.shutdown()

            threading.Thread(target=close_later, name="drivewidget-close", daemon=True).start()
            return
        if ends is not None:
            ends.close()
        pool.shutdown()

    def _bug(self, exc: Exception) -> None:
        self.t.abort(TransferError(f"The {self.t.kind} stopped because of an unexpected error: {exc!r}"))

    def _open(self) -> None:
        try:
            self.ends = Ends(
                self.t.src,
                self.t.dest,
                follow=self.o.symlinks == "follow",
                src_area=self.src_area,
                dest_area=self.dest_area,
            )
        except OSError as exc:
            raise whole_error(exc, exc.filename if isinstance(exc.filename, str) else self.t.src) from exc

    def _in_pool(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the pool and wait (giving up once stopped); re-raise what it raised."""
        failure: list[BaseException] = []

        def task() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised by the waiting thread
                failure.append(exc)

        assert self._pool is not None
        self._pool.submit(task)
        self._join()
        if failure:
            raise failure[0]

    def _join(self) -> None:
        assert self._pool is not None
        join_or_abandon(self._pool, lambda: self.t.stopping, self.t.note_warning)

    # -- space -------------------------------------------------------------------------

    def _check_space(self) -> None:
        assert self.ends is not None
        where = _nearest_existing(self.t.dest)
        try:
            vfs = os.fstatvfs(self.ends.dest) if self.ends.dest >= 0 else os.statvfs(where)
        except OSError:
            return
        if vfs.f_blocks == 0:
            return  # a filesystem that does not know (some FUSE remotes)
        block = vfs.f_frsize or 4096
        items = self.plan.items
        need = sum(-(-i.size // block) * block for i in items if i.kind == "file")
        free = vfs.f_bavail * block
        reserve = self.o.reserve
        if reserve is None:
            reserve = min(DEFAULT_RESERVE, vfs.f_blocks * block // 20)
        if need + reserve > free:
            raise NotEnoughSpace(
                f"Not enough free space on {printable(where)}: the copy needs {format_bytes(need)} "
                f"(keeping {format_bytes(reserve)} free) but only {format_bytes(free)} is free. Nothing "
                "was copied. Free some space, or copy a smaller folder or to a bigger disk."
            )
        if vfs.f_files and vfs.f_favail < len(items) + len(self.plan.new_dirs) + 16:
            raise NotEnoughSpace(
                f"Not enough free inodes on {printable(where)} for {len(items)} files ({vfs.f_favail} left). "
                "Nothing was copied. Delete some small files there or choose another destination."
            )

    # -- folders -----------------------------------------------------------------------

    def _make_dirs(self) -> None:
        ends = self.ends
        assert ends is not None and self._pool is not None

        def make_top() -> None:
            try:
                ends.make_dest()
            except OSError as exc:  # before anything is copied: say what could not be made
                raise from_os_error(
                    exc, doing="create", path=printable(self.t.dest), fallback=TransferError
                ) from exc

        self._in_pool(make_top)
        by_depth: dict[int, list[tuple[str, int]]] = collections.defaultdict(list)
        for rel, mode in self.plan.new_dirs:
            by_depth[rel.count(os.sep)].append((rel, mode))
        for depth in sorted(by_depth):
            for rel, mode in by_depth[depth]:
                self._pool.submit(partial(self._mkdir, rel, mode))
            self._join()
            if self.t.stopping:
                return

    def _mkdir(self, rel: str, mode: int) -> None:
        assert self.ends is not None
        if os.path.dirname(rel) in self.bad_dirs:
            with self._lock:
                self.bad_dirs.add(rel)
            return
        names = split(rel)
        try:
            with drivefs.opened(self.ends.dest_dir(names[:-1])) as parent:
                try:
                    os.mkdir(names[-1], (mode & 0o777) | 0o700, dir_fd=parent)
                except FileExistsError:
                    st = os.stat(names[-1], dir_fd=parent, follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode):
                        return
                    self.t.note_error(
                        f"{printable(rel)}: something else appeared at the destination; this folder was not copied."
                    )
                else:
                    return
        except OSError as exc:
            if exc.errno in NO_SPACE_ERRNOS or exc.errno in DISCONNECTED_ERRNOS:
                self.t.abort(whole_error(exc, os.path.join(self.t.dest, rel)))
                return
            self.t.note_error(
                f"{printable(rel)}: cannot create this folder at the destination ({exc.strerror})."
            )
        with self._lock:
            self.bad_dirs.add(rel)

    def _remove_stale(self, folder: str, name: str) -> None:
        assert self.ends is not None
        with contextlib.suppress(OSError), drivefs.opened(self.ends.dest_dir(split(folder))) as parent:
            os.unlink(name, dir_fd=parent)

    def _fsync_folder(self, folder: str) -> None:
        assert self.ends is not None
        with contextlib.suppress(OSError), drivefs.opened(self.ends.dest_dir(split(folder))) as parent:
            fsync_dir(parent)

    # -- files -------------------------------------------------------------------------

    def _copy(self, item: Item) -> None:
        if self.t.stopping:
            return
        assert self.ends is not None
        if os.path.dirname(item.rel) in self.bad_dirs:
            self.t.note_failed(None, item.size)
            return
        self.t.note_current(item.rel)
        try:
            try:
                src_dir, src_name = self.ends.src_file(item.rel)
            except OSError as exc:
                raise _Source(exc) from exc
            with drivefs.opened(src_dir):
                dst_dir, dst_name = self.ends.dest_file(item.rel)
                with drivefs.opened(dst_dir):
                    self._copy_at(item, src_dir, src_name, dst_dir, dst_name)
            with self._lock:
                self.touched.add("" if self.ends.single else os.path.dirname(item.rel))
        except Stopped:
            pass
        except _Changed:
            self.t.note_failed(
                f"{printable(item.rel)}: changed while it was being copied ({self.o.retries + 1} tries); left out. "
                "Run again once it has stopped changing.",
                item.size,
                changed=item.rel,
            )
        except _Corrupt as exc:
            self.t.note_failed(f"{printable(item.rel)}: {exc}", item.size)
        except _Source as wrapped:
            self._file_error(item, wrapped.exc, from_source=True)
        except OSError as exc:
            self._file_error(item, exc, from_source=False)

    def _copy_at(self, item: Item, src_dir: int, src_name: str, dst_dir: int, dst_name: str) -> None:
        tmp = temp_name(dst_name)
        if item.kind == "link":
            self._copy_link(item, dst_dir, dst_name, tmp)
        elif item.check and self._identical(item, src_dir, src_name, dst_dir, dst_name):
            self.t.note_identical(item.size)
        elif item.check and item.dest_newer:
            self.t.note_kept_newer(item.rel or os.path.basename(self.t.dest), planned=item.size)
        else:
            for _ in range(self.o.retries + 1):
                try:
                    self._copy_once(item, src_dir, src_name, dst_dir, dst_name, tmp)
                    return
                except _Changed:
                    if self.t.stopping:
                        raise Stopped() from None
            raise _Changed()

    def _file_error(self, item: Item, exc: OSError, *, from_source: bool) -> None:
        if exc.errno in NO_SPACE_ERRNOS or exc.errno in DISCONNECTED_ERRNOS:
            self.t.note_failed(None, item.size)
            self.t.abort(whole_error(exc, os.path.join(self.t.dest, item.rel)))
            return
        if isinstance(exc, PermissionError):
            reason = (
                "no permission to read it; check its permissions"
                if from_source
                else "no permission to write it at the destination"
            )
        elif isinstance(exc, FileNotFoundError):
            reason = (
                "it disappeared from the source before it was copied"
                if from_source
                else "its destination folder disappeared"
            )
        elif item.kind == "link" and exc.errno in _NO_LINKS:
            reason = (
                "the destination cannot hold symbolic links; use symlinks='follow' to copy what they "
                "point to, or symlinks='skip'"
            )
        elif exc.errno == errno.ELOOP:
            reason = (
                "a symbolic link appeared in its place (or in a folder above it) after listing; not followed"
            )
        elif exc.errno == errno.EXDEV:
            reason = f"it {exc.strerror}; not copied"
        elif exc.errno == errno.EINVAL and from_source:
            reason = f"it is {exc.strerror} now, not the file that was listed; not read"
        else:
            reason = exc.strerror or str(exc)
        self.t.note_failed(f"{printable(item.rel or self.t.src)}: {reason}.", item.size)

    def _copy_link(self, item: Item, dst_dir: int, dst_name: str, tmp: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dst_dir)
        os.symlink(item.target, tmp, dir_fd=dst_dir)
        try:
            os.replace(tmp, dst_name, src_dir_fd=dst_dir, dst_dir_fd=dst_dir)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dst_dir)
            raise
        self.t.note_copied(0)

    def _open_source(self, src_dir: int, src_name: str) -> tuple[int, os.stat_result]:
        assert self.ends is not None
        links = self.ends.file_links
        try:
            return drivefs.open_file_at(src_dir, src_name, links=links, area=self.ends.area_fd)
        except OSError as exc:
            raise _Source(exc) from exc

    def _copy_once(
        self, item: Item, src_dir: int, src_name: str, dst_dir: int, dst_name: str, tmp: str
    ) -> None:
        fd_in, st0 = self._open_source(src_dir, src_name)
        out, written, created = -1, 0, False
        try:
            if st0.st_size != item.size:
                self.t.note_total(
                    0, st0.st_size - item.size
                )  # changed since it was listed: copy it as it is now
                item.size = st0.st_size
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=dst_dir)  # never opened: a planted link or FIFO is just removed
            out = os.open(tmp, _OUT, 0o600, dir_fd=dst_dir)
            created = True
            crc, stop, read = 0, self.t.stop_event, os.read
            while True:
                if stop.is_set():
                    raise Stopped()
                chunk = read(fd_in, CHUNK)
                if not chunk:
                    break
                crc = zlib.crc32(chunk, crc)
                write_all(out, chunk)
                written += len(chunk)
                self.t.note_bytes(len(chunk))
                if written == st0.st_size:
                    break  # no extra read for EOF (a round trip into the FUSE daemon); fstat tells growth
            st1 = os.fstat(fd_in)
            if written != st0.st_size or (st1.st_size, st1.st_mtime_ns) != (st0.st_size, st0.st_mtime_ns):
                raise _Changed()
            with contextlib.suppress(OSError):  # some drives have no permission bits
                os.fchmod(out, st0.st_mode & 0o777 & ~self._umask)
            if self.o.fsync:
                os.fsync(out)
            try:
                os.utime(out, ns=(st0.st_atime_ns, st0.st_mtime_ns))
            except OSError as exc:
                self.t.note_warning(
                    f"Cannot set modification times at {printable(self.t.dest)} ({exc.strerror}): a re-run cannot "
                    "recognise identical files there and copies them again.",
                    once="utime",
                )
            os.close(out)
            out = -1
            if self.o.verify:
                _verify(dst_dir, tmp, written, crc)
            os.replace(tmp, dst_name, src_dir_fd=dst_dir, dst_dir_fd=dst_dir)
            created = False
            self.t.note_copied(written)
        except BaseException:
            self.t.note_bytes(-written)
            if out >= 0:
                os.close(out)
            if created:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dst_dir)
            raise
        finally:
            os.close(fd_in)

    def _identical(self, item: Item, src_dir: int, src_name: str, dst_dir: int, dst_name: str) -> bool:
        """Checksum mode: same content? (Then also align the mtime, so size + mtime agree next time.)"""
        assert self.ends is not None
        stop = self.t.stop_event
        try:
            mine = digest_at(src_dir, src_name, stop, links=self.ends.file_links, area=self.ends.area_fd)
        except OSError as exc:
            raise _Source(exc) from exc
        if mine != digest_at(dst_dir, dst_name, stop, links="refuse", area=None):
            return False
        with contextlib.suppress(OSError):
            os.utime(dst_name, ns=(time.time_ns(), item.mtime_ns), dir_fd=dst_dir, follow_symlinks=False)
        return True


def _verify(dir_fd: int, name: str, size: int, crc: int) -> None:
    fd, st = drivefs.open_file_at(dir_fd, name)
    try:
        if st.st_size != size:
            raise _Corrupt("the copy has the wrong size when read back; it was not kept. Run again.")
        check = 0
        while chunk := os.read(fd, CHUNK):
            check = zlib.crc32(chunk, check)
    finally:
        os.close(fd)
    if check != crc:
        raise _Corrupt(
            "the copy read back differs from the source (a disk or drive error); it was not kept. Run again."
        )


def _nearest_existing(path: str) -> str:
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def copy_engine(*, src_area: str | None = None, dest_area: str | None = None) -> Callable[[Transfer], None]:
    """The engine as a runner for a :class:`~.handle.Transfer`, with the drive's root for the
    side that is on the drive (links there are followed only inside it)."""

    def run(transfer: Transfer) -> None:
        CopyEngine(transfer, src_area=src_area, dest_area=dest_area).run()

    return run


def run_python(transfer: Transfer) -> None:
    """The engine for two local folders (links, when followed, may lead anywhere)."""
    CopyEngine(transfer).run()
