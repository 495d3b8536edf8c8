"""google-drive-ocamlfuse: Google Drive as a FUSE filesystem, with its own token store.

How the program works (read from its source, ``bin/gdfuse.ml``, ``src/appDir.ml``,
``src/oauth2.ml``, ``src/config.ml``, and its wiki and issues 764, 919):

* Files live under ``~/.gdfuse/<label>/`` (label ``default`` unless ``-label``):
  ``config`` (``key=value`` lines, among them ``client_id``, ``client_secret``,
  ``verification_code``, ``oauth2_loopback`` (default true since 0.7.28),
  ``service_account_credentials_path``, ``async_upload_queue``) and ``state`` (the OAuth
  tokens: ``refresh_token``, ``last_access_token``, ...). If ``$XDG_CONFIG_HOME/gdfuse/<label>/config``
  exists (or with ``-xdgbd``) the XDG folders are used instead; ``-config`` names the config.
* Every run rewrites both files with ``open_out``, which keeps the mode of an existing file
  but creates a missing one world-readable. So this backend creates them first, mode 0600.
* Command-line options are saved into the config (``-id``/``-secret`` included: that is why
  this backend never passes them; a command line is world-readable in ``/proc``).
* Without a refresh token and without a service account it needs authorisation: with no
  client id/secret it fails with ``Error: You should specify a client id (-id) and a client
  secret (-secret)``; with ``-headless`` it prints ``Please, open the following URL in a web
  browser: URL`` and ``Please enter the verification code:`` and reads a line from stdin;
  otherwise it starts a browser (``Error opening URL:...`` when there is none). Failures print
  ``Cannot retrieve auth tokens.`` and exit 1. Google blocked the old out-of-band redirect
  (``urn:ietf:wg:oauth:2.0:oob``) in 2022-23; with ``oauth2_loopback=true`` the redirect is
  ``http://127.0.0.1:8080/oauth2callback``, and on a headless machine the code can be copied from
  the address bar of that (unreachable) page. Given no mountpoint, the program only authorises.
* ``google-drive-ocamlfuse [-label L] [-serviceaccountpath F] [-o ro] MOUNTPOINT`` mounts with
  libfuse 2 and daemonises: it returns once the mount is up, the daemon stays. The mount shows
  in the mount table as ``fuse.google-drive-ocamlfuse``. Unmount is ``fusermount -u``.
* Writes: by default a file is uploaded when it is closed (``close`` returns after the upload),
  so nothing waits in a queue. With ``async_upload_queue=true`` uploads are queued (in memory,
  saved to ``cache.db`` every 30 s) and the daemon drains the queue before it exits after an
  unmount. So :meth:`OcamlfuseBackend.flush` waits on that table when the queue is on, and
  :meth:`OcamlfuseBackend.unmount` waits for the daemon to exit.

Secrets (the client secret, a verification code, an uploaded state file) travel only through
the 0600 config/state files or the program's stdin: never argv, environment, messages or logs.

Tests use a stand-in program (``tests/fakes/google-drive-ocamlfuse``) with the same options,
files and prompts that mounts a local folder with ``rclone mount``. rclone cannot set the FUSE
subtype, so that mount shows as ``fuse.rclone`` with device name ``google-drive-ocamlfuse``;
:attr:`OcamlfuseBackend.fstypes` accepts it, and :meth:`OcamlfuseBackend.mount_entry` accepts a
``fuse.rclone`` entry only with that device name, so a real rclone mount is not mistaken for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from ..errors import (
    AuthError,
    BackendUnavailable,
    DriveError,
    InvalidMountpoint,
    MountError,
    MountTimeout,
    StaleMount,
    UnmountError,
)
from ..settings import write_private
from ..status.mounttable import MountEntry, find_mount
from ._fuse import FUSE_HINT, check_fuse, fuse_unmount
from ._process import daemon_processes, find_program, last_line, merge_processes, run, wait_gone
from .base import Backend, Progress, _ignore, ensure_mountpoint

log = logging.getLogger(__name__)

PROGRAM = "google-drive-ocamlfuse"
DEFAULT_LABEL = "default"
FSTYPE = "fuse.google-drive-ocamlfuse"
STANDIN_FSTYPE = "fuse.rclone"
"""The test stand-in mounts with rclone, which always reports this type (see the module doc)."""

INSTALL_HINT = (
    "google-drive-ocamlfuse is not packaged in Debian. On Ubuntu install it from its PPA: "
    "`sudo add-apt-repository ppa:alessandro-strada/ppa && sudo apt-get update && "
    "sudo apt-get install google-drive-ocamlfuse`; elsewhere build it with opam "
    "(`opam install google-drive-ocamlfuse`). It also needs FUSE: `apt-get install fuse3`."
)

REDACTED = "[hidden]"


def _not_authorised_text(label: str, state: Path) -> str:
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
    return _parse_key_values(text)


def _parse_key_values(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = value.strip()
    return values


def _update_key_values(text: str, updates: dict[str, str]) -> str:
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


class OcamlfuseBackend(Backend):
    """Mount Google Drive with google-drive-ocamlfuse.

    ``label`` picks the account (``~/.gdfuse/<label>``, kept as :attr:`account`, since
    :attr:`label` is the backend's display name); ``create_backend("ocamlfuse", source)``
    passes ``DRIVEWIDGET_SOURCE`` as the label. ``service_account`` is the path of a service
    account's JSON key (passed as ``-serviceaccountpath``). ``client_id``/``client_secret`` are
    written to the label's config file (0600) before the program next runs, never passed on its
    command line. ``config_path`` is passed as ``-config``; ``xdg`` adds ``-xdgbd``. ``program`` is
    the executable (default: ``google-drive-ocamlfuse`` on PATH).
    """

    name: ClassVar[str] = "ocamlfuse"
    label: ClassVar[str] = "google-drive-ocamlfuse"
    fstypes: ClassVar[tuple[str, ...]] = (FSTYPE, STANDIN_FSTYPE)

    def __init__(
        self,
        label: str | None = None,
        *,
        service_account: str | os.PathLike[str] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        config_path: str | os.PathLike[str] | None = None,
        xdg: bool = False,
        program: str | os.PathLike[str] | None = None,
        mount_timeout: float = 60.0,
        exit_timeout: float = 120.0,
        flush_timeout: float = 600.0,
    ) -> None:
        label = (label or DEFAULT_LABEL).strip()
        if not label or "/" in label or label in (".", "..") or label.startswith("-"):
            raise BackendUnavailable(
                f"{label!r} is not a usable google-drive-ocamlfuse label: use a plain name such as 'default'."
            )
        self.account = label
        self.service_account = (
            os.path.abspath(os.path.expanduser(os.fspath(service_account))) if service_account else None
        )
        self.config_path = (
            os.path.abspath(os.path.expanduser(os.fspath(config_path))) if config_path else None
        )
        self.xdg = xdg
        self.program = os.fspath(program) if program else None
        self.mount_timeout = mount_timeout
        self.exit_timeout = exit_timeout
        self.flush_timeout = flush_timeout
        self._pending_config: dict[str, str] = {}
        self._secrets: set[str] = set()
        if client_id is not None or client_secret is not None:
            self._stage_client(client_id, client_secret)
        self._auth: subprocess.Popen[bytes] | None = None
        self._daemons: dict[str, list[tuple[int, str]]] = {}

    # -- description and paths --------------------------------------------------------

    def describe(self) -> str:
        how = "service account" if self.service_account else f"label {self.account!r}"
        return f"Google Drive via google-drive-ocamlfuse ({how})"

    def paths(self) -> GdfusePaths:
        """This label's files, resolved the way the program resolves them (HOME is read now)."""
        home = Path(os.path.expanduser("~"))
        xdg_config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "gdfuse" / self.account
        if self.config_path:
            config, xdg = Path(self.config_path), False
        elif self.xdg or (xdg_config / "config").exists():
            config, xdg = xdg_config / "config", True
        else:
            config, xdg = home / ".gdfuse" / self.account / "config", False
        values = read_key_values(config)
        if values.get("data_directory"):
            data_dir = Path(values["data_directory"])
        elif xdg:
            data_dir = (
                Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "gdfuse" / self.account
            )
        else:
            data_dir = home / ".gdfuse" / self.account
        if values.get("cache_directory"):
            cache_dir = Path(values["cache_directory"])
        elif xdg:
            cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "gdfuse" / self.account
        else:
            cache_dir = data_dir / "cache"
        return GdfusePaths(config=config, data_dir=data_dir, cache_dir=cache_dir, xdg=xdg)

    def _base_args(self) -> list[str]:
        args = [self._program()]
        if self.account != DEFAULT_LABEL:
            args += ["-label", self.account]
        if self.config_path:
            args += ["-config", self.config_path]
        if self.xdg:
            args.append("-xdgbd")
        return args

    # -- availability -----------------------------------------------------------------

    def _program(self) -> str:
        if self.program:
            if os.path.isfile(self.program) and os.access(self.program, os.X_OK):
                return self.program
            found = None if os.sep in self.program else find_program(self.program)
            if found:
                return found
            raise BackendUnavailable(f"{self.program} is not installed or not executable. {INSTALL_HINT}")
        found = find_program(PROGRAM)
        if found is None:
            raise BackendUnavailable(f"{PROGRAM} is not installed. {INSTALL_HINT}")
        return found

    def check_available(self) -> None:
        self._program()
        check_fuse()

    # -- configuration and authorisation ---------------------------------------------

    def _stage_client(self, client_id: str | None, client_secret: str | None) -> None:
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
        self._stage_client(client_id, client_secret)
        self._prepare_files()

    def _prepare_files(self) -> GdfusePaths:
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
                write_private(config, _update_key_values(text, self._pending_config))
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

    def _configured_service_account(self, paths: GdfusePaths) -> str | None:
        if self.service_account:
            return self.service_account
        return read_key_values(paths.config).get("service_account_credentials_path") or None

    def authorised(self) -> bool:
        """Whether a mount can start without asking anyone: a service account or a saved token."""
        paths = self.paths()
        if self._configured_service_account(paths):
            return True
        return bool(read_key_values(paths.state).get("refresh_token"))

    def install_state_file(self, data: bytes | str) -> str:
        """Store a ``state`` file authorised on another machine (written 0600); returns its path."""
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
        except UnicodeDecodeError:
            raise AuthError(
                "That file is not a google-drive-ocamlfuse state file (it is not text). Upload the file "
                f"~/.gdfuse/{self.account}/state from the machine where you signed in."
            ) from None
        values = _parse_key_values(text)
        token = values.get("refresh_token", "")
        if not token:
            raise AuthError(
                "That file has no refresh token, so it is not an authorised google-drive-ocamlfuse state "
                f"file. Upload ~/.gdfuse/{self.account}/state (not config) from a machine where "
                "google-drive-ocamlfuse signed in successfully."
            )
        self._secrets.add(token)
        if values.get("last_access_token"):
            self._secrets.add(values["last_access_token"])
        paths = self._prepare_files()
        write_private(paths.state, text if text.endswith("\n") else text + "\n")
        return str(paths.state)

    def begin_authorization(self, timeout: float = 30.0) -> str | None:
        """Start ``google-drive-ocamlfuse -headless`` and return the sign-in URL it prints.

        Returns None when the label is already authorised (the program has nothing to ask).
        Finish with :meth:`complete_authorization`; the program waits on its stdin meanwhile.
        """
        self.cancel_authorization()
        paths = self._prepare_files()
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
        out = self._redact(out)
        if finished:
            err = self._redact(_drain(proc))
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
        text = self._redact(out.decode(errors="replace") + err.decode(errors="replace"))
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
                + _not_authorised_text(self.account, self.paths().state)
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

    # -- secrets ----------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        secrets = set(self._secrets)
        with contextlib.suppress(DriveError, OSError):
            paths = self.paths()
            secrets.add(read_key_values(paths.config).get("client_secret", ""))
            state = read_key_values(paths.state)
            secrets.update({state.get("refresh_token", ""), state.get("last_access_token", "")})
        for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    # -- mount table --------------------------------------------------------------------

    def owns(self, entry: MountEntry) -> bool:
        if entry.fstype == FSTYPE:
            return True
        return entry.fstype == STANDIN_FSTYPE and os.path.basename(entry.source) == PROGRAM

    # -- mount ----------------------------------------------------------------------------

    def mount(self, mountpoint: str, *, readonly: bool = False, force: bool = False) -> list[str]:
        self.check_available()
        paths = self._prepare_files()
        service_account = self._configured_service_account(paths)
        if service_account:
            self._check_service_account(service_account)
        elif not read_key_values(paths.state).get("refresh_token"):
            raise AuthError(_not_authorised_text(self.account, paths.state))
        if self.mount_entry(mountpoint) is not None:
            return [f"Already mounted at {mountpoint}"]
        ensure_mountpoint(mountpoint)
        argv = self._base_args()
        if self.service_account:
            argv += ["-serviceaccountpath", self.service_account]
        if readonly:
            argv += ["-o", "ro"]
        argv.append(mountpoint)
        log.debug("mounting: %s", argv)
        try:
            result = run(argv, timeout=self.mount_timeout)
        except MountTimeout:
            if self.mount_entry(mountpoint) is not None:
                with contextlib.suppress(DriveError):
                    fuse_unmount(mountpoint, lazy=True)
            raise MountTimeout(
                f"google-drive-ocamlfuse did not finish mounting within {self.mount_timeout:g} s "
                "(Google Drive may be unreachable, or the program is waiting for a sign-in). "
                "Check the network and try again."
            ) from None
        output = self._redact(result.stdout + result.stderr)
        if result.returncode != 0:
            raise self._mount_failure(mountpoint, output)
        deadline = time.monotonic() + 10.0
        while self.mount_entry(mountpoint) is None:
            if time.monotonic() > deadline:
                detail = last_line(output)
                raise MountError(
                    f"google-drive-ocamlfuse exited without mounting {mountpoint}"
                    + (f": {detail}" if detail else ".")
                    + f" See its log in {paths.data_dir / 'gdfuse.log'}."
                )
            time.sleep(0.05)
        self._daemons[mountpoint] = daemon_processes(mountpoint, _is_ocamlfuse)
        lines = [f"Mounted at {mountpoint}" + (" (read-only)" if readonly else "")]
        return lines

    def _check_service_account(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            raise AuthError(
                f"The service account key file {path} does not exist. Download the JSON key of the "
                "service account from the Google Cloud console and give its path."
            ) from None
        except (OSError, ValueError):
            raise AuthError(
                f"Cannot read the service account key file {path} as JSON. Give the path of the JSON "
                "key downloaded from the Google Cloud console."
            ) from None
        if (
            not isinstance(data, dict)
            or data.get("type") != "service_account"
            or not data.get("client_email")
        ):
            raise AuthError(
                f'{path} is not a service account key (it has no "type": "service_account" and '
                "client_email). Download a JSON key of a service account from the Google Cloud console."
            )

    def _mount_failure(self, mountpoint: str, output: str) -> DriveError:
        reason = last_line(output) or "no reason given"
        if any(
            marker in output
            for marker in (
                "You should specify a client id",
                "Cannot retrieve auth tokens",
                "End_of_file",
                "Error opening URL",
                "verification code",
            )
        ):
            return AuthError(_not_authorised_text(self.account, self.paths().state))
        if "Sys_error" in output and self.service_account and self.service_account in output:
            return AuthError(f"Cannot read the service account key file {self.service_account}.")
        if "Transport endpoint is not connected" in output or (
            "should be an existing directory" in output and find_mount(mountpoint) is not None
        ):
            return StaleMount(
                f"Something is still mounted at {mountpoint} but not responding. Unmount it first, "
                "then mount again."
            )
        if "should be an existing directory" in output:
            return InvalidMountpoint(f"Cannot mount at {mountpoint}: it is not an existing folder.")
        if "mountpoint is not empty" in output:
            return InvalidMountpoint(
                f"Cannot mount at {mountpoint}: the folder already contains files. Mount at an empty folder."
            )
        if "/dev/fuse" in output or ("fusermount" in output and "not found" in output):
            return BackendUnavailable(f"FUSE does not work here: {reason}. {FUSE_HINT}")
        return MountError(f"google-drive-ocamlfuse could not mount {mountpoint}: {reason}")

    # -- flush and unmount --------------------------------------------------------------

    def flush(self, mountpoint: str, progress: Progress = _ignore) -> None:
        """Wait for queued uploads (only with ``async_upload_queue=true``).

        By default google-drive-ocamlfuse uploads a file when it is closed, before ``close``
        returns, so there is no queue to wait for (and ``fusermount`` refuses to unmount while
        files are open). With the asynchronous queue on, wait until its table in ``cache.db`` is
        empty. That table is saved from memory only every ``metadata_memory_cache_saving_interval``
        seconds, so it can lag; :meth:`unmount` then also waits for the daemon, which drains its
        queue before it exits.
        """
        paths = self.paths()
        values = read_key_values(paths.config)
        if values.get("async_upload_queue", "false").lower() != "true":
            return
        deadline = time.monotonic() + self.flush_timeout
        last = -1
        while True:
            count = _queued_uploads(paths.cache_db)
            if count is None or count == 0:
                return
            if count != last:
                progress(f"Waiting for {count} queued upload{'s' if count != 1 else ''} to finish...")
                last = count
            if time.monotonic() > deadline:
                raise UnmountError(
                    f"{count} upload(s) are still queued after {self.flush_timeout:g} s. The drive stays "
                    "mounted so nothing is lost; try again later."
                )
            time.sleep(0.25)

    def unmount(self, mountpoint: str, *, stale: bool = False) -> list[str]:
        daemons = merge_processes(
            self._daemons.pop(mountpoint, []),
            daemon_processes(mountpoint, _is_ocamlfuse),
        )
        fuse_unmount(mountpoint, lazy=stale)
        lines = [f"Unmounted {mountpoint}"]
        left = wait_gone(daemons, 2.0 if stale else self.exit_timeout)
        if left:
            pids = ", ".join(str(pid) for pid, _ in left)
            if stale:
                lines.append(
                    f"The google-drive-ocamlfuse process ({pids}) did not exit; if it stays, stop it "
                    f"with `kill {pids}`."
                )
            else:
                lines.append(
                    f"google-drive-ocamlfuse (process {pids}) is still finishing uploads in the "
                    "background; keep the machine running until it exits."
                )
        return lines

    def close(self) -> None:
        self.cancel_authorization()


# -- helpers ------------------------------------------------------------------------------


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


def _queued_uploads(db: Path) -> int | None:
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2.0)) as conn:
            row = conn.execute("SELECT COUNT(*) FROM upload_queue").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else None


def _is_ocamlfuse(argv: list[str]) -> bool:
    return any(os.path.basename(a) == PROGRAM for a in argv)
