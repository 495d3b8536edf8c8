"""ConnectPanel: clicks against real servers; secrets never stay in a widget or reach the notebook state."""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
from ipywidgets import embed
from ipywidgets.widgets import widget as widget_module

from drivewidget.backends.base import Backend
from drivewidget.backends.rclone import RcloneBackend
from drivewidget.connect import RcloneConfig
from drivewidget.ui._compat import IPYWIDGETS_7, uploaded_files
from drivewidget.ui.connect import ConnectPanel
from drivewidget.ui.message import MessageBox

from ..connect import CmdlineScanner, rclone, serve_webdav, variants

PASSWORD = "pan3l-Secret!pass"
WRONG = "pan3l-wrong-guess"
TOKEN = '{"access_token":"ya29.PANELTOKEN","token_type":"Bearer","refresh_token":"1//PANELREFRESH","expiry":"2020-01-01T00:00:00Z"}'


@pytest.fixture
def used() -> list[Backend]:
    return []


@pytest.fixture
def panel(config: RcloneConfig, used: list[Backend]) -> Iterator[ConnectPanel]:
    panel = ConnectPanel(config=config, on_use=used.append, include_user_config=False, check_timeout=10)
    yield panel
    panel.close()


def _encode(value: object) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return base64.b64encode(raw).decode() + "|" + raw.decode("utf-8", "replace")
    return str(value)


def synced_state(panel: ConnectPanel) -> str:
    """Everything the browser gets or a saved notebook would keep, as text (buffers also decoded)."""
    parts = [
        json.dumps(widgets.Widget.get_manager_state(drop_defaults=False), default=_encode),
        json.dumps(embed.dependency_state([panel], drop_defaults=False), default=_encode),
    ]
    instances = getattr(widget_module, "_instances", None) or widgets.Widget.widgets  # ipywidgets 8 / 7
    for instance in list(instances.values()):
        parts.append(json.dumps(instance.get_state(), default=_encode))
    return "\n".join(parts)


def assert_not_synced(panel: ConnectPanel, *secrets: str) -> None:
    state = synced_state(panel)
    assert len(state) > 1000
    for secret in secrets:
        for variant in variants(secret):
            assert variant not in state, "a secret is in the widget state"


def fill(panel: ConnectPanel, **values: str) -> None:
    for key, value in values.items():
        panel.inputs[key].value = value


def click(panel: ConnectPanel, button: widgets.Button) -> None:
    button.click()
    panel.wait()


def upload(panel: ConnectPanel, data: bytes, name: str = "key.json") -> None:
    """What the browser sends when a file is chosen (ipywidgets 8, or 7 as in Colab)."""
    meta = {"name": name, "type": "application/json", "size": len(data), "last_modified": 1_700_000_000_000}
    if IPYWIDGETS_7:
        panel.upload.set_state(
            {"metadata": [meta], "data": [memoryview(data)], "_counter": panel.upload._counter + 1}
        )
    else:
        panel.upload.set_state({"value": [{**meta, "content": memoryview(data)}]})


def no_upload(panel: ConnectPanel) -> bool:
    return not uploaded_files(panel.upload) and not getattr(panel.upload, "data", None)


def test_forms_follow_the_provider(panel: ConnectPanel) -> None:
    assert panel.provider_dropdown.value == "drive" and panel.provider_dropdown.options[0][1] == "drive"
    assert isinstance(panel.inputs["token"], widgets.Password)
    assert 'rclone authorize "drive"' in panel.authorize_view.value
    assert panel.upload.layout.display != "none" and panel.upload.accept == ".json"
    assert panel.name_box.value == "gdrive"

    panel.select_provider("s3")
    assert isinstance(panel.inputs["secret_access_key"], widgets.Password)
    assert isinstance(panel.inputs["access_key_id"], widgets.Password)
    assert isinstance(panel.inputs["endpoint"], widgets.Text) and not isinstance(
        panel.inputs["endpoint"], widgets.Password
    )
    assert panel.authorize_view.value == "" and panel.upload.layout.display == "none"

    panel.select_provider("webdav")
    assert isinstance(panel.inputs["pass"], widgets.Password)
    assert panel.name_box.value == "webdav"
    panel.name_box.value = "mine"
    panel.select_provider("dropbox")
    assert panel.name_box.value == "mine", "a name the user typed is kept"
    assert 'rclone authorize "dropbox"' in panel.authorize_view.value

    panel.select_provider("ftp")
    assert panel.provider_dropdown.value == "other" and panel.other_type.layout.display != "none"
    assert isinstance(panel.inputs["pass"], widgets.Password) and "host" in panel.inputs

    panel.select_provider("ocamlfuse")
    assert panel.method.layout.display != "none" and panel.upload.description == "State file"
    panel.method.value = "signin"
    assert isinstance(panel.inputs["client_secret"], widgets.Password)
    assert panel.signin_box.layout.display != "none"


