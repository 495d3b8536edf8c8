"""One pass of a keep-synced job: find what changed locally, copy it whole, never tear a file.

Runs as the engine of a :class:`~drivewidget.transfer.Transfer` (so a pass has the
same progress, cancel and :class:`~drivewidget.transfer.TransferResult` as
``sync_back``), in four steps:

look
    The local files to consider: every file (a full scan) or only the paths that change
    notifications reported. A file whose stamp equals the ledger's is already on the drive.
check the drive (first pass, safety net)
    One listing per folder of the destination: files already identical there (same size and
    modification time) join the ledger instead of being copied; the drive's newer files are
    kept, as with ``sync_back``.
copy, in rounds
    A file is taken only once it has been quiet for the settle time, and kept only if its
    size and times did not change while it was copied; otherwise it waits for the next round
    (at its quiet moment, up to ``settle_wait`` seconds into the pass), then for the next pass.
    Each copy goes to a temporary file on the drive and is renamed into place
    (:mod:`.drive_side`).
finish
    With ``mirror_deletes``, files deleted locally are deleted on the drive. Folders are
    synced, and the drive is asked to confirm the upload.

What the pass could not finish (files still being written, failures) is returned in a
:class:`PassOutcome`, so the job retries them on its next pass.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from ..errors import DISCONNECTED_ERRNOS as _DISCONNECTED
from ..errors import NO_SPACE_ERRNOS as _NO_SPACE
from ..errors import DriveError, InvalidPath, StaleMount, from_os_error
from ..text import printable
from ..transfer.errors import TransferError
from ..transfer.files import CHUNK, NEWER_TOLERANCE_NS, same_mtime
from ..transfer.handle import Transfer
from ..transfer.pool import STUCK_GRACE, Pool
from . import local_tree
from .deletes import delete_written, deletions_of
from .drive import SyncDrive, confirm_uploads_within
from .drive_side import DestTree, KeptOnDrive, split
from .ledger import Ledger
from .local_tree import LocalScan, Stamp, stamp_of
from .options import SyncOptions

__all__ = ["PassOutcome", "PassRequest", "SyncPass"]

T = TypeVar("T")

CONFIRM_FLOOR = 30.0
"""The least a pass waits for the drive to confirm its upload (else ``every``): a drive's
upload queue holds other programs' files too, and a pass must not stay "syncing" for an hour
behind them. A confirmation that takes longer goes on; the next pass checks again."""

_LOCAL_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
"""Local files: never through a link, never blocking on a FIFO that replaced a file."""


@dataclass
class PassRequest:
    """What one pass looks at."""

    full: bool
    """Scan every local file (else only ``paths``)."""
    check_drive: bool = False
    """List the destination on the drive and reconcile the ledger with it."""
    paths: set[str] = field(default_factory=set)
    """Relative paths reported changed (files, folders, or gone)."""
    confirm_within: float | None = None
    """Seconds to wait for the drive to confirm the upload (``math.inf``: its own limit, for a
    final pass or Sync now, which their deadline bounds); None: ``max(every, CONFIRM_FLOOR)``."""


@dataclass
class PassOutcome:
    """What a pass leaves for the next one."""

    waiting: set[str] = field(default_factory=set)
    """Files not copied because they kept changing (retried next pass)."""
    failed: set[str] = field(default_factory=set)
    """Files that failed for another reason (retried next pass)."""
    deleted: list[str] = field(default_factory=list)
    """Files deleted on the drive (``mirror_deletes``)."""
    kept_changed: list[str] = field(default_factory=list)
    """Files deleted locally but kept on the drive (``mirror_deletes``): they changed there
    since the job wrote them (a collaborator's edit is never deleted)."""
    skipped: list[str] = field(default_factory=list)
    """Local entries that are not regular files or folders (links, FIFOs...)."""
    scan_seconds: float | None = None
    """How long a full local scan took (the job spaces its safety-net scans by it)."""


class _Changed(Exception):
    """The local file changed (or is not quiet yet): try again later."""


class _Stop(Exception):
    pass


class SyncPass:
    """One pass (see the module docstring); :meth:`run` is a Transfer's engine."""

    def __init__(
        self,
        *,
        local: str,
        base: str,
        rel: str,
        drive: SyncDrive,
        ledger: Ledger,
        options: SyncOptions,
        request: PassRequest,
        newer_check: bool = True,
        on_planned: Callable[[set[str]], None] | None = None,
        on_settled: Callable[[str], None] | None = None,
        temp_tag: str = "",
    ) -> None:
        self.local, self.base, self.rel = local, base, rel
        self.drive, self.ledger, self.o, self.request = drive, ledger, options, request
        self.newer_check = newer_check
        self.temp_tag = temp_tag
        """The job's :func:`~.drive_side.temp_tag`: its temporary files, and its leftovers."""
        self.on_planned = on_planned
        """Called once with the files this pass will copy (once the drive was checked)."""
        self.on_settled = on_settled
        """Called with each of them once it needs nothing more: copied (committed on the
        drive), deleted or replaced locally meanwhile, or kept on the drive. Files still
        being written or failed are not: the job retries them."""
        self.outcome = PassOutcome()
        self.tree: DestTree | None = None
        self.utime_failed: list[str] = []
        self._lock = threading.Lock()
        self._pool: Pool | None = None
        self._t: Transfer | None = None

    # -- the engine ------------------------------------------------------------------------

    def run(self, transfer: Transfer) -> None:
        self._t = t = transfer
        pool = self._pool = Pool(self.o.workers, "drivewidget-keep-synced")
        try:
            self._run(t)
        except _Stop:
            pass
        finally:
            pool.shutdown()
            if self.tree is not None:
                self.tree.close()

    def _run(self, t: Transfer) -> None:
        t.set_phase("listing")
        files, gone = self._look()
        candidates = {rel: s for rel, s in files.items() if not self.ledger.up_to_date(rel, s)}
        deletions = deletions_of(
            self.ledger, files, gone, full=self.request.full, mirror=self.o.mirror_deletes
        )
        kept: set[str] = set()
        if candidates or deletions or self.request.check_drive:
            tree = self.tree = self._in_pool(
                lambda: DestTree.open(self.base, self.rel, create=True, tag=self.temp_tag)
            )
            if self.request.check_drive:
                kept = self._check_drive(tree, files, candidates)
        if self.on_planned is not None:
            self.on_planned(set(candidates))
        for rel, s in files.items():
            if rel not in candidates and rel not in kept:
                t.note_planned(s.size, copy=False)
        if self.tree is None:
            return  # nothing to do on the drive: it was not even opened
        tree = self.tree
        for s in candidates.values():
            t.note_planned(s.size, copy=True)
        t.set_phase("copying")
        self._copy_rounds(tree, candidates)
        if deletions and not t.stopping:
            self._in_pool(lambda: delete_written(tree, self.ledger, deletions, self.local, self.outcome, t))
        copied = t.progress.files_copied
        if copied and self.o.fsync and not t.stopping:
            self._in_pool(tree.sync_folders)
        if self.utime_failed:
            t.note_warning(
                f"Cannot set modification times at {printable(tree.shown)} ({self.utime_failed[0]}): a new "
                "job cannot recognise identical files there and copies them again.",
                once="utime",
            )
        if copied and self.o.confirm_uploads and not t.stopping:
            t.set_phase("flushing")
            t.note_message("waiting for the drive to upload the copied files...")
            within = self.request.confirm_within
            if within is None:
                within = max(self.o.every, CONFIRM_FLOOR)
            reason = confirm_uploads_within(self.drive, t.note_message, within, t.stop_event)
            if reason:
                t.note_upload_unconfirmed(reason)

    # -- look --------------------------------------------------------------------------------

    def _look(self) -> tuple[dict[str, Stamp], set[str]]:
        """Local files to consider (rel -> stamp) and reported paths that are gone."""
        found = LocalScan()
        gone: set[str] = set()
        started = time.monotonic()
        try:
            if self.request.full:
                local_tree.scan(self.local, into=found)
                self.outcome.scan_seconds = time.monotonic() - started
            else:
                if not os.path.isdir(self.local):
                    raise FileNotFoundError(errno.ENOENT, "missing", self.local)
                for rel in sorted(self.request.paths):
                    st = local_tree.lstat(self.local, rel)
                    if st is None:
                        gone.add(rel)
                    elif stat.S_ISREG(st.st_mode):
                        found.files[rel] = stamp_of(st)
                    elif stat.S_ISDIR(st.st_mode):
                        local_tree.scan(self.local, rel, into=found)
                    else:
                        found.skipped.append(rel)
        except FileNotFoundError:
            raise InvalidPath(
                f"The local folder {printable(self.local)} no longer exists, so there is nothing to sync. "
                "Create it again (the job picks it up), or stop the job."
            ) from None
        except OSError as exc:
            raise InvalidPath(
                f"Cannot list the local folder {printable(self.local)}: {exc.strerror or exc}."
            ) from exc
        for line in found.errors:
            self._t_or_fail().note_error(line)
        self.outcome.skipped = found.skipped
        return found.files, gone

    # -- check the drive -----------------------------------------------------------------------

    def _check_drive(self, tree: DestTree, files: dict[str, Stamp], candidates: dict[str, Stamp]) -> set[str]:
        """Reconcile the ledger with one listing per folder (temporary leftovers are removed
        there). Changes ``candidates``; returns the files kept because the drive's are newer."""
        wanted: dict[str, set[str]] = {"": set()}
        for rel in files:
            folder, name = split(rel)
            wanted.setdefault(folder, set()).add(name)
            while folder:  # every folder on the way, so leftovers are cleaned there too
                folder, _ = split(folder)
                wanted.setdefault(folder, set())
        listings: dict[str, dict[str, os.stat_result]] = {}

        def list_one(folder: str, names: set[str]) -> None:
            try:
                found = tree.listing(folder, names)
            except InvalidPath as exc:
                self._t_or_fail().note_error(str(exc))
                found = {}
            except OSError as exc:
                if exc.errno in _DISCONNECTED:
                    raise
                self._t_or_fail().note_error(
                    f"{printable(folder or tree.shown)}: cannot be listed on the drive ({exc.strerror or exc})."
                )
                found = {}
            with self._lock:
                listings[folder] = found

        self._each_in_pool([partial(list_one, f, n) for f, n in wanted.items()])
        kept: set[str] = set()
        for rel, s in files.items():
            folder, name = split(rel)
            dst = listings.get(folder, {}).get(name)
            if dst is not None and stat.S_ISREG(dst.st_mode):
                if dst.st_size == s.size and same_mtime(dst.st_mtime_ns, s.mtime_ns):
                    candidates.pop(rel, None)
                    written = self.ledger.written(rel)  # still the job's own only if unchanged
                    self.ledger.record(rel, s, written if written and written.matches(dst) else None)
                    continue
                if rel in candidates and self._drive_is_newer(dst, s):
                    del candidates[rel]
                    kept.add(rel)
                    self._t_or_fail().note_kept_newer(rel)
                    self.ledger.record(rel, s)  # decided for this version; a newer local one is copied
                    continue
            if rel not in candidates:  # the ledger said "on the drive", but it is not (any more)
                self.ledger.forget(rel)
                candidates[rel] = s
        return kept

    def _drive_is_newer(self, dst: os.stat_result, s: Stamp) -> bool:
        """The drive's file was changed after the local one (by someone else: keep it)."""
        return (
            self.newer_check
            and not self.o.overwrite_newer
            and dst.st_mtime_ns > s.mtime_ns + NEWER_TOLERANCE_NS
        )

    # -- copy ----------------------------------------------------------------------------------

    def _copy_rounds(self, tree: DestTree, candidates: dict[str, Stamp]) -> None:
        t = self._t_or_fail()
        settle = self.o.settle
        deadline = time.monotonic() + self.o.settle_wait
        planned = dict(candidates)  # sizes as counted in the totals
        todo = dict(candidates)
        while todo and not t.stopping:
            now = time.time()
            ready: dict[str, Stamp] = {}
            later: dict[str, float] = {}
            for rel in list(todo):
                st = local_tree.lstat(self.local, rel)
                if st is None or not stat.S_ISREG(st.st_mode):  # deleted (or replaced) meanwhile
                    del todo[rel]
                    self._settled(rel)
                    t.note_total(-1, -planned.pop(rel).size)
                    if st is not None:
                        self.outcome.skipped.append(rel)
                    continue
                s = stamp_of(st)
                if s.size != planned[rel].size:  # grew or shrank since it was counted
                    t.note_total(0, s.size - planned[rel].size)
                planned[rel] = s
                if s.quiet(settle, now):
                    ready[rel] = s
                else:
                    later[rel] = s.quiet_at(settle)
            busy: dict[str, float] = {}

            def copy(rel: str, s: Stamp, busy: dict[str, float]) -> None:
                if self._copy_one(tree, rel, s, planned[rel].size):
                    return
                with self._lock:
                    busy[rel] = time.time() + settle

            self._each_in_pool([partial(copy, rel, s, busy) for rel, s in ready.items()])
            for rel in ready:
                if rel not in busy:
                    todo.pop(rel, None)
            later.update(busy)
            if not later:
                break
            wake_wall = min(later.values())
            wait = wake_wall - time.time()
            if time.monotonic() + max(0.0, wait) > deadline:
                break
            if wait > 0 and t.stop_event.wait(wait):
                break
        for rel in todo:
            if rel in planned:
                t.note_total(-1, -planned[rel].size)
                self.outcome.waiting.add(rel)
        if self.outcome.waiting:
            names = sorted(self.outcome.waiting)
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            t.note_warning(
                f"{len(names)} file(s) were being written during this pass and are copied once they stay "
                f"unchanged for {settle:g} s: {', '.join(printable(n) for n in names[:3])}{more}."
            )

    def _copy_one(self, tree: DestTree, rel: str, planned: Stamp, planned_size: int) -> bool:
        """Copy one quiet file; False when it changed (try again later). Failures are noted."""
        t = self._t_or_fail()
        if t.stopping:
            return True
        t.note_current(rel)
        path = os.path.join(self.local, rel)
        written = 0
        try:
            fd = os.open(path, _LOCAL_FLAGS)
        except FileNotFoundError:
            t.note_total(-1, -planned_size)
            self._settled(rel)
            return True
        except OSError as exc:
            self._file_failed(rel, exc, planned_size, local=True)
            return True
        try:
            st0 = os.fstat(fd)
            s0 = stamp_of(st0)
            if not stat.S_ISREG(st0.st_mode):
                t.note_total(-1, -planned_size)
                self._settled(rel)
                return True
            if s0 != planned or not s0.quiet(self.o.settle):
                return False
            folder, name = split(rel)
            # A file this job copied before is replaced without a look first (one round trip
            # less per file): the look made just before the rename still refuses a folder and
            # keeps a file edited on the drive after the local change. A new one is looked at
            # first: the drive may hold a newer copy, or a folder.
            dst = None if rel in self.ledger else tree.lstat(rel)
            if dst is not None and stat.S_ISDIR(dst.st_mode):
                t.note_failed(
                    f"{printable(rel)}: the drive has a folder with this name; move it away so the file can be copied.",
                    s0.size,
                )
                self.outcome.failed.add(rel)
                return True
            if dst is not None and stat.S_ISREG(dst.st_mode) and self._drive_is_newer(dst, s0):
                t.note_kept_newer(rel, planned=s0.size)
                self.ledger.record(rel, s0)
                self._settled(rel)
                return True
            tmp = tree.create_temp(folder)
            try:
                stop = t.stop_event
                while written < s0.size:
                    if stop.is_set():
                        raise _Stop()
                    chunk = os.read(fd, min(CHUNK, s0.size - written))
                    if not chunk:
                        break
                    tmp.write(chunk)
                    written += len(chunk)
                    t.note_bytes(len(chunk))
                if written != s0.size or stamp_of(os.fstat(fd)) != s0:
                    raise _Changed()
                tmp.commit(name, mtime_ns=s0.mtime_ns, fsync=self.o.fsync, verify=self.o.verify,
                           utime_warn=self.utime_failed, keep=partial(self._keep_on_drive, rel, s0))  # fmt: skip
            except BaseException:
                tmp.discard()
                raise
            self.ledger.record(rel, s0, tmp.committed)
            t.note_copied(written)
            self._settled(rel)
            return True
        except _Changed:
            t.note_bytes(-written)
            return False
        except KeptOnDrive:
            t.note_bytes(-written)
            t.note_kept_newer(rel, planned=s0.size)
            self.ledger.record(rel, s0)
            self._settled(rel)
            return True
        except _Stop:
            t.note_bytes(-written)
            t.note_total(-1, -planned_size)
            return True
        except InvalidPath as exc:
            t.note_bytes(-written)
            t.note_failed(f"{printable(rel)}: {exc}", planned_size)
            self.outcome.failed.add(rel)
            return True
        except ValueError as exc:  # read back differently
            t.note_bytes(-written)
            t.note_failed(
                f"{printable(rel)}: {exc}; it was not kept. The next pass tries again.", planned_size
            )
            self.outcome.failed.add(rel)
            return True
        except OSError as exc:
            t.note_bytes(-written)
            self._file_failed(rel, exc, planned_size, local=exc.filename == path)
            return True
        finally:
            os.close(fd)

    def _settled(self, rel: str) -> None:
        if self.on_settled is not None:
            self.on_settled(rel)

    def _keep_on_drive(self, rel: str, s: Stamp, dst: os.stat_result) -> bool:
        """At the rename: keep the drive's file when it is not what the job wrote there
        and was changed after the local file (a collaborator's edit made since the job's
        last copy is not overwritten by an older local change)."""
        written = self.ledger.written(rel)
        return not (written is not None and written.matches(dst)) and self._drive_is_newer(dst, s)

    def _file_failed(self, rel: str, exc: OSError, size: int, *, local: bool) -> None:
        t = self._t_or_fail()
        self.outcome.failed.add(rel)
        if not local and (exc.errno in _DISCONNECTED or exc.errno in _NO_SPACE):
            t.note_failed(None, size)
            t.abort(_whole_error(exc, self.tree.shown if self.tree else self.base))
            return
        if isinstance(exc, PermissionError):
            reason = "no permission to read it" if local else "no permission to write it on the drive"
        elif isinstance(exc, IsADirectoryError):
            reason = "the drive has a folder with this name; move it away so the file can be copied"
        elif exc.errno == errno.EIO:
            reason = "input/output error; the next pass tries again"
        else:
            reason = exc.strerror or str(exc)
        t.note_failed(f"{printable(rel)}: {reason}.", size)

    # -- pool ----------------------------------------------------------------------------------

    def _in_pool(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the pool and wait (giving up on a drive that hangs once stopped)."""
        box: list[T] = []
        self._each_in_pool([lambda: box.append(fn())], reraise=True)
        if not box:
            raise _Stop()
        return box[0]

    def _each_in_pool(self, tasks: list[Callable[[], None]], *, reraise: bool = True) -> None:
        assert self._pool is not None
        t = self._t_or_fail()
        failure: list[BaseException] = []

        def wrap(task: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                try:
                    task()
                except BaseException as exc:  # noqa: BLE001 - re-raised by the waiting thread
                    failure.append(exc)
                    if isinstance(exc, DriveError | OSError):
                        t.stop_event.set()

            return run

        for task in tasks:
            self._pool.submit(wrap(task))
        stopped_at = 0.0
        while not self._pool.join(0.1):
            if t.stopping:
                stopped_at = stopped_at or time.monotonic()
                if time.monotonic() - stopped_at > STUCK_GRACE:
                    t.note_warning(
                        f"{self._pool.pending} operation(s) were still blocked on a drive that does not "
                        "respond; they were abandoned (their temporary files are removed by a later pass)."
                    )
                    raise StaleMount(
                        f"The drive stopped answering while syncing into {printable(self.base)}. Files copied "
                        "so far are complete; the job tries again on its next pass."
                    )
        if failure and reraise:
            exc = failure[0]
            if isinstance(exc, OSError) and not isinstance(exc, DriveError):
                raise _whole_error(exc, self.tree.shown if self.tree else os.path.join(self.base, self.rel))
            raise exc

    def _t_or_fail(self) -> Transfer:
        assert self._t is not None
        return self._t


def _whole_error(exc: OSError, path: str) -> DriveError:
    """The error that stops a pass as a whole (drive gone, full, read-only, not allowed)."""
    return from_os_error(
        exc,
        doing="sync into",
        path=printable(path),
        then="Files copied so far are complete; the job tries again on its next pass.",
        fallback=TransferError,
    )
