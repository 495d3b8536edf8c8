"""A keep-synced job: passes in the background that keep a local folder copied to the drive.

The job's thread sleeps until there is work (a change notification, a file that was busy
last time, a safety-net scan that is due) and then runs at most one pass every ``every``
seconds. With nothing changing it wakes only to look at the local folder once per
``every`` (one ``stat``, to notice the folder being replaced), so an idle job costs
nothing measurable. Each pass is a :class:`~drivewidget.transfer.Transfer` (the
same progress, cancel and result as ``sync_back``) whose engine is
:class:`~drivewidget.sync.syncpass.SyncPass`.

The job is also a :class:`~drivewidget.holds.Hold`: an unmount first makes a final pass,
bounded by the time the unmount gives it, and the job then stops (its drive is going away).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from traitlets import Enum, Float, HasTraits, Int, Unicode, validate

from ..errors import DriveError, InvalidPath, NotMounted, StaleMount
from ..text import format_duration, printable
from ..transfer.handle import Transfer
from ..transfer.options import TransferResult
from ..transfer.pool import STUCK_GRACE
from .deletes import kept_changed_text
from .drive import SyncDrive
from .drive_side import temp_tag
from .ledger import Ledger
from .options import SyncOptions
from .syncpass import PassRequest, SyncPass
from .watcher import Watcher

__all__ = ["STATES", "SyncJob"]

log = logging.getLogger(__name__)

STATES = ("idle", "syncing", "stopped", "error")
SCAN_COST_FACTOR = 200
"""Safety-net scans are spaced at least this many times their own duration apart (0.5 %)."""
UNSETTLED_PASSES = 3
"""Passes a file must have missed (besides ``unsettled_after``) to be reported as unsettled."""
STALE_RETRIES, STALE_RETRY_WAIT = 2, 0.25
"""A drive that answers "stale" is asked again this often, this many seconds apart, before
a pass gives up: a bounded look may time out once on a busy machine (a final pass skipped
for that would lose the last files). A hung drive answers "stale" at once while its first
look is still stuck, so this costs it half a second."""


class SyncJob(HasTraits):
    """Keeps ``local`` copied into a folder of the drive; made by :func:`~drivewidget.sync.keep_synced`.

    Observable traits: ``state`` ("idle" | "syncing" | "stopped" | "error"), ``last_synced``
    (wall-clock time of the last completed pass, or None), ``pending`` (files changed locally
    and not yet on the drive), ``error`` (the last problem in words, "" when the last pass
    was clean) and ``message`` (what the last pass did, in words).
    """

    state = Enum(STATES, default_value="idle", help="What the job is doing.")
    last_synced = Float(None, allow_none=True, help="time.time() when the last pass completed.")
    pending = Int(0, help="Files changed locally and not yet on the drive.")
    error = Unicode("", help="The last problem, in words; '' when the last pass was clean.")
    message = Unicode("", help="What the last pass did, in words.")

    @validate("state")
    def _stays_stopped(self, proposal: Any) -> str:
        """A stopped job is over: a pass that ends after :meth:`stop` gave up on it (a drive
        that hung) must not bring it back as 'idle' with no thread behind it."""
        return "stopped" if self.state == "stopped" else str(proposal["value"])

    def __init__(
        self,
        drive: SyncDrive,
        local: str,
        base: str,
        rel: str,
        options: SyncOptions,
        *,
        on_stopped: Callable[[SyncJob], None] | None = None,
    ) -> None:
        super().__init__()
        self.drive = drive
        self.local = local
        self.base, self.rel = base, rel
        self.dest = os.path.join(base, rel) if rel else base
        """The drive folder, as a path (for messages and the per-destination lock)."""
        self.options = options
        self.ledger = Ledger()
        self.temp_tag = temp_tag(local, self.dest)
        """Names this job's temporary files on the drive (the same after a restart)."""
        self.last_result: TransferResult | None = None
        """The result of the last pass that ran (None before the first)."""
        self._on_stopped = on_stopped
        self._lock = threading.RLock()  # guards the sets below; traits are set outside it
        self._pass_lock = threading.Lock()  # one pass at a time (the thread, sync_now, stop)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._dirty: set[str] = set()
        self._dirty_folders: set[str] = set()
        self._retry: set[str] = set()
        self._in_flight: set[str] = set()
        """Files the pass in progress is to copy and has not yet committed on the drive."""
        self._full_next = True
        self._check_drive_next = True
        self._next_rescan = 0.0
        self._waiting_since: dict[str, tuple[float, int]] = {}
        self._unsettled: list[str] = []
        self._current: Transfer | None = None
        self._watcher: Watcher | None = None
        self._thread: threading.Thread | None = None
        self._holds: list[tuple[object, Callable[[], None]]] = []
        """(controller, the function that takes this job's unmount hold away from it)."""
        self._over = False  # stopped: takes no new hold (under _lock)

    # -- public ------------------------------------------------------------------------

    @property
    def every(self) -> float:
        """Seconds between passes; setting it takes effect at once."""
        return self.options.every

    @every.setter
    def every(self, seconds: float) -> None:
        self.options = self.options.replace(every=seconds)
        self._wake.set()

    def configure(self, options: SyncOptions) -> None:
        """Use ``options`` from the next pass on (a pass in progress keeps its own)."""
        if options != self.options:
            self.options = options
            self._wake.set()

    @property
    def mirror_deletes(self) -> bool:
        return self.options.mirror_deletes

    @property
    def running(self) -> bool:
        return self.state != "stopped"

    @property
    def unsettled(self) -> list[str]:
        """Files that have not been quiet for ``settle`` seconds at any pass for a long time
        (``unsettled_after``): they change too often to be copied whole."""
        with self._lock:
            return list(self._unsettled)

    @property
    def watching(self) -> bool:
        """Whether changes are noticed by notifications (else by a scan on every pass)."""
        return self._watcher is not None and self._watcher.running

    def start(self) -> SyncJob:
        """Start the background thread (the first pass runs at once)."""
        self._start_watcher()
        self._thread = threading.Thread(target=self._loop, name="drivewidget-keep-synced", daemon=True)
        self._thread.start()
        return self

    def sync_now(self, timeout: float | None = None) -> TransferResult:
        """Run one pass now (every local file is looked at) and return its result.

        Waits for a pass in progress first. Raises the :class:`~drivewidget.errors.DriveError`
        that stopped the pass (drive not mounted, not answering, full...); ``timeout``: give
        up after that many seconds (the pass is cancelled; finished files are complete).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        result = self._pass(full=True, check_drive=False, deadline=deadline, final=False, reraise=True)
        assert result is not None
        return result

    def stop(self, flush: bool = True, timeout: float | None = None) -> TransferResult | None:
        """Stop the job; with ``flush`` a final pass first (every local file is looked at).

        Returns the final pass's result (None without ``flush``). ``timeout`` bounds the
        whole stop: a pass still running then is cancelled (files already copied are
        complete; the rest stay on the drive in their previous version).
        """
        if self.state == "stopped" and self._stopping.is_set():
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        if self._watcher is not None:
            self._watcher.stop(0.5)
        result: TransferResult | None = None
        try:
            if flush:
                result = self._pass(
                    full=True, check_drive=False, deadline=deadline, final=True, reraise=False
                )
            else:
                self._cancel_current()
        finally:
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(STUCK_GRACE if deadline is None else _left(deadline))
            self._finish()
        return result

    def share(self, drive: SyncDrive, owner: object, remove_hold: Callable[[], None]) -> None:
        """Also hold the unmount of ``owner`` (a new controller of the same drive: a panel's
        cell run again), and sync through ``drive`` (its adapter) from the next pass on. The
        earlier controllers keep their hold: any of them unmounting makes the final pass."""
        self.attach_hold(owner, remove_hold)
        self.drive = drive

    def attach_hold(self, owner: object, remove: Callable[[], None]) -> None:
        """``owner``'s unmount waits for this job; ``remove`` takes that away (when it stops)."""
        with self._lock:
            if not self._over:
                self._holds.append((owner, remove))
                return
        remove()  # stopped already: nothing to hold

    def held_by(self, owner: object) -> bool:
        """Whether ``owner`` (a controller) makes this job's final pass when it unmounts."""
        with self._lock:
            return any(held is owner for held, _ in self._holds)

    def describe(self) -> str:
        """What the job is, in words (the unmount hold's description)."""
        return f"keeping {printable(self.local)} synced to {printable(self.dest)}"

    def status_text(self) -> str:
        """One line for the panel: when it last synced, what is pending, the last problem."""
        if self.state == "stopped":
            head = "Stopped"
        elif self.state == "syncing":
            head = "Syncing now"
        elif self.last_synced is None:
            head = "Waiting for the first pass"
        else:
            head = "Watching"
        parts = [head]
        if self.last_synced is not None:
            ago = max(0.0, time.time() - self.last_synced)
            parts.append(
                f"last synced {format_duration(ago)} ago ({time.strftime('%H:%M:%S', time.localtime(self.last_synced))})"
            )
        else:
            parts.append("not synced yet")
        if self.pending:
            parts.append(f"{self.pending} file(s) pending")
        text = ", ".join(parts) + "."
        if self.unsettled:
            names = self.unsettled
            text += (
                f" {len(names)} file(s) never stay unchanged for {self.options.settle:g} s and are not copied: "
                f"{', '.join(printable(n) for n in names[:3])}."
            )
        if self.error:
            text += f" {self.error}"
        return text

    # -- the unmount hold ----------------------------------------------------------------

    def before_unmount(self, timeout: float) -> list[str]:
        """A final pass within ``timeout`` seconds, then stop: lines saying what happened."""
        started = time.monotonic()
        result = self.stop(flush=True, timeout=timeout)
        took = time.monotonic() - started
        where = f"{printable(self.local)} -> {printable(self.dest)}"
        if result is None:
            if not self.error:
                return [f"Keep in sync ({where}) stopped."]
            pending = f" {self.pending} changed file(s) did not reach the drive." if self.pending else ""
            return [f"Keep in sync ({where}) stopped without a final pass: {self.error}{pending}"]
        if result.cancelled:
            return [
                f"Keep in sync ({where}): the final pass did not finish within {timeout:.0f} s and was cut "
                f"short after copying {result.copied} file(s). Files on the drive are complete, but some "
                "may be older than on this machine: copy them with sync_back if they matter."
            ]
        line = f"Keep in sync ({where}): final pass copied {result.copied} file(s) in {took:.1f} s; stopped."
        if self.error:
            line += f" {self.error}"
        return [line]

    def __repr__(self) -> str:
        return f"<SyncJob {self.describe()} ({self.state})>"

    # -- the thread ------------------------------------------------------------------------

    def _loop(self) -> None:
        next_pass = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            self._check_watcher()
            if self._has_work(now) and now >= next_pass:
                self._pass(full=None, check_drive=None, deadline=None, final=False, reraise=False)
                next_pass = now + self.every
                continue
            if self._has_work(now):
                wait = next_pass - now
            else:
                wait = min(self.every, max(0.05, self._next_rescan - now))
            self._wake.wait(max(0.05, wait))
            self._wake.clear()

    def _has_work(self, now: float) -> bool:
        with self._lock:
            return bool(
                self._dirty or self._retry or self._full_next or now >= self._next_rescan or not self.watching
            )

    def _on_change(self, paths: set[str]) -> None:
        if "" in paths:
            paths = paths - {""}
            with self._lock:
                self._full_next = True
        # a folder stays in the pass's paths (one moved in whole is scanned), but is not a
        # pending file
        folders = {p for p in paths if os.path.isdir(os.path.join(self.local, p))}
        with self._lock:
            self._dirty |= paths
            self._dirty_folders |= folders
        self._update_pending()
        self._wake.set()

    def _planned(self, files: set[str]) -> None:
        """The pass knows what it copies (a full pass: only now): those are pending."""
        with self._lock:
            self._in_flight = set(files)
        self._update_pending()

    def _settled(self, rel: str) -> None:
        """One file of the pass is on the drive (or needs nothing more)."""
        with self._lock:
            self._in_flight.discard(rel)
        self._update_pending()

    def _count_pending(self) -> int:
        with self._lock:
            return len((self._dirty - self._dirty_folders) | self._retry | self._in_flight)

    def _update_pending(self) -> None:
        """``pending`` from the sets: files changed locally and not yet on the drive.

        Set outside the lock (observers may call back in), from several threads (the pass's
        workers, the watcher's, the job's): each setter looks again after setting, so a count
        computed earlier but set later never stays."""
        for _ in range(100):
            count = self._count_pending()
            self.pending = count
            if self._count_pending() == count:
                return

    def _start_watcher(self) -> None:
        watcher = Watcher(self.local, self._on_change)
        self._watcher = watcher if watcher.start() else None
        if self._watcher is None:
            log.info("keep-synced %s: %s", self.local, watcher.problem)

    def _check_watcher(self) -> None:
        """A new watcher when the local folder was replaced (or came back after a deletion)."""
        try:
            st = os.stat(self.local)
        except OSError:
            return
        watcher = self._watcher
        if watcher is not None and watcher.identity == (st.st_dev, st.st_ino) and watcher.running:
            return
        if watcher is not None and watcher.identity == (st.st_dev, st.st_ino):
            return  # the same folder, notifications broken: every pass scans (see _has_work)
        if watcher is not None:
            watcher.stop(0.5)
        with self._lock:
            self._full_next = True
        self._start_watcher()

    # -- one pass --------------------------------------------------------------------------

    def _pass(
        self,
        *,
        full: bool | None,
        check_drive: bool | None,
        deadline: float | None,
        final: bool,
        reraise: bool,
    ) -> TransferResult | None:
        """Run one pass (``None``: decided from what the job knows). Exceptions are kept in
        ``error`` (and raised with ``reraise``)."""
        if not self._pass_lock.acquire(timeout=-1 if deadline is None else _left(deadline)):
            self._cancel_current()  # a pass still running at the deadline: cut it short
            if not self._pass_lock.acquire(timeout=STUCK_GRACE):
                if reraise:
                    raise StaleMount(
                        f"A pass into {printable(self.dest)} is stuck on a drive that does not answer."
                    )
                return None
        try:
            if self.state == "stopped" and reraise:
                raise DriveError(
                    f"This job ({self.describe()}) is stopped; start a new one with keep_synced()."
                )
            if self.state == "stopped" or (self._stopping.is_set() and not final and not reraise):
                return None
            return self._pass_locked(full, check_drive, deadline, final, reraise)
        finally:
            self._pass_lock.release()

    def _pass_locked(
        self, full: bool | None, check_drive: bool | None, deadline: float | None, final: bool, reraise: bool
    ) -> TransferResult | None:
        now = time.monotonic()
        with self._lock:
            rescan = now >= self._next_rescan
            full = full if full is not None else (self._full_next or rescan or not self.watching)
            check = check_drive if check_drive is not None else (self._check_drive_next or rescan)
            paths, folders = self._dirty | self._retry, self._dirty_folders
            self._dirty, self._retry, self._dirty_folders = set(), set(), set()
            self._in_flight = paths - folders  # still pending: the pass has them now
            self._full_next = self._check_drive_next = False
        # a background pass waits a bounded time for the upload; a final pass or Sync now
        # waits for it (within their own deadline)
        within = math.inf if final or reraise else None
        request = PassRequest(full=full, check_drive=check, paths=paths, confirm_within=within)
        self.state = "syncing"
        transfer: Transfer | None = None
        try:
            self._check_drive()
            engine = SyncPass(
                local=self.local,
                base=self.base,
                rel=self.rel,
                drive=self.drive,
                ledger=self.ledger,
                options=self.options,
                request=request,
                on_planned=self._planned,
                on_settled=self._settled,
                temp_tag=self.temp_tag,
            )
            transfer = Transfer(
                self.local,
                self.dest,
                engine.run,
                kind="keep-synced pass",
                options=self.options.copy_options(),
                owner=self,
                lock_key=self.dest,
            )
            with self._lock:
                self._current = transfer
            transfer.start()
            result = self._wait(transfer, deadline)
        except DriveError as exc:
            self._failed(exc, paths, folders, full)
            if reraise:
                raise
            return transfer.result if transfer is not None else None
        except Exception as exc:  # never let the job's thread die silently
            log.exception("keep-synced pass failed")
            self._failed(DriveError(f"The pass failed unexpectedly: {exc!r}"), paths, folders, full)
            if reraise:
                raise
            return None
        finally:
            with self._lock:
                self._current = None
        self._done(engine, result)
        return result

    def _check_drive(self) -> None:
        state = self.drive.refresh()
        for _ in range(STALE_RETRIES):  # a look that timed out once on a busy machine: ask again
            if state != "stale":
                break
            time.sleep(STALE_RETRY_WAIT)
            state = self.drive.refresh()
        if state != "mounted":
            if state == "stale":
                raise StaleMount(
                    f"The drive is not answering, so nothing was copied to {printable(self.dest)}; "
                    "the job tries again on its next pass."
                )
            raise NotMounted(
                f"The drive is not mounted ({state}), so nothing was copied to {printable(self.dest)}. "
                "Mount it again; the job goes on by itself."
            )
        if not self.drive.writable:
            raise InvalidPath(
                f"The drive is mounted read-only, so {printable(self.dest)} cannot be kept in sync. "
                "Mount it writable (the job goes on by itself), or stop the job."
            )

    def _wait(self, transfer: Transfer, deadline: float | None) -> TransferResult:
        try:
            return transfer.wait(None if deadline is None else _left(deadline))
        except TimeoutError:
            transfer.cancel()
            with contextlib.suppress(TimeoutError):
                return transfer.wait(STUCK_GRACE + 1.0)
            raise StaleMount(
                f"The pass into {printable(self.dest)} was cut short and is stuck on a drive that does not "
                "answer; files copied so far are complete."
            ) from None

    def _failed(self, exc: DriveError, paths: set[str], folders: set[str], full: bool) -> None:
        with self._lock:
            self._dirty |= paths
            self._dirty_folders |= folders
            self._full_next = self._full_next or full
            self._check_drive_next = True  # a failed pass may have left a temporary file there
            self._retry |= self._in_flight  # planned and not copied: still pending
            self._in_flight = set()
        self._update_pending()
        self.error = str(exc)
        self.message = ""
        self.state = "error"

    def _done(self, engine: SyncPass, result: TransferResult) -> None:
        outcome = engine.outcome
        now_wall, now = time.time(), time.monotonic()
        left = outcome.waiting | outcome.failed
        with self._lock:
            if result.cancelled:  # cut short: look again everywhere, and clean up on the drive
                left |= set(engine.request.paths) | self._in_flight
                self._full_next = self._check_drive_next = True
            self._retry |= left
            self._in_flight = set()
            if engine.request.full and not result.cancelled:
                scan = outcome.scan_seconds or 0.0
                self._next_rescan = now + max(self.options.rescan_every, SCAN_COST_FACTOR * scan)
            self._track_unsettled(outcome.waiting, now_wall)
        self._update_pending()
        self.last_result = result
        problems = list(result.errors)
        if self._unsettled:
            problems.append(
                f"{len(self._unsettled)} file(s) keep changing and have not been copied for over "
                f"{format_duration(self.options.unsettled_after)}: {printable(self._unsettled[0])}"
                f"{' and more' if len(self._unsettled) > 1 else ''}."
            )
        self.error = problems[0] if problems else ""
        message = result.summary()
        if outcome.kept_changed:
            message += " " + kept_changed_text(outcome.kept_changed)
        self.message = message
        if not result.cancelled:  # observers of last_synced see this pass's error and message
            self.last_synced = now_wall
        self.state = "error" if problems else "idle"

    def _track_unsettled(self, waiting: set[str], now: float) -> None:
        for rel in list(self._waiting_since):
            if rel not in waiting:
                del self._waiting_since[rel]
        for rel in waiting:
            since, count = self._waiting_since.get(rel, (now, 0))
            self._waiting_since[rel] = (since, count + 1)
        self._unsettled = sorted(
            rel
            for rel, (since, count) in self._waiting_since.items()
            if count >= UNSETTLED_PASSES and now - since >= self.options.unsettled_after
        )

    def _cancel_current(self) -> None:
        with self._lock:
            current = self._current
        if current is not None:
            current.cancel()

    def _finish(self) -> None:
        with self._lock:
            self._over = True
            holds, self._holds = self._holds, []
        for _, remove in holds:
            remove()
        self.state = "stopped"
        if self._on_stopped is not None:
            self._on_stopped(self)


def _left(deadline: float) -> float:
    """Seconds until ``deadline`` (a ``time.monotonic()`` value), never negative."""
    return max(0.0, deadline - time.monotonic())
