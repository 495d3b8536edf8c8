"""The shared settings file ``.drivewidget.json`` at the drive's root, as an attacker plants it.

Anyone who can write the drive can write this file, replace it with a link, a FIFO or a
device, or plant files next to it. Reading it must stay cheap and bounded, and writing it
must never write anywhere but that one name in the drive's root.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from drivewidget.remember import KEY, remember_folder, remembered_folder
from drivewidget.settings import SETTINGS_NAME, DriveSettings

from .conftest import AS_ROOT, Shared


def probe_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("drivewidget-probe") and t.is_alive()]


def settle_probes(timeout: float = 2.0) -> list[threading.Thread]:
    deadline = time.monotonic() + timeout
    while probe_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    return probe_threads()


def test_links_planted_at_guessable_temporary_names_are_never_written_through(shared: Shared) -> None:
    """Attack (issue 13, row 1): symlinks named like the settings file's temporary file
    (``..drivewidget.json.tmp<pid>`` for a range of pids) point at a file of the user's; a
    remembered folder that no longer exists makes the user's kernel rewrite the settings
    file when it mounts. The user's file must keep its content and mode."""
    victim = shared.secret
    victim.chmod(0o644)
    before = victim.read_bytes()
    pid = os.getpid()
    for guess in range(max(1, pid - 200), pid + 200):
        (shared.source / f".{SETTINGS_NAME}.tmp{guess}").symlink_to(victim)
    (shared.source / SETTINGS_NAME).write_text(json.dumps({KEY: "no-such-folder"}))

    offer = remembered_folder(shared.ctrl)  # what the panel does right after Mount
    assert "no longer exists" in offer.note
    assert remember_folder(shared.ctrl, str(shared.root / "project")) == ""

    assert victim.read_bytes() == before and victim.stat().st_mode & 0o777 == 0o644
    settings = shared.source / SETTINGS_NAME
    assert not settings.is_symlink() and json.loads(settings.read_text()) == {KEY: "project"}
    assert (shared.source / f".{SETTINGS_NAME}.tmp{pid}").is_symlink()  # left alone, not followed


def test_settings_file_linked_to_dev_zero_is_not_read(shared: Shared) -> None:
    """Attack (row 2): ``.drivewidget.json -> /dev/zero``. Reading it must not read without
    end (gigabytes a second); it is not a regular file of the drive, so it is ignored, and
    remembering a folder replaces the link with a real file."""
    (shared.source / SETTINGS_NAME).symlink_to("/dev/zero")
    started = time.monotonic()
    assert DriveSettings(shared.root).load() == {}
    assert remembered_folder(shared.ctrl).folder == ""
    assert time.monotonic() - started < 1.0 and not settle_probes()
    assert remember_folder(shared.ctrl, str(shared.root / "project")) == ""
    assert json.loads((shared.source / SETTINGS_NAME).read_text()) == {KEY: "project"}


def test_settings_file_as_a_fifo_blocks_nothing(shared: Shared) -> None:
    """Attack (row 2): ``.drivewidget.json`` is a FIFO nobody writes to. Opening it must not
    block: no probe thread may stay stuck (it would hold the drive's probe slot, so the drive
    would look stale and chdir would answer Busy)."""
    os.mkfifo(shared.source / SETTINGS_NAME)
    started = time.monotonic()
    offer = remembered_folder(shared.ctrl)
    assert offer.folder == "" and time.monotonic() - started < 1.0
    assert not settle_probes()
    assert shared.ctrl.refresh() == "mounted"
    assert shared.ctrl.chdir("project") == str(shared.root / "project")
    assert remember_folder(shared.ctrl, str(shared.root / "project")) == ""
    assert (shared.source / SETTINGS_NAME).is_file()


