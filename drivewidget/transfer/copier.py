"""Copy a folder tree (or one file) quickly over a high-latency FUSE mount, and safely.

Every request to a cloud drive mounted with FUSE waits for a network round trip, so a
file-by-file ``cp -r`` spends nearly all its time waiting. This engine keeps many requests
in flight and never trusts a half-done copy:

plan
    Folders are listed in parallel. Each source file is compared with what the destination
    already has: the same size and modification time (compared at the coarser of the two
    clocks, since clouds keep seconds or milliseconds) means identical, and it is skipped;
    with ``checksum=True`` the contents are compared instead.
space
    Before anything is written, the destination's free space (less a reserve) must hold
    what will be copied, or :class:`NotEnoughSpace` says so and nothing is copied.
copy
    A bounded pool of threads (:data:`DEFAULT_WORKERS`) copies, largest files first. Each
    file is written under a temporary name (``.dw-<hash>.part``) in its destination folder,
    fsynced, given the source's permission bits and modification time, read back and
    compared (CRC-32) with the bytes read from the source, and only then renamed to its
    final name. So a cancel, a crash or a power cut never leaves a half-written file under
    its final name, and running again resumes: completed files are skipped and stale
    temporary files of the interrupted run are removed.
change detection
    A source file whose size or modification time changes while it is read is read again
    (``retries`` times); if it still changes it is left out, counted as failed and listed
    in :attr:`TransferResult.changed`, never copied half old, half new.

It runs in the background: :func:`start_copy` returns a :class:`Transfer` handle with a
live :attr:`Transfer.progress` snapshot, progress and completion callbacks, ``cancel()``
and ``wait()``. Problems with single files are collected in words in the result; only
problems with the whole transfer (no space, the drive disconnected, another transfer
writing to the same place) raise, from ``wait()``.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import logging
import os
import queue
import re
import stat
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from ..errors import DriveError, InvalidPath, StaleMount
from ..status.mounttable import is_within
from .errors import NotEnoughSpace, TransferBusy, TransferError

__all__ = [
    "DEFAULT_WORKERS",
    "CopyOptions",
    "Transfer",
    "TransferProgress",
    "TransferResult",
    "copy_tree",
    "format_bytes",
    "resolve_dest",
    "same_mtime",
    "start_copy",
    "temp_name",
]

log = logging.getLogger(__name__)

Symlinks = Literal["copy", "follow", "skip"]
Phase = Literal["starting", "listing", "copying", "flushing", "done", "cancelled", "failed"]
ProgressCallback = Callable[["TransferProgress"], None]
DoneCallback = Callable[["Transfer"], None]
Runner = Callable[["Transfer"], None]

DEFAULT_WORKERS = 64
"""Files in flight at once: enough to hide a cloud's round trips, few enough for its rate limits."""
CHUNK = 1 << 20
PROGRESS_INTERVAL = 0.2
"""Seconds between progress callbacks."""
RATE_WINDOW = 5.0
"""Seconds of history behind the rate and the ETA."""
STUCK_GRACE = 5.0
"""Seconds a stopping transfer waits for threads blocked on a drive that does not answer."""
DEFAULT_RESERVE = 256 * 1024 * 1024
"""Free space left on the destination (at most 5 % of its size)."""
TEMP_RE = re.compile(r"\.dw-[0-9a-f]{16}\.part\Z")
"""Temporary names: never copied, and removed from destinations when found there."""

_DISCONNECTED = {errno.ENOTCONN, errno.ECONNABORTED, errno.ESTALE}
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_NO_LINKS = {errno.EPERM, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}


# -- small helpers ---------------------------------------------------------------------


def temp_name(name: str) -> str:
    """The temporary name a file is written under before it is renamed to ``name``.

    Short and fixed-length (any ``name`` up to the 255-byte limit still fits) and the same
    on every run, so a later run overwrites what an interrupted one left.
    """
    digest = hashlib.blake2b(os.fsencode(name), digest_size=8).hexdigest()
    return f".dw-{digest}.part"


NEWER_TOLERANCE_NS = 2_000_000_000
"""A destination file counts as newer only beyond this (clocks of two machines disagree)."""


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


def format_bytes(n: float) -> str:
    """Sizes as people read them: 4.1 kB, 96.5 MB (decimal, like drive quotas)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def show(path: str) -> str:
    """A path fit for a message: undecodable bytes and control characters made visible."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def resolve_dest(src: str, dest: str) -> str:
    """Where a copy of ``src`` goes: a folder's contents go into ``dest`` itself (like
    ``rclone copy``); a file goes into ``dest`` when that is a folder (or ends with a
    slash), otherwise ``dest`` is the new file's path."""
    if os.path.isdir(src):
        return os.path.abspath(dest)
    if dest.endswith(os.sep) or os.path.isdir(dest):
        return os.path.join(os.path.abspath(dest), os.path.basename(os.path.normpath(src)))
    return os.path.abspath(dest)


def _join(root: str, rel: str) -> str:
    return os.path.join(root, rel) if rel else root


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would, for every thread)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _nearest_existing(path: str) -> str:
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


# -- options, progress, result ---------------------------------------------------------


