"""Connect: credentials hidden in addresses, and remote names that look like options.

A password typed inside an address must end up where passwords go (obscured in the 0600
config), never in the saved address, a label or the widget state that a notebook saves.
A remote's name comes from the user's rclone config, which may have been copied from
someone else: it must reach rclone as a name, never as one of rclone's own options.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from drivewidget.backends.rclone import RcloneBackend
from drivewidget.connect import RcloneConfig, check_remote, connect_rclone, get_provider
from drivewidget.connect.providers import describe_options
from drivewidget.errors import DriveError
from drivewidget.ui.connect import ConnectPanel
from tests.connect import serve_webdav, variants
from tests.ui.test_connect import assert_not_synced, click, fill

PASSWORD = "in-the-url s3cret/@:pw"


def test_password_inside_a_webdav_address_is_moved_to_the_password(
    tmp_path: Path, config: RcloneConfig
) -> None:
    """Issue 13, row 6: ``http://user:pw@host`` typed as the WebDAV address was saved as typed
    and shown in the saved-connections labels (widget state a notebook keeps). The password
    goes into ``pass`` (obscured), the user into ``user``; the address keeps neither."""
    with serve_webdav(tmp_path / "served", "dave", PASSWORD) as server:
        host = server.url.removeprefix("http://")
        done = connect_rclone(
            "webdav", "dav", {"url": f"http://dave:{quote(PASSWORD, safe='')}@{host}"}, config=config
        )
    saved = config.sections()["dav"]
    assert saved["url"] == server.url and saved["user"] == "dave"
    assert saved["pass"] and saved["pass"] != PASSWORD
    text = config.path.read_text()
    for needle in (*variants(PASSWORD), quote(PASSWORD, safe="")):
        assert needle not in text and needle not in done.connection.title and needle not in done.message
    assert "dave:" not in done.connection.title


def test_password_in_the_address_box_never_stays_in_widget_state(
    tmp_path: Path, config: RcloneConfig
) -> None:
    """Issue 13, row 6, in the panel: the address box is cleaned as soon as it is read."""
    panel = ConnectPanel(config=config, include_user_config=False, check_timeout=10)
    try:
        with serve_webdav(tmp_path / "served", "dave", PASSWORD) as server:
            host = server.url.removeprefix("http://")
            panel.select_provider("webdav")
            panel.name_box.value = "dav"
            fill(panel, url=f"http://dave:{quote(PASSWORD, safe='')}@{host}")
            click(panel, panel.connect_button)
            assert panel.message.level == "success", panel.message.text
        assert panel.inputs["url"].value in ("", server.url)  # the form is fresh after a success
        assert_not_synced(panel, PASSWORD, quote(PASSWORD, safe=""))
    finally:
        panel.close()


def test_password_in_an_address_of_a_hand_written_config_is_not_shown() -> None:
    """Attack: the user's own rclone config (perhaps copied from a colleague) holds
    ``url = https://me:pw@host``: the saved-connections label shows only the host."""
    summary = describe_options(get_provider("webdav"), {"url": "https://me:pw-123456@dav.example.com/x"})
    assert "pw-123456" not in summary and "me:" not in summary and "dav.example.com/x" in summary


@pytest.mark.parametrize(
    ("url", "clean", "user", "password"),
    [
        ("https://host/x", "https://host/x", "", ""),
        ("https://me@host:8080/x?y=1", "https://host:8080/x?y=1", "me", ""),
        ("http://me:p%40ss@[::1]:80/", "http://[::1]:80/", "me", "p@ss"),
        ("http://me:pw@host:notaport/", "http://host:notaport/", "", ""),
    ],
)
def test_url_credentials(url: str, clean: str, user: str, password: str) -> None:
    from drivewidget.connect.providers import url_credentials

    assert url_credentials(url) == (clean, user, password)


def test_address_with_a_password_where_the_service_takes_none_is_refused(config: RcloneConfig) -> None:
    """Where a provider has no password field, the address is refused, not saved with it."""
    from drivewidget.connect import InvalidConnection, Provider
    from drivewidget.connect.providers import Field

    provider = Provider(key="x", name="X", rclone_type="http", auth="keys", fields=(Field("url", "Address"),))
    with pytest.raises(InvalidConnection, match="holds a password") as info:
        connect_rclone(provider, "x", {"url": "https://me:pw-secret@host/"}, config=config, check=False)
    assert "pw-secret" not in str(info.value)


@pytest.fixture
def option_named_remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path, Path]:
    """A config (as a colleague might share it) whose remote is named like an rclone option:
    ``--cpuprofile=injected.prof`` makes rclone write that file (in its working folder)."""
    conf = tmp_path / "rclone.conf"
    conf.write_text("[--cpuprofile=injected.prof]\ntype = local\n")
    monkeypatch.chdir(tmp_path)
    return "--cpuprofile=injected.prof:", conf, tmp_path


def test_remote_named_like_an_option_is_not_an_option_to_rclone_mount(
    option_named_remote: tuple[str, Path, Path], mount_guard: list[str], home: Path
) -> None:
    """Issue 13, row 7: a remote named ``--cpuprofile=...`` (or ``--log-file=``, ``--config=``)
    reached ``rclone mount`` with no ``--`` before the positional arguments, so rclone took it
    as its own option (and wrote a file wherever the name said). It must stay a remote name."""
    from tests.conftest import _resume_and_reap, fuse_ready

    if not fuse_ready():
        pytest.skip("needs /dev/fuse and fusermount3")
    remote, conf, folder = option_named_remote
    backend = RcloneBackend(remote, config=conf, mount_timeout=10)
    mountpoint = str(folder / "mnt")
    mount_guard.append(mountpoint)
    try:
        with pytest.raises(DriveError):
            backend.mount(mountpoint)
    finally:
        _resume_and_reap(backend)
    assert not list(folder.glob("injected*"))


def test_remote_named_like_an_option_is_not_an_option_to_the_check(
    option_named_remote: tuple[str, Path, Path], home: Path
) -> None:
    """Issue 13, row 7, for the connection check (``rclone lsf``)."""
    remote, conf, folder = option_named_remote
    with pytest.raises(DriveError):
        check_remote(remote, config=conf, timeout=10)
    assert not list(folder.glob("injected*"))
