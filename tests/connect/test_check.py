"""The credential check: bounded in time, failures in words, nothing written, secrets never echoed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from drivewidget.connect import RcloneConfig, check_connection
from drivewidget.connect.check import CANDIDATE, check_options, check_remote, explain, redact
from drivewidget.connect.errors import AccessDenied, CredentialsRejected, RemoteUnreachable
from drivewidget.errors import AuthError, MountError, RemoteNotFound
from drivewidget.settings import runtime_dir

from . import rclone, serve_s3, serve_webdav


def log(*lines: str) -> str:
    return "".join(f"2026/01/02 03:04:05 {line}\n" for line in lines)


CASES = [
    (log("ERROR : error listing: couldn't list files: 401 Unauthorized: 401 Unauthorized"),
     CredentialsRejected, "wrong user name or password"),
    (log('CRITICAL: Failed to create file system for "gd:": couldn\'t find root directory ID: '
         'oauth2: "invalid_grant" "Token has been expired or revoked."'),
     CredentialsRejected, "expired or access was revoked"),
    (log("NOTICE: Failed to lsf: oauth2: cannot fetch token: 401 Unauthorized Response: "
         '{"error": "unauthorized_client"}'),
     CredentialsRejected, "different OAuth client"),
    (log("NOTICE: Failed to lsf with 2 errors: last error was: error in ListJSON: operation error S3: "
         "ListBuckets, https response error StatusCode: 403, api error SignatureDoesNotMatch: The request "
         "signature we calculated does not match"),
     CredentialsRejected, "secret access key"),
    (log("NOTICE: Failed to lsf: api error InvalidAccessKeyId: The Access Key Id you provided does not exist"),
     CredentialsRejected, "access key ID"),
    (log("NOTICE: Failed to lsf: googleapi: Error 403: Google Drive API has not been used in project 123 "
         "before or it is disabled., accessNotConfigured"),
     AccessDenied, "not enabled"),
    (log("NOTICE: Failed to lsf: operation error S3: ListObjectsV2, StatusCode: 403, api error AccessDenied: "
         "Access Denied"),
     AccessDenied, "denied access"),
    (log("NOTICE: Failed to lsf with 2 errors: last error was: error in ListJSON: directory not found"),
     RemoteNotFound, "'nobucket' does not exist"),
    (log("NOTICE: Failed to lsf: api error NoSuchBucket: The specified bucket does not exist"),
     RemoteNotFound, "bucket 'nobucket'"),
    (log('ERROR : error listing: Propfind "http://nonexistent.invalid/": dial tcp: lookup '
         "nonexistent.invalid on 10.0.0.1:53: no such host"),
     RemoteUnreachable, "Cannot find the server nonexistent.invalid"),
    (log('ERROR : couldn\'t list files: Post "https://oauth2.googleapis.com/token": couldn\'t fetch token: '
         "dial tcp: lookup oauth2.googleapis.com on 10.0.0.1:53: no such host"),
     RemoteUnreachable, "internet access"),
    (log('ERROR : Propfind "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused'),
     RemoteUnreachable, "refused the connection"),
    (log("ERROR : dial tcp 10.1.1.1:443: connect: network is unreachable"), RemoteUnreachable, "offline"),
    (log("ERROR : Get https://x/: net/http: TLS handshake timeout"), RemoteUnreachable, "did not answer in time"),
    (log("ERROR : x509: certificate signed by unknown authority"), RemoteUnreachable, "secure connection"),
    (log('CRITICAL: Failed to create file system for "nope:": didn\'t find section in config file ("nope")'),
     RemoteNotFound, "no saved connection 'nope'"),
    (log("ERROR : something nobody foresaw"), MountError, "something nobody foresaw"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "kind", "words"), CASES)
def test_failures_in_words(text: str, kind: type[Exception], words: str) -> None:
    remote = "nope:" if "nope" in text else "x:nobucket"
    error = explain(text, 1, remote=remote, what="The service")
    assert type(error) is kind
    assert words in str(error)
    assert "2026/01/02" not in str(error)


def test_error_types_are_drive_errors() -> None:
    assert issubclass(CredentialsRejected, AuthError) and issubclass(AccessDenied, AuthError)
    assert issubclass(RemoteUnreachable, MountError)


def test_candidate_name_never_shows() -> None:
    error = explain(log(f'CRITICAL: Failed to create file system for "{CANDIDATE}:": weird'), what="WebDAV")
    assert CANDIDATE not in str(error)


def test_redact() -> None:
    assert redact("user pw=hunter22 tok=hunter22x", ["hunter22", "hunter22x", "abc"]) == (
        "user pw=[hidden] tok=[hidden]"
    )
    assert redact("abc", ["abc"]) == "abc"  # too short to be worth hiding (and would wreck messages)


def test_check_is_bounded_in_time(tmp_path: Path, home: Path) -> None:
    slow = tmp_path / "slow-rclone"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(RemoteUnreachable, match=r"did not answer within 0\.5 s"):
        check_remote("x:", timeout=0.5, program=str(slow), what="The server")
    assert time.monotonic() - started < 5


def test_saved_webdav_connection_checks(tmp_path: Path, home: Path) -> None:
    with serve_webdav(tmp_path / "dav", "alice", "correct horse") as server:
        (server.root / "hello.txt").write_text("hi")
        config = RcloneConfig(program=rclone())
        good = config.add(
            "dav", "webdav", {"url": server.url, "user": "alice", "pass": config.obscure("correct horse")}
        )
        result = check_connection(good, program=rclone())
        assert result.entries == 1 and "has 1 item" in result.message
        bad = config.add(
            "bad", "webdav", {"url": server.url, "user": "alice", "pass": config.obscure("nope")}
        )
        with pytest.raises(CredentialsRejected):
            check_connection(bad, program=rclone())
    with pytest.raises(RemoteNotFound, match="no saved connection 'ghost'"):
        check_remote("ghost:", config=config.path, program=rclone())


def test_unsaved_options_are_checked_without_writing_them(tmp_path: Path, home: Path) -> None:
    with serve_s3(tmp_path / "s3", "AKIDTEST", "s3-secret-key-value") as server:
        (server.root / "bucket1").mkdir()
        options = {"provider": "Rclone", "endpoint": server.url, "access_key_id": "AKIDTEST",
                   "secret_access_key": "s3-secret-key-value"}  # fmt: skip
        before = set(tmp_path.rglob("*"))
        result, updated = check_options("s3", options, path="bucket1", program=rclone(), what="S3")
        assert updated == options and result.entries == 0
        with pytest.raises(RemoteNotFound, match="'nobucket' does not exist"):
            check_options("s3", options, path="nobucket", program=rclone(), what="S3")
        with pytest.raises(CredentialsRejected) as caught:
            check_options(
                "s3", {**options, "secret_access_key": "wrong-secret-value"}, program=rclone(), what="S3"
            )
        assert "wrong-secret-value" not in str(caught.value)
        after = {p for p in set(tmp_path.rglob("*")) - before if not p.is_relative_to(server.root)}
        assert not [p for p in after if p.is_file() and p.name != "s3-server.log"], "the check wrote files"
        assert not list(runtime_dir().glob("check-*")), "the scratch folder is left"


def test_refreshed_token_is_handed_back(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When rclone saves a refreshed token into the scratch config, the new token is the one to keep."""
    fake = tmp_path / "rclone"
    fake.write_text(
        "#!/bin/sh\n"
        'printf "[%s]\\ntype = drive\\ntoken = {\\"access_token\\":\\"NEW\\"}\\n" DRIVEWIDGETCHECK > "$RCLONE_CONFIG"\n'
        "echo folder/\n"
    )
    fake.chmod(0o755)
    _, updated = check_options(
        "drive", {"token": '{"access_token":"OLD"}'}, program=str(fake), what="Google Drive"
    )
    assert updated["token"] == '{"access_token":"NEW"}'
    assert os.environ.get("RCLONE_CONFIG") is None
