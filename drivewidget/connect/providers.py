"""The catalogue of clouds the Connect flow knows: what to ask for and how to store it.

A :class:`Provider` names an rclone backend type (or google-drive-ocamlfuse), says whether it
signs in with OAuth (a token made by ``rclone authorize`` on a machine with a browser) or with
keys and passwords, and lists its :class:`Field` s. A field marked ``secret`` is shown in a
password box, cleared as soon as it is read and never echoed; ``obscure`` marks the options
rclone keeps obscured in its config file (its ``IsPassword`` options).

The curated entries cover the common cases; :func:`provider_from_rclone` builds an entry for
any other backend this rclone supports from ``rclone config providers``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import InvalidConnection

__all__ = [
    "OCAMLFUSE",
    "PROVIDERS",
    "Field",
    "Provider",
    "get_provider",
    "parse_service_account",
    "parse_token",
    "provider_from_rclone",
    "rclone_types",
    "short_name",
]

Auth = Literal["oauth", "keys"]


@dataclass(frozen=True)
class Field:
    """One input of a provider's form."""

    key: str
    """The rclone option name (or, with ``option=False``, our own name such as ``path``)."""
    label: str
    help: str = ""
    secret: bool = False
    """Never shown again, never logged, cleared from the widget once read."""
    obscure: bool = False
    """Stored obscured in the rclone config (rclone's IsPassword options)."""
    required: bool = False
    default: str = ""
    choices: tuple[str, ...] = ()
    placeholder: str = ""
    option: bool = True
    """False for inputs that are not rclone options (``path``: the bucket or folder to mount)."""
    kind: Literal["text", "token"] = "text"
    """``token``: the output of ``rclone authorize`` (checked and stored as compact JSON)."""


@dataclass(frozen=True)
class Provider:
    """A kind of cloud the Connect form can set up."""

    key: str
    name: str
    rclone_type: str
    auth: Auth
    fields: tuple[Field, ...] = ()
    help: str = ""
    backend: Literal["rclone", "ocamlfuse"] = "rclone"
    service_account: bool = False
    """Accepts a service-account JSON key instead of a token (Google)."""
    suggested_name: str = "cloud"
    docs: str = ""

    @property
    def own_signin(self) -> bool:
        """Set up by its own program's sign-in (google-drive-ocamlfuse: a state file, a service
        account's key or an OAuth client), not by an rclone form."""
        return self.backend != "rclone"

    @property
    def short_name(self) -> str:
        """'Amazon S3 or S3-compatible', 'WebDAV', 'Google Drive' (the name without its examples)."""
        return self.name.split(" (", 1)[0]

    @property
    def oauth(self) -> bool:
        return self.auth == "oauth"

    def field(self, key: str) -> Field:
        for item in self.fields:
            if item.key == key:
                return item
        raise KeyError(key)

    @property
    def secret_keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields if f.secret)

    def authorize_command(self, client_id: str = "", *, with_secret: bool = False, scope: str = "") -> str:
        """The command to run on a machine with a browser (``rclone authorize "drive"``).

        With your own OAuth client the command needs its ID and secret, given as environment
        variables (``RCLONE_DRIVE_CLIENT_ID=... RCLONE_DRIVE_CLIENT_SECRET=...``, which rclone
        reads; not on the command line). The secret is never put into the text (it would be
        synced to the browser): a placeholder stands in.
        """
        if not self.oauth:
            return ""
        parts = []
        if client_id or with_secret:
            prefix = "RCLONE_" + self.rclone_type.upper().replace(" ", "")
            parts.append(
                f'{prefix}_CLIENT_ID="{client_id or "YOUR_CLIENT_ID"}" {prefix}_CLIENT_SECRET="YOUR_CLIENT_SECRET"'
            )
        parts.append(f'rclone authorize "{self.rclone_type}"')
        if scope and self.rclone_type == "drive" and scope != "drive":
            parts.append(f"--drive-scope {scope}")
        return " ".join(parts)


