"""drivewidget: mount a cloud drive, pick a working folder and watch the GPU from one notebook panel.

    from drivewidget import DrivePanel
    DrivePanel()          # last line of a cell displays it

The controller and backends import no widgets; ``DrivePanel`` (and ipywidgets) load on
first use so ``import drivewidget`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    AuthError,
    BackendUnavailable,
    Busy,
    DriveError,
    InvalidMountpoint,
    InvalidPath,
    MountError,
    MountTimeout,
    NotMounted,
    RemoteNotFound,
    StaleMount,
    UnmountError,
)

if TYPE_CHECKING:
    from .controller import DriveController
    from .ui.panel import DrivePanel

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "BackendUnavailable",
    "Busy",
    "DriveController",
    "DriveError",
    "DrivePanel",
    "InvalidMountpoint",
    "InvalidPath",
    "MountError",
    "MountTimeout",
    "NotMounted",
    "RemoteNotFound",
    "StaleMount",
    "UnmountError",
    "__version__",
]

_LAZY = {"DriveController": ".controller", "DrivePanel": ".ui.panel"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
