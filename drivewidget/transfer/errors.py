"""Errors of staging and syncing back (all :class:`~drivewidget.errors.DriveError` subclasses)::

    DriveError
    └── TransferError           a transfer could not start or had to stop as a whole
        ├── NotEnoughSpace      the destination has too little free space (checked before copying)
        └── TransferBusy        another transfer writes to the same place (also a ``Busy``)

Problems with single files (unreadable, changed while copied, ...) do not raise: they are
counted and described in :class:`~drivewidget.transfer.copier.TransferResult`. Bad paths
raise :class:`~drivewidget.errors.InvalidPath`, an unmounted or stale drive
:class:`~drivewidget.errors.NotMounted` / :class:`~drivewidget.errors.StaleMount`.
"""

from __future__ import annotations

from ..errors import Busy, DriveError

__all__ = ["NotEnoughSpace", "TransferBusy", "TransferError"]


class TransferError(DriveError):
    """A transfer could not start, or stopped as a whole (files copied so far are complete)."""


class NotEnoughSpace(TransferError):
    """The destination lacks the free space the copy needs; nothing was copied."""


class TransferBusy(TransferError, Busy):
    """Another transfer (in this process or another) is writing to the same destination."""
