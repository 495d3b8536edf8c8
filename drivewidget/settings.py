"""Where drivewidget keeps files, and the small settings file that survives VM resets.

Per-user folders follow the platform conventions (platformdirs). The remembered folder
lives in a file *inside the drive* (``.drivewidget.json`` at the drive's root), because
the VM's own disk is wiped on every reset and the drive is not.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from . import drivefs

APP = "drivewidget"
SETTINGS_NAME = ".drivewidget.json"


def default_local_folder() -> Path:
    """The folder the embedded local backend serves when none is given."""
    from platformdirs import user_data_path

    return user_data_path(APP) / "drive"


def runtime_dir() -> Path:
    """A private (0700) folder for sockets and logs of running mounts."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return private_dir(Path(base) / f"{APP}-{os.getuid()}")


def private_dir(path: Path) -> Path:
    """``path`` as a folder only this user can use (0700), made if missing.

    Under a shared ``/tmp`` another local user can create the name first, or put a link
    there; rclone's control socket (which can read its config) and log must not land in
    their folder, so anything but this user's own real folder is refused.
    """
    path.mkdir(mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:  # ELOOP / ENOTDIR: a link or a file where the folder should be
        raise _not_private(path, "it is a link or not a folder") from exc
    try:
        if os.fstat(fd).st_uid != os.getuid():
            raise _not_private(path, "another user owns it")
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return path


def _not_private(path: Path, why: str) -> PermissionError:
    return PermissionError(
        errno.EPERM,
        f"{path} cannot hold drivewidget's private files: {why}. Remove it and try again",
        str(path),
    )


def cache_dir() -> Path:
    from platformdirs import user_cache_path

    path = user_cache_path(APP)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file readable only by its owner (0600), atomically.

    Through :func:`drivewidget.drivefs.write_atomic`: an exclusive temporary file with a
    random name, so a link planted under a guessable name is never written through.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    drivefs.write_atomic(str(path.parent), path.name, text.encode("utf-8", "surrogateescape"))


def parse_settings(data: bytes) -> dict[str, Any]:
    """A settings file's JSON object, or {} for anything else (not JSON, not an object, too
    deeply nested, not UTF-8): the file is shared, so it is input, not configuration."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return {}
    return value if isinstance(value, dict) else {}


class DriveSettings:
    """The JSON settings file at the root of a drive (remembered folder and the like).

    Collaborators can write it too, so it is read through :mod:`drivewidget.drivefs`: a
    regular file only (a link, FIFO or device is ignored), at most :data:`MAX_BYTES`, and
    replaced atomically when written (never written through a link).
    """

    MAX_BYTES = 64 * 1024

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self.path = Path(root) / SETTINGS_NAME

    def load(self) -> dict[str, Any]:
        try:
            data = drivefs.read_bytes(self.root, SETTINGS_NAME, limit=self.MAX_BYTES)
        except OSError:
            return {}
        return parse_settings(data)

    def update(self, **values: Any) -> None:
        data = self.load()
        data.update(values)
        # ASCII escapes carry any name, even one with undecodable bytes (a lone surrogate).
        text = json.dumps(data, indent=2) + "\n"
        drivefs.write_atomic(self.root, SETTINGS_NAME, text.encode("ascii"), mode=0o600)