def _token_field(rclone_type: str) -> Field:
    return Field(
        "token",
        "Token",
        help=(
            f'Run rclone authorize "{rclone_type}" on a computer with a web browser (install rclone '
            "there from rclone.org), sign in, and paste everything it prints between "
            "'Paste the following into your remote machine --->' and '<---End paste'."
        ),
        secret=True,
        kind="token",
        placeholder='{"access_token":...}',
    )


GOOGLE_DRIVE = Provider(
    key="drive",
    name="Google Drive",
    rclone_type="drive",
    auth="oauth",
    service_account=True,
    suggested_name="gdrive",
    docs="https://rclone.org/drive/",
    help=(
        "Sign in on any computer with a browser and paste the token here, or upload a service "
        "account's JSON key (then share your Drive folders with the account's e-mail address). "
        "rclone's shared OAuth client is being retired during 2026: create your own (Google Cloud "
        "console, OAuth client of type 'Desktop app', Drive API enabled) and enter its ID and secret."
    ),
    fields=(
        _token_field("drive"),
        Field(
            "scope", "Access", choices=("drive", "drive.readonly", "drive.file"), default="drive",
            help="drive: everything; drive.readonly: read only; drive.file: only files made by rclone.",
        ),
        Field(
            "root_folder_id", "Start folder ID",
            help="Optional: the ID of a folder (from its address in Drive) to use as the root.",
        ),
        Field(
            "client_id", "OAuth client ID",
            help="Your own OAuth client (rclone's shared one is slower and is being retired during 2026).",
        ),
        Field(
            "client_secret", "OAuth client secret", secret=True,
            help="Only with your own client ID; the token must have been made with the same client.",
        ),
    ),
)  # fmt: skip

S3 = Provider(
    key="s3",
    name="Amazon S3 or S3-compatible (MinIO, Cloudflare R2, Wasabi, ...)",
    rclone_type="s3",
    auth="keys",
    suggested_name="s3",
    docs="https://rclone.org/s3/",
    help="An access key pair of the account; for services other than AWS also the endpoint address.",
    fields=(
        Field(
            "provider", "Service",
            choices=("AWS", "Cloudflare", "Minio", "Wasabi", "DigitalOcean", "GCS", "Ceph", "IDrive",
                     "Scaleway", "Backblaze", "Rclone", "Other"),
            default="AWS",
        ),
        Field("access_key_id", "Access key ID", secret=True, required=True),
        Field("secret_access_key", "Secret access key", secret=True, required=True),
        Field("region", "Region", placeholder="e.g. us-east-1 (empty: the default)"),
        Field("endpoint", "Endpoint", placeholder="https://... (needed for services other than AWS)"),
        Field(
            "path", "Bucket", option=False,
            help="The bucket (and optionally a folder: bucket/folder) to mount; empty: all buckets.",
        ),
    ),
)  # fmt: skip

WEBDAV = Provider(
    key="webdav",
    name="WebDAV (Nextcloud, ownCloud, SharePoint, ...)",
    rclone_type="webdav",
    auth="keys",
    suggested_name="webdav",
    docs="https://rclone.org/webdav/",
    help="The WebDAV address of your files, your user name and password (or an app password).",
    fields=(
        Field("url", "Address", required=True, placeholder="https://cloud.example.com/remote.php/dav/files/me"),
        Field(
            "vendor", "Server",
            choices=("other", "nextcloud", "owncloud", "sharepoint", "sharepoint-ntlm", "fastmail", "rclone"),
            default="other",
        ),
        Field("user", "User name"),
        Field("pass", "Password", secret=True, obscure=True),
        Field("bearer_token", "Bearer token", secret=True, help="Instead of user and password, if your server uses one."),
        Field("path", "Folder", option=False, help="Optional: a folder on the server to use as the root."),
    ),
)  # fmt: skip


def _signed_in(
    rclone_type: str, name: str, *, more_help: str = "", fields: tuple[Field, ...] = ()
) -> Provider:
    """A cloud rclone signs in to with OAuth: authorise on a computer with a browser, paste the token."""
    sign_in = (
        f'Sign in on any computer with a browser (rclone authorize "{rclone_type}") and paste the token.'
    )
    return Provider(
        key=rclone_type,
        name=name,
        rclone_type=rclone_type,
        auth="oauth",
        suggested_name=rclone_type,
        docs=f"https://rclone.org/{rclone_type}/",
        help=f"{sign_in} {more_help}".strip(),
        fields=(_token_field(rclone_type), *fields),
    )


