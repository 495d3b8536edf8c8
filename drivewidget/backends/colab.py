"""Google Colab's own Drive mount (``google.colab.drive``), behind the Backend contract.

``google.colab`` exists only inside a Colab runtime (it is not installable from PyPI), so it
is imported inside the methods that need it, never at import time. Facts about
``drive.mount`` this backend works around (see DESIGN.md, "Colab"):

- It kills every running Drive process BEFORE it validates the mountpoint, so a call it
  rejects breaks an existing mount. The mountpoint is therefore validated here first, with
  Colab's rules (no space; not a symlink, file or non-empty folder; parent exists).
- It prints instead of returning ("Mounted at ...", "Drive already mounted at ..."): stdout
  is captured and those lines are returned for the panel.
- It asks the browser for authorisation through Colab's message channel and reads the answer
  from the kernel's stdin socket, so it must run on the kernel's main thread
  (``main_thread_only``). A refusal raises ``MessageError``; nobody answering (a frontend
  that cannot show the prompt) ends, after ``timeout_ms``, in ``ValueError('mount failed')``;
  a Drive process that never comes up ends in ``pexpect`` TIMEOUT after ``timeout_ms`` + 30 s.
  All of these become typed :mod:`drivewidget.errors` with advice.
- ``flush_and_unmount`` pushes pending writes and stops the Drive process, so :meth:`flush`
  has nothing to do and :meth:`unmount` calls it; a stale mount (the Drive process died) is
  detached lazily instead.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any, ClassVar

from .._env import COLAB_MARKER
from ..errors import (
    AuthError,
    BackendUnavailable,
    DriveError,
    InvalidMountpoint,
    MountError,
    MountTimeout,
    UnmountError,
)
from ..status.mounttable import MountEntry, find_mount, read_mounts
from ._fuse import fuse_unmount
from ._process import find_program, last_line, run
from .base import Backend, Progress, check_mountpoint, real_mountpoint

DEFAULT_MOUNTPOINT = "/content/drive"
DEFAULT_TIMEOUT_MS = 120_000
"""``drive.mount``'s own default: how long it waits for authorisation and for the Drive root."""
PEXPECT_PAD_S = 30
"""``drive.mount`` waits ``timeout_ms / 1000 + 30`` s for the Drive process before giving up."""
STALE_FLUSH_TIMEOUT_MS = 60_000
"""How long a Drive that does not answer gets to upload pending changes before unmounting."""
UNMOUNT_GRACE_S = 5.0
"""How long the Drive process may take to leave the mount table after ``flush_and_unmount``."""
DRIVE_TIMEOUT_FAQ = "https://research.google.com/colaboratory/faq.html#drive-timeout"

_ROOTS = ("MyDrive", "My Drive")  # "My Drive" is the legacy name


