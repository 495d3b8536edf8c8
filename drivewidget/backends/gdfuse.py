"""google-drive-ocamlfuse's own files and sign-in: where a label keeps them, written privately.

The program keeps a label's OAuth client in ``config`` and its tokens in ``state`` (see
:mod:`drivewidget.backends.ocamlfuse` for how it finds them). :class:`GdfuseSignin` creates
those files 0600 before the program would create them world-readable, stores an OAuth client
or a state file authorised elsewhere, and runs the headless loopback sign-in
(:meth:`~GdfuseSignin.begin_authorization` prints the link, :meth:`~GdfuseSignin.complete_authorization`
takes the code or the redirected address). Secrets travel only through those files or the
program's stdin, and :meth:`~GdfuseSignin.redact` hides them from any output that is shown.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import AuthError, BackendUnavailable, DriveError, MountError, MountTimeout
from ..settings import write_private
from ._process import last_line

__all__ = [
    "DEFAULT_LABEL",
    "INSTALL_HINT",
    "PROGRAM",
    "GdfusePaths",
    "GdfuseSignin",
    "extract_code",
    "not_authorised_text",
    "parse_key_values",
    "read_key_values",
    "update_key_values",
]

log = logging.getLogger(__name__)

PROGRAM = "google-drive-ocamlfuse"
DEFAULT_LABEL = "default"
INSTALL_HINT = (
    "google-drive-ocamlfuse is not packaged in Debian. On Ubuntu install it from its PPA: "
    "`sudo add-apt-repository ppa:alessandro-strada/ppa && sudo apt-get update && "
    "sudo apt-get install google-drive-ocamlfuse`; elsewhere build it with opam "
    "(`opam install google-drive-ocamlfuse`). It also needs FUSE: `apt-get install fuse3`."
)

REDACTED = "[hidden]"


def not_authorised_text(label: str, state: Path) -> str:
    return (
        f"google-drive-ocamlfuse is not authorised yet (label {label!r}: no token in {state}). "
        "Google no longer accepts the old copy-a-code (out-of-band) sign-in, so choose one of: "
        "(1) upload a state file: run google-drive-ocamlfuse once on a computer with a browser, then "
        f"upload its ~/.gdfuse/{label}/state here (install_state_file); "
        "(2) use a service account: give the path of its JSON key (service_account=...) and share "
        "your Drive folders with the account's e-mail address; "
        "(3) the loopback flow: enter your OAuth client ID and secret (Desktop app client), open the "
        "sign-in link (begin_authorization), and paste the address of the page Google sends you to "
        "(http://127.0.0.1:8080/oauth2callback?code=..., it may show an error) or just its code "
        "(complete_authorization)."
    )


@dataclass(frozen=True)
class GdfusePaths:
    """Where google-drive-ocamlfuse keeps one label's files (as its ``AppDir`` computes them)."""

    config: Path
    data_dir: Path
    cache_dir: Path
    xdg: bool

    @property
    def state(self) -> Path:
        return self.data_dir / "state"

    @property
    def cache_db(self) -> Path:
        return self.cache_dir / "cache.db"


