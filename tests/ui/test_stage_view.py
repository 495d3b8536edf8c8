"""The panel's 'Copy to local disk' action: progress, result message, cancel, guards."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from drivewidget import DriveController, DrivePanel
from drivewidget.transfer import engine
from drivewidget.ui.tree import open_models
from tests.transfer import Slow, install_slow, leftovers


@pytest.fixture
def panel(controller: DriveController) -> DrivePanel:
    panel = DrivePanel(controller, live=False)
    panel.mount_button.click()
    panel.wait()
    yield panel
    panel.close()


def test_copy_disabled_until_a_drive_folder_is_chosen(controller: DriveController) -> None:
    panel = DrivePanel(controller, live=False)
    assert panel.stage.copy_button.disabled
    panel.mount_button.click()
    panel.wait()
    assert panel.stage.copy_button.disabled  # cwd is still on the VM disk
    panel.select(os.path.join(controller.root, "project"))
    assert not panel.stage.copy_button.disabled
    assert panel.stage.default_dest().endswith(os.path.join("local", "project"))
    panel.close()


def test_copy_to_local_disk(panel: DrivePanel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(panel.controller.root)
    (root / "project" / "data" / "a.bin").write_bytes(os.urandom(50_000))
    panel.select(str(root / "project"))
    panel.stage.dest_box.value = str(tmp_path / "local")
    held = threading.Event()  # the copy's writes wait here, so the running state can be seen
    monkeypatch.setattr(engine, "write_all", Slow(0, hook=lambda fd, data: held.wait(10)))
    panel.stage.copy_button.click()
    assert panel.stage.copy_button.disabled and not panel.stage.cancel_button.disabled
    held.set()
    panel.stage.wait()
    assert (tmp_path / "local" / "data" / "a.bin").read_bytes() == (
        root / "project" / "data" / "a.bin"
    ).read_bytes()
    assert (tmp_path / "local" / "notes.txt").read_text() == "hello"
    assert panel.stage.bar.value == 1.0
    assert panel.stage.label.value.startswith("Done")
    assert "Into " + str(tmp_path / "local") in panel.stage.label.value
    assert "Copied" not in panel.message.text  # the outcome is said once, in the section
    assert not panel.stage.copy_button.disabled and panel.stage.cancel_button.disabled
    panel.stage.copy_button.click()  # a re-run skips what is identical
    panel.stage.wait()
    assert "already identical" in panel.stage.label.value


def test_cancel_leaves_no_half_written_file(
    panel: DrivePanel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(panel.controller.root)
    for index in range(20):
        (root / "project" / f"big-{index}.bin").write_bytes(os.urandom(300_000))
    slow = install_slow(monkeypatch, delay=0.05)
    panel.select(str(root / "project"))
    panel.stage.dest_box.value = str(tmp_path / "local")
    transfer = panel.stage.start()
    assert transfer is not None and slow.started.wait(10)
    assert panel.stage.start() is None and "already running" in panel.message
    panel.stage.cancel_button.click()
    panel.stage.wait()
    assert transfer.cancelled
    assert not leftovers(tmp_path / "local")
    assert panel.message.level == "warning"


def test_bad_destination_is_explained(panel: DrivePanel, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    panel.select(os.path.join(panel.controller.root, "project"))
    panel.stage.dest_box.value = str(tmp_path / "file")
    panel.stage.copy_button.click()
    panel.stage.wait()
    assert panel.message.level == "error" and panel.message.text


def test_progress_shows_only_around_a_copy(panel: DrivePanel, tmp_path: Path) -> None:
    stage = panel.stage
    panel.select("project")
    assert stage.bar.layout.display == "none" and stage.cancel_button.layout.display == "none"  # no gap
    stage.dest_box.value = str(tmp_path / "local")
    stage.copy_button.click()
    stage.wait()
    assert stage.bar.layout.display != "none" and "Into " + str(tmp_path / "local") in stage.label.value
    panel.unmount_button.click()
    panel.wait()
    assert stage.transfer is None and stage.label.value == "" and stage.bar.layout.display == "none"


def test_an_undecodable_working_folder_is_sent_json_safe(panel: DrivePanel) -> None:
    """Attack: the chosen folder's name holds a byte that is not UTF-8 and an escape
    sequence; the default destination shown in the box (built from that name) must still
    be text the browser can receive. The copy itself keeps the real name."""
    raw = os.path.join(os.fsencode(panel.controller.root), b"data-\xff\x1b[2J")
    os.mkdir(raw)
    panel.select(os.fsdecode(raw))
    assert not panel.stage.copy_button.disabled
    for widget in open_models().values():
        json.dumps(widget.get_state(), ensure_ascii=False, default=str).encode("utf-8")
    assert "data-\\xff\\x1b[2J" in panel.stage.dest_box.placeholder
    assert panel.stage.default_dest().endswith(os.fsdecode(b"data-\xff\x1b[2J"))


def test_without_a_drive_folder_the_section_says_why_and_offers_the_way(controller: DriveController) -> None:
    """Not an empty section: one line says what is missing; Change folder when it can help."""
    panel = DrivePanel(controller, live=False)
    stage = panel.stage
    assert stage.layout.display != "none" and stage.copy_row.layout.display == "none"
    assert "Mount the drive" in stage.hint.value and stage.choose_button.layout.display == "none"
    panel.mount_button.click()
    panel.wait()
    assert (
        "Choose a folder on the drive first" in stage.hint.value and stage.hint_row.layout.display != "none"
    )
    assert stage.choose_button.layout.display != "none"
    stage.choose_button.click()
    assert panel.chooser.dialog_open
    panel.chooser.select("project")
    assert stage.hint_row.layout.display == "none" and stage.copy_row.layout.display != "none"
    panel.close()


def test_a_copy_that_went_wrong_is_the_panels_message(panel: DrivePanel, tmp_path: Path) -> None:
    root = Path(panel.controller.root)
    panel.select(str(root / "project"))
    blocker = tmp_path / "local"
    blocker.mkdir()
    (blocker / "notes.txt").mkdir()  # a folder where a file must go: that file fails
    panel.stage.dest_box.value = str(blocker)
    panel.stage.copy_button.click()
    panel.stage.wait()
    assert panel.message.level in ("warning", "error") and panel.message.text