DROPBOX = _signed_in("dropbox", "Dropbox")

ONEDRIVE = _signed_in(
    "onedrive",
    "Microsoft OneDrive",
    more_help=(
        "OneDrive also needs the drive's ID and type: run `rclone config` there once, or find them "
        "with `rclone backend drives` (personal accounts: type 'personal')."
    ),
    fields=(
        Field("drive_id", "Drive ID", required=True),
        Field(
            "drive_type",
            "Drive type",
            choices=("personal", "business", "documentLibrary"),
            default="personal",
        ),
    ),
)

BOX = _signed_in("box", "Box")

B2 = Provider(
    key="b2",
    name="Backblaze B2",
    rclone_type="b2",
    auth="keys",
    suggested_name="b2",
    docs="https://rclone.org/b2/",
    help="An application key of your Backblaze account (key ID and key).",
    fields=(
        Field("account", "Application key ID", secret=True, required=True),
        Field("key", "Application key", secret=True, required=True),
        Field("path", "Bucket", option=False, help="The bucket (and optionally bucket/folder) to mount."),
    ),
)

SFTP = Provider(
    key="sftp",
    name="SFTP (any SSH server)",
    rclone_type="sftp",
    auth="keys",
    suggested_name="sftp",
    docs="https://rclone.org/sftp/",
    help="The server's host name, your user name, and a password or a private key (PEM text).",
    fields=(
        Field("host", "Host", required=True),
        Field("user", "User name"),
        Field("port", "Port", placeholder="22"),
        Field("pass", "Password", secret=True, obscure=True),
        Field("key_pem", "Private key (PEM, one line with \\n)", secret=True),
        Field("path", "Folder", option=False, help="Optional: the folder to mount (default: your home)."),
    ),
)

OCAMLFUSE = Provider(
    key="ocamlfuse",
    name="Google Drive with google-drive-ocamlfuse",
    rclone_type="",
    auth="oauth",
    backend="ocamlfuse",
    service_account=True,
    suggested_name="default",
    docs="https://github.com/astrada/google-drive-ocamlfuse/wiki",
    help=(
        "Upload a state file (~/.gdfuse/<label>/state from a computer where google-drive-ocamlfuse "
        "signed in), upload a service account's JSON key, or sign in with your own OAuth client "
        "(Desktop app): open the link, then paste the address Google sends you to."
    ),
    fields=(
        Field("client_id", "OAuth client ID"),
        Field("client_secret", "OAuth client secret", secret=True),
    ),
)

PROVIDERS: dict[str, Provider] = {
    p.key: p for p in (GOOGLE_DRIVE, S3, WEBDAV, DROPBOX, ONEDRIVE, BOX, B2, SFTP, OCAMLFUSE)
}
"""The curated catalogue, in the order the panel lists it (Google Drive first)."""


def get_provider(key: str, program: str | None = None) -> Provider:
    """A catalogue entry by key, else one built from rclone's own description of that backend type."""
    if key in PROVIDERS:
        return PROVIDERS[key]
    for provider in PROVIDERS.values():
        if provider.rclone_type == key and not provider.own_signin:
            return provider
    return provider_from_rclone(key, program)


# -- any other rclone backend ---------------------------------------------------------


@lru_cache(maxsize=4)
def _rclone_catalogue(program: str) -> tuple[dict[str, Any], ...]:
    from ..backends._process import run

    result = run([program, "config", "providers"], timeout=30)
    if result.returncode != 0:
        raise InvalidConnection(f"rclone could not list its backends: {result.stderr.strip()[-300:]}")
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise InvalidConnection("rclone's list of backends could not be read.") from None
    return tuple(item for item in data if isinstance(item, dict))


def _program(program: str | None) -> str:
    if program:
        return program
    from ..backends._process import require_program
    from ..backends.rclone import INSTALL_HINT

    return require_program("rclone", INSTALL_HINT)


