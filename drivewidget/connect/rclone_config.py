"""drivewidget's own rclone config file: private, written atomically, never on a command line.

Connections made in the panel are remotes in ``<user config dir>/drivewidget/rclone.conf``
(mode 0600, folder 0700), passed to rclone through the ``RCLONE_CONFIG`` environment variable
(``RcloneBackend(remote, config=path)``), so a user's own ``~/.config/rclone/rclone.conf`` is
never rewritten. The file is plain rclone INI::

    [mywebdav]
    type = webdav
    url = https://cloud.example.com/remote.php/dav/files/me
    user = me
    pass = <obscured>

Options rclone stores obscured (its IsPassword options, such as WebDAV's ``pass``) are obscured
with ``rclone obscure -``, the secret fed through stdin. Obscuring is not encryption: the
protection is the file's mode. Tokens and keys are stored as rclone stores them.

What is not a secret and not an rclone option (which catalogue entry made the remote, the
bucket or folder to mount) lives beside it in ``connections.json``.

Read-modify-write cycles hold an exclusive ``flock`` on ``.rclone.conf.lock`` so two kernels
cannot lose each other's changes. rclone itself rewrites the file when it refreshes an OAuth
token; it keeps our format.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..settings import APP, cache_dir, write_private
from ..timeouts import CHECK_TIMEOUT
from .connection import Connection
from .errors import InvalidConnection

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..backends.rclone import RcloneBackend
    from ..status.mounttable import MountEntry
    from .check import CheckResult

__all__ = [
    "Connection",
    "RcloneConfig",
    "RcloneConnection",
    "check_name",
    "check_value",
    "default_config_path",
    "parse_ini",
    "render_ini",
    "user_rclone_config_path",
]

CONFIG_NAME = "rclone.conf"
META_NAME = "connections.json"
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+@-]{0,63}$")
KEY_RE = re.compile(r"^[a-z0-9_]{1,64}$")
_ENCRYPTED = ("# Encrypted rclone configuration File", "RCLONE_ENCRYPT_V0:")


def default_config_path() -> Path:
    """``<user config dir>/drivewidget/rclone.conf`` (platformdirs; honours XDG_CONFIG_HOME)."""
    from platformdirs import user_config_path

    return user_config_path(APP) / CONFIG_NAME


def user_rclone_config_path() -> Path | None:
    """The config file a plain ``rclone`` command uses (``$RCLONE_CONFIG`` or rclone's default)."""
    env = os.environ.get("RCLONE_CONFIG")
    if env:
        return Path(env)
    home = Path(os.path.expanduser("~"))
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "rclone" / CONFIG_NAME
    for candidate in (xdg, home / ".rclone.conf"):
        if candidate.is_file():
            return candidate
    return None


def check_name(name: str) -> str:
    """A usable remote name (letters, digits, ``_ . + @ -``; not starting with ``-``), stripped."""
    name = (name or "").strip().rstrip(":")
    if not NAME_RE.match(name):
        raise InvalidConnection(
            f"{name!r} cannot be a connection name: use up to 64 letters, digits, '_', '-', '.', '+' "
            "or '@', not starting with '-' (for example 'gdrive' or 'work-s3')."
        )
    return name


def check_value(key: str, value: str) -> str:
    """A value rclone will read back exactly: one line, no surrounding spaces or quote marks."""
    if not KEY_RE.match(key):
        raise InvalidConnection(f"{key!r} is not an rclone option name.")
    value = (value or "").strip()
    if any(c in value for c in "\n\r\0"):
        raise InvalidConnection(f"The {key.replace('_', ' ')} must be a single line.")
    if value.startswith(("`", '"""')):
        raise InvalidConnection(f'The {key.replace("_", " ")} cannot start with ` or """.')
    return value


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """rclone's config format: ``[name]`` sections of ``key = value`` lines; ``#``/``;`` comments."""
    if text.lstrip().startswith(_ENCRYPTED):
        raise InvalidConnection(
            "This rclone config file is encrypted; drivewidget cannot edit it. Use `rclone config` to "
            "change it, or keep drivewidget's connections in its own file."
        )
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None:
            continue
        value = value.strip()
        for quote in ('"""', "`"):
            if len(value) >= 2 * len(quote) and value.startswith(quote) and value.endswith(quote):
                value = value[len(quote) : -len(quote)]
                break
        current[key.strip()] = value
    return sections


def render_ini(sections: Mapping[str, Mapping[str, str]]) -> str:
    blocks = []
    for name, options in sections.items():
        lines = [f"[{name}]"]
        ordered = sorted(options.items(), key=lambda kv: kv[0] != "type")  # stable: type first
        lines += [f"{key} = {value}" for key, value in ordered]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


@dataclass(frozen=True, kw_only=True)
class RcloneConnection(Connection, kind="rclone"):
    """An rclone remote saved in an rclone config file (drivewidget's own, or the user's)."""

    def make_backend(self, **options: Any) -> RcloneBackend:
        """``RcloneBackend(name:path, config=its file)``; ``options`` such as ``program``."""
        from ..backends.rclone import RcloneBackend

        return RcloneBackend(self.remote, config=self.config or None, **options)

    def check(self, *, timeout: float = CHECK_TIMEOUT, **options: Any) -> CheckResult:
        """List the remote's root with the saved credentials (``options``: ``program``)."""
        from .check import check_remote
        from .providers import PROVIDERS, short_name

        provider = PROVIDERS.get(self.provider)
        what = short_name(provider) if provider else self.remote
        return check_remote(
            self.remote, config=self.config, timeout=timeout, program=options.get("program"), what=what
        )

    def rename(self, new: str, *, config: RcloneConfig | None = None, **where: Any) -> Connection:
        return (config if config is not None else RcloneConfig(self.config)).rename(self.name, new)

    def forget(self, *, config: RcloneConfig | None = None, **where: Any) -> None:
        (config if config is not None else RcloneConfig(self.config)).forget(self.name)

    def uses(self, backend: Backend) -> bool:
        from ..backends.rclone import RcloneBackend

        return (
            isinstance(backend, RcloneBackend)
            and backend.remote == self.remote
            and (backend.config or "") == (self.config or "")
        )

    def mounted_in(self, table: Sequence[MountEntry]) -> bool:
        sources = {entry.source for entry in table if entry.fstype.startswith("fuse")}
        return self.remote in sources or f"{self.name}:" in sources


class RcloneConfig:
    """A private rclone config file and the connections in it."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, program: str | None = None) -> None:
        self.path = Path(path) if path is not None else default_config_path()
        self.rclone_program = program
        """The rclone executable given explicitly (None: the one next to Python, else on PATH)."""

    # -- files ----------------------------------------------------------------------

    @property
    def program(self) -> str:
        if self.rclone_program:
            return self.rclone_program
        from ..backends._process import require_program
        from ..backends.rclone import INSTALL_HINT

        return require_program("rclone", INSTALL_HINT)

    @property
    def meta_path(self) -> Path:
        return (
            self.path.with_name(META_NAME)
            if self.path.name == CONFIG_NAME
            else self.path.with_suffix(".json")
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def sections(self) -> dict[str, dict[str, str]]:
        """Every remote in the file with its options (secrets included: do not display)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidConnection(
                f"Cannot read {self.path}: {getattr(exc, 'strerror', None) or exc}."
            ) from None
        return parse_ini(text)

    def _meta(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        items = data.get("connections") if isinstance(data, dict) else None
        return {k: v for k, v in items.items() if isinstance(v, dict)} if isinstance(items, dict) else {}

    def _save(self, sections: Mapping[str, Mapping[str, str]], meta: Mapping[str, Mapping[str, str]]) -> None:
        try:
            write_private(self.path, render_ini(sections))
            meta = {k: dict(v) for k, v in meta.items() if k in sections}
            write_private(self.meta_path, json.dumps({"version": 1, "connections": meta}, indent=2) + "\n")
        except OSError as exc:
            raise InvalidConnection(f"Cannot write {self.path}: {exc.strerror or exc}.") from None

    # -- queries ----------------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self.sections())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.sections()

    def connections(self) -> list[Connection]:
        """The saved connections, in the order they were made."""
        meta = self._meta()
        return [
            self._connection(name, options, meta.get(name, {})) for name, options in self.sections().items()
        ]

    def get(self, name: str) -> Connection:
        sections = self.sections()
        if name not in sections:
            raise InvalidConnection(f"There is no saved connection named {name!r}.")
        return self._connection(name, sections[name], self._meta().get(name, {}))

    def _connection(self, name: str, options: Mapping[str, str], meta: Mapping[str, str]) -> Connection:
        from .providers import PROVIDERS, Provider, describe_options

        rclone_type = options.get("type", "")
        key = str(meta.get("provider") or rclone_type)
        entry = PROVIDERS.get(key) or Provider(
            key=key, name=rclone_type, rclone_type=rclone_type, auth="keys"
        )
        path = str(meta.get("path", ""))
        return RcloneConnection(
            name=name,
            provider=key,
            rclone_type=rclone_type,
            path=path,
            summary=describe_options(entry, dict(options), path),
            config=str(self.path),
        )

    def backend(self, name: str, **kwargs: Any) -> RcloneBackend:
        """``RcloneBackend(name:path, config=this file)``, ready to mount."""
        from ..backends.rclone import RcloneBackend

        connection = self.get(name)
        return RcloneBackend(connection.remote, config=str(self.path), **kwargs)

    # -- changes ----------------------------------------------------------------------

    def obscure(self, secret: str) -> str:
        """rclone's obscured form of ``secret``; the secret goes through stdin, never argv."""
        from ..backends._process import run

        if not secret:
            return ""
        if any(c in secret for c in "\n\r\0"):
            raise InvalidConnection("A password cannot contain a line break.")
        result = run([self.program, "obscure", "-"], input_text=secret + "\n", timeout=15)
        value = result.stdout.strip()
        if result.returncode != 0 or not value or "\n" in value:
            raise InvalidConnection("rclone could not obscure the password (rclone obscure failed).")
        return value

    def add(
        self,
        name: str,
        rclone_type: str,
        options: Mapping[str, str],
        *,
        provider: str = "",
        path: str = "",
        replace_existing: bool = False,
    ) -> Connection:
        """Save a remote (``options`` already obscured where rclone expects it)."""
        name = check_name(name)
        section = {"type": check_value("type", rclone_type)}
        for key, value in options.items():
            if key == "type":
                continue
            value = check_value(key, value)
            if value:
                section[key] = value
        path = check_value("path", path).strip("/") if path else ""
        with self._locked():
            sections, meta = self.sections(), self._meta()
            if name in sections and not replace_existing:
                raise InvalidConnection(
                    f"A connection named {name!r} already exists. Choose another name, or forget it first."
                )
            sections[name] = section
            meta[name] = {"provider": provider or rclone_type, "path": path}
            self._save(sections, meta)
        return self.get(name)

    def update(self, name: str, options: Mapping[str, str]) -> None:
        """Set (or, with an empty value, remove) options of a saved remote."""
        with self._locked():
            sections, meta = self.sections(), self._meta()
            if name not in sections:
                raise InvalidConnection(f"There is no saved connection named {name!r}.")
            for key, value in options.items():
                value = check_value(key, value)
                if value:
                    sections[name][key] = value
                else:
                    sections[name].pop(key, None)
            self._save(sections, meta)

    def rename(self, old: str, new: str) -> Connection:
        new = check_name(new)
        with self._locked():
            sections, meta = self.sections(), self._meta()
            if old not in sections:
                raise InvalidConnection(f"There is no saved connection named {old!r}.")
            if new == old:
                return self.get(old)
            if new in sections:
                raise InvalidConnection(f"A connection named {new!r} already exists. Choose another name.")
            sections = {(new if k == old else k): v for k, v in sections.items()}
            if old in meta:
                meta[new] = meta.pop(old)
            self._save(sections, meta)
        _drop_cache(old)
        return self.get(new)

    def forget(self, name: str) -> None:
        """Remove the remote and every secret of it from the file (and its cached file data)."""
        with self._locked():
            sections, meta = self.sections(), self._meta()
            if name not in sections:
                raise InvalidConnection(f"There is no saved connection named {name!r}.")
            del sections[name]
            meta.pop(name, None)
            self._save(sections, meta)
        _drop_cache(name)

    def __repr__(self) -> str:
        return f"RcloneConfig({str(self.path)!r})"


def _drop_cache(name: str) -> None:
    """rclone's VFS cache of a remote (under drivewidget's cache dir), when it is gone or renamed."""
    root = cache_dir() / "rclone"
    for sub in ("vfs", "vfsMeta"):
        target = root / sub / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)


def user_connections(exclude: Path | None = None) -> list[Connection]:
    """Remotes of the user's own rclone config (listed for Use; edited with ``rclone config``)."""
    path = user_rclone_config_path()
    if path is None or (exclude is not None and _same(path, exclude)):
        return []
    try:
        found = RcloneConfig(path).connections()
    except InvalidConnection:
        return []
    return [replace(c, external=True) for c in found]


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
