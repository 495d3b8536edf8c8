"""A saved connection as a type: one subclass per kind, each making, checking, renaming and forgetting itself.

:class:`Connection` is what the Connect panel lists and what scripts pass around; it holds no
secret. Each kind of connection is a subclass that registers its kind name
(``class RcloneConnection(Connection, kind="rclone")``), so code asks the connection to act
instead of switching on a string::

    connection.make_backend(**options)   # a ready Backend (RcloneBackend, OcamlfuseBackend)
    connection.check(timeout=30)         # list its root (rclone) or mount it briefly (ocamlfuse)
    connection.rename("new-name")        # returns the renamed Connection
    connection.forget()                  # deletes it and every secret saved for it
    connection.uses(backend)             # whether ``backend`` mounts this connection

``Connection(backend="rclone", name=..., ...)`` builds the subclass registered for that kind
(``backend`` is the kind's name, kept for display and JSON), so saved data reads back as the
right type.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..timeouts import CHECK_TIMEOUT

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..status.mounttable import MountEntry
    from .check import CheckResult

__all__ = ["Connected", "Connection"]


@dataclass(frozen=True, kw_only=True)
class Connection:
    """A saved connection, as the panel lists it. Holds no secret; see the module docstring."""

    name: str
    backend: str = ""
    """The kind's name (``rclone``, ``ocamlfuse``): set by the subclass; never switched on."""
    provider: str
    """Catalogue key (``drive``, ``s3``, ``webdav``, ...) or rclone type."""
    rclone_type: str = ""
    path: str = ""
    """Bucket or folder inside the remote to mount (rclone)."""
    summary: str = ""
    """Secret-free details (address, region, 'service account')."""
    config: str = ""
    """The rclone config file (rclone) or the google-drive-ocamlfuse label folder."""
    external: bool = False
    """From the user's own rclone config: usable, but renamed and forgotten with ``rclone config``."""

    kind: ClassVar[str] = ""
    _kinds: ClassVar[dict[str, type[Connection]]] = {}

    def __init_subclass__(cls, *, kind: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind:
            cls.kind = kind
            Connection._kinds[kind] = cls

    def __new__(cls, *args: Any, **kwargs: Any) -> Connection:
        if cls is Connection:  # Connection(backend="rclone", ...) builds that kind
            kind = kwargs.get("backend", "")
            if kind not in Connection._kinds:
                from .errors import InvalidConnection

                raise InvalidConnection(f"Unknown kind of connection {kind!r}.")
            cls = Connection._kinds[kind]
        return super().__new__(cls)

    def __post_init__(self) -> None:
        if self.backend != self.kind:
            object.__setattr__(self, "backend", self.kind)

    # -- words ------------------------------------------------------------------------

    @property
    def remote(self) -> str:
        return f"{self.name}:{self.path}"

    @property
    def where(self) -> str:
        """What it connects to, in a message: ``gdrive:`` or ``label 'work'``."""
        return self.remote

    @property
    def title(self) -> str:
        from .providers import PROVIDERS

        entry = PROVIDERS.get(self.provider)
        kind = entry.name if entry is not None else (self.rclone_type or self.provider)
        where = f" · {self.summary}" if self.summary else ""
        mine = " (your rclone config)" if self.external else ""
        return f"{self.where} — {kind}{where}{mine}"

    # -- what each kind does ------------------------------------------------------------

    @abstractmethod
    def make_backend(self, **options: Any) -> Backend:
        """A ready backend for this connection; ``options`` are the backend's keyword arguments."""

    @abstractmethod
    def check(self, *, timeout: float = CHECK_TIMEOUT, **options: Any) -> CheckResult:
        """Prove the saved credentials work (bounded by ``timeout``); raises a typed error in words."""

    @abstractmethod
    def rename(self, new: str, **where: Any) -> Connection:
        """Rename it; returns the renamed connection."""

    @abstractmethod
    def forget(self, **where: Any) -> None:
        """Delete it and every secret saved for it."""

    @abstractmethod
    def uses(self, backend: Backend) -> bool:
        """Whether ``backend`` mounts this connection (it must not be renamed or forgotten then)."""

    def mounted_in(self, table: Sequence[MountEntry]) -> bool:
        """Whether the mount table shows a mount of this connection (never touches the mount)."""
        return False


@dataclass(frozen=True)
class Connected:
    """A connection that was checked and saved, and what to tell the user."""

    connection: Connection
    message: str