@pytest.mark.skipif(not AS_ROOT, reason="making a device node needs root")
def test_settings_file_as_a_device_node_is_ignored(shared: Shared) -> None:
    """Attack: a character device (a copy of /dev/zero's node) stands at the settings name."""
    os.mknod(shared.source / SETTINGS_NAME, 0o666 | 0o020000, os.makedev(1, 5))
    assert DriveSettings(shared.root).load() == {}
    assert remembered_folder(shared.ctrl).folder == "" and not settle_probes()


def test_huge_settings_file_is_not_read(shared: Shared) -> None:
    """Attack: a 4 GB (sparse) settings file. It is over the size cap, so not even read."""
    with open(shared.source / SETTINGS_NAME, "wb") as handle:
        handle.truncate(4 << 30)
    started = time.monotonic()
    assert DriveSettings(shared.root).load() == {}
    assert time.monotonic() - started < 0.5


def test_deeply_nested_json_does_not_break_remembering(shared: Shared) -> None:
    """Attack: ``[[[[...`` nested 30,000 deep (a RecursionError in the JSON parser). The file
    is treated as empty: remembering a folder still works, and replaces it."""
    (shared.source / SETTINGS_NAME).write_text("[" * 30_000 + "]" * 30_000)
    assert DriveSettings(shared.root).load() == {}
    assert remember_folder(shared.ctrl, str(shared.root / "project")) == ""
    assert remembered_folder(shared.ctrl).folder == str(shared.root / "project")


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe{not utf-8", b'"just a string"', b"[1, 2]", b'{"last_folder": 42}', b"1" * 5000],
    ids=["not-utf8", "string", "list", "not-a-path", "huge-number"],
)
def test_malformed_settings_are_ignored(shared: Shared, content: bytes) -> None:
    """Attack: settings that are not UTF-8, not an object, or hold a value of the wrong type."""
    (shared.source / SETTINGS_NAME).write_bytes(content)
    assert remembered_folder(shared.ctrl).folder == ""
    assert remember_folder(shared.ctrl, str(shared.root / "project")) == ""


def test_settings_name_taken_by_a_folder(shared: Shared) -> None:
    """Attack: a folder named ``.drivewidget.json``: nothing is read, remembering says why."""
    (shared.source / SETTINGS_NAME).mkdir()
    assert remembered_folder(shared.ctrl).folder == ""
    assert remember_folder(shared.ctrl, str(shared.root / "project")).startswith("not remembered")


def test_hard_link_to_a_file_of_the_user_keeps_that_file(shared: Shared) -> None:
    """Attack: the settings file is a hard link to a file of the user's (same filesystem).
    Writing settings replaces the name; the other file keeps its content."""
    victim = shared.secret
    try:
        os.link(victim, shared.source / SETTINGS_NAME)
    except OSError as exc:
        pytest.skip(f"cannot hard-link here: {exc.strerror}")
    before = victim.read_bytes()
    assert remember_folder(shared.ctrl, str(shared.root / "project")) == ""
    assert victim.read_bytes() == before
    assert json.loads((shared.source / SETTINGS_NAME).read_text()) == {KEY: "project"}


def test_settings_file_changing_while_read(shared: Shared) -> None:
    """Attack: the file is rewritten in place (truncated, half written) while it is read.
    Every read gives a mapping (maybe empty), never an exception."""
    path = shared.source / SETTINGS_NAME
    stop = threading.Event()

    def scribble() -> None:
        text = json.dumps({KEY: "project", "pad": "x" * 20_000}).encode()
        with open(path, "r+b" if path.exists() else "w+b") as handle:
            while not stop.is_set():
                handle.seek(0)
                handle.truncate()
                handle.write(text[: len(text) // 2])
                handle.flush()
                handle.write(text[len(text) // 2 :])
                handle.flush()

    path.write_text("{}")
    writer = threading.Thread(target=scribble, daemon=True)
    writer.start()
    try:
        settings = DriveSettings(shared.root)
        results = [settings.load() for _ in range(300)]
    finally:
        stop.set()
        writer.join(5)
    assert all(isinstance(r, dict) for r in results)
