"""Errors of setting up a connection, below :mod:`drivewidget.errors`.

Each is a subclass of an existing drivewidget error, so code that catches ``AuthError``
or ``MountError`` keeps working; the new types only say *which* of the usual failures of
a first connection happened::

    DriveError
    ├── InvalidConnection            a name, field or uploaded file is unusable (nothing was saved)
    └── MountError
        ├── AuthError
        │   ├── CredentialsRejected  wrong password or key, expired or revoked token
        │   └── AccessDenied         signed in, but not allowed to list (permissions, API off)
        ├── RemoteNotFound           (existing) unknown bucket / folder / connection
        └── RemoteUnreachable        no network, unknown host, refused, or no answer in time
"""

from __future__ import annotations

from ..errors import AuthError, DriveError, MountError

__all__ = ["AccessDenied", "CredentialsRejected", "InvalidConnection", "RemoteUnreachable"]


class InvalidConnection(DriveError):
    """What the user entered cannot make a connection (missing field, bad name, bad file)."""


class CredentialsRejected(AuthError):
    """The service refused the credentials: wrong password or key, expired or revoked token."""


class AccessDenied(AuthError):
    """The credentials were accepted but listing is not allowed (permissions, API not enabled)."""


class RemoteUnreachable(MountError):
    """The service could not be reached: no network, unknown host, refused, or timed out."""
