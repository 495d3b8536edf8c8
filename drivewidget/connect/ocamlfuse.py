"""google-drive-ocamlfuse labels as connections: set one up, sign in, check, rename, forget.

A label (``~/.gdfuse/<label>``) is authorised with an uploaded state file, a service
account's key, or the loopback sign-in with the user's own OAuth client
(:func:`begin_ocamlfuse_signin`, :func:`complete_ocamlfuse_signin`); nothing stays changed
unless a trial mount (read-only, at a private temporary folder, its root listed within a
deadline) worked: a failed attempt puts the label's files back as they were. The files
themselves are :mod:`drivewidget.backends.gdfuse`'s business (0600, never on a command line).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backends.gdfuse import read_key_values, update_key_values
from ..errors import AuthError, DriveError
from ..settings import runtime_dir, write_private
from ..status.probe import bounded
from ..timeouts import CHECK_TIMEOUT
from .check import CheckResult
from .connection import Connected, Connection
from .errors import CredentialsRejected, InvalidConnection, RemoteUnreachable
from .providers import OCAMLFUSE, parse_service_account
from .rclone_config import check_name

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..backends.ocamlfuse import OcamlfuseBackend
    from ..status.mounttable import MountEntry

__all__ = [
    "SERVICE_ACCOUNT_NAME",
    "OcamlfuseConnection",
    "begin_ocamlfuse_signin",
    "complete_ocamlfuse_signin",
    "connect_ocamlfuse",
    "forget_ocamlfuse",
    "ocamlfuse_connections",
    "rename_ocamlfuse",
    "trial_mount",
]

SERVICE_ACCOUNT_NAME = "service-account.json"
"""Where an uploaded service-account key for google-drive-ocamlfuse is kept (0600, label folder)."""


@dataclass(frozen=True, kw_only=True)
class OcamlfuseConnection(Connection, kind="ocamlfuse"):
    """A google-drive-ocamlfuse label; ``options`` are :class:`OcamlfuseBackend` keyword
    arguments (``program``, ``service_account``, ...)."""

    @property
    def where(self) -> str:
        return f"label {self.name!r}"

    def make_backend(self, **options: Any) -> OcamlfuseBackend:
        return _ocamlfuse(self.name, **options)

    def check(self, *, timeout: float = CHECK_TIMEOUT, **options: Any) -> CheckResult:
        """Mount the label briefly (read-only, at a private folder) and list its root."""
        backend = self.make_backend(**{k: v for k, v in options.items() if v is not None})
        try:
            return trial_mount(backend, self.name, timeout)
        finally:
            backend.close()

    def rename(self, new: str, **where: Any) -> Connection:
        return rename_ocamlfuse(self.name, new)

    def forget(self, **where: Any) -> None:
        forget_ocamlfuse(self.name)

    def uses(self, backend: Backend) -> bool:
        from ..backends.ocamlfuse import OcamlfuseBackend

        return isinstance(backend, OcamlfuseBackend) and backend.account == self.name

    def mounted_in(self, table: Sequence[MountEntry]) -> bool:
        return False  # the mount table does not name the label


def _ocamlfuse(label: str, **kwargs: Any) -> OcamlfuseBackend:
    from ..backends.ocamlfuse import OcamlfuseBackend

    try:
        return OcamlfuseBackend(label, **kwargs)
    except DriveError as exc:
        raise InvalidConnection(str(exc)) from None


def ocamlfuse_connections() -> list[Connection]:
    """google-drive-ocamlfuse labels found in ``~/.gdfuse`` (and its XDG folders) that are set up."""
    home = Path(os.path.expanduser("~"))
    folders = [home / ".gdfuse", Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "gdfuse"]
    found: dict[str, Connection] = {}
    for folder in folders:
        try:
            labels = sorted(p.name for p in folder.iterdir() if p.is_dir())
        except OSError:
            continue
        for label in labels:
            if label in found:
                continue
            try:
                paths = _ocamlfuse(label).paths()
                config = read_key_values(paths.config)
                state = read_key_values(paths.state)
            except DriveError:
                continue
            if config.get("service_account_credentials_path"):
                summary = "service account"
            elif state.get("refresh_token"):
                summary = "signed in"
            elif paths.config.exists():
                summary = "not signed in yet"
            else:
                continue
            found[label] = OcamlfuseConnection(
                name=label,
                provider=OCAMLFUSE.key,
                summary=summary,
                config=str(paths.data_dir),
            )
    return list(found.values())


@dataclass
class _Snapshot:
    """A label's files before a change, to put back if the new credentials do not work."""

    files: dict[Path, bytes | None]
    made: list[Path]

    @classmethod
    def take(cls, backend: OcamlfuseBackend) -> _Snapshot:
        paths = backend.paths()
        files: dict[Path, bytes | None] = {}
        for path in (paths.config, paths.state, paths.data_dir / SERVICE_ACCOUNT_NAME):
            try:
                files[path] = path.read_bytes()
            except OSError:
                files[path] = None
        made = [p for p in (paths.data_dir, paths.config.parent) if not p.exists()]
        return cls(files, made)

    def restore(self) -> None:
        for path, data in self.files.items():
            with contextlib.suppress(OSError):
                if data is None:
                    path.unlink(missing_ok=True)
                else:
                    write_private(path, data.decode("utf-8", "surrogateescape"))
        for folder in self.made:
            shutil.rmtree(folder, ignore_errors=True)