_NOT_REMOTES = {
    "alias",
    "cache",
    "chunker",
    "combine",
    "compress",
    "crypt",
    "hasher",
    "local",
    "memory",
    "union",
    "archive",
}
"""Backend types that wrap other remotes or the local disk: not a cloud to connect to."""


_VISIBLE = frozenset(
    {"host", "user", "username", "url", "endpoint", "region", "port", "domain", "tenant", "drive_id",
     "root_folder_id", "team_drive", "email", "hostname", "server", "location", "project_number", "realm"}
)  # fmt: skip
"""Options rclone marks Sensitive (hidden in its redacted dumps) that a form can show as typed."""


def rclone_types(program: str | None = None) -> list[tuple[str, str]]:
    """(type, description) of every cloud backend this rclone supports, sorted by description."""
    found = []
    for item in _rclone_catalogue(_program(program)):
        name = str(item.get("Name", ""))
        if name and not item.get("Hide") and name not in _NOT_REMOTES:
            found.append((name, str(item.get("Description") or name).split("\n")[0]))
    return sorted(found, key=lambda pair: pair[1].lower())


def provider_from_rclone(rclone_type: str, program: str | None = None) -> Provider:
    """A form for any rclone backend: its basic options, with rclone's own secret flags."""
    for item in _rclone_catalogue(_program(program)):
        if item.get("Name") == rclone_type or rclone_type in (item.get("Aliases") or ()):
            break
    else:
        raise InvalidConnection(
            f"This rclone does not know a backend type {rclone_type!r}. Choose one from the list."
        )
    options = [o for o in item.get("Options") or () if isinstance(o, dict)]
    names = {str(o.get("Name")) for o in options}
    oauth = "token" in names and "client_id" in names
    fields: list[Field] = [_token_field(rclone_type)] if oauth else []
    for option in options:
        name = str(option.get("Name", ""))
        if not name or option.get("Advanced") or option.get("Hide") or name == "token":
            continue
        if option.get("Type") not in (
            "string",
            "bool",
            "int",
            "SizeSuffix",
            "Duration",
            None,
            "CommaSepList",
        ):
            continue
        examples = tuple(
            str(e.get("Value")) for e in option.get("Examples") or () if e.get("Value") is not None
        )
        default = option.get("Default")
        fields.append(
            Field(
                name,
                name.replace("_", " ").capitalize(),
                help=str(option.get("Help") or "").split("\n")[0],
                secret=bool(option.get("IsPassword") or (option.get("Sensitive") and name not in _VISIBLE)),
                obscure=bool(option.get("IsPassword")),
                required=bool(option.get("Required")),
                default=""
                if default in (None, False, "")
                else str(default).lower()
                if isinstance(default, bool)
                else str(default),
                choices=examples if option.get("Exclusive") else (),
            )
        )
    fields.append(Field("path", "Path", option=False, help="Optional: the bucket or folder to mount."))
    description = str(item.get("Description") or rclone_type).split("\n")[0]
    return Provider(
        key=rclone_type,
        name=description,
        rclone_type=rclone_type,
        auth="oauth" if oauth else "keys",
        fields=tuple(fields),
        suggested_name=rclone_type.replace(" ", ""),
        docs=f"https://rclone.org/{rclone_type.replace(' ', '')}/",
        help=(
            f'Sign in on a computer with a browser (rclone authorize "{rclone_type}") and paste the token.'
            if oauth
            else f"The settings rclone needs for {description}; secrets are stored only in the private config."
        ),
    )