@dataclass(frozen=True)
class CopyOptions:
    """How a transfer copies (all keyword arguments of ``stage`` / ``sync_back`` / ``start_copy``)."""

    workers: int = DEFAULT_WORKERS
    """Files copied (and folders listed) at once."""
    checksum: bool = False
    """Decide what is identical by comparing contents (reads both sides) instead of size + mtime."""
    verify: bool = True
    """Read each copy back and compare it with the bytes read from the source before keeping it."""
    fsync: bool = True
    """Flush each file to disk before renaming it to its final name."""
    symlinks: Symlinks = "copy"
    """``copy`` links as links, ``follow`` them (copy what they point to), or ``skip`` them."""
    reserve: int | None = None
    """Bytes to leave free on the destination; ``None``: 256 MB or 5 % of the disk, the smaller."""
    retries: int = 1
    """How often a file that changed while it was read is read again before giving up on it."""
    overwrite_newer: bool = False
    """Replace destination files that are newer than the source. By default they are kept and
    listed in ``kept_newer`` (someone changed them since: replacing them would lose work)."""

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= 512:
            raise ValueError(f"workers must be between 1 and 512, not {self.workers}")
        if self.symlinks not in ("copy", "follow", "skip"):
            raise ValueError(f"symlinks must be 'copy', 'follow' or 'skip', not {self.symlinks!r}")
        if self.retries < 0:
            raise ValueError("retries must be 0 or more")

    @classmethod
    def from_kwargs(cls, options: CopyOptions | None = None, **kwargs: Any) -> CopyOptions:
        """``options`` (or the defaults) with ``kwargs`` applied; unknown names raise TypeError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(
                f"unknown transfer option(s): {', '.join(unknown)} (known: {', '.join(sorted(names))})"
            )
        given = {k: v for k, v in kwargs.items() if v is not None or k == "reserve"}
        return dataclasses.replace(options or cls(), **given)


@dataclass(frozen=True)
class TransferProgress:
    """A snapshot of a running transfer, cheap to take and safe to render from any thread."""

    phase: Phase
    files_total: int
    """Files found in the source so far (final once ``phase`` is past ``listing``)."""
    files_done: int
    """Files finished: copied, skipped as identical, or failed."""
    files_copied: int
    files_skipped: int
    files_failed: int
    bytes_total: int
    """Bytes that need copying (identical files excluded)."""
    bytes_done: int
    elapsed: float
    rate: float
    """Bytes per second over the last few seconds."""
    files_rate: float
    """Files finished per second over the last few seconds."""
    eta: float | None
    """Seconds left, estimated from both rates; ``None`` while unknown."""
    current: str = ""
    """A file being copied now (for display)."""
    message: str = ""
    """The latest line from the drive while ``flushing`` ("Uploading 3 file(s)...")."""

    @property
    def fraction(self) -> float:
        """0..1, by bytes when there are bytes to copy, else by files."""
        if self.phase == "done":
            return 1.0
        if self.bytes_total > 0:
            return min(1.0, self.bytes_done / self.bytes_total)
        return min(1.0, self.files_done / self.files_total) if self.files_total else 0.0

    def describe(self) -> str:
        """One line for a status bar: what is happening and how far it is."""
        if self.phase in ("starting", "listing"):
            return f"Listing: {self.files_total} files found so far"
        if self.phase == "flushing":
            return f"Writing to the drive: {self.message or 'waiting for uploads to finish'}"
        parts = [
            f"{self.files_done}/{self.files_total} files",
            f"{format_bytes(self.bytes_done)} of {format_bytes(self.bytes_total)}",
        ]
        if self.rate > 0:
            parts.append(f"{format_bytes(self.rate)}/s")
        if self.eta is not None and self.phase == "copying":
            parts.append(f"{self.eta:.0f} s left")
        if self.files_skipped:
            parts.append(f"{self.files_skipped} already identical")
        if self.files_failed:
            parts.append(f"{self.files_failed} failed")
        word = {"copying": "Copying", "done": "Done", "cancelled": "Cancelled", "failed": "Stopped"}[
            self.phase
        ]
        return f"{word}: " + ", ".join(parts)


@dataclass(frozen=True)
class TransferResult:
    """What a finished transfer did. ``ok`` when every file was copied or already identical."""

    kind: str
    src: str
    dest: str
    method: str
    files_total: int
    copied: int
    skipped: int
    failed: int
    bytes_copied: int
    bytes_skipped: int
    changed: tuple[str, ...] = ()
    """Source files that changed while they were copied (left out; also counted in ``failed``)."""
    errors: tuple[str, ...] = ()
    """What went wrong, in words (one line per file or folder)."""
    warnings: tuple[str, ...] = ()
    kept_newer: tuple[str, ...] = ()
    upload_unconfirmed: str = ""
    """sync_back: why the drive could not confirm it uploaded the copied files ("" when it did,
    or when not asked to). The files are in the mount, maybe not yet in the cloud."""
    """Files left as they are because the destination's copy is newer and differs
    (``overwrite_newer=True`` replaces them)."""
    cancelled: bool = False
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.errors and not self.cancelled

    def summary(self) -> str:
        """One sentence: counts, sizes and time."""
        head = "Cancelled after copying" if self.cancelled else "Copied"
        text = (
            f"{head} {self.copied} file(s) ({format_bytes(self.bytes_copied)}), skipped {self.skipped} "
            f"already identical ({format_bytes(self.bytes_skipped)}), {self.failed} failed, "
            f"in {self.elapsed:.1f} s."
        )
        if self.changed:
            text += (
                f" {len(self.changed)} changed while being copied and were left out: run again to copy them."
            )
        elif self.failed or self.errors:
            text += " See the errors."
        if self.kept_newer:
            text += (
                f" Kept {len(self.kept_newer)} file(s) that are newer at the destination (first: "
                f"{show(self.kept_newer[0])}); copy with overwrite_newer=True to replace them."
            )
        return text

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["changed"] = [show(p) for p in self.changed]
        data["kept_newer"] = [show(p) for p in self.kept_newer]
        data["ok"] = self.ok
        return data


# -- the handle ------------------------------------------------------------------------


_active: dict[str, Transfer] = {}
_active_lock = threading.Lock()


class Transfer:
    """A transfer running in the background: watch it, cancel it, wait for it.

    Engines (the Python copier, ``rclone copy``) report through the ``note_*`` methods; the
    handle turns that into :class:`TransferProgress` snapshots, callbacks and a result.
    Progress callbacks run on a helper thread every :data:`PROGRESS_INTERVAL` seconds and
    once at the end, before ``wait()`` returns; completion callbacks run once, right after.
    Callbacks never run concurrently with each other; one that raises is logged and ignored.
    """

    def __init__(
        self,
        src: str,
        dest: str,
        runner: Runner,
        *,
        kind: str = "copy",
        method: str = "python",
        options: CopyOptions | None = None,
        on_progress: ProgressCallback | None = None,
        on_done: DoneCallback | None = None,
        cancel_event: threading.Event | None = None,
        owner: object = None,
        lock_key: str | None = None,
    ) -> None:
        self.src, self.dest, self.kind, self.method = src, dest, kind, method
        self.options = options or CopyOptions()
        self.owner = owner
        self._runner = runner
        self.stop_event = cancel_event or threading.Event()
        """Set when the transfer should stop (cancelled, or a fatal error); engines poll it."""
        self._cancelled = cancel_event.is_set() if cancel_event is not None else False
        self._lock = threading.Lock()
        self._cb_lock = threading.RLock()
        self._progress_cbs: list[ProgressCallback] = [on_progress] if on_progress else []
        self._done_cbs: list[DoneCallback] = [on_done] if on_done else []
        self._done = threading.Event()
        self._phase: Phase = "starting"
        self._files_total = self._copied = self._skipped = self._failed = 0
        self._bytes_total = self._bytes_done = self._bytes_copied = self._bytes_skipped = 0
        self._changed: list[str] = []
        self._kept_newer: list[str] = []
        self._upload_unconfirmed = ""
        self._errors: list[str] = []
        self._warnings: list[str] = []
        self._warned: set[str] = set()
        self._current = self._message = ""
        self._fatal: DriveError | None = None
        self._result: TransferResult | None = None
        self._started = self._ended = 0.0
        self._samples: collections.deque[tuple[float, int, int]] = collections.deque()
        self._lock_key = lock_key or os.path.abspath(dest)
        self._lock_fd = -1
        self._thread: threading.Thread | None = None

    # -- public ------------------------------------------------------------------------

    def start(self) -> Transfer:
        """Claim the destination (raises :class:`TransferBusy`) and start in the background."""
        self._claim()
        self._started = time.monotonic()
        self._samples.append((self._started, 0, 0))
        self._thread = threading.Thread(target=self._main, name=f"drivewidget-{self.kind}", daemon=True)
        self._thread.start()
        threading.Thread(target=self._tick, name=f"drivewidget-{self.kind}-progress", daemon=True).start()
        return self

    @property
    def progress(self) -> TransferProgress:
        with self._lock:
            return self._snapshot()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def result(self) -> TransferResult | None:
        """The result once done (also after a fatal error: what was done until then)."""
        return self._result

    @property
    def error(self) -> DriveError | None:
        """The error that stopped the whole transfer, if any."""
        return self._fatal

    def cancel(self) -> None:
        """Ask the transfer to stop soon. Files finished so far are kept; none is left half-written."""
        self._cancelled = True
        self.stop_event.set()

    def wait(self, timeout: float | None = None) -> TransferResult:
        """Wait until done and return the result; raise the error that stopped it, if any.

        Raises ``TimeoutError`` when ``timeout`` seconds pass first (the transfer goes on).
        """
        if not self._done.wait(timeout):
            raise TimeoutError(f"The {self.kind} is still running after {timeout:g} s.")
        if self._fatal is not None:
            raise self._fatal
        assert self._result is not None
        return self._result

    def on_progress(self, callback: ProgressCallback) -> None:
        with self._cb_lock:
            self._progress_cbs.append(callback)

    def on_done(self, callback: DoneCallback) -> None:
        with self._cb_lock:
            if not self._done.is_set():
                self._done_cbs.append(callback)
                return
        self._call(callback, self)

    def describe(self) -> str:
        return f"{self.kind} {show(self.src)} -> {show(self.dest)}"

    def __repr__(self) -> str:
        state = self._phase if not self.done else ("failed" if self._fatal else self._phase)
        return f"<Transfer {self.describe()} ({state})>"

    # -- for engines -------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def set_phase(self, phase: Phase) -> None:
        with self._lock:
            self._phase = phase

    def note_planned(self, size: int, *, copy: bool) -> None:
        """One more source file: to copy (``size`` bytes), or already identical."""
        with self._lock:
            self._files_total += 1
            if copy:
                self._bytes_total += size
            else:
                self._skipped += 1
                self._bytes_skipped += size

    def note_total(self, files: int, nbytes: int) -> None:
        """Adjust the totals (a file grew since it was listed, an engine learnt more)."""
        with self._lock:
            self._files_total += files
            self._bytes_total += nbytes

    def note_bytes(self, n: int) -> None:
        """Bytes written (negative: bytes of a copy that was thrown away)."""
        with self._lock:
            self._bytes_done += n

    def note_copied(self, size: int, *, bytes_done: bool = True) -> None:
        with self._lock:
            self._copied += 1
            self._bytes_copied += size
            if not bytes_done:
                self._bytes_done += size

    def note_kept_newer(self, rel: str, *, planned: int = 0) -> None:
        """A source file not copied because the destination has a newer, different copy
        (``planned``: its bytes, when it had been planned for copying)."""
        with self._lock:
            if planned:
                self._bytes_total -= planned
            else:
                self._files_total += 1
            self._kept_newer.append(rel)

    def note_upload_unconfirmed(self, reason: str) -> None:
        """The copy into the drive is done, but the drive could not confirm the upload."""
        self._upload_unconfirmed = reason
        self.note_warning(
            f"The files were copied into the drive, but their upload could not be confirmed: {reason}"
        )

    def note_identical(self, size: int) -> None:
        """A file planned for copying turned out identical (checksum mode)."""
        with self._lock:
            self._skipped += 1
            self._bytes_skipped += size
            self._bytes_total -= size

    def note_failed(self, message: str | None, size: int = 0, *, changed: str | None = None) -> None:
        """A file that was not copied (its planned bytes leave the total)."""
        with self._lock:
            self._failed += 1
            self._bytes_total -= size
            if message:
                self._errors.append(message)
            if changed is not None:
                self._changed.append(changed)

    def note_error(self, message: str) -> None:
        """A problem that is not one file's (a folder that cannot be listed, ...)."""
        with self._lock:
            self._errors.append(message)

    def note_warning(self, message: str, *, once: str = "") -> None:
        with self._lock:
            if once and once in self._warned:
                return
            self._warned.add(once)
            self._warnings.append(message)

    def note_current(self, rel: str) -> None:
        self._current = rel

    def note_message(self, line: str) -> None:
        self._message = line

    def abort(self, exc: DriveError) -> None:
        """Stop everything because of ``exc`` (the first such error is what ``wait()`` raises)."""
        with self._lock:
            if self._fatal is None:
                self._fatal = exc
        self.stop_event.set()

    # -- internals ---------------------------------------------------------------------

    def _main(self) -> None:
        try:
            self._runner(self)
        except DriveError as exc:
            self.abort(exc)
        except OSError as exc:
            self.abort(
                TransferError(
                    f"The {self.kind} stopped: {exc.strerror or exc} ({show(str(exc.filename or ''))})."
                )
            )
        except Exception as exc:  # reported through wait(), never lost on a thread
            log.exception("transfer failed")
            self.abort(TransferError(f"The {self.kind} stopped because of an unexpected error: {exc!r}"))
        finally:
            self._finish()

    def _finish(self) -> None:
        self._release()
        with self._lock:
            self._ended = time.monotonic()
            if self._fatal is not None:
                self._phase = "failed"
            elif self._cancelled:
                self._phase = "cancelled"
            else:
                self._phase = "done"
            self._result = TransferResult(
                kind=self.kind,
                src=self.src,
                dest=self.dest,
                method=self.method,
                files_total=self._files_total,
                copied=self._copied,
                skipped=self._skipped,
                failed=self._failed,
                bytes_copied=self._bytes_copied,
                bytes_skipped=self._bytes_skipped,
                changed=tuple(self._changed),
                errors=tuple(self._errors),
                warnings=tuple(self._warnings),
                kept_newer=tuple(self._kept_newer),
                upload_unconfirmed=self._upload_unconfirmed,
                cancelled=self._cancelled and self._fatal is None,
                elapsed=self._ended - self._started,
            )
            snapshot = self._snapshot()
        with self._cb_lock:  # the last progress report is delivered before wait() returns
            for cb in list(self._progress_cbs):
                self._call(cb, snapshot)
            self._done.set()
            done_cbs = list(self._done_cbs)
        for done_cb in done_cbs:
            self._call(done_cb, self)

    def _tick(self) -> None:
        while not self._done.wait(PROGRESS_INTERVAL):
            with self._cb_lock:
                if self._done.is_set():
                    return
                callbacks = list(self._progress_cbs)
                if callbacks:
                    snapshot = self.progress
                    for cb in callbacks:
                        self._call(cb, snapshot)

    @staticmethod
    def _call(callback: Callable[[Any], None], arg: Any) -> None:
        try:
            callback(arg)
        except Exception:  # a broken display must not break the copy
            log.exception("transfer callback failed")

    def _snapshot(self) -> TransferProgress:
        now = self._ended or time.monotonic()
        files_done = self._copied + self._skipped + self._failed
        samples = self._samples
        if not samples or now - samples[-1][0] >= 0.1:
            samples.append((now, self._bytes_done, files_done))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW:
            samples.popleft()
        t0, b0, f0 = samples[0]
        span = now - t0
        rate = max(0.0, (self._bytes_done - b0) / span) if span > 0.2 else 0.0
        files_rate = max(0.0, (files_done - f0) / span) if span > 0.2 else 0.0
        eta = None
        if self._phase == "copying":
            left_bytes = max(0, self._bytes_total - self._bytes_done)
            left_files = max(0, self._files_total - files_done)
            guesses = []
            if rate > 0:
                guesses.append(left_bytes / rate)
            if files_rate > 0:
                guesses.append(left_files / files_rate)
            eta = max(guesses) if guesses else None
        return TransferProgress(
            phase=self._phase,
            files_total=self._files_total,
            files_done=files_done,
            files_copied=self._copied,
            files_skipped=self._skipped,
            files_failed=self._failed,
            bytes_total=max(self._bytes_total, 0),
            bytes_done=max(self._bytes_done, 0),
            elapsed=(now - self._started) if self._started else 0.0,
            rate=rate,
            files_rate=files_rate,
            eta=eta,
            current=show(self._current) if self._current else "",
            message=self._message,
        )

    # -- one transfer per destination ----------------------------------------------------

    def _claim(self) -> None:
        key = self._lock_key
        with _active_lock:
            for other_key, other in _active.items():
                if is_within(key, other_key) or is_within(other_key, key):
                    raise TransferBusy(
                        f"Another transfer ({other.describe()}) is writing to {show(other.dest)}. "
                        "Wait for it to finish or cancel it, then try again."
                    )
            fd = os.open(lock_path(key), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another process"
                os.close(fd)
                raise TransferBusy(
                    f"Another transfer is writing to {show(self.dest)} ({holder}). "
                    "Wait for it to finish or stop it, then try again."
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"process {os.getpid()}: {self.describe()}".encode("utf-8", "backslashreplace"), 0)
            self._lock_fd = fd
            _active[key] = self

    def _release(self) -> None:
        with _active_lock:
            if _active.get(self._lock_key) is self:
                del _active[self._lock_key]
            if self._lock_fd >= 0:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._lock_fd, 0)
                os.close(self._lock_fd)  # closing drops the flock
                self._lock_fd = -1


