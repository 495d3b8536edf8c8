"""Connect a cloud off Colab: make, check, list, rename and forget saved connections.

Two kinds of connection:

* rclone remotes (Google Drive, S3-compatible storage, WebDAV, Dropbox, ... see
  :mod:`.providers`), kept in drivewidget's private rclone config (:mod:`.rclone_config`) and
  mounted with ``RcloneBackend(remote, config=path)``;
* google-drive-ocamlfuse labels (``~/.gdfuse/<label>``), authorised with an uploaded state
  file, a service account's key, or the loopback sign-in, mounted with ``OcamlfuseBackend(label)``.

Nothing is saved until the credentials worked: :func:`connect_rclone` lists the remote's root
first (:mod:`.check`) and raises a typed error in words when that fails. Secrets travel only
through stdin, the environment of a child process, and files of mode 0600; they are never put
on a command line, in a message or in a log, and this module keeps no reference to them.

::

    from drivewidget.connect import connect_rclone

    done = connect_rclone("webdav", "mydav", {"url": "https://...", "user": "me", "pass": secret})
    backend = done.connection.make_backend()      # RcloneBackend("mydav:", config=...)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AuthError, DriveError
from ..settings import runtime_dir, write_private
from .check import CHECK_TIMEOUT, CheckResult, check_options, check_remote, redact
from .errors import AccessDenied, CredentialsRejected, InvalidConnection, RemoteUnreachable
from .providers import (
    OCAMLFUSE,
    PROVIDERS,
    Field,
    Provider,
    get_provider,
    parse_service_account,
    parse_token,
    url_credentials,
)
from .rclone_config import (
    Connection,
    RcloneConfig,
    check_name,
    check_value,
    default_config_path,
    user_connections,
)

if TYPE_CHECKING:
    from ..backends.ocamlfuse import OcamlfuseBackend

__all__ = [
    "OCAMLFUSE",
    "PROVIDERS",
    "AccessDenied",
    "CheckResult",
    "Connected",
    "Connection",
    "CredentialsRejected",
    "Field",
    "InvalidConnection",
    "Provider",
    "RcloneConfig",
    "RemoteUnreachable",
    "begin_ocamlfuse_signin",
    "check_connection",
    "complete_ocamlfuse_signin",
    "connect_ocamlfuse",
    "connect_rclone",
    "default_config_path",
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

SERVICE_ACCOUNT_NAME = "service-account.json"
"""Where an uploaded service-account key for google-drive-ocamlfuse is kept (0600, label folder)."""


@dataclass(frozen=True)
class Connected:
    """A connection that was checked and saved, and what to tell the user."""

    connection: Connection
    message: str


def short_name(provider: Provider) -> str:
    """'Amazon S3 or S3-compatible', 'WebDAV', 'Google Drive' (the name without its examples)."""
    return provider.name.split(" (", 1)[0]


# -- rclone ---------------------------------------------------------------------------


def connect_rclone(
    provider: Provider | str,
    name: str,
    values: Mapping[str, str],
    *,
    service_account: bytes | str | None = None,
    config: RcloneConfig | None = None,
    check: bool = True,
    timeout: float = CHECK_TIMEOUT,
    replace: bool = False,
    program: str | None = None,
) -> Connected:
    """Check and save an rclone remote from a filled-in form.

    ``values`` maps the provider's field keys to what the user typed (secrets included; the
    caller should drop its copies). ``service_account`` is the content of a Google service
    account's JSON key (instead of a token). Raises :class:`InvalidConnection` for bad input,
    and the check's errors (:class:`CredentialsRejected`, :class:`RemoteUnreachable`,
    ``RemoteNotFound``, ...) when the service does not accept them; then nothing is saved.
    """
    config = config if config is not None else RcloneConfig(program=program)
    program = program or config.rclone_program
    provider = provider if isinstance(provider, Provider) else get_provider(provider, program)
    if provider.backend != "rclone":
        raise InvalidConnection(f"{provider.name} is not set up through rclone.")
    name = check_name(name or provider.suggested_name)
    if not replace and name in config:
        raise InvalidConnection(
            f"A connection named {name!r} already exists. Choose another name, or forget it first."
        )
    options, path, secrets = _options(provider, values, config)
    if service_account is not None and len(service_account):
        if not provider.service_account:
            raise InvalidConnection(f"{provider.name} does not use service-account keys.")
        key = parse_service_account(service_account)
        secrets.add(key)
        options["service_account_credentials"] = key
        options.pop("token", None)
    missing = [f.label for f in provider.fields if f.required and f.option and not options.get(f.key)]
    if missing:
        raise InvalidConnection(f"Fill in: {', '.join(missing)}.")
    if provider.oauth and not options.get("token") and not options.get("service_account_credentials"):
        how = (
            "paste the token, or upload a service account's JSON key"
            if provider.service_account
            else "paste the token"
        )
        raise InvalidConnection(
            f"To connect {short_name(provider)}, run `{provider.authorize_command(options.get('client_id', ''))}` "
            f"on a computer with a web browser, sign in, and {how}."
        )
    note = ""
    if check:
        result, options = check_options(
            provider.rclone_type, options, path=path, timeout=timeout, program=program,
            secrets=secrets, what=short_name(provider),
        )  # fmt: skip
        note = " " + result.message
    connection = config.add(
        name, provider.rclone_type, options, provider=provider.key, path=path, replace_existing=replace
    )
    secrets.clear()
    return Connected(connection, f"Saved the connection {connection.remote} ({short_name(provider)}).{note}")


def _options(
    provider: Provider, values: Mapping[str, str], config: RcloneConfig
) -> tuple[dict[str, str], str, set[str]]:
    options: dict[str, str] = {}
    secrets: set[str] = set()
    path = ""
    for item in provider.fields:
        raw = (values.get(item.key) or "").strip()
        if not raw:
            if item.option and item.default and item.choices:
                options[item.key] = item.default
            continue
        if item.secret:
            secrets.add(raw)
        if not item.option:
            path = check_value("path", raw).strip("/")
            continue
        if not item.secret and item.kind != "token":
            raw = _take_url_credentials(provider, item, raw, values, options, secrets, config)
        if item.kind == "token":
            value = parse_token(raw)
        elif item.obscure:
            value = config.obscure(raw)
        else:
            try:
                value = check_value(item.key, raw)
            except InvalidConnection:
                raise InvalidConnection(f"The {item.label.lower()} must be a single line.") from None
        if item.secret:
            secrets.add(value)
        options[item.key] = value
    return options, path, secrets


def _take_url_credentials(
    provider: Provider,
    item: Field,
    raw: str,
    values: Mapping[str, str],
    options: dict[str, str],
    secrets: set[str],
    config: RcloneConfig,
) -> str:
    """An address typed with ``user:password@`` inside: the password goes where passwords go
    (obscured into ``pass``), never into the saved address, a label or a message."""
    clean, user, password = url_credentials(raw)
    if not password and not user:
        return raw
    if password:
        secrets.add(password)
    keys = {f.key for f in provider.fields}
    if password and "pass" not in keys:
        raise InvalidConnection(
            f"The {item.label.lower()} holds a password (user:password@...). Remove it from the "
            "address; this service takes its password elsewhere."
        )
    if user and "user" in keys and not (values.get("user") or "").strip():
        options["user"] = check_value("user", user)
    if password and not (values.get("pass") or "").strip():
        options["pass"] = config.obscure(password)
    return clean


def check_connection(
    connection: Connection, *, timeout: float = CHECK_TIMEOUT, program: str | None = None
) -> CheckResult:
    """List a saved connection's root (rclone), or mount it briefly to look (ocamlfuse)."""
    if connection.backend == "ocamlfuse":
        backend = connection.make_backend(**({"program": program} if program else {}))
        try:
            return _trial_mount(backend, connection.name, timeout)  # type: ignore[arg-type]
        finally:
            backend.close()
    provider = PROVIDERS.get(connection.provider)
    what = short_name(provider) if provider else connection.remote
    return check_remote(
        connection.remote, config=connection.config, timeout=timeout, program=program, what=what
    )


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


