"""Connect an rclone remote from a filled-in form: check the credentials, then save them privately.

:func:`connect_rclone` turns what the user typed into rclone options (passwords obscured,
a password typed inside an address moved where passwords go, a pasted token or a service
account's key checked), lists the remote's root with them (:mod:`.check`), and only then saves
the remote in drivewidget's own rclone config (:mod:`.rclone_config`). Secrets travel only
through stdin, a child's environment and files of mode 0600; this module keeps no reference
to them after it returns.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..timeouts import CHECK_TIMEOUT
from .check import check_options
from .connection import Connected
from .errors import InvalidConnection
from .providers import (
    Field,
    Provider,
    get_provider,
    parse_service_account,
    parse_token,
    short_name,
    url_credentials,
)
from .rclone_config import RcloneConfig, check_name, check_value

__all__ = ["connect_rclone"]


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
    if provider.own_signin:
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