def test_switching_provider_clears_typed_secrets(panel: ConnectPanel) -> None:
    panel.select_provider("webdav")
    fill(panel, **{"pass": PASSWORD})
    old = panel.inputs["pass"]
    panel.select_provider("s3")
    assert old.value == ""
    assert_not_synced(panel, PASSWORD)


def test_webdav_wrong_then_right_use_rename_forget(
    tmp_path: Path,
    panel: ConnectPanel,
    config: RcloneConfig,
    used: list[Backend],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with (
        serve_webdav(tmp_path / "served", "dave", PASSWORD) as server,
        CmdlineScanner([PASSWORD, WRONG]) as scan,
    ):
        (server.root / "a.txt").write_text("x")
        panel.select_provider("webdav")
        panel.name_box.value = "mydav"
        fill(panel, url=server.url, user="dave", **{"pass": WRONG})
        click(panel, panel.connect_button)
        assert panel.message.level == "error"
        assert "wrong user name or password" in panel.message
        assert panel.inputs["pass"].value == "", "the password box was not cleared"
        assert panel.inputs["url"].value == server.url, "non-secret fields are kept for a retry"
        assert "mydav" not in config and panel.connections.options == ()
        assert_not_synced(panel, WRONG)

        fill(panel, **{"pass": PASSWORD})
        click(panel, panel.connect_button)
        assert panel.message.level == "success", panel.message.text
        assert "Connected" in panel.message and "1 item" in panel.message
        assert panel.inputs["pass"].value == ""
        assert panel.selected is not None and panel.selected.name == "mydav"
        assert [label for label, _ in panel.connections.options] == [panel.selected.title]
        obscured = config.sections()["mydav"]["pass"]
        assert_not_synced(panel, PASSWORD, WRONG, obscured)

        click(panel, panel.use_button)
        assert len(used) == 1 and isinstance(used[0], RcloneBackend)
        assert used[0].remote == "mydav:" and used[0].config == str(config.path)
        assert panel.backend is used[0] and "Using" in panel.message

        click(panel, panel.check_button)
        assert panel.message.level == "success" and "has 1 item" in panel.message

        panel.rename_box.value = "team-dav"
        click(panel, panel.rename_button)
        assert (
            config.names() == ["team-dav"]
            and panel.selected is not None
            and panel.selected.name == "team-dav"
        )

        click(panel, panel.forget_button)
        assert panel.forget_button.description == "Really forget?" and config.names() == ["team-dav"]
        assert panel.message.level == "warning"
        click(panel, panel.forget_button)
        assert config.names() == [] and panel.connections.options == ()
        assert "Forgot" in panel.message and panel.use_button.disabled
        text = config.path.read_text()
        assert obscured not in text and server.url not in text
        assert_not_synced(panel, PASSWORD, WRONG, obscured)
    assert scan.hits == []
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err and obscured not in out.out + out.err


def test_pasted_token_and_uploaded_key_are_cleared_even_when_refused(
    panel: ConnectPanel, config: RcloneConfig
) -> None:
    fill(panel, token="ya29.not-the-whole-token-PANEL")
    click(panel, panel.connect_button)
    assert panel.message.level == "error" and "not a token" in panel.message
    assert panel.inputs["token"].value == ""

    not_a_service_account = json.dumps(
        {"type": "authorized_user", "refresh_token": "1//UPLOADEDSECRET"}
    ).encode()
    upload(panel, not_a_service_account)
    assert uploaded_files(panel.upload)  # the browser's upload arrived
    click(panel, panel.connect_button)
    assert "not a service account key" in panel.message
    assert no_upload(panel)
    assert_not_synced(panel, "ya29.not-the-whole-token-PANEL", "1//UPLOADEDSECRET")
    assert config.connections() == []


def test_token_needs_pasting_with_the_command_in_the_message(panel: ConnectPanel) -> None:
    click(panel, panel.connect_button)
    assert panel.message.level == "error"
    assert 'rclone authorize "drive"' in panel.message


def test_expired_token_is_refused_in_words_and_not_synced(tmp_path: Path, home: Path) -> None:
    """rclone answers invalid_grant (an rclone stand-in: no network here); the token is gone from the widgets."""
    fake = tmp_path / "rclone"
    fake.write_text(
        "#!/bin/sh\n"
        'echo \'2026/01/01 00:00:00 CRITICAL: Failed to create file system: oauth2: "invalid_grant" '
        '"Token has been expired or revoked."\' >&2\n'
        "exit 1\n"
    )
    fake.chmod(0o755)
    config = RcloneConfig(program=str(fake))
    panel = ConnectPanel(config=config, include_user_config=False, threaded=False)
    try:
        fill(panel, client_id="42-own.apps.googleusercontent.com")
        assert panel.authorize_command == (
            'RCLONE_DRIVE_CLIENT_ID="42-own.apps.googleusercontent.com" '
            'RCLONE_DRIVE_CLIENT_SECRET="YOUR_CLIENT_SECRET" rclone authorize "drive"'
        )
        assert "RCLONE_DRIVE_CLIENT_ID" in panel.authorize_view.value
        fill(panel, token=f"Paste the following into your remote machine --->\n{TOKEN}\n<---End paste",
             client_secret="GOCSPX-own-client-secret")  # fmt: skip
        panel.connect()
        assert panel.message.level == "error"
        assert "expired or access was revoked" in panel.message
        assert "PANELTOKEN" not in panel.message.text and "PANELREFRESH" not in panel.message.text
        assert panel.inputs["token"].value == "" and panel.inputs["client_secret"].value == ""
        assert config.connections() == []
        assert_not_synced(panel, "ya29.PANELTOKEN", "1//PANELREFRESH", "GOCSPX-own-client-secret")
    finally:
        panel.close()


def test_mounted_connections_cannot_be_forgotten(config: RcloneConfig) -> None:
    config.add("busy", "webdav", {"url": "http://127.0.0.1:1/"}, provider="webdav")
    panel = ConnectPanel(config=config, include_user_config=False, in_use=lambda c: True, threaded=False)
    try:
        panel.select("busy")
        panel.forget(confirm=True)
        assert "is mounted" in panel.message and config.names() == ["busy"]
        panel.rename("other")
        assert "is mounted" in panel.message and config.names() == ["busy"]
    finally:
        panel.close()


def test_user_rclone_remotes_are_usable_not_editable(
    home: Path, config: RcloneConfig, used: list[Backend]
) -> None:
    theirs = home / ".config" / "rclone" / "rclone.conf"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("[theirs]\ntype = webdav\nurl = http://127.0.0.1:1/\n")
    box = MessageBox()
    panel = ConnectPanel(config=config, on_use=used.append, message=box, threaded=False)
    try:
        assert panel.message is box and box not in panel.children
        panel.select("theirs")
        assert panel.forget_button.disabled and panel.rename_button.disabled and not panel.use_button.disabled
        panel.use()
        assert isinstance(used[0], RcloneBackend) and used[0].config == str(theirs)
        panel.forget(confirm=True)
        assert "rclone config" in box and theirs.exists()
    finally:
        panel.close()


def test_on_use_failure_is_a_message(config: RcloneConfig) -> None:
    config.add("x", "webdav", {"url": "http://127.0.0.1:1/"})

    def boom(_: Backend) -> None:
        raise RuntimeError("swap failed")

    panel = ConnectPanel(config=config, include_user_config=False, on_use=boom, threaded=False)
    try:
        panel.select("x")
        panel.use()
        assert panel.message.level == "error" and "swap failed" in panel.message
    finally:
        panel.close()


# -- google-drive-ocamlfuse through the stand-in program (real FUSE mounts) -----------------------


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from ..backends._ocamlfuse_fixtures import cleanup_mount, fuse_problem, make_world

    if fuse_problem():
        pytest.skip(fuse_problem())
    world = make_world(tmp_path, monkeypatch)
    run = Path(tempfile.mkdtemp(prefix="dwc-"))  # short: unix socket paths are limited to 107 bytes
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    try:
        yield world
    finally:
        for check in run.glob("drivewidget-*/check-*/mnt"):
            cleanup_mount(check)
        shutil.rmtree(run, ignore_errors=True)


@pytest.mark.fuse
def test_ocamlfuse_state_file_upload_use_forget(world: Any, used: list[Backend]) -> None:
    from drivewidget.backends.ocamlfuse import OcamlfuseBackend

    from ..backends._ocamlfuse_fixtures import FAKE_PROGRAM, state_file_text

    refresh = "1//0gSTATE-UPLOAD-REFRESH-TOKEN"
    panel = ConnectPanel(
        config=RcloneConfig(program=rclone()), on_use=used.append, include_user_config=False,
        ocamlfuse={"program": str(FAKE_PROGRAM), "exit_timeout": 15.0}, threaded=False,
    )  # fmt: skip
    try:
        panel.select_provider("ocamlfuse")
        panel.name_box.value = "work"
        with CmdlineScanner([refresh]) as scan:
            upload(panel, state_file_text(refresh).encode(), name="state")
            panel.connect()
            assert panel.message.level == "success", panel.message.text
            assert "top folder" in panel.message and no_upload(panel)
            state = world.gdfuse_dir("work") / "state"
            assert oct(state.stat().st_mode & 0o777) == "0o600"
            assert panel.selected is not None and panel.selected.backend == "ocamlfuse"
            assert "signed in" in panel.selected.title
            assert_not_synced(panel, refresh)
            panel.use()
            assert isinstance(used[0], OcamlfuseBackend) and used[0].account == "work"
            panel.forget(confirm=True)
        assert scan.hits == []
        assert not world.gdfuse_dir("work").exists()
        assert panel.connections.options == ()
    finally:
        panel.close()


@pytest.mark.fuse
def test_ocamlfuse_service_account_and_loopback_sign_in(world: Any) -> None:
    from ..backends._ocamlfuse_fixtures import FAKE_PROGRAM

    key = world.service_account_key().read_bytes()
    panel = ConnectPanel(
        config=RcloneConfig(program=rclone()), include_user_config=False,
        ocamlfuse={"program": str(FAKE_PROGRAM), "exit_timeout": 15.0}, threaded=False,
    )  # fmt: skip
    try:
        panel.select_provider("ocamlfuse")
        panel.method.value = "service"
        panel.name_box.value = "robot"
        upload(panel, key)
        panel.connect()
        assert panel.message.level == "success", panel.message.text
        saved = world.gdfuse_dir("robot") / "service-account.json"
        assert oct(saved.stat().st_mode & 0o777) == "0o600"
        assert "PRIVATE KEY" not in synced_state(panel)
        assert panel.selected is not None and "service account" in panel.selected.title

        panel.method.value = "signin"
        panel.name_box.value = "me"
        fill(
            panel, client_id="123-abc.apps.googleusercontent.com", client_secret="GOCSPX-panel-client-secret"
        )
        click(panel, panel.signin_button)
        assert "accounts.google.com" in panel.signin_link.value or "http" in panel.signin_link.value, (
            panel.message.text
        )
        assert panel.inputs["client_secret"].value == ""
        panel.answer_box.value = "http://127.0.0.1:8080/oauth2callback?code=4/0AanSWERcode-panel&scope=x"
        panel.connect()
        assert panel.message.level == "success", panel.message.text
        assert panel.answer_box.value == ""
        assert_not_synced(panel, "GOCSPX-panel-client-secret", "4/0AanSWERcode-panel")
        assert {c.name for c in panel._listed.values()} == {"robot", "me"}
        config_file = world.gdfuse_dir("me") / "config"
        assert oct(config_file.stat().st_mode & 0o777) == "0o600"
    finally:
        panel.close()


def test_bad_state_upload_changes_nothing(tmp_path: Path, home: Path) -> None:
    from ..backends._ocamlfuse_fixtures import FAKE_PROGRAM

    panel = ConnectPanel(
        config=RcloneConfig(program=rclone()), include_user_config=False,
        ocamlfuse={"program": str(FAKE_PROGRAM)}, threaded=False,
    )  # fmt: skip
    try:
        panel.select_provider("ocamlfuse")
        panel.connect()
        assert "Upload the state file first" in panel.message
        upload(panel, b"client_id=abc\n", name="config")
        panel.connect()
        assert panel.message.level == "error" and "no refresh token" in panel.message
        assert not (home / ".gdfuse").exists() or not any((home / ".gdfuse").iterdir())
    finally:
        panel.close()
    assert os.environ.get("RCLONE_CONFIG") is None


def test_forget_that_cannot_write_the_config_is_a_message(config: RcloneConfig) -> None:
    config.add("x", "webdav", {"url": "http://127.0.0.1:1/"})
    panel = ConnectPanel(config=config, include_user_config=False, threaded=False)
    try:
        panel.select("x")
        lock = config.path.with_name(f".{config.path.name}.lock")
        lock.unlink(missing_ok=True)
        lock.mkdir()  # the lock cannot be opened: an OSError deep in the config code
        assert panel.forget(confirm=True) is False
        assert panel.message.level == "error" and "Cannot forget x" in panel.message
    finally:
        panel.close()
