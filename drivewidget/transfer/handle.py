"""The handle of a running transfer, and the rule of one transfer per destination.

:class:`Transfer` runs an engine on a thread and turns what it reports into progress
snapshots, callbacks and a :class:`~.options.TransferResult`. Claiming a destination takes
an in-process registry entry and an ``flock`` on a lock file (so two processes, or two
notebooks, never write to the same folder at once); :func:`active_transfers` lists the
running ones (the unmount hold asks it).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DriveError, TransferBusy, TransferError, from_os_error
from ..settings import runtime_dir
from ..status.mounttable import is_within
from ..text import printable
from .options import CopyOptions, Phase, TransferProgress, TransferResult

__all__ = [
    "DoneCallback",
    "ProgressCallback",
    "Runner",
    "Transfer",
    "active_transfers",
    "lock_path",
]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[TransferProgress], None]
DoneCallback = Callable[["Transfer"], None]
Runner = Callable[["Transfer"], None]

PROGRESS_INTERVAL = 0.2
"""Seconds between progress callbacks."""
RATE_WINDOW = 5.0
"""Seconds of history behind the rate and the ETA."""

_active: dict[str, Transfer] = {}
_active_lock = threading.Lock()


class Transfer:
    """A transfer running in the background: watch it, cancel it, wait for it.

    Engines (the copy engine of :mod:`.engine`, a keep-synced pass) report through the
    ``note_*`` methods; the handle turns that into :class:`TransferProgress` snapshots, callbacks and a result.
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
        return f"{self.kind} {printable(self.src)} -> {printable(self.dest)}"

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
            where = printable(os.fsdecode(exc.filename)) if exc.filename else self.describe()
            self.abort(
                from_os_error(
                    exc,
                    doing=f"finish the {self.kind} at",
                    path=where,
                    then="Files copied so far are complete.",
                    fallback=TransferError,
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
            current=printable(self._current) if self._current else "",
            message=self._message,
        )

    # -- one transfer per destination ----------------------------------------------------

    def _claim(self) -> None:
        key = self._lock_key
        with _active_lock:
            for other_key, other in _active.items():
                if is_within(key, other_key) or is_within(other_key, key):
                    raise TransferBusy(
                        f"Another transfer ({other.describe()}) is writing to {printable(other.dest)}. "
                        "Wait for it to finish or cancel it, then try again."
                    )
            fd = os.open(lock_path(key), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another process"
                os.close(fd)
                raise TransferBusy(
                    f"Another transfer is writing to {printable(self.dest)} ({holder}). "
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
    digest = hashlib.sha1(os.fsencode(key)).hexdigest()[:16]
    return runtime_dir() / f"transfer-{digest}.lock"


def active_transfers(owner: object = None) -> list[Transfer]:
    """Transfers running in this process (of ``owner``, e.g. a controller, when given)."""
    with _active_lock:
        return [t for t in _active.values() if owner is None or t.owner is owner]
