"""Remember the chosen folder inside the drive, so it survives VM resets.

The setting is stored relative to the drive's root in ``.drivewidget.json`` at that root
(written 0600, atomically). Reads and writes go through a deadline, like every access to
a drive from the UI path.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from . import drivefs
from .controller import DriveController
from .settings import DriveSettings
from .status.mounttable import is_within
from .status.probe import bounded
from .timeouts import SETTINGS_TIMEOUT

KEY = "last_folder"
TIMEOUT = SETTINGS_TIMEOUT


@dataclass(frozen=True)
class Offer:
    """What to offer after a mount: the remembered folder (absolute), or a note saying why a
    remembered folder was dropped (how to offer a folder is the face's wording)."""

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
    """The remembered folder if it is still a folder of the drive; a missing one is forgotten.

    The settings file is shared with everyone who can write the drive, so its value is
    input: an absolute path, ``..``, or a name whose symlinks lead out of the drive is
    never offered (and the file is left as it is: it is not ours to rewrite for that).
    """
    root, area = ctrl.root, ctrl.drive_area

    def load() -> Offer:
        settings = DriveSettings(root)
        relative = settings.load().get(KEY)
        if not isinstance(relative, str) or not relative:
            return Offer()
        try:
            names = drivefs.split_relative(relative)
        except OSError:
            return Offer(
                "",
                f"Ignored the remembered folder {drivefs.printable(relative)}: it is not a folder of the drive.",
            )
        folder = os.path.join(root, *names)
        shown = drivefs.printable(folder)
        try:
            os.close(drivefs.open_dir(root, names, links="inside", area=area))
        except (FileNotFoundError, NotADirectoryError):
            if not ctrl.readonly:
                settings.update(**{KEY: None})
            return Offer("", f"The remembered folder {shown} no longer exists, so it was forgotten.")
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ELOOP):
                raise  # the drive failed: say nothing rather than something wrong
            return Offer("", f"Ignored the remembered folder {shown}: it leads outside the drive.")
        return Offer(folder)

    result = bounded(ctrl.mountpoint, load, TIMEOUT)
    return result.value if result.ok and result.value is not None else Offer()
