"""Connect a cloud off Colab: make, check, list, rename and forget saved connections (re-exports only).

Two kinds of connection:

* rclone remotes (Google Drive, S3-compatible storage, WebDAV, Dropbox, ... see
  :mod:`.providers`), kept in drivewidget's private rclone config (:mod:`.rclone_config`) and
  mounted with ``RcloneBackend(remote, config=path)``;
* google-drive-ocamlfuse labels (``~/.gdfuse/<label>``), authorised with an uploaded state
  file, a service account's key, or the loopback sign-in, mounted with ``OcamlfuseBackend(label)``.

Each kind is a :class:`Connection` subclass (:mod:`.connection`) that makes its backend, checks,
renames and forgets itself: :class:`RcloneConnection` (:mod:`.rclone_config`, set up by
:func:`connect_rclone` in :mod:`.rclone`) and :class:`OcamlfuseConnection` (:mod:`.ocamlfuse`).
:mod:`.saved` lists them all. Nothing is saved until the credentials worked: :func:`connect_rclone` lists the remote's root
first (:mod:`.check`) and raises a typed error in words when that fails. Secrets travel only
through stdin, the environment of a child process, and files of mode 0600; they are never put
on a command line, in a message or in a log, and this module keeps no reference to them.

::

    from drivewidget.connect import connect_rclone

    done = connect_rclone("webdav", "mydav", {"url": "https://...", "user": "me", "pass": secret})
    backend = done.connection.make_backend()      # RcloneBackend("mydav:", config=...)
"""

from __future__ import annotations

from .check import CheckResult, check_options, check_remote, explain, redact
from .connection import Connected, Connection
from .errors import AccessDenied, CredentialsRejected, InvalidConnection, RemoteUnreachable
from .ocamlfuse import (
    SERVICE_ACCOUNT_NAME,
    OcamlfuseConnection,
    begin_ocamlfuse_signin,
    complete_ocamlfuse_signin,
    connect_ocamlfuse,
    forget_ocamlfuse,
    ocamlfuse_connections,
    rename_ocamlfuse,
)
from .providers import (
    OCAMLFUSE,
    PROVIDERS,
    Field,
    Provider,
    get_provider,
    parse_service_account,
    parse_token,
    short_name,
)
from .rclone import connect_rclone
from .rclone_config import RcloneConfig, RcloneConnection, default_config_path
from .saved import check_connection, saved_connections

__all__ = [
    "OCAMLFUSE",
    "PROVIDERS",
    "SERVICE_ACCOUNT_NAME",
    "AccessDenied",
    "CheckResult",
    "Connected",
    "Connection",
    "CredentialsRejected",
    "Field",
    "InvalidConnection",
    "OcamlfuseConnection",
    "Provider",
    "RcloneConfig",
    "RcloneConnection",
    "RemoteUnreachable",
    "begin_ocamlfuse_signin",
    "check_connection",
    "check_options",
    "check_remote",
    "complete_ocamlfuse_signin",
    "connect_ocamlfuse",
    "connect_rclone",
    "default_config_path",
    "explain",
    "forget_ocamlfuse",
    "get_provider",
    "ocamlfuse_connections",
    "parse_service_account",
    "parse_token",
    "redact",
    "rename_ocamlfuse",
    "saved_connections",
    "short_name",
]
