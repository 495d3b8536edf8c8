"""DrivePanel widget tests: clicks and selections, asserted on controller state, cwd and messages."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from drivewidget import DriveController, DrivePanel
from drivewidget.backends import UnavailableBackend
from drivewidget.errors import AuthError, DriveError, InvalidMountpoint, NotMounted, UnmountError
from drivewidget.settings import SETTINGS_NAME
from drivewidget.testing import FakeBackend
from drivewidget.ui.panel import BUSY_ICON


@pytest.fixture
def panel(controller: DriveController) -> DrivePanel:
    panel = DrivePanel(controller)
    yield panel
    panel.close()


def click(panel: DrivePanel, button: str) -> None:
    getattr(panel, button).click()
    panel.wait()


def test_initial_state_unmounted(panel: DrivePanel) -> None:
    assert "Not mounted" in panel.state_view.value
    assert not panel.mount_button.disabled
    assert panel.unmount_button.disabled
    assert panel.chooser.disabled
    assert "stay on this machine, not on the drive" in panel.cwd_view.value  # not Colab: the disk keeps them


def test_mount_click(panel: DrivePanel, fake_backend: FakeBackend) -> None:
    click(panel, "mount_button")
    ctrl = panel.controller
    assert ctrl.state == "mounted"
    assert f"Mounted at {ctrl.mountpoint}" in panel.state_view.value
    assert "Mounted at" in panel.message
    assert panel.message.level == "success"
    assert panel.mount_button.disabled and not panel.unmount_button.disabled
    assert not panel.chooser.disabled


def test_unmount_click_moves_cwd_out(panel: DrivePanel) -> None:
    click(panel, "mount_button")
    panel.select(os.path.join(panel.controller.root, "project"))
    assert "on the drive" in panel.cwd_view.value
    click(panel, "unmount_button")
    assert panel.controller.state == "unmounted"
    assert not os.getcwd().startswith(panel.controller.root)
    assert "Not mounted" in panel.state_view.value
    assert panel.chooser.disabled


def test_panel_follows_controller_driven_from_code(panel: DrivePanel) -> None:
    panel.controller.mount()
    assert "Mounted at" in panel.state_view.value
    assert not panel.unmount_button.disabled
    panel.controller.unmount()
    assert "Not mounted" in panel.state_view.value


def test_buttons_show_progress_and_ignore_double_clicks(panel: DrivePanel, fake_backend: FakeBackend) -> None:
    gate = threading.Event()
    fake_backend.mount_delay = gate
    panel.mount_button.click()
    deadline = time.monotonic() + 5
    while panel.controller.state != "mounting" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert panel.mount_button.disabled and panel.mount_button.description == "Mounting..."
    assert panel.mount_button.icon == BUSY_ICON  # one name: ipywidgets 7 takes no more
    assert panel.unmount_button.disabled
    panel.mount_button.click()  # a queued second click arrives anyway
    assert (
        "Wait for it to finish" in panel.message and panel.message.level == "warning"
    )  # the controller's Busy
    gate.set()
    panel.wait()
    assert fake_backend.calls == ["mount"]
    assert panel.controller.state == "mounted"


def _tree(widget: object) -> list[object]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(_tree(child))
    return found


def test_panel_holds_only_what_the_ipywidgets7_front_end_draws(panel: DrivePanel) -> None:
    """No Output widget (classic Notebook 6 + widgetsnbextension 3.6 cannot create one), and
    every button icon is one Font Awesome name, also while busy (7's button takes no more)."""
    import ipywidgets

    for widget in _tree(panel):
        assert not isinstance(widget, ipywidgets.Output), widget
        if isinstance(widget, ipywidgets.Button):
            assert " " not in widget.icon.strip(), (widget.description, widget.icon)
    assert len(BUSY_ICON.split()) == 1


def test_force_remount_option(panel: DrivePanel, fake_backend: FakeBackend) -> None:
    click(panel, "mount_button")
    assert panel.mount_button.disabled
    panel.force_box.value = True
    assert not panel.mount_button.disabled and panel.mount_button.description == "Remount"
    click(panel, "mount_button")
    assert fake_backend.calls == ["mount", "flush", "unmount", "mount"]


def test_readonly_option(panel: DrivePanel) -> None:
    panel.readonly_box.value = True
    click(panel, "mount_button")
    assert panel.controller.readonly
    assert "read-only" in panel.state_view.value
    panel.select("project")
    assert "mounted read-only: nothing can be saved here" in panel.cwd_view.value
    assert panel.chooser._new_button.disabled and panel.chooser.make_folder("results") is None
    assert "mounted read-only" in panel.message


@pytest.mark.parametrize(
    "failure",
    [
        AuthError("Authorisation was refused. Run drive.mount once in a cell."),
        InvalidMountpoint("Cannot mount at /x: the folder already contains files."),
        RuntimeError("segfault in the cloud"),
    ],
)
def test_failing_backend_gives_message_not_traceback(
    panel: DrivePanel, fake_backend: FakeBackend, failure: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_backend.fail_mount = failure  # type: ignore[assignment]
    click(panel, "mount_button")  # must not raise
    assert panel.message.level == "error"
    assert str(failure) in panel.message
    assert "Traceback" not in panel.message.text
    assert panel.controller.state == "error"
    assert not panel.mount_button.disabled  # retry is possible
    assert "Traceback" not in capsys.readouterr().err


def test_unmount_failure_keeps_mount_and_says_so(panel: DrivePanel, fake_backend: FakeBackend) -> None:
    click(panel, "mount_button")
    fake_backend.fail_flush = UnmountError("2 files are still uploading; the drive stays mounted.")
    click(panel, "unmount_button")
    assert panel.controller.state == "mounted"
    assert "still uploading" in panel.message and panel.message.level == "error"


def test_stale_mount_explained_and_recovered(panel: DrivePanel, fake_backend: FakeBackend) -> None:
    click(panel, "mount_button")
    fake_backend.stale = True
    click(panel, "refresh_button")
    assert panel.controller.state == "stale"
    assert "disconnected" in panel.state_view.value
    assert "Click Unmount" in panel.state_view.value
    assert panel.mount_button.disabled and not panel.unmount_button.disabled
    assert panel.chooser.disabled
    click(panel, "unmount_button")
    click(panel, "mount_button")
    assert panel.controller.state == "mounted"


def test_hung_drive_refresh_says_not_responding(panel: DrivePanel, fake_backend: FakeBackend) -> None:
    click(panel, "mount_button")
    fake_backend.hang.clear()
    try:
        started = time.monotonic()
        click(panel, "refresh_button")
        assert time.monotonic() - started < 1.0
        assert "not responding" in panel.state_view.value
    finally:
        fake_backend.hang.set()


def test_unavailable_backend_lists_what_works(restore_cwd: None) -> None:
    ctrl = DriveController(UnavailableBackend("rclone is not installed."), mountpoint="/tmp/x-none")
    panel = DrivePanel(ctrl)
    assert panel.mount_button.disabled
    assert "rclone is not installed" in panel.message
    assert "Backends that work here:" in panel.message and "local" in panel.message.text
    panel.close()


def test_bad_environment_still_builds_a_panel(monkeypatch: pytest.MonkeyPatch, restore_cwd: None) -> None:
    monkeypatch.setenv("DRIVEWIDGET_BACKEND", "dropbox")
    panel = DrivePanel()
    assert "Unknown backend 'dropbox'" in panel.message
    assert panel.mount_button.disabled
    click(panel, "mount_button")  # a click that slips through (a stale front end) only explains again
    assert "Unknown backend 'dropbox'" in panel.message and panel.message.level == "error"
    assert panel.controller.state != "mounted"
    panel.close()


class TestSelect:
    def test_select_changes_cwd_and_remembers(self, panel: DrivePanel) -> None:
        click(panel, "mount_button")
        root = panel.controller.root
        panel.select(os.path.join(root, "project", "data"))
        assert os.getcwd() == os.path.join(root, "project", "data")
        assert panel.message.level == "success"
        settings = Path(root, SETTINGS_NAME)
        assert json.loads(settings.read_text())["last_folder"] == os.path.join("project", "data")
        assert settings.stat().st_mode & 0o777 == 0o600

    def test_sys_path_option(self, panel: DrivePanel) -> None:
        import sys

        click(panel, "mount_button")
        panel.sys_path_box.value = True
        panel.select(os.path.join(panel.controller.root, "project"))
        assert sys.path[0] == os.path.join(panel.controller.root, "project")

    @pytest.mark.parametrize(
        ("relative", "words"),
        [("missing", "no folder"), ("project/notes.txt", "is a file"), ("..", "outside the drive")],
    )
    def test_bad_selection_is_explained(self, panel: DrivePanel, relative: str, words: str) -> None:
        click(panel, "mount_button")
        before = os.getcwd()
        with pytest.raises(DriveError):
            panel.select(os.path.normpath(os.path.join(panel.controller.root, relative)))
        assert words in panel.message.text.lower() or words in panel.message.text
        assert panel.message.level == "error"
        assert os.getcwd() == before

    def test_select_when_unmounted_is_refused(self, panel: DrivePanel) -> None:
        with pytest.raises(NotMounted):
            panel.select(os.path.join(panel.controller.root, "project"))
        assert "Mount the drive" in panel.message

    def test_remembered_folder_offered_after_next_mount(
        self, controller: DriveController, fake_backend: FakeBackend
    ) -> None:
        first = DrivePanel(controller)
        click(first, "mount_button")
        first.select(os.path.join(controller.root, "project"))
        click(first, "unmount_button")
        first.close()
        second = DrivePanel(controller)  # e.g. after a VM reset: the setting lives in the drive
        click(second, "mount_button")
        assert "Last time you worked in" in second.message
        assert second.chooser.remembered == os.path.join(controller.root, "project")
        second.close()

    def test_remembered_folder_offered_when_the_drive_outlived_the_kernel(
        self, controller: DriveController, fake_backend: FakeBackend, drive_folder: Path
    ) -> None:
        """Browser review: after a kernel restart the mount is still there and the panel says
        "mounted", but nothing offered the remembered folder until Mount was clicked again."""
        first = DrivePanel(controller)
        click(first, "mount_button")
        first.select(os.path.join(controller.root, "project"))
        os.chdir(drive_folder.parent)  # the new kernel starts off the drive
        first.close()
        restarted = DriveController(fake_backend, mountpoint=controller.mountpoint)
        assert restarted.state == "mounted" and not restarted.message
        second = DrivePanel(restarted)
        assert "Last time you worked in" in second.message.text
        second.close()

    def test_missing_remembered_folder_is_dropped(
        self, controller: DriveController, fake_backend: FakeBackend
    ) -> None:
        Path(fake_backend.folder, SETTINGS_NAME).write_text(json.dumps({"last_folder": "gone/away"}))
        panel = DrivePanel(controller)
        click(panel, "mount_button")
        assert "no longer exists" in panel.message
        assert json.loads(Path(fake_backend.folder, SETTINGS_NAME).read_text())["last_folder"] is None
        panel.close()


def test_close_stops_observing(controller: DriveController) -> None:
    panel = DrivePanel(controller)
    panel.close()
    controller.mount()  # must not touch closed widgets
    assert controller.state == "mounted"


def test_connection_used_from_the_connect_panel(panel: DrivePanel, tmp_path: Path) -> None:
    other = FakeBackend(str(tmp_path))
    click(panel, "mount_button")
    with pytest.raises(DriveError, match="still mounted"):
        panel.use_backend(other)
    click(panel, "unmount_button")
    panel.use_backend(other)
    assert f"Fake drive {tmp_path}" in panel.title.value
    click(panel, "mount_button")
    assert other.calls == ["mount"]


def test_connect_not_offered_on_colab_backend() -> None:
    class ColabLike(FakeBackend):
        name = "colab"
        needs_browser_auth = True  # Colab signs in through the browser itself

    ctrl = DriveController(ColabLike("/tmp"))
    panel = DrivePanel(ctrl, live=False)
    with pytest.raises(KeyError):
        panel.more.section("Connect a cloud")
    assert panel.more.section("Copy to local disk") is panel.stage
    panel.close()


def test_closed_panel_leaves_no_open_widgets(controller: DriveController) -> None:
    """Saving a notebook's widget state must keep working after a panel is closed."""
    import ipywidgets

    panel = DrivePanel(controller, live=False)
    parts = [panel.mount_button, panel.stage.copy_button, panel.connect_panel, panel.chooser, panel.message]
    panel.close()
    assert all(part.comm is None for part in parts)
    ipywidgets.Widget.get_manager_state(drop_defaults=False)  # raised on a half-closed tree


def test_panel_on_an_already_mounted_drive_can_choose(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    """A kernel restart or the cell run again: the drive is mounted before the panel exists."""
    controller.mount()
    Path(fake_backend.folder, SETTINGS_NAME).write_text(json.dumps({"last_folder": "project"}))
    panel = DrivePanel(controller, live=False)
    try:
        assert panel.chooser.root == controller.root
        assert panel.chooser.remembered == os.path.join(controller.root, "project")
        assert panel.select("project/data") == os.path.join(controller.root, "project", "data")
    finally:
        panel.close()


def test_choice_refused_by_the_controller_is_not_shown_as_chosen(panel: DrivePanel) -> None:
    click(panel, "mount_button")
    root = panel.controller.root
    panel.select("project")
    os.mkdir(os.path.join(root, "vanishing"))
    panel.chooser.browse("vanishing")  # shown in the chooser, then removed behind its back
    os.rmdir(os.path.join(root, "vanishing"))
    panel.chooser._select.click()  # "Select" on the folder being browsed
    assert panel.message.level == "error" and "no folder" in panel.message.text
    assert panel.chooser.chosen == os.path.join(root, "project")  # the previous choice stays
    assert os.getcwd() == os.path.join(root, "project")


def test_running_the_cell_again_leaves_one_live_panel(controller: DriveController) -> None:
    from drivewidget.ui.live import running_updaters

    before = len(running_updaters())
    panels = [DrivePanel(controller, refresh_interval=60) for _ in range(3)]
    try:
        assert len(running_updaters()) == before + 1
        assert all(old.mount_button.comm is None for old in panels[:2])  # closed
        click(panels[-1], "mount_button")
        assert panels[-1].controller.state == "mounted"
    finally:
        panels[-1].close()


def test_default_panel_reuses_its_controller(
    monkeypatch: pytest.MonkeyPatch, drive_folder: Path, tmp_path: Path, restore_cwd: None
) -> None:
    from drivewidget.ui import panel as panel_module

    monkeypatch.setattr(panel_module, "_default_controllers", {})
    monkeypatch.setenv("DRIVEWIDGET_BACKEND", "local")
    monkeypatch.setenv("DRIVEWIDGET_SOURCE", str(drive_folder))
    monkeypatch.setenv("DRIVEWIDGET_MOUNTPOINT", str(tmp_path / "mnt"))
    first = DrivePanel(live=False)
    second = DrivePanel(live=False)
    try:
        assert second.controller is first.controller
        monkeypatch.setenv("DRIVEWIDGET_MOUNTPOINT", str(tmp_path / "elsewhere"))
        third = DrivePanel(live=False)
        assert third.controller is not first.controller
        third.close()
    finally:
        second.close()


def test_undecodable_folder_name_is_chosen_remembered_and_shown(panel: DrivePanel) -> None:
    click(panel, "mount_button")
    root = panel.controller.root
    name = os.fsdecode(b"caf\xe9")  # Latin-1 bytes: not UTF-8
    os.mkdir(os.path.join(root, name))
    panel.select(name)
    assert os.getcwd() == os.path.join(root, name)
    assert "not remembered" not in panel.message.text
    assert "caf\\xe9" in panel.message.text and "caf\\xe9" in panel.cwd_view.value
    json.dumps(panel.message.value, ensure_ascii=False).encode()  # what the comm sends
    click(panel, "unmount_button")
    click(panel, "mount_button")
    assert panel.chooser.remembered == os.path.join(root, name)


def test_in_colab_what_threads_changed_is_sent_again_from_the_main_thread(
    controller: DriveController, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Colab may drop widget updates sent from a thread (colabtools 3373); the after-cell tick
    on the main thread sends the live parts once more."""
    import ipywidgets

    panel = DrivePanel(controller, live=False)
    panel._thread_updates_may_be_lost = True  # as in_colab() sets it in Colab
    full: list[object] = []
    original = ipywidgets.Widget.send_state

    def recording(self: ipywidgets.Widget, key: object = None) -> None:
        if key is None:
            full.append(self)
        original(self, key)

    monkeypatch.setattr(ipywidgets.Widget, "send_state", recording)
    try:
        panel.stage, panel.chooser  # noqa: B018 - parts built on first use are resent too, once built
        full.clear()
        worker = threading.Thread(target=panel.live.tick_now)  # the live thread's tick
        worker.start()
        worker.join()
        assert full == []
        panel.live.tick_now()  # after a cell: main thread
        assert panel.state_view in full and panel.mount_button in full and panel.message in full
        assert panel.stage.layout in full and panel.chooser in full  # visibility lives in layouts
        full.clear()
        panel.live.tick_now()  # nothing new came from a thread
        assert full == []
    finally:
        panel.close()


def test_working_folder_deleted_under_the_panel(panel: DrivePanel, drive_folder: Path) -> None:
    click(panel, "mount_button")
    doomed = drive_folder / "project" / "doomed"
    doomed.mkdir()
    panel.select("project/doomed")
    doomed.rmdir()
    panel.refresh()  # renders without touching the deleted working directory
    assert "it was deleted" in panel.cwd_view.value and "choose a folder" in panel.cwd_view.value
    click(panel, "unmount_button")
    assert panel.controller.state == "unmounted" and os.getcwd() == panel.controller.cwd


def test_force_and_read_only_say_what_they_do(panel: DrivePanel) -> None:
    assert panel.force_box.disabled  # nothing mounted: nothing to force
    click(panel, "mount_button")
    panel.readonly_box.value = True  # applies to the next mount only: the panel says how
    assert "tick Force remount and click Remount" in panel.state_view.value
    panel.force_box.value = True
    assert panel.mount_button.description == "Remount"
    click(panel, "mount_button")
    assert panel.controller.readonly and not panel.force_box.value  # one-off: not left ticked
    assert panel.mount_button.disabled and "Force remount" not in panel.state_view.value


def test_unmounted_behind_the_panels_back_is_a_warning(panel: DrivePanel, fake_backend: FakeBackend) -> None:
    click(panel, "mount_button")
    panel.select("project")
    fake_backend.mounted = False
    panel.refresh()
    assert "unmounted outside drivewidget" in panel.message and panel.message.level == "warning"


def test_live_toggle_says_live_or_paused(controller: DriveController) -> None:
    panel = DrivePanel(controller, refresh_interval=60)
    try:
        assert panel.live_button.description == "Live"
        panel.pause()
        assert panel.live_button.description == "Paused" and panel.live.paused
        panel.resume()
        assert panel.live_button.description == "Live"
    finally:
        panel.close()


def test_a_chooser_error_is_cleared_by_the_next_good_move(panel: DrivePanel) -> None:
    click(panel, "mount_button")
    panel.chooser.browse("nope")
    assert panel.message.level == "error" and "There is no folder" in panel.message
    panel.chooser.browse("project")  # fixed: the error no longer applies
    assert panel.message.text == ""
    panel.chooser.browse("nope")
    click(panel, "refresh_button")
    panel.controller.chdir("project")  # something else speaks meanwhile: its message stays
    panel.chooser.browse("project")
    assert "Working directory" in panel.message


def test_sys_path_box_applies_to_the_folder_already_chosen(panel: DrivePanel) -> None:
    import sys

    click(panel, "mount_button")
    panel.select("project")
    folder = panel.controller.cwd
    assert folder not in sys.path
    panel.sys_path_box.value = True
    assert sys.path[0] == folder and "first on sys.path" in panel.message
    panel.sys_path_box.value = False
    assert folder not in sys.path


def test_a_panel_that_fails_halfway_leaves_its_controller_usable(
    controller: DriveController, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drivewidget.ui import panel as panel_module

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # e.g. the user interrupts the cell while it builds

    monkeypatch.setattr(panel_module, "MoreView", broken)
    with pytest.raises(KeyboardInterrupt):
        DrivePanel(controller)
    controller.mount()  # no observer of the half-built panel left behind
    assert controller.state == "mounted"


def test_running_a_default_panel_cell_again_closes_the_last_one(
    monkeypatch: pytest.MonkeyPatch, restore_cwd: None
) -> None:
    from drivewidget.ui.live import running_updaters

    monkeypatch.setenv("DRIVEWIDGET_BACKEND", "dropbox")  # detection fails: a new controller each time
    before = len(running_updaters())
    first = DrivePanel(refresh_interval=60)
    second = DrivePanel(refresh_interval=60)
    try:
        assert first.mount_button.comm is None and len(running_updaters()) == before + 1
    finally:
        second.close()


def test_unticking_sys_path_always_removes_it(panel: DrivePanel) -> None:
    import sys

    click(panel, "mount_button")
    panel.select("project")
    panel.sys_path_box.value = True
    folder = panel.controller.cwd
    os.chdir(os.path.dirname(panel.controller.mountpoint))  # the kernel moved off the drive
    panel.refresh()
    panel.sys_path_box.value = False
    assert folder not in sys.path


def test_a_failed_remount_does_not_leave_force_ticked(panel: DrivePanel, fake_backend: FakeBackend) -> None:
    click(panel, "mount_button")
    panel.force_box.value = True
    fake_backend.fail_mount = AuthError("refused")
    click(panel, "mount_button")
    assert panel.controller.state == "error"
    assert not panel.force_box.value and panel.force_box.disabled


@pytest.fixture
def focused(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The widgets asked to take the keyboard focus, in order (ipywidgets 8's focus message)."""
    import ipywidgets

    asked: list[object] = []
    monkeypatch.setattr(ipywidgets.DOMWidget, "focus", lambda self: asked.append(self), raising=False)
    return asked


def test_keyboard_focus_follows_the_next_action(panel: DrivePanel, focused: list[object]) -> None:
    """The focused button is hidden by its own click (Mount, Change folder, Unmount): the focus
    goes to the next action instead of the page, where the next Tab would reach Unmount."""
    click(panel, "mount_button")
    assert focused[-1] is panel.change_button
    panel.change_button.click()
    assert panel.chooser.dialog_open and focused[-1] is panel.chooser._dircontent
    panel.chooser._cancel.click()
    assert focused[-1] is panel.change_button
    click(panel, "unmount_button")
    assert focused[-1] is panel.mount_button
    # After the mount button hides, the next Tab lands on Change folder, not Unmount
    # (ipywidgets 7 has no focus message: the order of the controls does it there).
    line = list(panel.state_line.children)
    assert line.index(panel.mount_button) < line.index(panel.change_button) < line.index(panel.unmount_button)


def test_code_driving_the_controller_never_moves_the_focus(panel: DrivePanel, focused: list[object]) -> None:
    panel.controller.mount()
    panel.select(os.path.join(panel.controller.root, "project"))
    panel.controller.unmount()
    assert focused == []  # the user may be typing in another cell


def test_without_a_focus_message_the_panel_still_works(
    panel: DrivePanel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ipywidgets

    monkeypatch.delattr(ipywidgets.DOMWidget, "focus", raising=False)  # ipywidgets 7 (Colab)
    click(panel, "mount_button")
    panel.change_button.click()
    assert panel.chooser.dialog_open
    panel.chooser._cancel.click()
    click(panel, "unmount_button")
    assert panel.controller.state == "unmounted" and panel.message.level != "error"


def test_messages_say_only_what_the_state_line_does_not(controller: DriveController) -> None:
    """Each fact once: 'Mounted at', 'Unmounted' and the working folder are the state line's."""
    panel = DrivePanel(controller, live=False)
    click(panel, "mount_button")
    project = os.path.join(controller.root, "project")
    panel.select(project)  # remembered on the drive
    click(panel, "unmount_button")
    shown = panel.message.value
    assert "moved off the drive to" in shown and "relative paths now point to this machine" in shown
    assert "Unmounted" not in shown
    click(panel, "mount_button")  # the remembered folder is news; the mount itself is not
    shown = panel.message.value
    assert f"Last time you worked in {project}: choose it under 'Remembered folder'." in panel.message.text
    assert "Mounted at" not in shown and "Remembered folder" in shown
    panel.select(project)
    panel.close()
    again = DrivePanel(controller, live=False)  # the cell run again, working in that folder
    assert again.message.layout.display == "none", again.message.text  # nothing to add to line one
    again.close()


def test_what_happens_to_files_off_the_drive_depends_on_where_the_kernel_runs(
    controller: DriveController, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Colab's VM disk is wiped at a reset; a machine of your own keeps its files."""
    import drivewidget.ui.panel as panel_module

    for colab, words in ((True, "are lost when the VM resets"), (False, "stay on this machine")):
        monkeypatch.setattr(panel_module, "in_colab", lambda colab=colab: colab)
        panel = DrivePanel(controller, live=False)
        assert words in panel.cwd_view.value
        assert ("lost when the VM resets" in panel.cwd_view.value) == colab
        panel.close()


def test_the_chooser_opens_at_the_working_folder_set_from_code(panel: DrivePanel) -> None:
    click(panel, "mount_button")
    panel.select("project")  # chosen in the panel...
    target = panel.controller.chdir("project/data")  # ...then moved from a script
    panel.change_button.click()
    assert panel.chooser.dialog_open and panel.chooser.current == target
    panel.chooser._cancel.click()
    os.chdir(os.path.dirname(panel.controller.root))  # off the drive: the folder last chosen, as before
    panel.refresh()
    panel.change_button.click()
    assert panel.chooser.current == os.path.join(panel.controller.root, "project")
    assert panel.message.level != "error"


def test_the_state_line_names_the_root_as_the_chooser_does(panel: DrivePanel) -> None:
    click(panel, "mount_button")
    panel.select(panel.controller.root)
    assert (
        "<code" in panel.cwd_view.value and ">My Drive</code>" in panel.cwd_view.value
    )  # not the folder's name
    os.mkdir(os.path.join(panel.controller.root, " lead "))
    panel.select(" lead ")
    assert "&quot; lead &quot;" in panel.cwd_view.value  # the spaces at its edges are seen