class ColabBackend(Backend):
    """Mount Google Drive with Colab's ``google.colab.drive`` (only inside Colab).

    ``timeout_ms`` is passed to ``drive.mount``: Colab waits ``timeout_ms / 1000`` s for the
    authorisation answer and for the first read of the Drive root. ``flush_timeout_ms``, when
    given, limits ``flush_and_unmount`` (Colab's default is 24 hours).
    """

    name = "colab"
    label = "Google Colab Drive"
    main_thread_only = True
    needs_browser_auth = True
    confirms_uploads = False
    runtime_marker: ClassVar[str] = COLAB_MARKER
    """``drive.mount`` refuses to run unless this file exists (tests point it elsewhere)."""
    fstypes: ClassVar[tuple[str, ...]] = ("fuse.drive",)
    """Colab's Drive shows as ``fuse.drive``. Tests add the type their stand-in produces
    (rclone cannot set its FUSE subtype, so its mounts read ``fuse.rclone``)."""

    def __init__(self, *, timeout_ms: int = DEFAULT_TIMEOUT_MS, flush_timeout_ms: int | None = None) -> None:
        if int(timeout_ms) < 1000:
            # Colab waits int(timeout_ms / 1000) s for the auth answer, and 0 means forever.
            raise ValueError(f"timeout_ms must be at least 1000 (got {timeout_ms}).")
        self.timeout_ms = int(timeout_ms)
        self.flush_timeout_ms = flush_timeout_ms

    # -- contract ------------------------------------------------------------------------

    def owns(self, entry: MountEntry) -> bool:
        return _is_drive_mount(entry)

    def check_available(self) -> None:
        self._drive()
        if os.environ.get("VERTEX_PRODUCT") == "COLAB_ENTERPRISE":
            raise BackendUnavailable(
                "Colab Enterprise does not support google.colab.drive.mount. Mount Drive with rclone "
                "instead (DRIVEWIDGET_BACKEND=rclone and a Google Drive remote)."
            )
        if not os.path.exists(self.runtime_marker):
            raise BackendUnavailable(
                f"google.colab is importable, but this is not a Colab runtime ({self.runtime_marker} is "
                "missing), so Colab's drive.mount would refuse to run. Use another backend: set "
                "DRIVEWIDGET_BACKEND to rclone, ocamlfuse or local."
            )

    def default_mountpoint(self) -> str:
        """Where Drive is already mounted (a cell ran drive.mount), else /content/drive."""
        mounted = _drive_mounts()
        return mounted[0].mountpoint if mounted else DEFAULT_MOUNTPOINT

    def first_answer_timeout(self) -> float:
        return self.timeout_ms / 1000  # Drive's own opendir timeout for the root

    def describe(self) -> str:
        return f"{self.label} (google.colab.drive, timeout {self.timeout_ms / 1000:g} s)"

    def root(self, mountpoint: str) -> str:
        for name in _ROOTS:
            folder = os.path.join(mountpoint, name)
            if os.path.isdir(folder):
                return folder
        return mountpoint

    def resolve_mountpoint(self, mountpoint: str) -> str:
        # Colab expands "~" and otherwise uses the path as given, so a relative path is
        # relative to the kernel's working directory: make that explicit (and resolve the
        # parent's symlinks, as the mount table lists the real path).
        return real_mountpoint(mountpoint)

    def validate_mountpoint(self, mountpoint: str, table: Sequence[MountEntry] | None = None) -> None:
        """Colab's checks, made BEFORE ``drive.mount`` (which kills Drive first, then checks)."""
        if " " in mountpoint:
            raise InvalidMountpoint(
                f"Cannot mount at {mountpoint!r}: Colab's drive.mount refuses mountpoints that "
                f"contain a space. Choose a path without spaces, e.g. {DEFAULT_MOUNTPOINT}."
            )
        table = read_mounts() if table is None else table
        if self.is_mounted(mountpoint, table):
            return  # Drive itself is there: drive.mount reports it or (force) remounts it
        elsewhere = [entry.mountpoint for entry in _drive_mounts(table) if entry.mountpoint != mountpoint]
        if elsewhere:
            raise InvalidMountpoint(
                f"Google Drive is already mounted at {elsewhere[0]}. Colab runs one Drive at a time: "
                f"mounting at {mountpoint} would disconnect it (and lose writes still uploading). Use "
                f"DriveController(mountpoint={elsewhere[0]!r}), or unmount it first."
            )
        check_mountpoint(mountpoint, table=table)

    def mount(self, mountpoint: str, *, readonly: bool = False, force: bool = False) -> list[str]:
        if threading.current_thread() is not threading.main_thread():
            raise MountError(
                "Colab's drive.mount must run on the kernel's main thread: it reads the "
                "authorisation answer from the kernel and is not thread-safe. Call mount from a "
                "cell or a button callback, not from a background thread."
            )
        drive = self._drive()  # the mountpoint was validated by the caller (the controller)
        kwargs: dict[str, Any] = {"force_remount": force, "timeout_ms": self.timeout_ms}
        if readonly:
            kwargs["readonly"] = True  # only then: older runtimes have no such argument
        started = time.monotonic()
        try:
            with _watch_auth() as auth:
                lines = _captured(drive.mount, mountpoint, **kwargs)
        except _Failed as failed:
            error = self._mount_error(failed.exc, mountpoint, time.monotonic() - started, failed.lines, auth)
            raise error from failed.exc
        if any(line.startswith("Drive already mounted at") for line in lines):
            lines.append("To mount it again, mount with force remount.")
        return lines

    def flush(self, mountpoint: str, progress: Progress = lambda _: None) -> None:
        """Nothing to do: ``flush_and_unmount`` (called by :meth:`unmount`) pushes pending writes."""

    def flush_stale(self, mountpoint: str, progress: Progress = lambda _: None) -> None:
        """A Drive that does not answer may still be alive and uploading: ``flush_and_unmount``
        talks to the Drive process, not the mount, so try it (bounded) before detaching.

        If it cannot finish in time, the drive stays mounted (:class:`UnmountError`); the
        controller's next unmount detaches it anyway (a hung Drive must stay recoverable).
        """
        if not self.is_mounted(mountpoint):
            return
        progress("Google Drive is not responding: asking it to upload pending changes first...")
        started = time.monotonic()
        try:
            self._drive().flush_and_unmount(timeout_ms=STALE_FLUSH_TIMEOUT_MS)  # prints nothing here
        except Exception as exc:
            if time.monotonic() - started < STALE_FLUSH_TIMEOUT_MS / 1000 - 1:
                return  # it failed at once: the Drive process is gone, nothing can be pushed
            raise UnmountError(
                f"Google Drive did not finish uploading within {STALE_FLUSH_TIMEOUT_MS // 1000} s, so "
                f"{mountpoint} stays mounted."
            ) from exc

    def unmount(self, mountpoint: str, *, stale: bool = False) -> list[str]:
        if stale:
            _detach(mountpoint)
            return [f"Detached the disconnected drive at {mountpoint}. Mount again to reconnect."]
        drive = self._drive()
        if not _drive_mounts():
            # What flush_and_unmount itself checks first (and prints): nothing to flush.
            return ["Drive not mounted, so nothing to flush and unmount."]
        kwargs = {} if self.flush_timeout_ms is None else {"timeout_ms": self.flush_timeout_ms}
        try:
            # Not captured: with Drive mounted it prints nothing, and an unmount may run on a
            # worker thread, where swapping the process-wide sys.stdout is not safe.
            drive.flush_and_unmount(**kwargs)
        except Exception as exc:
            raise _unmount_error(exc, mountpoint, []) from exc
        if not _gone(mountpoint, UNMOUNT_GRACE_S):
            _detach(mountpoint)  # everything was pushed: detaching what is left loses nothing
        return [f"Unmounted {mountpoint}; pending changes were written to Google Drive."]

    # -- internals -----------------------------------------------------------------------

    def _drive(self) -> ModuleType:
        try:
            from google.colab import drive  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            raise BackendUnavailable(
                "Google Colab's drive module (google.colab.drive) cannot be imported, so this is "
                "not a Colab runtime. Outside Colab use another backend: set DRIVEWIDGET_BACKEND to "
                f"rclone, ocamlfuse or local. ({exc})"
            ) from exc
        except Exception as exc:
            raise BackendUnavailable(f"google.colab.drive failed to import: {exc!r}") from exc
        return drive  # type: ignore[no-any-return]

    def _cell(self, mountpoint: str) -> str:
        return f'`from google.colab import drive; drive.mount("{mountpoint}")`'

    def _mount_error(
        self, exc: BaseException, mountpoint: str, elapsed: float, printed: list[str], auth: _AuthWatch
    ) -> DriveError:
        text = str(exc).strip()
        auth_wait = self.timeout_ms // 1000
        cell = self._cell(mountpoint)
        also = f" Colab printed: {' / '.join(printed)}" if printed else ""
        if _is(exc, "google.colab", "MessageError"):
            return AuthError(
                f"Google Drive access was not granted (Colab: {text or 'authorisation refused'}). "
                "Mount again and allow access in the pop-up, with the Google account you use "
                f"in Colab. If no pop-up appears, run {cell} in a cell once, then mount again."
            )
        if _is(exc, "pexpect", "TIMEOUT"):
            return MountTimeout(
                f"Google Drive did not come up within {self.timeout_ms / 1000 + PEXPECT_PAD_S:g} s "
                f"(timeout_ms={self.timeout_ms} plus Colab's {PEXPECT_PAD_S} s). The Drive process "
                "may still be starting: wait a minute and mount again; if it keeps failing, "
                "restart the runtime (Runtime > Restart session) and mount again."
            )
        if isinstance(exc, NotImplementedError):
            return BackendUnavailable(f"Colab's drive.mount cannot run here: {text}")
        if isinstance(exc, TypeError) and "readonly" in text:
            return MountError(
                "This Colab runtime's drive.mount has no read-only option. Mount without read-only."
            )
        if isinstance(exc, ValueError):
            if text.startswith("Mountpoint must"):
                return InvalidMountpoint(f"Colab refused the mountpoint {mountpoint}: {text}.")
            if "timeout during initial read of root folder" in text:
                return MountTimeout(
                    f"Google Drive timed out reading the top folder of your Drive within "
                    f"{self.timeout_ms / 1000:g} s. This happens when very many files or folders sit "
                    "directly in My Drive, or when Drive is slow. Mount again: a retry often "
                    "succeeds, because each attempt caches part of the listing. If it keeps failing, "
                    "move items from the top of My Drive into subfolders, or raise timeout_ms "
                    f"(ColabBackend(timeout_ms=...)). See {DRIVE_TIMEOUT_FAQ}"
                )
            if text.startswith("mount failed"):
                if "oauth" in text:
                    return AuthError(f"Google Drive refused the authorisation ({text}). Mount again.")
                if auth.unanswered if auth.seen else elapsed >= auth_wait:
                    return AuthError(
                        f"Mounting failed after {elapsed:.0f} s: nobody answered Colab's Google Drive "
                        f"sign-in prompt within {auth_wait} s (timeout_ms={self.timeout_ms}), so Drive "
                        "started without access. This frontend may be unable to show the prompt (e.g. "
                        f"VS Code or a plain Jupyter page). Run {cell} in a cell once in the Colab web "
                        f"page and allow access, then mount again.{also}"
                    )
                return MountError(
                    f"Google Drive could not be mounted (Colab: {text}). Mount again; if it keeps "
                    f"failing, restart the runtime, run {cell} in a cell and follow its prompts.{also}"
                )
            if "Drive File Stream" in text:
                return AuthError(
                    f"Your Google Workspace administrator has disabled Drive for this account ({text}). "
                    "Use another Google account or ask your administrator."
                )
        return MountError(f"Google Drive could not be mounted: {text or type(exc).__name__}.{also}")


