"""The remembered folder: a value in the shared settings file, so anyone can set it.

Only a folder of the drive is ever offered (as the chooser's "Remembered folder" button);
anything else is ignored without rewriting the shared file, which is not ours to change.
"""

from __future__ import annotations

import json
import os

import pytest

from drivewidget import DrivePanel
from drivewidget.remember import KEY, remembered_folder
from drivewidget.settings import SETTINGS_NAME

from .conftest import Shared


def plant(shared: Shared, value: object) -> bytes:
    data = json.dumps({KEY: value, "other": "kept"}).encode()
    (shared.source / SETTINGS_NAME).write_bytes(data)
    return data


@pytest.mark.parametrize("value", ["/etc", "../../etc", "..", "project/../../..", "a\0b"])
def test_remembered_paths_outside_the_drive_are_ignored(shared: Shared, value: str) -> None:
    """Attack (row 9): the remembered folder is ``/etc``, ``../../etc``, ``~``, or holds a NUL.
    Not offered, not called "no longer exists", and the shared file is not rewritten."""
    data = plant(shared, value)
    offer = remembered_folder(shared.ctrl)
    assert offer.folder == ""
    assert "no longer exists" not in offer.note
    assert "\0" not in offer.note
    assert (shared.source / SETTINGS_NAME).read_bytes() == data


def test_tilde_is_a_name_on_the_drive_not_the_home_folder(shared: Shared) -> None:
    """Attack: the remembered folder is ``~``: never expanded to the user's home folder."""
    plant(shared, "~")
    assert remembered_folder(shared.ctrl).folder == ""
    (shared.source / "~").mkdir()
    plant(shared, "~")
    assert remembered_folder(shared.ctrl).folder == os.path.join(shared.root, "~")


def test_remembered_link_out_of_the_drive_is_not_offered(shared: Shared) -> None:
    """Attack (row 9): ``etc`` on the drive is a symlink to /etc (here: to a folder of the
    user's), and the settings remember ``etc``. The panel must not offer it as the
    Remembered folder button; the shared file stays as it is."""
    (shared.source / "etc").symlink_to(shared.outside)
    data = plant(shared, "etc")
    offer = remembered_folder(shared.ctrl)
    assert offer.folder == "" and "outside the drive" in offer.note
    panel = DrivePanel(shared.ctrl, live=False)
    try:
        assert "Remembered folder" not in panel.chooser.quick_roots
    finally:
        panel.close()
    assert (shared.source / SETTINGS_NAME).read_bytes() == data


def test_remembered_link_inside_the_drive_is_offered(shared: Shared) -> None:
    """What must keep working: a link from one folder of the drive to another."""
    (shared.source / "latest").symlink_to("project/data")
    plant(shared, "latest")
    assert remembered_folder(shared.ctrl).folder == os.path.join(shared.root, "latest")


def test_missing_remembered_folder_is_forgotten(shared: Shared) -> None:
    """What must keep working: a folder of the drive that was deleted is forgotten."""
    plant(shared, "deleted/folder")
    offer = remembered_folder(shared.ctrl)
    assert offer.folder == "" and "no longer exists" in offer.note
    assert json.loads((shared.source / SETTINGS_NAME).read_text()) == {KEY: None, "other": "kept"}


def test_remembered_name_with_control_characters_is_shown_escaped(shared: Shared) -> None:
    """Attack: a remembered folder named with a newline and an escape sequence: shown escaped."""
    name = "evil\n\x1b[31mred"
    (shared.source / name).mkdir()
    plant(shared, name)
    offer = remembered_folder(shared.ctrl)
    assert offer.folder == os.path.join(shared.root, name)
    assert "\n" not in offer.note and "\x1b" not in offer.note