def read_key_values(path: Path) -> dict[str, str]:
    """Parse google-drive-ocamlfuse's ``key=value`` files (config, state); missing file: ``{}``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise MountError(f"Cannot read {path}: {getattr(exc, 'strerror', None) or exc}.") from None
    return parse_key_values(text)


def parse_key_values(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = value.strip()
    return values


def update_key_values(text: str, updates: dict[str, str]) -> str:
    """Set ``updates`` in a key=value text, keeping every other line as it was."""
    pending = dict(updates)
    lines = []
    for line in text.splitlines():
        key, sep, _ = line.partition("=")
        if sep and key.strip() in pending:
            name = key.strip()
            lines.append(f"{name}={pending.pop(name)}")
        else:
            lines.append(line)
    lines.extend(f"{key}={value}" for key, value in pending.items())
    return "".join(f"{line}\n" for line in lines)


def _single_line(value: str, what: str) -> str:
    value = value.strip()
    if not value or "\n" in value or "\r" in value or "\0" in value:
        raise AuthError(f"The {what} must be a single non-empty line.")
    return value


def extract_code(answer: str) -> str:
    """The authorisation code from what a user pasted: the code itself or the redirect URL."""
    answer = answer.strip()
    if "code=" in answer:
        query = urlsplit(answer).query or answer.partition("?")[2] or answer
        codes = parse_qs(query).get("code")
        if codes and codes[0].strip():
            return codes[0].strip()
    return answer


class GdfuseSignin:
    """One label's files and sign-in. ``base_args`` gives the program's argv prefix (program,
    ``-label``, ``-config``, ``-xdgbd``) for the sign-in run."""

    def __init__(
        self,
        label: str,
        *,
        base_args: Callable[[], list[str]],
        config_path: str | None = None,
        xdg: bool = False,
        service_account: str | None = None,
    ) -> None:
        self.label = label
        self.config_path = config_path
        self.xdg = xdg
        self.service_account = service_account
        self._base_args = base_args
        self._pending_config: dict[str, str] = {}
        self._secrets: set[str] = set()
        self._auth: subprocess.Popen[bytes] | None = None

    def paths(self) -> GdfusePaths:
        """This label's files, resolved the way the program resolves them (HOME is read now)."""
        home = Path(os.path.expanduser("~"))
        xdg_config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "gdfuse" / self.label
        if self.config_path:
            config, xdg = Path(self.config_path), False
        elif self.xdg or (xdg_config / "config").exists():
            config, xdg = xdg_config / "config", True
        else:
            config, xdg = home / ".gdfuse" / self.label / "config", False
        values = read_key_values(config)
        if values.get("data_directory"):
            data_dir = Path(values["data_directory"])
        elif xdg:
            data_dir = (
                Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "gdfuse" / self.label
            )
        else:
            data_dir = home / ".gdfuse" / self.label
        if values.get("cache_directory"):
            cache_dir = Path(values["cache_directory"])
        elif xdg:
            cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "gdfuse" / self.label
        else:
            cache_dir = data_dir / "cache"
        return GdfusePaths(config=config, data_dir=data_dir, cache_dir=cache_dir, xdg=xdg)

    def stage_client(self, client_id: str | None, client_secret: str | None) -> None:
        if client_secret is not None:
            secret = _single_line(client_secret, "client secret")
            self._secrets.add(secret)
            self._pending_config["client_secret"] = secret
        if client_id is not None:
            self._pending_config["client_id"] = _single_line(client_id, "client ID")
        # The out-of-band redirect is blocked by Google: the loopback redirect is the one that works.
        self._pending_config["oauth2_loopback"] = "true"

    def set_client(self, client_id: str, client_secret: str) -> None:
        """Store an OAuth client (Desktop app) in the label's config file, mode 0600."""
        self.stage_client(client_id, client_secret)
        self.prepare_files()

    def prepare_files(self) -> GdfusePaths:
        """Create the config (and data folder) privately before the program would create them readable."""
        paths = self.paths()
        config = paths.config
        try:
            text = config.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        except (OSError, UnicodeDecodeError) as exc:
            raise MountError(f"Cannot read {config}: {getattr(exc, 'strerror', None) or exc}.") from None
        try:
            if self._pending_config or not config.exists():
                config.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                write_private(config, update_key_values(text, self._pending_config))
                self._pending_config = {}
            else:
                _make_private(config)
            paths.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if paths.state.exists():
                _make_private(paths.state)
        except OSError as exc:
            raise MountError(
                f"Cannot write google-drive-ocamlfuse's files in {config.parent}: {exc.strerror or exc}."
            ) from None
        return self.paths()

    def configured_service_account(self, paths: GdfusePaths) -> str | None:
        if self.service_account:
            return self.service_account
        return read_key_values(paths.config).get("service_account_credentials_path") or None

    def authorised(self) -> bool:
        """Whether a mount can start without asking anyone: a service account or a saved token."""
        paths = self.paths()
        if self.configured_service_account(paths):
            return True
        return bool(read_key_values(paths.state).get("refresh_token"))

    def install_state_file(self, data: bytes | str) -> str:
        """Store a ``state`` file authorised on another machine (written 0600); returns its path."""
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
        except UnicodeDecodeError:
            raise AuthError(
                "That file is not a google-drive-ocamlfuse state file (it is not text). Upload the file "
                f"~/.gdfuse/{self.label}/state from the machine where you signed in."
            ) from None
        values = parse_key_values(text)
        token = values.get("refresh_token", "")
        if not token:
            raise AuthError(
                "That file has no refresh token, so it is not an authorised google-drive-ocamlfuse state "
                f"file. Upload ~/.gdfuse/{self.label}/state (not config) from a machine where "
                "google-drive-ocamlfuse signed in successfully."
            )
        self._secrets.add(token)
        if values.get("last_access_token"):
            self._secrets.add(values["last_access_token"])
        paths = self.prepare_files()
        write_private(paths.state, text if text.endswith("\n") else text + "\n")
        return str(paths.state)

    def begin_authorization(self, timeout: float = 30.0) -> str | None:
        """Start ``google-drive-ocamlfuse -headless`` and return the sign-in URL it prints.

        Returns None when the label is already authorised (the program has nothing to ask).
        Finish with :meth:`complete_authorization`; the program waits on its stdin meanwhile.
        """
        self.cancel_authorization()
        paths = self.prepare_files()
        values = read_key_values(paths.config)
        if not values.get("client_id") or not values.get("client_secret"):
            raise AuthError(
                "To sign in, google-drive-ocamlfuse needs your own OAuth client: create one of type "
                "'Desktop app' in the Google Cloud console (APIs & Services > Credentials, with the Drive "
                "API enabled) and enter its client ID and secret. Or upload a state file, or use a "
                "service account."
            )
        if not paths.state.exists():
            write_private(paths.state, "")  # the program fills it; created now so it stays 0600
        argv = [*self._base_args(), "-headless"]
        log.debug("starting %s", argv)
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise BackendUnavailable(f"Cannot run {argv[0]}: {exc.strerror or exc}. {INSTALL_HINT}") from None
        out, finished = _read_until(proc, "verification code:", timeout)
        out = self.redact(out)
        if finished:
            err = self.redact(_drain(proc))
            if proc.returncode == 0:
                return None
            raise self._auth_failure(out + err)
        url = ""
        for line in out.splitlines():
            if "following URL" in line:
                url = line.split("browser:", 1)[-1].strip()
        if not url:
            _stop(proc)
            if "verification code:" not in out:
                raise MountTimeout(
                    f"google-drive-ocamlfuse did not show a sign-in link within {timeout:g} s. Try again."
                )
            raise AuthError("google-drive-ocamlfuse asked for a code without showing a sign-in link.")
        self._auth = proc
        return url

    def complete_authorization(self, answer: str, timeout: float = 60.0) -> list[str]:
        """Give the code (or the whole redirected URL) to the waiting program through its stdin."""
        proc = self._auth
        if proc is None or proc.poll() is not None:
            self._auth = None
            raise AuthError("No sign-in is waiting for a code: start again with the sign-in link.")
        code = extract_code(answer)
        if not code or "\n" in code:
            raise AuthError("That is not a code: paste the code (or the whole address) Google gave you.")
        self._secrets.update({code, answer.strip()})
        self._auth = None
        try:
            out, err = proc.communicate(input=(code + "\n").encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise MountTimeout(
                f"Google did not answer within {timeout:g} s while checking the code. Try again."
            ) from None
        except (BrokenPipeError, OSError):
            out, err = b"", b""
            proc.wait()
        text = self.redact(out.decode(errors="replace") + err.decode(errors="replace"))
        if proc.returncode != 0 or "Access token retrieved correctly" not in text:
            raise self._auth_failure(text)
        paths = self.paths()
        if paths.state.exists():
            _make_private(paths.state)
            token = read_key_values(paths.state).get("refresh_token")
            if token:
                self._secrets.add(token)
        return [f"Signed in: google-drive-ocamlfuse saved its token in {paths.state}. You can mount now."]

    def cancel_authorization(self) -> None:
        proc, self._auth = self._auth, None
        if proc is not None:
            _stop(proc)

    def _auth_failure(self, text: str) -> AuthError:
        if "You should specify a client id" in text:
            return AuthError(
                "google-drive-ocamlfuse has no OAuth client ID and secret for this label. "
                + not_authorised_text(self.label, self.paths().state)
            )
        if "invalid_grant" in text:
            return AuthError(
                "Google refused the code: it was expired, already used or copied incompletely. Open the "
                "sign-in link again and paste the new code (or the whole address) promptly."
            )
        if "invalid_client" in text or "unauthorized_client" in text:
            return AuthError(
                "Google does not accept the OAuth client ID and secret: check them (client type "
                "'Desktop app') and enter them again."
            )
        reason = last_line(text) or "no reason given"
        return AuthError(f"google-drive-ocamlfuse could not sign in: {reason}")

    def redact(self, text: str) -> str:
        secrets = set(self._secrets)
        with contextlib.suppress(DriveError, OSError):
            paths = self.paths()
            secrets.add(read_key_values(paths.config).get("client_secret", ""))
            state = read_key_values(paths.state)
            secrets.update({state.get("refresh_token", ""), state.get("last_access_token", "")})
        for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


def _make_private(path: Path) -> None:
    if path.exists() and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


def _read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float) -> tuple[str, bool]:
    """Read stdout until ``marker`` appears or the program exits; (text, program finished)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"".join(chunks).decode(errors="replace"), False
            if not sel.select(left):
                continue
            data = os.read(fd, 4096)
            if not data:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    return b"".join(chunks).decode(errors="replace"), False
                return b"".join(chunks).decode(errors="replace"), True
            chunks.append(data)
            if marker.encode() in b"".join(chunks):
                return b"".join(chunks).decode(errors="replace"), False


def _drain(proc: subprocess.Popen[bytes]) -> str:
    try:
        out, err = proc.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        _stop(proc)
        return ""
    return out.decode(errors="replace") + err.decode(errors="replace")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired, ValueError, OSError):
        proc.communicate(timeout=5)