class _Failed(Exception):
    def __init__(self, exc: Exception, lines: list[str]) -> None:
        super().__init__(str(exc))
        self.exc, self.lines = exc, lines


class _ThreadCapture:
    """Stands in for ``sys.stdout`` during a Colab call: what the calling thread prints is
    captured for the panel; other threads' output (a training loop's log) goes where it went.
    Everything else (encoding, fileno, isatty, ...) is the original stream's."""

    def __init__(self, original: Any) -> None:
        self.original, self.captured = original, io.StringIO()
        self._thread = threading.get_ident()

    def write(self, text: str) -> int:
        target = self.captured if threading.get_ident() == self._thread else self.original
        return int(target.write(text) or 0)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self.original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


def _captured(fn: Callable[..., object], *args: object, **kwargs: object) -> list[str]:
    """Call ``fn`` with this thread's stdout captured; return the printed lines (raise them
    within :class:`_Failed`)."""
    out = _ThreadCapture(sys.stdout)
    try:
        with contextlib.redirect_stdout(out):  # type: ignore[type-var, unused-ignore]
            fn(*args, **kwargs)
    except Exception as exc:
        raise _Failed(exc, _lines(out.captured.getvalue())) from exc
    return _lines(out.captured.getvalue())


class _AuthWatch:
    """Whether Colab's sign-in request (``_message.blocking_request('request_auth')``) was
    made, and whether it came back before its deadline (someone answered) or timed out."""

    def __init__(self) -> None:
        self.seen = False
        self.unanswered = False


