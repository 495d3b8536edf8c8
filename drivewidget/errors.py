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
    └── InvalidPath             a path given to chdir/select is unusable
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BackendUnavailable",
    "Busy",
    "DriveError",
    "InvalidMountpoint",
    "InvalidPath",
    "MountError",
    "MountTimeout",
    "NotMounted",
    "RemoteNotFound",
    "StaleMount",
    "UnmountError",
]


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