def lock_path(key: str) -> Path:
    """The lock file that keeps two processes from writing to the same destination at once."""
    from ..settings import runtime_dir

    digest = hashlib.sha1(os.fsencode(key)).hexdigest()[:16]
    return runtime_dir() / f"transfer-{digest}.lock"


def active_transfers(owner: object = None) -> list[Transfer]:
    """Transfers running in this process (of ``owner``, e.g. a controller, when given)."""
    with _active_lock:
        return [t for t in _active.values() if owner is None or t.owner is owner]


# -- the Python engine -----------------------------------------------------------------


class _Pool:
    """Up to ``size`` daemon threads running tasks from a queue; tasks may submit more tasks.

    Threads start as work arrives (a single file needs one), and are daemons because a
    thread blocked on a hung FUSE mount can never be joined.
    """

    def __init__(self, size: int, name: str) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._pending = 0
        self._size = size
        self._name = name
        self._threads: list[threading.Thread] = []

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, task: Callable[[], None]) -> None:
        with self._cond:
            self._pending += 1
            grow = self._pending > len(self._threads) and len(self._threads) < self._size
            if grow:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
        self._queue.put(task)
        if grow:
            thread.start()

    def join(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self) -> None:
        with self._cond:
            count = len(self._threads)
        for _ in range(count):
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            try:
                task()
            except Exception:  # tasks report their own errors; never kill a worker
                log.exception("transfer task failed")
            finally:
                with self._cond:
                    self._pending -= 1
                    if self._pending == 0:
                        self._cond.notify_all()


