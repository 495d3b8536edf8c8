"""Typed errors of drivewidget.

Every failure a user can meet is a :class:`DriveError` with a message that says what
happened and what to do. Backends translate their native failures at the boundary
(``raise MountError(...) from exc``), so callers never see a ``CalledProcessError`` or a
Colab ``MessageError``::

    DriveError
    ├── BackendUnavailable      the backend cannot run here (program missing, not Colab, ...)
    ├── InvalidMountpoint       the mountpoint is unusable (file, symlink, not empty, ...)
    ├── MountError              mounting failed
    │   ├── AuthError           authorisation refused, missing or expired
    │   ├── MountTimeout        the backend did not answer in time
    │   └── RemoteNotFound      the remote / source does not exist
    ├── UnmountError            flushing or unmounting failed (data is kept)
    ├── StaleMount              the mount is disconnected or not responding
    ├── NotMounted              the operation needs a mounted drive
    ├── Busy                    another operation is running
    ├── InvalidPath             a path is unusable (missing, not a folder, no permission, ...)
    └── TransferError           a stage / sync-back could not start or stopped as a whole
        ├── NotEnoughSpace      the destination has too little free space
        └── TransferBusy        another transfer writes to the same place (also a ``Busy``)

Filesystem failures (``OSError``) become one of these in one place, :func:`from_os_error`,
so a missing folder, a full disk or a dead FUSE daemon reads the same in the panel, the
CLI and a traceback of the API, whichever part of the package met it.
"""

from __future__ import annotations

import errno
import os

__all__ = [
    "DISCONNECTED_ERRNOS",
    "NO_SPACE_ERRNOS",
    "AuthError",
    "BackendUnavailable",
    "Busy",
    "DriveError",
    "InvalidMountpoint",
    "InvalidPath",
    "MountError",
    "MountTimeout",
    "NotEnoughSpace",
    "NotMounted",
    "RemoteNotFound",
    "StaleMount",
    "TransferBusy",
    "TransferError",
    "UnmountError",
    "from_os_error",
]

DISCONNECTED_ERRNOS = frozenset({errno.ENOTCONN, errno.ECONNABORTED, errno.EIO, errno.ESTALE})
"""What a mount whose daemon died answers ('Transport endpoint is not connected' and kin).

``EIO`` is in: a FUSE daemon that lost its remote answers it for every call, and a local
disk that answers it is no more usable than a dead mount."""

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
"""A full disk or an exhausted quota."""


class DriveError(Exception):
    """Base class of every error drivewidget raises on purpose."""


class BackendUnavailable(DriveError):
    """The backend cannot run in this environment."""


class InvalidMountpoint(DriveError):
    """The mountpoint cannot be used (checked before the backend is called)."""


class MountError(DriveError):
    """Mounting failed."""


class AuthError(MountError):
    """Authorisation was refused, never answered, or has expired."""


class MountTimeout(MountError):
    """The backend did not finish mounting in time."""


class RemoteNotFound(MountError):
    """The remote or source folder does not exist."""


class UnmountError(DriveError):
    """Flushing or unmounting failed; the mount is left in place so no data is lost."""


class StaleMount(DriveError):
    """The mount is listed but its filesystem is disconnected or not responding."""


class NotMounted(DriveError):
    """The operation needs a mounted drive."""


class Busy(DriveError):
    """Another mount or unmount is running; commands are not run concurrently."""


class InvalidPath(DriveError):
    """A folder given to chdir or select cannot be used."""


class TransferError(DriveError):
    """A transfer could not start, or stopped as a whole (files copied so far are complete)."""


class NotEnoughSpace(TransferError):
    """The destination lacks the free space the copy needs (or ran out of it while copying)."""


class TransferBusy(TransferError, Busy):
    """Another transfer (in this process or another) is writing to the same destination."""


def from_os_error(
    exc: OSError,
    *,
    doing: str,
    path: str,
    folder: bool = False,
    area: str = "the drive's root",
    then: str = "",
    fallback: type[DriveError] = InvalidPath,
) -> DriveError:
    """The :class:`DriveError` (with its message) for ``exc``, met while ``doing`` ``path``.

    ``doing`` is a verb phrase ("open", "create", "copy"); ``path`` is shown as given, so
    pass it already made printable. ``folder``: the path should be a folder (a missing one
    reads "There is no folder ..."). ``area``: where paths may lead (for a link that leads
    out). ``then``: a sentence appended when the failure stops work half done (for example
    "Files copied so far are complete."). ``fallback``: the type of an unexpected errno.
    The result is raised ``from exc`` by the caller, so the errno stays in the chain.
    """
    code = exc.errno
    reason = exc.strerror or str(exc) or "unknown error"
    tail = f" {then}" if then else ""
    if code in DISCONNECTED_ERRNOS:
        return StaleMount(
            f"The drive is disconnected: could not {doing} {path} ({reason}).{tail} "
            "Unmount and mount again, then retry."
        )
    if code == errno.ETIMEDOUT:
        return StaleMount(
            f"The drive is not responding: could not {doing} {path} ({reason}).{tail} "
            "Check the connection; if it stays stuck, unmount and mount again."
        )
    if code in NO_SPACE_ERRNOS:
        what = "the quota is used up" if code == errno.EDQUOT else "the disk is full"
        return NotEnoughSpace(
            f"Could not {doing} {path}: it ran out of space ({what}).{tail} "
            "Free some space (or choose another place), then retry."
        )
    if code == errno.EEXIST:
        return InvalidPath(f"{os.path.basename(path) or path} already exists here. Choose another name.")
    if code == errno.ENOENT:
        if doing.startswith("create"):  # the parent exists (else makedirs made it) or is a place like /proc
            return InvalidPath(
                f"Cannot create {path}: that place does not take new folders or files ({reason}).{tail}"
                " Choose a folder you can write to."
            )
        if folder:
            return InvalidPath(f"There is no folder {path} on the drive. Check the name or create it first.")
        return InvalidPath(f"There is nothing at {path}. Check the path.{tail}")
    if code == errno.ENOTDIR:
        if folder:
            return InvalidPath(f"{path} is a file, not a folder. Choose a folder.")
        return InvalidPath(f"Cannot {doing} {path}: a part of the path is a file, not a folder.{tail}")
    if code in (errno.EACCES, errno.EPERM):
        return InvalidPath(f"No permission to {doing} {path}. Choose a place you can use.{tail}")
    if code == errno.EROFS:
        return InvalidPath(
            f"Cannot {doing} {path}: it is on a read-only file system (the drive may be mounted read-only).{tail}"
        )
    if code == errno.ENAMETOOLONG:
        return InvalidPath(f"Cannot {doing} {path}: the name is too long.{tail}")
    if code == errno.EXDEV:
        return InvalidPath(f"{path} {reason}. Choose a folder under {area}.{tail}")
    if code == errno.ELOOP:
        return InvalidPath(f"Cannot {doing} {path}: it is a symbolic link, which is not followed here.{tail}")
    return fallback(f"Cannot {doing} {path}: {reason}.{tail}")
