"""The two folders of a keep-synced job, checked as text before anything starts."""

from __future__ import annotations

import os

from .._env import current_dir
from ..errors import InvalidPath
from ..status.mounttable import is_within
from ..text import printable
from ..userpaths import given_path
from .drive import SyncDrive

__all__ = ["drive_target", "local_folder"]


def drive_target(drive: SyncDrive, drive_folder: str | os.PathLike[str]) -> tuple[str, str]:
    """``(base, rel)``: the trusted top the destination is opened from (the drive's root, or
    its mountpoint for folders beside the root such as Colab's Shared drives) and the path
    below it, walked without following links. Relative paths start at the root."""
    what = "the drive folder to keep synced"
    raw = given_path(drive_folder, what)
    root, mountpoint = drive.root, drive.mountpoint
    target = os.path.normpath(raw if os.path.isabs(raw) else os.path.join(root, raw))
    for base in (root, mountpoint):
        if base and is_within(target, base):
            rel = os.path.relpath(target, base)
            return base, "" if rel == "." else rel
    raise InvalidPath(
        f"{printable(target)} is outside the drive. Give {what} under {printable(root)} (or relative to it)."
    )


def local_folder(drive: SyncDrive, local: str | os.PathLike[str]) -> str:
    """The local folder as an absolute path with links resolved; it must be off the drive."""
    what = "the local folder to keep synced"
    raw = given_path(local, what)
    if not os.path.isabs(raw) and not current_dir():
        raise InvalidPath(
            f"The working directory was deleted, so the relative path {printable(raw)} means nothing: "
            f"give {what} as an absolute path."
        )
    target = os.path.realpath(raw)
    for place in {drive.mountpoint, drive.root} - {""}:
        if is_within(target, place) or is_within(os.path.abspath(raw), place):
            raise InvalidPath(
                f"{printable(target)} is on the drive; give {what} on this machine's disk, outside "
                f"{printable(drive.mountpoint)} (for example /content/run)."
            )
        if is_within(place, target):
            raise InvalidPath(
                f"{printable(target)} contains the drive ({printable(place)}): it would copy the drive into itself. "
                "Give the folder your run writes into."
            )
    if os.path.lexists(target) and not os.path.isdir(target):
        raise InvalidPath(f"{printable(target)} is a file; give the folder to keep synced.")
    return target