@dataclass
class _Item:
    rel: str
    kind: Literal["file", "link"]
    size: int = 0
    mtime_ns: int = 0
    mode: int = 0o644
    target: str = ""
    check: bool = False
    dest_newer: bool = False
    """The destination's copy was changed after this one (beyond clock skew between machines):
    replacing it could undo someone's work, so it is kept unless the contents are identical."""


class _Changed(Exception):
    pass


class _Corrupt(Exception):
    pass


class _Stop(Exception):
    pass


class PythonCopy:
    """The engine behind :func:`start_copy` (``method="python"``): plan, check space, copy."""

    def __init__(self, transfer: Transfer) -> None:
        self.t = transfer
        self.o = transfer.options
        self.src, self.dest = transfer.src, transfer.dest
        self.follow = self.o.symlinks == "follow"
        self.items: list[_Item] = []
        self.new_dirs: list[tuple[str, int]] = []
        self.stale: list[str] = []
        self.bad_dirs: set[str] = set()
        self.touched: set[str] = set()
        self.links_skipped = 0
        self._lock = threading.Lock()
        self._umask = _umask()
        self._pool: _Pool | None = None
        self.single = False

    def run(self) -> None:
        """Plan, check space, copy. Every filesystem call runs on the pool, so this thread can
        always give up on a drive that hangs once the transfer is cancelled."""
        pool = self._pool = _Pool(self.o.workers, f"drivewidget-{self.t.kind}")
        try:
            self.t.set_phase("listing")
            self._in_pool(self._plan)
            self._join(pool)
            if self.links_skipped:
                self.t.note_warning(f"Skipped {self.links_skipped} symbolic link(s) (symlinks='skip').")
            if self.t.stopping:
                return
            self._in_pool(self._check_space)
            self.t.set_phase("copying")
            self._make_dirs(pool)
            for path in self.stale:  # an interrupted run's temporary files, before new ones appear
                pool.submit(partial(_unlink_quietly, path))
            self._join(pool)
            for item in sorted(self.items, key=lambda i: -i.size):
                pool.submit(partial(self._copy, item))
            self._join(pool)
            if self.o.fsync and not self.t.stopping:
                for folder in self.touched:
                    pool.submit(partial(_fsync_dir, folder))
                self._join(pool)
        finally:
            pool.shutdown()

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
        self._join(self._pool)
        if failure:
            raise failure[0]

    def _join(self, pool: _Pool) -> None:
        stopped_at = 0.0
        while not pool.join(0.1):
            if self.t.stopping:
                stopped_at = stopped_at or time.monotonic()
                if time.monotonic() - stopped_at > STUCK_GRACE:
                    self.t.note_warning(
                        f"{pool.pending} file operation(s) were still blocked on a drive that does not "
                        "respond; they were abandoned (their temporary files are removed by the next run)."
                    )
                    return

    # -- plan --------------------------------------------------------------------------

    def _plan(self) -> None:
        try:
            st = os.stat(self.src)
        except OSError as exc:
            raise self._whole_error(exc, self.src) from exc
        if not stat.S_ISDIR(st.st_mode):
            if not stat.S_ISREG(st.st_mode):
                raise InvalidPath(
                    f"{show(self.src)} is not a regular file or a folder, so it cannot be copied."
                )
            self.single = True
            dst = self._lstat(self.dest)
            self._decide(_Item("", "file", st.st_size, st.st_mtime_ns, st.st_mode), dst, self.dest)
            return
        try:
            dst_st = os.stat(self.dest)
        except FileNotFoundError:
            dst_st = None
        except OSError as exc:
            raise self._whole_error(exc, self.dest) from exc
        if dst_st is not None and not stat.S_ISDIR(dst_st.st_mode):
            raise InvalidPath(
                f"{show(self.dest)} is a file; give a folder to copy the folder {show(self.src)} into."
            )
        self._submit(partial(self._list, "", dst_st is not None, frozenset({(st.st_dev, st.st_ino)})))

    @staticmethod
    def _lstat(path: str) -> os.stat_result | None:
        try:
            return os.lstat(path)
        except FileNotFoundError:
            return None

    def _list(self, rel: str, dest_exists: bool, ancestors: frozenset[tuple[int, int]]) -> None:
        if self.t.stopping:
            return
        src_dir, dst_dir = _join(self.src, rel), _join(self.dest, rel)
        try:
            with os.scandir(src_dir) as it:
                entries = list(it)
        except OSError as exc:
            self._folder_error(rel, exc, "cannot be listed")
            return
        existing: dict[str, os.DirEntry[str]] = {}
        if dest_exists:
            try:
                with os.scandir(dst_dir) as it:
                    for entry in it:
                        if TEMP_RE.match(entry.name):
                            self.stale.append(entry.path)
                        else:
                            existing[entry.name] = entry
            except FileNotFoundError:
                pass
            except OSError as exc:
                self._folder_error(rel, exc, "cannot be listed at the destination")
                return
        for entry in entries:
            if TEMP_RE.match(entry.name):
                continue
            child = os.path.join(rel, entry.name) if rel else entry.name
            try:
                self._plan_entry(entry, child, existing.get(entry.name), ancestors)
            except OSError as exc:
                if exc.errno in _DISCONNECTED:
                    self.t.abort(self._whole_error(exc, entry.path))
                    return
                self.t.note_failed(f"{show(child)}: cannot be read ({exc.strerror or exc}).")

    def _plan_entry(
        self,
        entry: os.DirEntry[str],
        child: str,
        existing: os.DirEntry[str] | None,
        ancestors: frozenset[tuple[int, int]],
    ) -> None:
        if entry.is_symlink():
            if self.o.symlinks == "skip":
                with self._lock:
                    self.links_skipped += 1
                return
            if self.o.symlinks == "copy":
                item = _Item(child, "link", target=os.readlink(entry.path))
                self._decide(item, existing.stat(follow_symlinks=False) if existing else None, None)
                return
            try:
                st = entry.stat()
            except FileNotFoundError:
                self.t.note_failed(
                    f"{show(child)}: a symbolic link to something missing ({show(os.readlink(entry.path))}); not copied."
                )
                return
        else:
            st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in ancestors:
                self.t.note_error(
                    f"{show(child)}: a symbolic link back to a folder that contains it (a loop); not followed."
                )
                return
            dest_has = False
            if existing is not None:
                if existing.is_symlink():
                    self.t.note_error(
                        f"{show(child)}: the destination has a symbolic link here; the copy never writes "
                        "through links, so this folder was not copied. Remove the link and run again."
                    )
                    return
                if not existing.is_dir(follow_symlinks=False):
                    self.t.note_error(
                        f"{show(child)}: the destination has a file where the source has a folder; "
                        "move the file away and run again."
                    )
                    return
                dest_has = True
            else:
                with self._lock:
                    self.new_dirs.append((child, st.st_mode))
            self._submit(partial(self._list, child, dest_has, ancestors | {key}))
        elif stat.S_ISREG(st.st_mode):
            item = _Item(child, "file", st.st_size, st.st_mtime_ns, st.st_mode)
            self._decide(item, existing.stat(follow_symlinks=False) if existing else None, None)
        else:
            self.t.note_failed(
                f"{show(child)}: not a regular file, folder or link (a device, pipe or socket); skipped."
            )

    def _submit(self, task: Callable[[], None]) -> None:
        assert self._pool is not None
        self._pool.submit(task)

    def _decide(self, item: _Item, dst: os.stat_result | None, dst_path: str | None) -> None:
        copy = True
        if dst is not None and stat.S_ISDIR(dst.st_mode):
            self.t.note_planned(0, copy=True)
            self.t.note_failed(
                f"{show(item.rel or self.dest)}: the destination has a folder with this name; move it away and run again."
            )
            return
        if item.kind == "link":
            if dst is not None and stat.S_ISLNK(dst.st_mode):
                with contextlib.suppress(OSError):
                    copy = os.readlink(dst_path or _join(self.dest, item.rel)) != item.target
        elif dst is not None and stat.S_ISREG(dst.st_mode):
            item.dest_newer = (
                not self.o.overwrite_newer and dst.st_mtime_ns > item.mtime_ns + NEWER_TOLERANCE_NS
            )
            same_size = dst.st_size == item.size
            if item.dest_newer and not (self.o.checksum and same_size):
                self.t.note_kept_newer(item.rel or os.path.basename(self.dest))
                return
            if same_size and self.o.checksum:
                item.check = True  # contents decide, in the copy phase
            elif same_size:
                copy = not same_mtime(dst.st_mtime_ns, item.mtime_ns)
        self.t.note_planned(item.size, copy=copy)
        if copy:
            with self._lock:
                self.items.append(item)

    def _folder_error(self, rel: str, exc: OSError, what: str) -> None:
        if exc.errno in _DISCONNECTED:
            self.t.abort(self._whole_error(exc, _join(self.src, rel)))
            return
        reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        self.t.note_error(
            f"{show(rel or self.src)}: the folder {what} ({reason}); its contents were not copied."
        )

    def _whole_error(self, exc: OSError, path: str) -> DriveError:
        if exc.errno in _DISCONNECTED:
            return StaleMount(
                f"The drive stopped answering ({exc.strerror}) at {show(path)}. Files copied so far are "
                "complete; recover the drive (unmount and mount again), then run again to finish."
            )
        if exc.errno in _NO_SPACE:
            return NotEnoughSpace(
                f"The destination ran out of space while copying ({show(path)}). Files copied so far are "
                "complete; free some space (or choose another destination), then run again to finish."
            )
        if isinstance(exc, FileNotFoundError):
            return InvalidPath(f"There is nothing at {show(path)}. Check the path.")
        if isinstance(exc, PermissionError):
            return InvalidPath(f"No permission to open {show(path)}. Choose a place you can read and write.")
        return TransferError(f"Cannot copy: {show(path)}: {exc.strerror or exc}.")

    # -- space -------------------------------------------------------------------------

    def _check_space(self) -> None:
        where = _nearest_existing(self.dest)
        try:
            vfs = os.statvfs(where)
        except OSError:
            return
        if vfs.f_blocks == 0:
            return  # a filesystem that does not know (some FUSE remotes)
        block = vfs.f_frsize or 4096
        need = sum(-(-i.size // block) * block for i in self.items if i.kind == "file")
        free = vfs.f_bavail * block
        reserve = self.o.reserve
        if reserve is None:
            reserve = min(DEFAULT_RESERVE, vfs.f_blocks * block // 20)
        if need + reserve > free:
            raise NotEnoughSpace(
                f"Not enough free space on {show(where)}: the copy needs {format_bytes(need)} "
                f"(keeping {format_bytes(reserve)} free) but only {format_bytes(free)} is free. Nothing "
                "was copied. Free some space, or copy a smaller folder or to a bigger disk."
            )
        if vfs.f_files and vfs.f_favail < len(self.items) + len(self.new_dirs) + 16:
            raise NotEnoughSpace(
                f"Not enough free inodes on {show(where)} for {len(self.items)} files ({vfs.f_favail} left). "
                "Nothing was copied. Delete some small files there or choose another destination."
            )

    # -- copy --------------------------------------------------------------------------

    def _make_dirs(self, pool: _Pool) -> None:
        parent = os.path.dirname(self.dest) if self.single else self.dest

        def make_parent() -> None:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise self._whole_error(exc, parent) from exc

        self._in_pool(make_parent)
        by_depth: dict[int, list[tuple[str, int]]] = collections.defaultdict(list)
        for rel, mode in self.new_dirs:
            by_depth[rel.count(os.sep)].append((rel, mode))
        for depth in sorted(by_depth):
            for rel, mode in by_depth[depth]:
                pool.submit(partial(self._mkdir, rel, mode))
            self._join(pool)
            if self.t.stopping:
                return

    def _mkdir(self, rel: str, mode: int) -> None:
        if os.path.dirname(rel) in self.bad_dirs:
            with self._lock:
                self.bad_dirs.add(rel)
            return
        path = _join(self.dest, rel)
        try:
            os.mkdir(path, (mode & 0o777) | 0o700)
        except FileExistsError:
            if os.path.isdir(path) and not os.path.islink(path):
                return
            self.t.note_error(
                f"{show(rel)}: something else appeared at the destination; this folder was not copied."
            )
        except OSError as exc:
            if exc.errno in _NO_SPACE or exc.errno in _DISCONNECTED:
                self.t.abort(self._whole_error(exc, path))
                return
            self.t.note_error(f"{show(rel)}: cannot create this folder at the destination ({exc.strerror}).")
        else:
            return
        with self._lock:
            self.bad_dirs.add(rel)

    def _copy(self, item: _Item) -> None:
        if self.t.stopping:
            return
        parent = os.path.dirname(item.rel)
        if parent in self.bad_dirs:
            self.t.note_failed(None, item.size)
            return
        self.t.note_current(item.rel)
        src = _join(self.src, item.rel)
        dst = _join(self.dest, item.rel)
        tmp = os.path.join(os.path.dirname(dst), temp_name(os.path.basename(dst)))
        try:
            if item.kind == "link":
                self._copy_link(item, dst, tmp)
            elif item.check and self._identical(src, dst, item):
                self.t.note_identical(item.size)
            elif item.check and item.dest_newer:
                self.t.note_kept_newer(item.rel or os.path.basename(self.dest), planned=item.size)
            else:
                self._copy_file(item, src, dst, tmp)
            with self._lock:
                self.touched.add(os.path.dirname(dst))
        except _Stop:
            pass
        except _Changed:
            self.t.note_failed(
                f"{show(item.rel)}: changed while it was being copied ({self.o.retries + 1} tries); left out. "
                "Run again once it has stopped changing.",
                item.size,
                changed=item.rel,
            )
        except _Corrupt as exc:
            self.t.note_failed(f"{show(item.rel)}: {exc}", item.size)
        except OSError as exc:
            self._file_error(item, exc, src)

    def _file_error(self, item: _Item, exc: OSError, src: str) -> None:
        if exc.errno in _NO_SPACE or exc.errno in _DISCONNECTED:
            self.t.note_failed(None, item.size)
            self.t.abort(self._whole_error(exc, _join(self.dest, item.rel)))
            return
        from_source = exc.filename == src
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
        elif exc.errno == errno.EIO:
            reason = "input/output error (the drive could not deliver it); run again to retry"
        else:
            reason = exc.strerror or str(exc)
        self.t.note_failed(f"{show(item.rel or self.src)}: {reason}.", item.size)

    def _copy_link(self, item: _Item, dst: str, tmp: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(item.target, tmp)
        try:
            os.replace(tmp, dst)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.t.note_copied(0)

    def _copy_file(self, item: _Item, src: str, dst: str, tmp: str) -> None:
        for _ in range(self.o.retries + 1):
            try:
                self._copy_once(item, src, dst, tmp)
                return
            except _Changed:
                if self.t.stopping:
                    raise _Stop() from None
        raise _Changed()

    def _copy_once(self, item: _Item, src: str, dst: str, tmp: str) -> None:
        flags = os.O_RDONLY | os.O_CLOEXEC | (0 if self.follow else os.O_NOFOLLOW)
        fd_in = os.open(src, flags)
        out, written, created = -1, 0, False
        try:
            st0 = os.fstat(fd_in)
            if not stat.S_ISREG(st0.st_mode):
                raise OSError(errno.EINVAL, "it is no longer a regular file", src)
            if st0.st_size != item.size:
                self.t.note_total(
                    0, st0.st_size - item.size
                )  # changed since it was listed: copy it as it is now
                item.size = st0.st_size
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            created = True
            crc, stop, read = 0, self.t.stop_event, os.read
            while True:
                if stop.is_set():
                    raise _Stop()
                chunk = read(fd_in, CHUNK)
                if not chunk:
                    break
                crc = zlib.crc32(chunk, crc)
                _write_all(out, chunk)
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
            os.close(out)
            out = -1
            try:
                os.utime(tmp, ns=(st0.st_atime_ns, st0.st_mtime_ns))
            except OSError as exc:
                self.t.note_warning(
                    f"Cannot set modification times at {show(self.dest)} ({exc.strerror}): a re-run cannot "
                    "recognise identical files there and copies them again.",
                    once="utime",
                )
            if self.o.verify:
                self._verify(tmp, written, crc)
            os.replace(tmp, dst)
            created = False
            self.t.note_copied(written)
        except BaseException:
            self.t.note_bytes(-written)
            if out >= 0:
                os.close(out)
            if created:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise
        finally:
            os.close(fd_in)

    @staticmethod
    def _verify(path: str, size: int, crc: int) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if os.fstat(fd).st_size != size:
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

    def _identical(self, src: str, dst: str, item: _Item) -> bool:
        """Checksum mode: same content? (Then also align the mtime, so size + mtime agree next time.)"""
        if _digest(src, self.t.stop_event) != _digest(dst, self.t.stop_event):
            return False
        with contextlib.suppress(OSError):
            os.utime(dst, ns=(time.time_ns(), item.mtime_ns))
        return True


def run_python(transfer: Transfer) -> None:
    """The Python engine as a :data:`Runner`."""
    PythonCopy(transfer).run()


def _digest(path: str, stop: threading.Event) -> bytes:
    h = hashlib.blake2b(digest_size=32)
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK):
            if stop.is_set():
                raise _Stop()
            h.update(chunk)
    return h.digest()


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _fsync_dir(path: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- entry points ----------------------------------------------------------------------


def start_copy(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    kind: str = "copy",
    options: CopyOptions | None = None,
    on_progress: ProgressCallback | None = None,
    on_done: DoneCallback | None = None,
    cancel_event: threading.Event | None = None,
    engine: Runner | None = None,
    method: str = "python",
    owner: object = None,
    checked: bool = False,
    **kwargs: Any,
) -> Transfer:
    """Start copying ``src`` (a folder or a file) to ``dest`` in the background.

    A folder's contents go into ``dest`` (created if missing); a file goes into ``dest``
    when that is a folder, else it becomes ``dest``. Keyword arguments are
    :class:`CopyOptions` fields. Raises :class:`TransferBusy` when another transfer writes
    to the same place, :class:`InvalidPath` when one path contains the other. ``checked``:
    the caller has resolved and checked both paths (``dest`` is final), so nothing here
    touches them (they may be on a drive that hangs).
    """
    opts = CopyOptions.from_kwargs(options, **kwargs)
    src_path = os.path.abspath(os.path.expanduser(os.fspath(src)))
    if checked:
        dest_path = lock_key = os.path.abspath(os.fspath(dest))
    else:
        dest_path = resolve_dest(src_path, os.path.expanduser(os.fspath(dest)))
        real_src, real_dest = os.path.realpath(src_path), os.path.realpath(dest_path)
        lock_key = real_dest
        if is_within(real_dest, real_src) or is_within(real_src, real_dest):
            raise InvalidPath(
                f"Cannot copy {show(src_path)} to {show(dest_path)}: one is inside the other. "
                "Choose a destination elsewhere."
            )
    transfer = Transfer(
        src_path,
        dest_path,
        engine or run_python,
        kind=kind,
        method=method,
        options=opts,
        on_progress=on_progress,
        on_done=on_done,
        cancel_event=cancel_event,
        owner=owner,
        lock_key=lock_key,
    )
    return transfer.start()


def copy_tree(src: str | os.PathLike[str], dest: str | os.PathLike[str], **kwargs: Any) -> TransferResult:
    """:func:`start_copy` and wait; Ctrl-C cancels cleanly (no half-written file) and re-raises."""
    return wait_interruptibly(start_copy(src, dest, **kwargs))


def wait_interruptibly(transfer: Transfer) -> TransferResult:
    """Wait for ``transfer``; on KeyboardInterrupt cancel it, wait for the clean-up, re-raise."""
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                return transfer.wait(0.25)
    except KeyboardInterrupt:
        transfer.cancel()
        with contextlib.suppress(DriveError, TimeoutError):
            transfer.wait(STUCK_GRACE + 5)
        raise
