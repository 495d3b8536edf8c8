"""What a transfer needs from the drive: a small protocol, so transfers never import the controller.

:class:`~drivewidget.controller.DriveController` provides it as it is; so can any object
with these members (a test double, another front end). Only what ``stage`` and
``sync_back`` use is here: where the drive is, whether it is mounted and answering,
whether it is writable, the backend's upload flush, and the unmount holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..holds import Guard

__all__ = ["Drive", "HoldRegistry", "Uploader", "unconfirmed_text"]


class Uploader(Protocol):
    """The backend's part: can it confirm uploads, and wait for them."""

    @property
    def label(self) -> str: ...

    @property
    def confirms_uploads(self) -> bool: ...

    def flush(self, mountpoint: str, progress: Callable[[str], None] = ...) -> None:
        """Return once what was written has reached the cloud (raise a DriveError if it cannot)."""


def unconfirmed_text(uploader: Uploader) -> str:
    """What to tell the user when the backend cannot confirm that copied files were uploaded."""
    return (
        f"{uploader.label} uploads in the background and can confirm it only by unmounting. "
        "Click Unmount (or call ctrl.unmount()) before the runtime is recycled to be sure "
        "the files reached the cloud."
    )


class HoldRegistry(Protocol):
    """Where a transfer registers the guard that refuses an unmount under a running copy."""

    def add_guard(self, guard: Guard) -> Callable[[], None]: ...

    @property
    def closing(self) -> bool:
        """The drive is being unmounted: no new transfer may start."""


class Drive(Protocol):
    """The drive as ``stage`` / ``sync_back`` see it."""

    @property
    def mountpoint(self) -> str: ...

    @property
    def root(self) -> str:
        """The folder relative paths start from (``""`` while not mounted)."""

    @property
    def readonly(self) -> bool: ...

    @property
    def backend(self) -> Uploader: ...

    @property
    def holds(self) -> HoldRegistry: ...

    def refresh(self) -> str:
        """The state now ("mounted", "stale", "mounting", ...), bounded in time."""

    def describe_state(self) -> str:
        """The state in words (used in the message of a stale drive)."""
