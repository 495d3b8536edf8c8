"""Errors of staging and syncing back: re-exported from :mod:`drivewidget.errors`, their home.

    DriveError
    └── TransferError           a transfer could not start or had to stop as a whole
        ├── NotEnoughSpace      the destination has too little free space (checked before copying)
        └── TransferBusy        another transfer writes to the same place (also a ``Busy``)

Problems with single files (unreadable, changed while copied, ...) do not raise: they are
counted and described in :class:`~drivewidget.transfer.TransferResult`. Bad paths
raise :class:`~drivewidget.errors.InvalidPath`, an unmounted or stale drive
:class:`~drivewidget.errors.NotMounted` / :class:`~drivewidget.errors.StaleMount`.
"""

from __future__ import annotations

from ..errors import NotEnoughSpace, TransferBusy, TransferError

__all__ = ["NotEnoughSpace", "TransferBusy", "TransferError"]
