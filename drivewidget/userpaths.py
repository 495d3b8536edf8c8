"""Paths a user typed or passed: cleaned once, and judged against the drive by their text.

Every command that takes a path (``chdir``, ``stage``, ``sync_back``, ``keep_synced``)
refuses an empty one or one holding a NUL the same way, and asks the same question of
where it points. These are checks of the *text* for early, clear messages; whether a
path really leads onto the drive is decided on open descriptors (:mod:`drivewidget.drivefs`).
"""

from __future__ import annotations

import os

from .errors import InvalidPath
from .status.mounttable import is_within

__all__ = ["given_path", "names_the_drive"]


def given_path(path: str | os.PathLike[str] | bytes, what: str) -> str:
    """``path`` as text with ``~`` expanded; :class:`InvalidPath` if it is empty or holds a
    NUL (``what`` names it in the message: "the local folder to keep synced")."""
    raw = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    if not raw.strip():
        raise InvalidPath(f"No path given for {what}.")
    if "\0" in raw:
        raise InvalidPath(f"The path given for {what} contains a NUL character, which no file name can hold.")
    return os.path.expanduser(raw)


def names_the_drive(path: str, mountpoint: str, root: str) -> bool:
    """Whether the absolute ``path`` is, by its text, the drive or inside it (its mountpoint,
    or its root where that lies elsewhere, as for a local folder used in place)."""
    return is_within(path, mountpoint) or bool(root and is_within(path, root))
