"""Files that hold secrets or settings are the user's alone (0600 / 0700), whatever the umask.

A loose umask (``0``, as some notebook images set it) must not leave a token or the shared
settings file readable by other users of the machine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from drivewidget.settings import DriveSettings, runtime_dir, write_private


def test_private_files_are_0600_even_with_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_private(tmp_path / "secret.conf", "token = x\n")
        DriveSettings(tmp_path).update(last_folder="a")
    finally:
        os.umask(old)
    assert (tmp_path / "secret.conf").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / ".drivewidget.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / ".drivewidget.json").read_text()) == {"last_folder": "a"}
    assert not list(tmp_path.glob(".*.tmp*"))  # no temp file left behind


def test_runtime_dir_is_private() -> None:
    """Transfer lock files and other runtime state live in a folder only the user can enter."""
    assert runtime_dir().stat().st_mode & 0o777 == 0o700
