"""Check credentials before calling a connection 'connected': list the remote's root, in bounded time.

The check is ``rclone lsf --max-depth 1 REMOTE:`` with one try, short network timeouts and a
hard deadline. Its failures are translated into words a user can act on (:func:`explain`):
a wrong password or key, an expired or revoked token, access denied, an unknown bucket,
an unknown host, a refused connection, no answer in time.

A connection that is not saved yet is checked without writing it anywhere: its options go
to rclone as ``RCLONE_CONFIG_<NAME>_<OPTION>`` environment variables (readable only by the
same user, unlike a command line), with ``RCLONE_CONFIG`` pointing into a private temporary
folder. If rclone refreshes an OAuth token during the check it saves the new token there;
:func:`check_options` hands it back so that the saved connection gets the fresh one (some
services accept a refresh token only once).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import DriveError, MountError, MountTimeout, RemoteNotFound
from ..settings import runtime_dir
from ..timeouts import CHECK_TIMEOUT
from .errors import AccessDenied, CredentialsRejected, RemoteUnreachable
from .rclone_config import parse_ini

__all__ = ["CHECK_TIMEOUT", "CheckResult", "check_options", "check_remote", "explain", "redact"]

CANDIDATE = "DRIVEWIDGETCHECK"
"""The name a not-yet-saved connection has while it is checked."""
HIDDEN = "[hidden]"


@dataclass(frozen=True)
class CheckResult:
    """A successful check: how many entries the root has and how long listing it took."""

    remote: str
    entries: int
    seconds: float

    @property
    def message(self) -> str:
        what = (
            "is empty" if self.entries == 0 else f"has {self.entries} item{'s' if self.entries != 1 else ''}"
        )
        return f"Connected: the top folder of {self.remote} {what} (listed in {self.seconds:.1f} s)."


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (4 characters or more) replaced by ``[hidden]``."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def _argv(program: str, remote: str, timeout: float) -> list[str]:
    connect = max(1, min(10, int(timeout / 2)))
    return [
        program, "lsf", "--max-depth", "1",
        "--retries", "1", "--low-level-retries", "1",
        "--contimeout", f"{connect}s", "--timeout", f"{max(2, int(timeout))}s",
        "--ask-password=false",
        "--", remote,
    ]  # fmt: skip


def check_remote(
    remote: str,
    *,
    config: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = CHECK_TIMEOUT,
    program: str | None = None,
    secrets: Iterable[str] = (),
    what: str = "",
) -> CheckResult:
    """List ``remote`` (``name:path``) within ``timeout`` s; raise a typed error in words if it fails.

    ``config`` is the rclone config (passed as ``RCLONE_CONFIG``); ``secrets`` are removed from
    any message; ``what`` names the service in messages ("WebDAV", "Google Drive").
    """
    from ..backends._process import require_program, run
    from ..backends.rclone import INSTALL_HINT

    program = program or require_program("rclone", INSTALL_HINT)
    full_env = dict(env or {})
    if config is not None:
        full_env["RCLONE_CONFIG"] = os.fspath(config)
    started = time.monotonic()
    try:
        result = run(_argv(program, remote, timeout), timeout=timeout + min(2.0, timeout), env=full_env)
    except MountTimeout:
        raise RemoteUnreachable(
            f"{what or remote} did not answer within {timeout:g} s. Check the address and the network "
            "(on a VM: does it have internet access?), then try again."
        ) from None
    seconds = time.monotonic() - started
    if result.returncode != 0:
        secret_list = list(secrets)
        raise explain(redact(result.stderr, secret_list), result.returncode, remote=remote, what=what)
    entries = sum(1 for line in result.stdout.splitlines() if line.strip())
    return CheckResult(remote=remote, entries=entries, seconds=seconds)


def check_options(
    rclone_type: str,
    options: Mapping[str, str],
    *,
    path: str = "",
    timeout: float = CHECK_TIMEOUT,
    program: str | None = None,
    secrets: Iterable[str] = (),
    what: str = "",
) -> tuple[CheckResult, dict[str, str]]:
    """Check a connection that is not saved: returns the result and options to save.

    The options come back unchanged unless rclone refreshed the OAuth token during the check.
    """
    prefix = f"RCLONE_CONFIG_{CANDIDATE}_"
    env = {f"{prefix}TYPE": rclone_type}
    for key, value in options.items():
        if value and key != "type":
            env[prefix + key.upper()] = value
    folder = Path(tempfile.mkdtemp(prefix="check-", dir=runtime_dir()))
    try:
        os.chmod(folder, 0o700)
        scratch = folder / "rclone.conf"
        result = check_remote(
            f"{CANDIDATE}:{path}",
            config=scratch,
            env=env,
            timeout=timeout,
            program=program,
            secrets=[*secrets, *(v for v in options.values() if len(v) >= 8)],
            what=what,
        )
        shown = f"{what or rclone_type}{' ' + path if path else ''}"
        result = CheckResult(remote=shown, entries=result.entries, seconds=result.seconds)
        updated = dict(options)
        if scratch.exists():
            try:
                saved = parse_ini(scratch.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, DriveError):
                saved = {}
            for section in saved.values():
                if section.get("token"):
                    updated["token"] = section["token"]
        return result, updated
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- failures in words ------------------------------------------------------------------

_TIMESTAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\s+")


def _reason(text: str) -> str:
    """The most telling line of rclone's stderr, without timestamps and log levels."""
    lines = [_TIMESTAMP.sub("", line).strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if "Config file" not in line or "not found" not in line]
    for line in reversed(lines):
        if "last error was:" in line:
            return line.split("last error was:", 1)[1].strip()
    for line in reversed(lines):
        if line.startswith(("ERROR", "CRITICAL", "Failed")):
            return line.split(": ", 1)[-1].strip() if line.startswith(("ERROR", "CRITICAL")) else line
    return lines[-1] if lines else ""