@contextlib.contextmanager
def _watch_auth() -> Iterator[_AuthWatch]:
    watch = _AuthWatch()
    message: Any = sys.modules.get("google.colab._message")
    original = getattr(message, "blocking_request", None)
    if message is None or original is None:
        yield watch
        return

    def watched(request_type: str, *args: Any, **kwargs: Any) -> Any:
        if request_type != "request_auth":
            return original(request_type, *args, **kwargs)
        timeout = kwargs.get("timeout_sec", args[1] if len(args) > 1 else None)
        started = time.monotonic()
        try:
            return original(request_type, *args, **kwargs)
        finally:
            watch.seen = True
            waited = time.monotonic() - started
            watch.unanswered = timeout is not None and float(timeout) > 0 and waited >= float(timeout) - 0.5

    message.blocking_request = watched  # drive calls it through the module: patchable
    try:
        yield watch
    finally:
        message.blocking_request = original


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _is(exc: BaseException, module: str, name: str) -> bool:
    """Whether ``exc`` is of a class ``name`` from ``module`` (without importing that module)."""
    return any(cls.__name__ == name and cls.__module__.startswith(module) for cls in type(exc).__mro__)


def _unmount_error(exc: Exception, mountpoint: str, printed: list[str]) -> DriveError:
    text = str(exc).strip()
    if isinstance(exc, NotImplementedError):
        return BackendUnavailable(f"Colab's flush_and_unmount cannot run here: {text}")
    if isinstance(exc, ValueError) and "flush_and_unmount failed" in text:
        return UnmountError(
            f"Google Drive could not write pending changes, so {mountpoint} stays mounted and "
            "nothing is lost. Wait a moment and unmount again; keep the runtime running "
            "until it succeeds."
        )
    also = f" Colab printed: {' / '.join(printed)}" if printed else ""
    return UnmountError(
        f"Unmounting Google Drive failed ({text or type(exc).__name__}); {mountpoint} stays mounted.{also}"
    )


def _drive_mounts(table: Sequence[MountEntry] | None = None) -> list[MountEntry]:
    """Every Drive mount in the mount table (Colab runs one Drive process at a time)."""
    return [entry for entry in (read_mounts() if table is None else table) if _is_drive_mount(entry)]


def _is_drive_mount(entry: MountEntry) -> bool:
    if entry.fstype == "fuse.drive":
        return True
    return entry.fstype in ColabBackend.fstypes and entry.source == "drive"  # a test stand-in


def _gone(mountpoint: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while find_mount(mountpoint) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _detach(mountpoint: str) -> None:
    """Lazily unmount a stale (or already flushed) Drive mount: ``fusermount -uz``, else ``umount -l``."""
    try:
        fuse_unmount(mountpoint, lazy=True)
        return
    except BackendUnavailable:
        pass  # no fusermount here; root can still detach with umount
    result = run([find_program("umount") or "umount", "-l", mountpoint], timeout=15)
    if result.returncode != 0 and find_mount(mountpoint) is not None:
        reason = last_line(result.stderr) or f"exit status {result.returncode}"
        raise UnmountError(f"Cannot detach {mountpoint}: {reason}. Restart the runtime to clear it.")
