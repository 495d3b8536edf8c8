"""Where drivewidget keeps files, and the small settings file that survives VM resets.

Per-user folders follow the platform conventions (platformdirs). The remembered folder
lives in a file *inside the drive* (``.drivewidget.json`` at the drive's root), because
the VM's own disk is wiped on every reset and the drive is not.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

APP = "drivewidget"
SETTINGS_NAME = ".drivewidget.json"


def default_local_folder() -> Path:
    """The folder the embedded local backend serves when none is given."""
    from platformdirs import user_data_path

    return user_data_path(APP) / "drive"


def runtime_dir() -> Path:
    """A private (0700) folder for sockets and logs of running mounts."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = Path(base) / f"{APP}-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def cache_dir() -> Path:
    from platformdirs import user_cache_path

    path = user_cache_path(APP)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file readable only by its owner (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class DriveSettings:
    """The JSON settings file at the root of a drive (remembered folder and the like)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.path = Path(root) / SETTINGS_NAME

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def update(self, **values: Any) -> None:
        data = self.load()
        data.update(values)
        # ASCII escapes carry any name, even one with undecodable bytes (a lone surrogate).
        write_private(self.path, json.dumps(data, indent=2) + "\n")
