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
import sqlite3
import time
from pathlib import Path
from typing import ClassVar

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
from ..status.mounttable import MountEntry, find_mount
from ._fuse import FUSE_HINT, check_fuse, fuse_unmount
from ._process import daemon_processes, find_program, last_line, merge_processes, run, wait_gone
from .base import Backend, Progress, _ignore, ensure_mountpoint
from .gdfuse import (
    DEFAULT_LABEL,
    INSTALL_HINT,
    PROGRAM,
    GdfusePaths,
    GdfuseSignin,
    extract_code,
    not_authorised_text,
    read_key_values,
)

__all__ = [
    "FSTYPE",
    "INSTALL_HINT",
    "PROGRAM",
    "GdfusePaths",
    "OcamlfuseBackend",
    "extract_code",  # its home is drivewidget.backends.gdfuse (the sign-in)
    "read_key_values",
]

log = logging.getLogger(__name__)

FSTYPE = "fuse.google-drive-ocamlfuse"
STANDIN_FSTYPE = "fuse.rclone"
"""The test stand-in mounts with rclone, which always reports this type (see the module doc)."""


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
        self.signin = GdfuseSignin(
            label,
            base_args=self._base_args,
            config_path=self.config_path,
            xdg=xdg,
            service_account=self.service_account,
        )
        if client_id is not None or client_secret is not None:
            self.signin.stage_client(client_id, client_secret)
        self._daemons: dict[str, list[tuple[int, str]]] = {}

    @classmethod
    def from_spec(cls, source: str | None = None) -> OcamlfuseBackend:
        return cls(source or None)

    # -- description and paths --------------------------------------------------------

    def describe(self) -> str:
        how = "service account" if self.service_account else f"label {self.account!r}"
        return f"Google Drive via google-drive-ocamlfuse ({how})"

    # -- sign-in: google-drive-ocamlfuse's files (drivewidget.backends.gdfuse) -----------

    def paths(self) -> GdfusePaths:
        """This label's files, resolved the way the program resolves them (HOME is read now)."""
        return self.signin.paths()

    def prepare_files(self) -> GdfusePaths:
        """Create the label's config (and data folder) privately, with any staged client."""
        return self.signin.prepare_files()

    def set_client(self, client_id: str, client_secret: str) -> None:
        """Store an OAuth client (Desktop app) in the label's config file, mode 0600."""
        self.signin.set_client(client_id, client_secret)

    def authorised(self) -> bool:
        """Whether a mount can start without asking anyone: a service account or a saved token."""
        return self.signin.authorised()

    def install_state_file(self, data: bytes | str) -> str:
        """Store a ``state`` file authorised on another machine (written 0600); returns its path."""
        return self.signin.install_state_file(data)

    def begin_authorization(self, timeout: float = 30.0) -> str | None:
        """Start the headless sign-in and return its link (None: already authorised)."""
        return self.signin.begin_authorization(timeout)

    def complete_authorization(self, answer: str, timeout: float = 60.0) -> list[str]:
        """Give the code (or the whole redirected URL) to the waiting sign-in."""
        return self.signin.complete_authorization(answer, timeout)

    def cancel_authorization(self) -> None:
        self.signin.cancel_authorization()

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

    # -- mount table --------------------------------------------------------------------

    def owns(self, entry: MountEntry) -> bool:
        if entry.fstype == FSTYPE:
            return True
        return entry.fstype == STANDIN_FSTYPE and os.path.basename(entry.source) == PROGRAM

    # -- mount ----------------------------------------------------------------------------

    def mount(self, mountpoint: str, *, readonly: bool = False, force: bool = False) -> list[str]:
        # The caller (the controller) checked availability and that nothing is mounted here.
        paths = self.signin.prepare_files()
        service_account = self.signin.configured_service_account(paths)
        if service_account:
            self._check_service_account(service_account)
        elif not read_key_values(paths.state).get("refresh_token"):
            raise AuthError(not_authorised_text(self.account, paths.state))
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
        output = self.signin.redact(result.stdout + result.stderr)
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
            return AuthError(not_authorised_text(self.account, self.paths().state))
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