def _host(text: str) -> str:
    match = re.search(r"lookup ([^\s:]+)", text) or re.search(r"dial tcp ([^\s]+?):? ", text)
    if match:
        return match.group(1).rstrip(":")
    match = re.search(r'"(https?://[^/"]+)', text)
    return match.group(1) if match else ""


def explain(text: str, returncode: int = 1, *, remote: str = "", what: str = "") -> DriveError:
    """Turn rclone's (already redacted) error output into a typed error a user can act on."""
    text = text.replace(f'"{CANDIDATE}:', '"').replace(f"{CANDIDATE}:", "")
    reason = _reason(text)
    low = text.lower()
    name = what or remote or "The service"
    detail = f" (rclone said: {reason})" if reason else ""

    if "didn't find section in config file" in low or "not found in config file" in low:
        return RemoteNotFound(f"There is no saved connection {remote.split(':')[0]!r}: connect it again.")
    if "couldn't find type of fs" in low or "didn't find backend called" in low:
        return MountError(f"rclone does not know this kind of remote{detail}.")
    # OAuth tokens
    if "invalid_grant" in low or "token has been expired or revoked" in low or "token expired" in low:
        return CredentialsRejected(
            f"{name} refused the token: it has expired or access was revoked. Sign in again (run the "
            "rclone authorize command on a computer with a browser) and paste the new token."
        )
    if "invalid_client" in low or "unauthorized_client" in low:
        return CredentialsRejected(
            f"{name} refused the token because it was made for a different OAuth client. Run rclone "
            "authorize with the same client ID and secret as entered here (or leave both empty)."
        )
    # Keys and passwords
    if "invalidaccesskeyid" in low:
        return CredentialsRejected(
            f"{name} does not know this access key ID: check it (and the endpoint: a key of one service "
            "does not work on another)."
        )
    if "signaturedoesnotmatch" in low:
        return CredentialsRejected(
            f"{name} refused the secret access key: it is wrong. Check it and try again."
        )
    # Network
    host = _host(text)
    at = f" {host}" if host else ""
    if "no such host" in low or "server misbehaving" in low or "temporary failure in name resolution" in low:
        return RemoteUnreachable(
            f"Cannot find the server{at}: check the address, and that this machine has internet access."
        )
    if "connection refused" in low:
        return RemoteUnreachable(f"The server{at} refused the connection: check the address and port.")
    if "network is unreachable" in low or "no route to host" in low:
        return RemoteUnreachable(
            f"No network route to{at or ' the server'}: this machine seems to be offline."
        )
    if "empty token found" in low or "no token found" in low or "couldn't fetch token" in low:
        return CredentialsRejected(f"{name} needs a token: paste the one rclone authorize printed{detail}.")
    if "private key" in low and ("parse" in low or "invalid" in low or "decode" in low):
        return CredentialsRejected(
            f"The service account key cannot be used{detail}. Upload a fresh JSON key."
        )
    if "unable to authenticate" in low or "permission denied (publickey" in low:
        return CredentialsRejected(f"{name} refused the user name, password or key{detail}.")
    if (
        re.search(r"\b401\b", low)
        or "unauthorized" in low
        or "invalid credentials" in low
        or "authentication failed" in low
    ):
        return CredentialsRejected(
            f"{name} refused the credentials (wrong user name or password, or an expired or revoked "
            "token/app password). Check them and try again."
        )
    # Signed in, but not allowed
    if "accessnotconfigured" in low or "has not been used in project" in low:
        return AccessDenied(
            f"The Google Drive API is not enabled for the OAuth client's project: enable it in the Google "
            f"Cloud console (APIs & Services > Library > Google Drive API){detail}."
        )
    if "insufficientpermissions" in low or "insufficient permission" in low:
        return AccessDenied(
            f"{name} accepted the sign-in but the token lacks permission to list files{detail}."
        )
    if "accessdenied" in low or "access denied" in low or re.search(r"\b403\b", low) or "forbidden" in low:
        return AccessDenied(
            f"{name} accepted the credentials but denied access: the account has no permission here, or "
            f"access was revoked{detail}."
        )
    # Where
    if "nosuchbucket" in low or "bucket not found" in low or "bucket does not exist" in low:
        return RemoteNotFound(f"{name}: the bucket {_path(remote)!r} does not exist. Check its name.")
    if "directory not found" in low or returncode == 3 or "object not found" in low:
        target = _path(remote)
        return RemoteNotFound(
            f"{name}: the bucket or folder {target!r} does not exist. Check its name."
            if target
            else f"{name}: the top folder was not found{detail}."
        )
    if "x509" in low or "certificate" in low or "tls:" in low:
        return RemoteUnreachable(f"The secure connection to{at or ' the server'} failed{detail}.")
    if "timeout" in low or "deadline exceeded" in low or "i/o timeout" in low:
        return RemoteUnreachable(f"{name} did not answer in time{detail}. Check the network and try again.")
    if "connection reset" in low or "eof" in low.split():
        return RemoteUnreachable(f"The connection to {name} broke off{detail}. Try again.")
    return MountError(f"Could not list {remote or name}{detail}.")


def _path(remote: str) -> str:
    return remote.split(":", 1)[1] if ":" in remote else ""