def connect_ocamlfuse(
    label: str = "default",
    *,
    state_file: bytes | str | None = None,
    service_account: bytes | str | None = None,
    check: bool = True,
    timeout: float = 60.0,
    **backend_kwargs: Any,
) -> Connected:
    """Authorise a google-drive-ocamlfuse label with an uploaded state file or a service-account key.

    With ``check`` the label is mounted once at a private temporary folder and its root listed;
    if that fails, the label's files are put back as they were and the error is raised.
    """
    label = check_name(label or "default")
    backend = _ocamlfuse(label, **backend_kwargs)
    snapshot = _Snapshot.take(backend)
    try:
        if state_file is not None and len(state_file):
            backend.install_state_file(
                bytes(state_file) if isinstance(state_file, memoryview) else state_file
            )
            how = "the uploaded state file"
        elif service_account is not None and len(service_account):
            key = parse_service_account(service_account)
            _install_service_account(backend, key)
            del key
            how = "the service account"
        else:
            raise InvalidConnection(
                "Upload a state file or a service account's JSON key, or sign in with your OAuth client."
            )
        note = ""
        if check:
            note = " " + trial_mount(backend, label, timeout).message
    except BaseException:
        snapshot.restore()
        raise
    finally:
        backend.close()
    connection = _ocamlfuse_connection(label)
    return Connected(connection, f"google-drive-ocamlfuse label {label!r} is set up with {how}.{note}")


def _install_service_account(backend: OcamlfuseBackend, key: str) -> None:
    paths = backend.prepare_files()
    target = paths.data_dir / SERVICE_ACCOUNT_NAME
    write_private(target, key + "\n")
    text = paths.config.read_text(encoding="utf-8") if paths.config.exists() else ""
    write_private(paths.config, update_key_values(text, {"service_account_credentials_path": str(target)}))


def _ocamlfuse_connection(label: str) -> Connection:
    for connection in ocamlfuse_connections():
        if connection.name == label:
            return connection
    paths = _ocamlfuse(label).paths()
    return OcamlfuseConnection(name=label, provider=OCAMLFUSE.key, config=str(paths.data_dir))


