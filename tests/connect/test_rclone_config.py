"""The private rclone config: 0600 atomically, rclone reads back exactly what we write, edits keep the rest."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from drivewidget.connect import (
    Connection,
    RcloneConfig,
    parse_service_account,
    parse_token,
    saved_connections,
)
from drivewidget.connect.errors import InvalidConnection
from drivewidget.connect.providers import PROVIDERS, get_provider, provider_from_rclone, rclone_types
from drivewidget.connect.rclone_config import (
    check_name,
    default_config_path,
    parse_ini,
    render_ini,
    user_connections,
)

from . import rclone


def dump(config: RcloneConfig) -> dict[str, dict[str, str]]:
    """What rclone itself reads from the file."""
    env = {**os.environ, "RCLONE_CONFIG": str(config.path)}
    out = subprocess.run([rclone(), "config", "dump"], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_default_path_is_in_the_user_config_dir(home: Path) -> None:
    assert default_config_path() == home / ".config" / "drivewidget" / "rclone.conf"


def test_add_writes_a_private_file_rclone_reads(config: RcloneConfig) -> None:
    conn = config.add(
        "dav", "webdav", {"url": "http://127.0.0.1:1/", "user": "bob"}, provider="webdav", path="a/b/"
    )
    mode = stat.S_IMODE(config.path.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(config.path.parent.stat().st_mode) & 0o077 == 0
    assert dump(config) == {"dav": {"type": "webdav", "url": "http://127.0.0.1:1/", "user": "bob"}}
    assert conn == Connection(
        name="dav", backend="rclone", provider="webdav", rclone_type="webdav", path="a/b",
        summary="http://127.0.0.1:1/ · a/b", config=str(config.path),
    )  # fmt: skip
    assert conn.remote == "dav:a/b"
    assert "WebDAV" in conn.title
    backend = config.backend("dav")
    assert backend.remote == "dav:a/b" and backend.config == str(config.path)
    assert not list(config.path.parent.glob(".*.tmp*"))  # the atomic write left no temp file


@pytest.mark.parametrize(
    "value",
    ["ab#cd ;ef", 'has"quote', "x=y", "it's", '{"access_token":"ya29","expiry":"2024"}', "a`b", "ünï©ødé"],
)
def test_values_read_back_exactly(config: RcloneConfig, value: str) -> None:
    config.add("r", "webdav", {"url": "http://h/", "user": value})
    assert dump(config)["r"]["user"] == value
    assert config.sections()["r"]["user"] == value


@pytest.mark.parametrize("value", ["two\nlines", "cr\rhere", "`quoted`", '"""tri"""'])
def test_values_rclone_would_misread_are_refused(config: RcloneConfig, value: str) -> None:
    with pytest.raises(InvalidConnection):
        config.add("r", "webdav", {"url": "http://h/", "user": value})
    assert not config.path.exists()


@pytest.mark.parametrize("name", ["", "-x", "a b", "a:b", "a/b", "x" * 65, "[x]"])
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidConnection, match="cannot be a connection name"):
        check_name(name)


def test_names_with_colon_suffix_are_accepted() -> None:
    assert check_name(" gdrive: ") == "gdrive"


def test_obscure_goes_through_stdin_and_rclone_reveals_it(config: RcloneConfig) -> None:
    obscured = config.obscure("pa55 word!")
    assert obscured and obscured != "pa55 word!"
    out = subprocess.run([rclone(), "reveal", obscured], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "pa55 word!"
    assert config.obscure("") == ""
    with pytest.raises(InvalidConnection):
        config.obscure("two\nlines")


def test_duplicate_rename_forget(config: RcloneConfig) -> None:
    config.add("one", "webdav", {"url": "http://a/", "pass": config.obscure("secret-one")}, provider="webdav")
    config.add("two", "s3", {"provider": "Minio", "secret_access_key": "S3SECRET"}, provider="s3", path="bkt")
    with pytest.raises(InvalidConnection, match="already exists"):
        config.add("one", "webdav", {"url": "http://b/"})
    assert config.names() == ["one", "two"]

    renamed = config.rename("two", "three")
    assert renamed.name == "three" and renamed.path == "bkt" and renamed.provider == "s3"
    assert config.names() == ["one", "three"]
    with pytest.raises(InvalidConnection, match="already exists"):
        config.rename("one", "three")
    with pytest.raises(InvalidConnection, match="no saved connection"):
        config.rename("nope", "x")

    obscured = config.sections()["one"]["pass"]
    config.forget("one")
    text = config.path.read_text()
    assert "[one]" not in text and obscured not in text and "http://a/" not in text
    assert "one" not in config.meta_path.read_text()
    assert [c.name for c in config.connections()] == ["three"]
    config.forget("three")
    assert "S3SECRET" not in config.path.read_text()
    assert config.connections() == []
    with pytest.raises(InvalidConnection):
        config.forget("three")


def test_update_sets_and_removes_options(config: RcloneConfig) -> None:
    config.add("d", "drive", {"token": '{"access_token":"a"}', "scope": "drive"})
    config.update("d", {"token": '{"access_token":"b"}', "scope": ""})
    assert config.sections()["d"] == {"type": "drive", "token": '{"access_token":"b"}'}


def test_edits_keep_sections_rclone_wrote(config: RcloneConfig) -> None:
    config.path.parent.mkdir(parents=True)
    config.path.write_text("# made by rclone\n[theirs]\ntype = local\nnounc = true\n")
    config.add("ours", "webdav", {"url": "http://a/"})
    assert dump(config) == {
        "theirs": {"type": "local", "nounc": "true"},
        "ours": {"type": "webdav", "url": "http://a/"},
    }
    assert [c.name for c in config.connections()] == ["theirs", "ours"]


def test_encrypted_config_is_refused_in_words(config: RcloneConfig) -> None:
    config.path.parent.mkdir(parents=True)
    config.path.write_text("# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\nabc\n")
    with pytest.raises(InvalidConnection, match="encrypted"):
        config.connections()


def test_concurrent_adds_lose_nothing(config: RcloneConfig) -> None:
    errors: list[BaseException] = []

    def add(i: int) -> None:
        try:
            config.add(f"r{i}", "webdav", {"url": f"http://h{i}/"})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(config.names()) == sorted(f"r{i}" for i in range(12))


def test_parse_render_round_trip() -> None:
    sections = {"a": {"type": "s3", "provider": "AWS"}, "b b": {"type": "webdav", "url": "http://x/?q=1#f"}}
    assert parse_ini(render_ini(sections)) == sections
    assert parse_ini('[x]\nk = `raw`\nj = """tri"""\n; c\n# c\n') == {"x": {"k": "raw", "j": "tri"}}


def test_user_rclone_config_is_listed_but_marked(
    home: Path, config: RcloneConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = home / ".config" / "rclone" / "rclone.conf"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("[mine]\ntype = webdav\nurl = http://x/\n")
    found = user_connections(exclude=config.path)
    assert [(c.name, c.external, c.config) for c in found] == [("mine", True, str(theirs))]
    assert "your rclone config" in found[0].title
    assert [c.name for c in saved_connections(config)] == ["mine"]
    assert saved_connections(config, include_user_config=False) == []
    monkeypatch.setenv("RCLONE_CONFIG", str(config.path))  # the same file is not listed twice
    config.add("ours", "webdav", {"url": "http://a/"})
    assert [c.name for c in saved_connections(config)] == ["ours"]


# -- providers and what users paste ------------------------------------------------------------

TOKEN = (
    '{"access_token":"ya29.A","token_type":"Bearer","refresh_token":"1//R","expiry":"2026-01-01T00:00:00Z"}'
)


@pytest.mark.parametrize(
    "pasted",
    [
        TOKEN,
        f"  {TOKEN}\n",
        f"Paste the following into your remote machine --->\n{TOKEN}\n<---End paste\n",
        __import__("base64").urlsafe_b64encode(TOKEN.encode()).decode().rstrip("="),
        json.dumps({"token": TOKEN}),
    ],
)
def test_parse_token_accepts_what_rclone_authorize_prints(pasted: str) -> None:
    assert json.loads(parse_token(pasted)) == json.loads(TOKEN)
    assert "\n" not in parse_token(pasted)


@pytest.mark.parametrize("pasted", ["", "ya29.A", '{"token_type":"Bearer"}', "[1, 2]"])
def test_parse_token_explains_bad_input(pasted: str) -> None:
    with pytest.raises(InvalidConnection):
        parse_token(pasted)


def test_parse_service_account() -> None:
    key = {"type": "service_account", "client_email": "a@b.iam", "private_key": "-----BEGIN\nX\n-----END\n"}
    text = parse_service_account(json.dumps(key, indent=2).encode())
    assert "\n" not in text and json.loads(text) == key
    for bad in (b"\xff\xfe", b"not json", json.dumps({"type": "authorized_user"}).encode()):
        with pytest.raises(InvalidConnection):
            parse_service_account(bad)


def test_catalogue() -> None:
    assert next(iter(PROVIDERS)) == "drive"
    drive = PROVIDERS["drive"]
    assert drive.oauth and drive.service_account and drive.authorize_command() == 'rclone authorize "drive"'
    assert "YOUR_CLIENT_SECRET" in drive.authorize_command("123.apps")
    assert PROVIDERS["webdav"].field("pass").obscure and PROVIDERS["webdav"].field("pass").secret
    assert (
        PROVIDERS["s3"].field("secret_access_key").secret
        and not PROVIDERS["s3"].field("secret_access_key").obscure
    )
    assert not PROVIDERS["s3"].field("path").option
    assert get_provider("webdav") is PROVIDERS["webdav"]


def test_any_rclone_backend_gets_a_form() -> None:
    types = dict(rclone_types(rclone()))
    assert "ftp" in types and "crypt" not in types and "local" not in types
    ftp = provider_from_rclone("ftp", rclone())
    assert not ftp.oauth
    assert ftp.field("pass").secret and ftp.field("pass").obscure
    assert ftp.field("host").required and not ftp.field("host").secret
    pcloud = provider_from_rclone("pcloud", rclone())
    assert pcloud.oauth and pcloud.fields[0].key == "token" and pcloud.field("client_secret").secret
    assert get_provider("ftp", rclone()).rclone_type == "ftp"
    with pytest.raises(InvalidConnection, match="does not know"):
        provider_from_rclone("nonesuch", rclone())


def test_the_connect_core_imports_no_widgets() -> None:
    import sys

    code = (
        "import sys; sys.modules['ipywidgets'] = None\n"
        "import drivewidget.connect, drivewidget.connect.check, drivewidget.connect.providers\n"
        "assert 'ipywidgets' not in {m for m in sys.modules if sys.modules[m] is not None}\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
