"""What the command line prints: a name from the drive never reaches the terminal raw.

``!python -m drivewidget status`` runs in a folder of the drive the panel chose; a
collaborator names that folder with escape sequences (retitle the terminal, clear the
screen) and a newline followed by a forged status line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import Shared

FORGED = "proj\x1b]0;owned\x07\x1b[2J\u202e\nDrive: Mounted at FORGED"


def _status(shared: Shared, *args: str) -> str:
    (shared.source / FORGED).mkdir()
    env = dict(
        os.environ,
        DRIVEWIDGET_BACKEND="local",
        DRIVEWIDGET_SOURCE=str(shared.source),
        DRIVEWIDGET_MOUNTPOINT=shared.ctrl.mountpoint,
    )
    return subprocess.run(
        [sys.executable, "-m", "drivewidget", "status", "--no-gpu", *args],
        cwd=shared.root / FORGED,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def test_status_text_escapes_the_working_folder(shared: Shared) -> None:
    out = _status(shared)
    assert not any(c in out for c in "\x1b\x07\u202e")
    assert not any(line.startswith("Drive: Mounted at FORGED") for line in out.splitlines())
    assert "proj\\x1b]0;owned\\x07" in out  # still recognisable


def test_status_json_is_ascii(shared: Shared) -> None:
    out = _status(shared, "--json")
    assert out.isascii() and json.loads(out)["cwd"].endswith(FORGED)
