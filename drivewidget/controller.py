"""DriveController: the one state machine between mount backends and any UI.

States (every allowed move is in :data:`TRANSITIONS`, and the ``state`` trait refuses any
other, so a new code path cannot invent one)::

    unmounted ──mount()──▶ mounting ──▶ mounted ──unmount()──▶ unmounting ──▶ unmounted
        ▲                     │            │  ▲                                   │
        └──── error ◀─────────┘          stale (listed but disconnected / hung) ──┘

``state`` always reflects the real mount after :meth:`refresh`, which reads the mount
table (once per refresh or command) and probes the drive with a deadline, so it returns
quickly even when the FUSE daemon hangs. Commands (mount, unmount, chdir) are serialised
here, and only here: a command started while another runs raises :class:`Busy` with the
message to show. The controller also owns the wording and retry policy that backends leave
out: what to do while mounting, and that a stale mount whose flush could not finish is
detached by the next unmount (:class:`SecondClick`). It imports no widgets; UIs observe
its traits.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from traitlets import Bool, Enum, HasTraits, TraitError, Unicode, validate

from . import drivefs
from . import sync as _sync  # at the top, never lazily: see the comment on the transfer import
from ._env import current_dir
from .backends import ENV_MOUNTPOINT, detect_backend
from .backends.base import Backend
from .errors import (
    Busy,
    DriveError,
    InvalidPath,
    MountError,
    NotMounted,
    StaleMount,
    UnmountError,
    from_os_error,
)
from .holds import Holds
from .status.mounttable import MountEntry, find_mount, is_within, read_mounts
from .status.probe import DISCONNECTED_ERRNOS, bounded
from .text import DISCONNECTED, NOT_RESPONDING, printable, stale_text, state_text
from .timeouts import COMMAND_WAIT, FS_TIMEOUT, HOLD_TIMEOUT, REFRESH_TIMEOUT

# Imported here, not inside the commands: once the working directory or sys.path points into
# the drive, a first import searches the drive, and blocks for as long as the drive hangs.
from .transfer import api as _transfers
from .userpaths import names_the_drive

STATES = ("unmounted", "mounting", "mounted", "unmounting", "stale", "error")

_LOOKED = ("unmounted", "mounted", "stale")
"""What a refresh may find from any state: the mount table and the probe are the truth
(a drive can be mounted, unmounted or hang behind drivewidget's back)."""
TRANSITIONS: dict[str, frozenset[str]] = {
    "unmounted": frozenset({*_LOOKED, "mounting", "error"}),
    "error": frozenset({*_LOOKED, "mounting", "error"}),
    "mounting": frozenset({*_LOOKED, "error"}),
    "mounted": frozenset({*_LOOKED, "unmounting", "error"}),
    "stale": frozenset({*_LOOKED, "unmounting", "error"}),
    "unmounting": frozenset({*_LOOKED, "error"}),
}
"""Each state and the states it may move to; ``error`` is entered only by a failed command."""

if TYPE_CHECKING:
    from .transfer import Transfer, TransferResult


class DriveController(HasTraits):
    """Mount, unmount and change into folders of a drive; observable with traitlets."""

    state = Enum(STATES, default_value="unmounted", help="Where the mount is in its life cycle.")
    error = Unicode("", help="Message of the last failure; empty when the last command succeeded.")
    message = Unicode("", help="Last informational message (what happened, what to do).")
    message_level = Enum(
        ("info", "warning"),
        default_value="info",
        help="'warning' when the message reports something unexpected.",
    )
    problem = Unicode("", help="Why the mount is stale: 'disconnected' or 'not responding'.")
    cwd = Unicode("", help="The kernel's working directory, as last seen.")
    readonly = Bool(False, help="Whether the current mount is read-only.")
    root = Unicode("", help="The folder users browse, e.g. <mountpoint>/MyDrive on Colab.")

    def __init__(
        self, backend: Backend | None = None, mountpoint: str | os.PathLike[str] | None = None
    ) -> None:
        super().__init__()
        self.backend = backend if backend is not None else detect_backend()
        raw = os.fspath(mountpoint) if mountpoint is not None else None
        raw = raw or os.environ.get(ENV_MOUNTPOINT) or self.backend.default_mountpoint()
        self.mountpoint = self.backend.resolve_mountpoint(raw)
        # Not mounted: the root is a path (no lookup on a drive). Mounted: the refresh finds it,
        # with a deadline, since backend.root() may look inside a mount that hangs.
        self.root = "" if self.backend.is_mounted(self.mountpoint) else self.backend.root(self.mountpoint)
        self._lock = threading.Lock()  # held by whoever reads or changes the mount
        self._guard = threading.Lock()  # protects _running
        self._running: str | None = None  # the command in progress, if any
        self._sys_path_entry: str | None = None
        self._other_mount: MountEntry | None = None  # someone else's mount here, as last refreshed
        self.holds = Holds()  # work that must settle before an unmount (copies, sync jobs)
        self._second_click = SecondClick()
        start = current_dir()
        self._safe_dir = start if start and not is_within(start, self.mountpoint) else os.path.expanduser("~")
        self._left_note = ""  # where the working directory went when an unmount moved it off the drive
        self.refresh()

    @validate("state")
    def _check_move(self, proposal: Any) -> str:
        """Only the moves in :data:`TRANSITIONS`: anything else is a bug, said as one."""
        new = str(proposal["value"])
        if new not in TRANSITIONS[self.state]:
            raise TraitError(f"drivewidget bug: the drive cannot go from {self.state!r} to {new!r}")
        return new

    # -- queries -----------------------------------------------------------------

    @property
    def drive_area(self) -> str:
        """Where folders of the drive may be chosen: the whole mount (on Colab, Shared drives
        too, beside MyDrive), or the root itself when it is not under the mountpoint."""
        root = self.root or self.mountpoint
        return self.mountpoint if is_within(root, self.mountpoint) else root

    @property
    def busy(self) -> bool:
        return self.state in ("mounting", "unmounting")

    @property
    def cwd_on_drive(self) -> bool:
        """Whether work saved in the working directory persists (it is on the mounted drive)."""
        if self.state not in ("mounted", "stale"):
            return False  # an unmounted mountpoint is a plain folder of the VM's disk
        return is_within(self.cwd, self.root or self.mountpoint) or is_within(self.cwd, self.mountpoint)

    def describe_state(self) -> str:
        """The state in words, as the panel and ``python -m drivewidget status`` show it."""
        other = self._other_mount if self.state == "unmounted" else None
        return state_text(
            self.state,
            self.mountpoint,
            self.problem,
            self.error,
            self.readonly,
            root=self.root,
            foreign=f"{other.source} ({other.fstype})" if other is not None else "",
        )

    def refresh(self) -> str:
        """Re-read the real mount state (bounded in time) and return it."""
        if self._running is not None or not self._lock.acquire(blocking=False):
            return self.state  # a command (or another refresh) is running; its state is the truth
        try:
            self._refresh()
        finally:
            self._lock.release()
        return self.state

    # -- commands ----------------------------------------------------------------

    def mount(self, readonly: bool = False, force: bool = False) -> None:
        """Mount the drive and return when it is mounted; ``force`` remounts a mounted or stale drive."""
        with self._command("mount"):
            table = self._refresh()
            if self.state == "mounted" and not force:
                self._say(f"Already mounted at {self.mountpoint}. Use force remount to mount it again.")
                return
            if self.state == "stale" and not force:
                exc = StaleMount(self._stale_text() + " Click Unmount (or mount with force) to recover.")
                self.error = str(exc)
                raise exc
            backend = self.backend
            if readonly and not backend.supports_readonly:
                raise self._reject(
                    MountError(
                        f"{backend.describe()} cannot be mounted read-only. Mount it without read-only."
                    )
                )
            try:  # once per mount (backends do not check again), before a remount settles anything
                backend.check_available()
            except Exception as exc:  # noqa: BLE001 - recorded, translated and re-raised
                raise self._fail(exc, MountError, "Mount failed")  # noqa: B904 - cause set by _fail
            # a remount unmounts first: the same guards and holds apply
            self._left_note = ""
            settled = self._settle_holds() if self.state in ("mounted", "stale") else []
            try:
                if self.state in ("mounted", "stale"):
                    self._unmount(stale=self.state == "stale")
                    table = read_mounts()  # the mount went away: the table changed
                backend.validate_mountpoint(self.mountpoint, table)
                self.state = "mounting"
                self._say(f"Mounting {backend.describe()} at {self.mountpoint}...", self._mount_hint())
                self._second_click.forget(self.mountpoint)
                lines = backend.mount(self.mountpoint, readonly=readonly, force=force)
                self._await_first_answer()
                if self.state != "mounted":
                    raise MountError(
                        f"The {backend.label} backend reported success but the drive is "
                        f"{self._state_text()}. Try again, or unmount and mount."
                    )
            except Exception as exc:  # noqa: BLE001 - recorded, translated and re-raised
                raise self._fail(exc, MountError, "Mount failed")  # noqa: B904 - cause set by _fail
            finally:
                self.holds.reopen()
            self.readonly = readonly
            self.error = ""
            self._say(*settled, *(lines or [f"Mounted at {self.mountpoint}"]), self._take_left_note())

    def unmount(self) -> None:
        """Flush pending writes, leave the drive if the kernel is inside it, and unmount."""
        with self._command("unmount"):
            self._refresh()
            if self.state in ("unmounted", "error"):
                exc = NotMounted(f"Nothing is mounted at {self.mountpoint}, so there is nothing to unmount.")
                self.error = str(exc)
                raise exc
            settled = self._settle_holds()
            self._left_note = ""
            try:
                lines = self._unmount(stale=self.state == "stale")
            except Exception as exc:  # noqa: BLE001 - recorded, translated and re-raised
                raise self._fail(exc, UnmountError, "Unmount failed")  # noqa: B904 - cause set by _fail
            finally:
                self.holds.reopen()
            self.error = ""
            self._say(*settled, *(lines or ["Unmounted."]), self._take_left_note())

    def chdir(self, path: str | os.PathLike[str], add_to_sys_path: bool = False) -> str:
        """Change the working directory to a folder of the drive (relative paths: from the root).

        Returns the new working directory. Raises :class:`InvalidPath` for a missing folder,
        a file, a folder outside the drive or one without permission.
        """
        with self._command("chdir"):
            self._refresh()
            if self.state == "stale":
                raise self._reject(StaleMount(self._stale_text()))
            if self.state != "mounted":
                raise self._reject(NotMounted("Mount the drive before choosing a folder on it."))
            root, area = self.root, self.drive_area
            raw = os.path.expanduser(os.fspath(path))
            if "\0" in raw:
                raise self._reject(InvalidPath(f"{printable(raw)}: a path cannot contain a NUL character."))
            target = os.path.normpath(raw if os.path.isabs(raw) else os.path.join(root, raw))
            if not is_within(target, area):
                raise self._reject(
                    InvalidPath(f"{printable(target)} is outside the drive. Choose a folder under {root}.")
                )
            opener = _FolderOpener(target, area)
            result = bounded(self.mountpoint, opener.open, FS_TIMEOUT)
            shown = printable(target)
            if result.error is not None:
                raise self._reject(from_os_error(result.error, doing="open", path=shown, folder=True))
            if result.timed_out or result.value is None:
                opener.abandon()  # if it opens later, it is closed then: a late answer never moves us
                raise self._reject(StaleMount(f"The drive is not responding: could not open {shown}."))
            try:
                os.fchdir(result.value)  # no path lookup: cannot block on the drive or be redirected
            except OSError as exc:
                raise self._reject(from_os_error(exc, doing="open", path=shown, folder=True)) from exc
            finally:
                os.close(result.value)
            if add_to_sys_path:
                self._set_sys_path(target)
            self.cwd = current_dir()
            self.error = ""
            self._say(f"Working directory: {shown}")
            return target

    def use_sys_path(self, enabled: bool) -> None:
        """Put the working directory (a folder of the mounted drive) first on ``sys.path``, or
        take out the entry drivewidget put there, so ``import`` finds the project's modules."""
        if not enabled:
            self._set_sys_path(None)
            return
        if self.state != "mounted" or not self.cwd_on_drive:
            raise self._reject(NotMounted("Choose a folder on the mounted drive first."))
        self._set_sys_path(self.cwd)

    def stage(
        self, src: str | os.PathLike[str], dest: str | os.PathLike[str], **options: Any
    ) -> TransferResult:
        """Copy a folder or file of the drive to local disk (fast, verified, resumable).

        Returns counts of copied and skipped files and bytes; a re-run skips what is identical.
        Options are those of :func:`drivewidget.transfer.api.stage` (``workers``, ``checksum``, ...).
        """
        return _transfers.stage(self, src, dest, **options)

    def sync_back(
        self, src: str | os.PathLike[str], dest: str | os.PathLike[str], **options: Any
    ) -> TransferResult:
        """Copy local results into the drive and wait until the backend has uploaded them."""
        return _transfers.sync_back(self, src, dest, **options)

    def start_stage(
        self, src: str | os.PathLike[str], dest: str | os.PathLike[str], **options: Any
    ) -> Transfer:
        """Like :meth:`stage`, in the background: returns a Transfer (progress, cancel, wait)."""
        return _transfers.start_stage(self, src, dest, **options)

    def start_sync_back(
        self, src: str | os.PathLike[str], dest: str | os.PathLike[str], **options: Any
    ) -> Transfer:
        """Like :meth:`sync_back`, in the background."""
        return _transfers.start_sync_back(self, src, dest, **options)

    def keep_synced(
        self,
        local: str | os.PathLike[str],
        drive_folder: str | os.PathLike[str],
        every: float | None = None,
        **options: Any,
    ) -> _sync.SyncJob:
        """Keep a local folder copied into ``drive_folder`` while a run writes it; returns the
        running job at once (the same job for the same two folders). Options: see
        :func:`drivewidget.sync.keep_synced` (``settle``, ``mirror_deletes``, ...)."""
        return _sync.keep_synced(self, local, drive_folder, every=every, **options)

    @property
    def sync_jobs(self) -> list[_sync.SyncJob]:
        """The running keep-synced jobs this controller holds: its unmount makes their final pass."""
        return _sync.sync_jobs(self)

    def set_backend(self, backend: Backend) -> None:
        """Use another backend (e.g. a connection made in the panel) from the next mount on.

        Refused while the current drive is mounted: unmount it first.
        """
        with self._command("switch backend"):
            self._refresh()
            if self.state in ("mounted", "stale"):
                raise self._reject(
                    Busy(
                        f"{self.mountpoint} is still mounted ({self.backend.describe()}). "
                        "Unmount it first, then choose another connection."
                    )
                )
            old, self.backend = self.backend, backend
            old.close()
            self.mountpoint = backend.resolve_mountpoint(self.mountpoint)
            self.root = backend.root(self.mountpoint)
            self.error = ""
            self.state = "unmounted"
            self._refresh()
            self._say(f"Next mount: {backend.describe()} at {self.mountpoint}.")

    def close(self) -> None:
        """Release the backend's resources (the mount stays; mounts outlive kernels)."""
        self.backend.close()

    # -- internals ---------------------------------------------------------------

    @contextlib.contextmanager
    def _command(self, name: str) -> Iterator[None]:
        """Run one command at a time; a refresh in progress (bounded) is waited for, not a command."""
        with self._guard:
            if self._running is not None:
                raise Busy(
                    f"Cannot {name} now: the drive is {self._state_text()} ({self._running} is still "
                    "running). Wait for it to finish."
                )
            self._running = name
        try:
            if not self._lock.acquire(timeout=COMMAND_WAIT):
                raise Busy(f"Cannot {name} now: the drive is still being checked. Try again.")
            try:
                yield
            finally:
                self._lock.release()
        finally:
            self._running = None

    def _refresh(self) -> list[MountEntry]:
        """Settle ``state`` on the truth; returns the mount table as read, once, for the
        rest of the command."""
        self.cwd = current_dir()
        table = read_mounts()
        if not self.backend.is_mounted(self.mountpoint, table):
            self._other_mount = find_mount(self.mountpoint, table=table)
            went_away = self.state in ("mounted", "stale")
            self.problem = ""
            self.state = "error" if self.state == "error" else "unmounted"
            if went_away and self._leave_drive():  # unmounted outside drivewidget
                self._left_note = ""  # said here, in its own words
                self._say(
                    f"The drive at {self.mountpoint} was unmounted outside drivewidget; "
                    f"the working directory moved to {self.cwd}.",
                    level="warning",
                )
            return table
        backend, mountpoint = self.backend, self.mountpoint

        def look() -> str:
            root = backend.root(mountpoint)
            os.stat(root)
            with os.scandir(root) as entries:
                next(entries, None)
            return root

        self._other_mount = None
        result = bounded(mountpoint, look, REFRESH_TIMEOUT)
        if result.ok and result.value:
            if self.state != "mounted":
                self.error = ""  # whatever failed before, the drive is mounted and answering now
            self.root = result.value
            self.problem = ""
            self.state = "mounted"
        else:
            if result.timed_out:
                self.problem = NOT_RESPONDING
            elif result.error is not None and result.error.errno in DISCONNECTED_ERRNOS:
                self.problem = DISCONNECTED
            else:
                self.problem = result.error.strerror or str(result.error) if result.error else DISCONNECTED
            self.state = "stale"
        return table

    def _await_first_answer(self) -> None:
        """Refresh until a new mount answers: a cold cloud root may take longer than a refresh
        allows, which is a slow start, not a failed mount."""
        deadline = time.monotonic() + max(FS_TIMEOUT, self.backend.first_answer_timeout())
        self._refresh()
        while self.state == "stale" and self.problem == NOT_RESPONDING and time.monotonic() < deadline:
            time.sleep(0.1)
            self._refresh()

    def _unmount(self, *, stale: bool) -> list[str]:
        self._leave_drive()
        self.state = "unmounting"
        self._say("Writing pending changes to the drive before unmounting...")
        if not stale:
            self._second_click.forget(self.mountpoint)
            self.backend.flush(self.mountpoint, progress=self._say)
        elif not self._second_click.take(self.mountpoint):
            self._flush_stale()
        lines = self.backend.unmount(self.mountpoint, stale=stale)
        self._refresh()
        if self.state not in ("unmounted", "error"):
            raise UnmountError(f"The drive is still mounted at {self.mountpoint} after unmounting.")
        self.state = "unmounted"
        self.readonly = False
        return lines

    def _flush_stale(self) -> None:
        """A slow drive's daemon may still be alive and holding writes: let the backend push
        them. If it cannot finish, the drive stays mounted and the next unmount (within
        :attr:`SecondClick.window`) detaches it anyway: a hung drive must stay recoverable."""
        try:
            self.backend.flush_stale(self.mountpoint, progress=self._say)
        except UnmountError as exc:
            self._second_click.gave_up(self.mountpoint)
            fate = (
                "files not uploaded yet stay in its cache on this machine and are sent the next time "
                "it is mounted here"
                if self.backend.keeps_unsent_writes
                else "changes not uploaded yet would be lost"
            )
            raise UnmountError(
                f"{exc} If the drive is hung, click Unmount again (or call unmount() again): that "
                f"second click detaches it anyway ({fate})."
            ) from exc

    def _mount_hint(self) -> str:
        """What the user should do while mounting, from the backend's capabilities."""
        if self.backend.needs_browser_auth:
            return (
                "Allow access in the window that asks for your Google account "
                f"(it waits up to {self.backend.first_answer_timeout():g} s)."
            )
        return ""

    def _leave_drive(self) -> bool:
        """Never leave the kernel (or sys.path) inside a mount that is going away; True if it moved."""
        cwd = current_dir()
        moved = not cwd or self._on_drive(cwd)  # "": deleted under us, on the drive or not
        if moved:
            safe = self._leave_to()
            os.chdir(safe)
            self._left_note = (
                f"The working directory moved off the drive to {printable(safe)}: "
                "relative paths now point to this machine's disk."
            )
            self._say(self._left_note)
        self._set_sys_path(None)
        self.cwd = current_dir()
        return moved

    def _take_left_note(self) -> str:
        """Said with the unmount's outcome (the flush's messages replaced it meanwhile), once."""
        note, self._left_note = self._left_note, ""
        return note

    def _on_drive(self, path: str) -> bool:
        return names_the_drive(path, self.mountpoint, self.root)

    def _leave_to(self) -> str:
        """A folder off the drive to move to: where the kernel started, else home, else /."""
        for folder in (self._safe_dir, os.path.expanduser("~"), os.sep):
            if not self._on_drive(folder) and os.path.isdir(folder):
                self._safe_dir = folder
                return folder
        return os.sep

    def _set_sys_path(self, folder: str | None) -> None:
        if self._sys_path_entry is not None and self._sys_path_entry in sys.path:
            sys.path.remove(self._sys_path_entry)
        self._sys_path_entry = None
        if folder is not None and folder not in sys.path:
            sys.path.insert(0, folder)
            self._sys_path_entry = folder

    def _fail(self, exc: BaseException, kind: type[DriveError], what: str) -> DriveError:
        """Record a failed command, settle the state on the truth, and return the error to raise."""
        error = exc if isinstance(exc, DriveError) else kind(f"{what}: {exc}")
        if error is not exc:
            error.__cause__ = exc
        self.state = "error"
        self._refresh()
        self.error = str(error)
        return error

    def _settle_holds(self) -> list[str]:
        """Before the drive goes away: a running copy refuses, then work still writing to the
        drive settles (a keep-synced job's final pass); the lines say what happened."""
        try:
            return self.holds.settle(HOLD_TIMEOUT)
        except DriveError as exc:
            raise self._reject(exc) from None

    def _reject(self, exc: DriveError) -> DriveError:
        self.error = str(exc)
        return exc

    def _say(self, *lines: str, level: str = "info") -> None:
        self.message_level = level
        self.message = "\n".join(line for line in lines if line)

    def _stale_text(self) -> str:
        return stale_text(self.mountpoint, self.problem)

    def _state_text(self) -> str:
        return {"stale": f"stale ({self.problem})"}.get(self.state, self.state)

    def __repr__(self) -> str:
        return f"DriveController({self.backend!r}, mountpoint={self.mountpoint!r}, state={self.state!r})"


class _FolderOpener:
    """Check and open a folder of the drive on a probe thread (it may touch a slow mount).

    The caller enters the folder with ``fchdir`` on the returned descriptor, so a call that
    answers after the caller gave up changes nothing: :meth:`abandon` closes its descriptor.
    """

    def __init__(self, target: str, area: str) -> None:
        self.target, self.area = target, area
        self._lock = threading.Lock()
        self._abandoned = False
        self._fd: int | None = None

    def open(self) -> int | None:
        # One name at a time from the drive's top; a symlink is followed only when the folder
        # it reaches (checked on the open descriptor) is inside the drive.
        fd = drivefs.open_dir(self.area, os.path.relpath(self.target, self.area), links="inside")
        with self._lock:
            if self._abandoned:
                os.close(fd)
                return None
            self._fd = fd
        return fd

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class SecondClick:
    """Remembers, per mountpoint, a stale mount's flush that could not finish, so the next
    Unmount within ``window`` seconds detaches at once: a hung drive must stay recoverable,
    yet one slow answer must not skip the flush of a later, unrelated hang."""

    def __init__(self, window: float = 600.0) -> None:
        self.window = window
        self._since: dict[str, float] = {}

    def gave_up(self, mountpoint: str) -> None:
        self._since[mountpoint] = time.monotonic()

    def take(self, mountpoint: str) -> bool:
        """Whether this Unmount is the second click (and forget the first)."""
        since = self._since.pop(mountpoint, None)
        return since is not None and time.monotonic() - since < self.window

    def forget(self, mountpoint: str) -> None:
        self._since.pop(mountpoint, None)