# -- what users paste or upload -----------------------------------------------------------


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_token(text: str) -> str:
    """The token from what ``rclone authorize`` printed, as compact one-line JSON.

    Accepts the whole output (with the ``--->`` / ``<---End paste`` markers), the JSON alone, or
    the base64 blob newer rclones print when ``authorize`` was given a config blob.
    """
    text = (text or "").strip()
    if not text:
        raise InvalidConnection(
            "Paste the token that `rclone authorize` printed (everything between the two arrows)."
        )
    if "--->" in text:
        text = text.split("--->", 1)[1]
    if "<---" in text:
        text = text.split("<---", 1)[0]
    text = text.strip()
    value = _json_object(text)
    if value is None and not text.startswith("{"):
        try:
            padded = text + "=" * (-len(text) % 4)
            decoded = base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_")).decode()
        except (binascii.Error, ValueError):
            decoded = ""
        value = _json_object(decoded)
    if value is not None and isinstance(value.get("token"), str):
        value = _json_object(value["token"]) or value
    if value is None:
        raise InvalidConnection(
            "That is not a token from `rclone authorize`: copy the whole line that starts with "
            '{"access_token" (including both curly braces), or the whole output.'
        )
    if not value.get("access_token") and not value.get("refresh_token"):
        raise InvalidConnection(
            "That JSON has no access_token or refresh_token, so it is not a token from `rclone authorize`."
        )
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def parse_service_account(data: bytes | str) -> str:
    """A Google service account's JSON key, checked and returned as compact one-line JSON."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray, memoryview)) else data
        if isinstance(text, memoryview):  # pragma: no cover - decode above covers it
            text = bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidConnection("That file is not a JSON key (it is not text).") from None
    value = _json_object(str(text))
    if value is None:
        raise InvalidConnection(
            "That file is not JSON. Download a JSON key of the service account from the Google Cloud "
            "console (IAM & Admin > Service accounts > Keys)."
        )
    if (
        value.get("type") != "service_account"
        or not value.get("client_email")
        or not value.get("private_key")
    ):
        raise InvalidConnection(
            'That JSON is not a service account key (it needs "type": "service_account", client_email '
            "and private_key). Download a JSON key of a service account from the Google Cloud console."
        )
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def url_credentials(value: str) -> tuple[str, str, str]:
    """``(address, user, password)`` of a URL typed with credentials inside
    (``https://me:pw@host/dav`` -> ``("https://host/dav", "me", "pw")``); ``(value, "", "")``
    for anything else. Addresses are shown in labels and kept in widget state, so a password
    must never stay in one."""
    if "://" not in value or "@" not in value:
        return value, "", ""
    try:
        parts = urlsplit(value)
        user, password, host = parts.username, parts.password, parts.hostname
        port = parts.port
    except ValueError:  # a malformed port or address: hide everything before the last '@'
        scheme, _, rest = value.partition("://")
        return f"{scheme}://{rest.rsplit('@', 1)[-1]}", "", ""
    if user is None and password is None:
        return value, "", ""
    netloc = (f"[{host}]" if host and ":" in host else host or "") + (f":{port}" if port else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, unquote(user or ""), unquote(password or "")


def describe_options(provider: Provider, options: dict[str, str], path: str = "") -> str:
    """A one-line, secret-free summary of a connection (for the saved-connections list)."""
    parts: list[str] = []
    for key in ("url", "host", "endpoint", "provider", "region", "vendor", "scope", "drive_type"):
        value = options.get(key, "")
        if value and not _is_secret(provider, key):
            parts.append(url_credentials(value)[0])  # a config written by hand may hold one
    if options.get("service_account_credentials") or options.get("service_account_file"):
        parts.append("service account")
    if path:
        parts.append(path)
    return " · ".join(dict.fromkeys(parts))


def _is_secret(provider: Provider, key: str) -> bool:
    try:
        return provider.field(key).secret
    except KeyError:
        return key in SECRET_OPTION_NAMES


SECRET_OPTION_NAMES = frozenset(
    {"token", "pass", "password", "secret_access_key", "access_key_id", "client_secret", "key", "account",
     "bearer_token", "key_pem", "key_file_pass", "service_account_credentials", "session_token", "sse_kms_key_id",
     "api_key", "app_key", "sas_url"}
)  # fmt: skip
"""Option names treated as secrets wherever the catalogue does not say (never displayed)."""


def secret_values(
    options: dict[str, str], provider: Provider | None = None, extra: Iterable[str] = ()
) -> set[str]:
    """Every secret value in ``options`` (for redacting messages)."""
    found = {
        v
        for k, v in options.items()
        if v and (k in SECRET_OPTION_NAMES or (provider and _is_secret(provider, k)))
    }
    return found | {v for v in extra if v}


def short_name(provider: Provider) -> str:
    """'Amazon S3 or S3-compatible', 'WebDAV', 'Google Drive' (the name without its examples)."""
    return provider.short_name
