"""Every connection there is to choose from: drivewidget's rclone remotes, ocamlfuse labels, the user's own remotes."""

from __future__ import annotations

import contextlib

from ..timeouts import CHECK_TIMEOUT
from .check import CheckResult
from .connection import Connection
from .errors import InvalidConnection
from .ocamlfuse import ocamlfuse_connections
from .rclone_config import RcloneConfig, user_connections

__all__ = ["check_connection", "saved_connections"]


def saved_connections(
    config: RcloneConfig | None = None, *, include_user_config: bool = True
) -> list[Connection]:
    """drivewidget's rclone connections, google-drive-ocamlfuse labels, and the user's own rclone remotes."""
    config = config if config is not None else RcloneConfig()
    found: list[Connection] = []
    with contextlib.suppress(InvalidConnection):
        found += config.connections()
    found += ocamlfuse_connections()
    if include_user_config:
        found += user_connections(exclude=config.path)
    return found


def check_connection(
    connection: Connection, *, timeout: float = CHECK_TIMEOUT, program: str | None = None
) -> CheckResult:
    """List a saved connection's root (rclone), or mount it briefly to look (ocamlfuse):
    :meth:`Connection.check` with ``program`` as the program to run."""
    return connection.check(timeout=timeout, program=program)