# -- google-drive-ocamlfuse ---------------------------------------------------------------


def _ocamlfuse(label: str, **kwargs: Any) -> OcamlfuseBackend:
    from ..backends.ocamlfuse import OcamlfuseBackend

    try:
        return OcamlfuseBackend(label, **kwargs)
    except DriveError as exc:
        raise InvalidConnection(str(exc)) from None


def ocamlfuse_connections() -> list[Connection]:
    """google-drive-ocamlfuse labels found in ``~/.gdfuse`` (and its XDG folders) that are set up."""
    from ..backends.ocamlfuse import read_key_values

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
            found[label] = Connection(
                name=label,
                backend="ocamlfuse",
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
            note = " " + _trial_mount(backend, label, timeout).message
    except BaseException:
        snapshot.restore()
        raise
    finally:
        backend.close()
    connection = _ocamlfuse_connection(label)
    return Connected(connection, f"google-drive-ocamlfuse label {label!r} is set up with {how}.{note}")


def _install_service_account(backend: OcamlfuseBackend, key: str) -> None:
    from ..backends.ocamlfuse import _update_key_values

    paths = backend._prepare_files()
    target = paths.data_dir / SERVICE_ACCOUNT_NAME
    write_private(target, key + "\n")
    text = paths.config.read_text(encoding="utf-8") if paths.config.exists() else ""
    write_private(paths.config, _update_key_values(text, {"service_account_credentials_path": str(target)}))


def _ocamlfuse_connection(label: str) -> Connection:
    for connection in ocamlfuse_connections():
        if connection.name == label:
            return connection
    paths = _ocamlfuse(label).paths()
    return Connection(name=label, backend="ocamlfuse", provider=OCAMLFUSE.key, config=str(paths.data_dir))


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
        note = " " + _trial_mount(backend, backend.account, timeout).message if check else ""
    except AuthError as exc:
        if isinstance(exc, CredentialsRejected):
            raise
        raise CredentialsRejected(str(exc)) from None
    finally:
        backend.close()
    return Connected(_ocamlfuse_connection(backend.account), " ".join(lines) + note)


def _trial_mount(backend: OcamlfuseBackend, label: str, timeout: float) -> CheckResult:
    """Mount read-only at a private temporary folder, list the root within ``timeout``, unmount."""
    import time

    from ..status.probe import bounded

    folder = Path(tempfile.mkdtemp(prefix="check-", dir=runtime_dir()))
    mountpoint = folder / "mnt"
    mountpoint.mkdir()
    started = time.monotonic()
    try:
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
    from ..backends.ocamlfuse import _update_key_values, read_key_values

    config = source / "config"
    values = read_key_values(config)
    sa = values.get("service_account_credentials_path", "")
    source.rename(target)
    if sa.startswith(str(source) + os.sep):
        text = (target / "config").read_text(encoding="utf-8")
        moved = str(target) + sa[len(str(source)) :]
        write_private(
            target / "config", _update_key_values(text, {"service_account_credentials_path": moved})
        )
    return _ocamlfuse_connection(new)
