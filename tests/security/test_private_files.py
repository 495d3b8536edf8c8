"""Files that hold secrets or settings are the user's alone (0600 / 0700), whatever the umask.

A loose umask (``0``, as some notebook images set it) must not leave a token or the shared
settings file readable by other users of the machine.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

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


def test_a_runtime_folder_prepared_by_someone_else_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack (another user of the machine): without XDG_RUNTIME_DIR the folder is under the
    shared /tmp, where its name can be taken first, as a link to a folder of theirs or as
    their own folder. rclone's control socket must never land there."""
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    name = tmp_path / f"drivewidget-{os.getuid()}"
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o777)
    name.symlink_to(theirs)
    with pytest.raises(PermissionError, match=r"is a link or not a folder\. Remove it"):
        runtime_dir()
    name.unlink()
    if os.getuid() == 0:  # only root can give a folder away to test the owner check
        name.mkdir(mode=0o777)
        os.chown(name, 65534, 65534)
        with pytest.raises(PermissionError, match="another user owns it"):
            runtime_dir()
        name.rmdir()
    name.mkdir(mode=0o777)  # the user's own folder, too open: made private again
    assert runtime_dir() == name and name.stat().st_mode & 0o777 == 0o700
