"""Remember the chosen folder inside the drive, so it survives VM resets.

The setting is stored relative to the drive's root in ``.drivewidget.json`` at that root
(written 0600, atomically). Reads and writes go through a deadline, like every access to
a drive from the UI path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .controller import DriveController
from .settings import DriveSettings
from .status.mounttable import is_within
from .status.probe import bounded

KEY = "last_folder"
TIMEOUT = 3.0


@dataclass(frozen=True)
class Offer:
    """What to offer after a mount: the remembered folder (absolute) and a note for the user."""

    folder: str = ""
    note: str = ""


def remember_folder(ctrl: DriveController, folder: str) -> str:
    """Remember ``folder``; returns a note when it could not be remembered."""
    root = ctrl.root
    if ctrl.readonly:
        return "read-only drive: not remembered for next time"
    if not is_within(folder, root):
        return ""
    relative = os.path.relpath(folder, root)
    result = bounded(ctrl.mountpoint, lambda: DriveSettings(root).update(**{KEY: relative}), TIMEOUT)
    if result.timed_out:
        return "the drive did not answer, so it is not remembered"
    if result.error is not None:
        return f"not remembered: {result.error.strerror or result.error}"
    return ""


def remembered_folder(ctrl: DriveController) -> Offer:
    """The remembered folder if it still exists; a missing one is forgotten, with a note."""
    root = ctrl.root

    def load() -> Offer:
        settings = DriveSettings(root)
        relative = settings.load().get(KEY)
        if not isinstance(relative, str) or not relative:
            return Offer()
        folder = os.path.normpath(os.path.join(root, relative))
        if is_within(folder, root) and os.path.isdir(folder):
            return Offer(folder, f"Last time you worked in {folder}: choose it under 'Remembered'.")
        if not ctrl.readonly:
            settings.update(**{KEY: None})
        return Offer("", f"The remembered folder {folder} no longer exists, so it was forgotten.")

    result = bounded(ctrl.mountpoint, load, TIMEOUT)
    return result.value if result.ok and result.value is not None else Offer()