def begin_ocamlfuse_signin(
    label: str, client_id: str, client_secret: str, **backend_kwargs: Any
) -> tuple[OcamlfuseBackend, str | None]:
    """Store the OAuth client (0600 config) and start the loopback sign-in; returns (backend, link).

    The link is None when the label is already authorised. Finish with
    :func:`complete_ocamlfuse_signin` and the address Google redirected to (or its code).
    """
    label = check_name(label or "default")
    if not (client_id or "").strip() or not (client_secret or "").strip():
        raise InvalidConnection(
            "Enter your OAuth client ID and secret (an OAuth client of type 'Desktop app' from the Google "
            "Cloud console, with the Drive API enabled), or upload a state file or service account key."
        )
    backend = _ocamlfuse(label, **backend_kwargs)
    try:
        backend.set_client(client_id.strip(), client_secret.strip())
        url = backend.begin_authorization()
    except AuthError as exc:
        backend.close()
        raise CredentialsRejected(str(exc)) from None
    except BaseException:
        backend.close()
        raise
    return backend, url


def complete_ocamlfuse_signin(
    backend: OcamlfuseBackend, answer: str, *, check: bool = True, timeout: float = 60.0
) -> Connected:
    """Give the sign-in answer to the waiting program; check with a trial mount."""
    try:
        lines = backend.complete_authorization(answer)
        note = " " + trial_mount(backend, backend.account, timeout).message if check else ""
    except AuthError as exc:
        if isinstance(exc, CredentialsRejected):
            raise
        raise CredentialsRejected(str(exc)) from None
    finally:
        backend.close()
    return Connected(_ocamlfuse_connection(backend.account), " ".join(lines) + note)


def trial_mount(backend: OcamlfuseBackend, label: str, timeout: float) -> CheckResult:
    """Mount read-only at a private temporary folder, list the root within ``timeout``, unmount."""
    folder = Path(tempfile.mkdtemp(prefix="check-", dir=runtime_dir()))
    mountpoint = folder / "mnt"
    mountpoint.mkdir()
    started = time.monotonic()
    try:
        backend.check_available()
        backend.mount(str(mountpoint), readonly=True)
        result = bounded(str(mountpoint), lambda: len(os.listdir(backend.root(str(mountpoint)))), timeout)
        if result.timed_out:
            raise RemoteUnreachable(f"Google Drive did not answer within {timeout:g} s. Check the network.")
        if result.error is not None:
            raise RemoteUnreachable(
                f"Google Drive could not be listed: {result.error.strerror or result.error}."
            )
        return CheckResult(remote=f"Google Drive (label {label})", entries=int(result.value or 0),
                           seconds=time.monotonic() - started)  # fmt: skip
    finally:
        with contextlib.suppress(DriveError, OSError):
            if backend.is_mounted(str(mountpoint)):
                backend.unmount(str(mountpoint))
        with contextlib.suppress(OSError):
            mountpoint.rmdir()
            folder.rmdir()


def forget_ocamlfuse(label: str) -> None:
    """Delete a label's config (client secret), state (tokens), key and cache."""
    backend = _ocamlfuse(label)
    paths = backend.paths()
    home_label = Path(os.path.expanduser("~")) / ".gdfuse" / label
    for path in (paths.config, paths.state, paths.data_dir / SERVICE_ACCOUNT_NAME):
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
    for folder in (paths.cache_dir, paths.data_dir, paths.config.parent):
        if folder == home_label or folder.name == label:
            shutil.rmtree(folder, ignore_errors=True)


def rename_ocamlfuse(old: str, new: str) -> Connection:
    """Rename a label (its folder under ``~/.gdfuse``)."""
    new = check_name(new)
    source = Path(os.path.expanduser("~")) / ".gdfuse" / old
    target = source.with_name(new)
    if not source.is_dir():
        raise InvalidConnection(f"Only labels kept in ~/.gdfuse can be renamed here; {old!r} is not there.")
    if target.exists():
        raise InvalidConnection(f"A label named {new!r} already exists. Choose another name.")
    config = source / "config"
    values = read_key_values(config)
    sa = values.get("service_account_credentials_path", "")
    source.rename(target)
    if sa.startswith(str(source) + os.sep):
        text = (target / "config").read_text(encoding="utf-8")
        moved = str(target) + sa[len(str(source)) :]
        write_private(target / "config", update_key_values(text, {"service_account_credentials_path": moved}))
    return _ocamlfuse_connection(new)
