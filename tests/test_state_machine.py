"""Property-based test: random clicks, commands and faults never break the controller's promises.

Drives a DrivePanel (clicks, selections) and its controller (scripted calls) over a
FakeBackend that can fail, hang, go stale or be unmounted behind our back.
"""

from __future__ import annotations

import os
import tempfile
import threading

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from drivewidget import DriveController, DriveError, DrivePanel
from drivewidget.controller import STATES, current_dir
from drivewidget.errors import AuthError, MountError, UnmountError
from drivewidget.status.mounttable import is_within
from drivewidget.testing import FakeBackend

FOLDERS = ["project", "project/data", "missing", "project/notes.txt", "..", "/"]
FAILURES = [None, AuthError("Authorisation was refused."), MountError("mount failed"), RuntimeError("boom")]


class PanelMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.home = os.getcwd()
        self.folder = tempfile.mkdtemp(prefix="dw-sm-")
        os.makedirs(os.path.join(self.folder, "project", "data"))
        with open(os.path.join(self.folder, "project", "notes.txt"), "w") as handle:
            handle.write("x")
        self.backend = FakeBackend(self.folder)
        self.ctrl = DriveController(self.backend)
        self.panel = DrivePanel(self.ctrl, live=False)

    def teardown(self) -> None:
        self.backend.hang.set()
        self.panel.close()
        os.chdir(self.home)
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)

    # -- user actions --------------------------------------------------------------

    @rule(
        readonly=st.booleans(),
        force=st.booleans(),
        failure=st.sampled_from(FAILURES),
        fail_flush=st.booleans(),
    )
    def click_mount(self, readonly: bool, force: bool, failure: Exception | None, fail_flush: bool) -> None:
        self.backend.fail_mount = failure  # type: ignore[assignment]
        if fail_flush:  # matters for a force remount, which unmounts first
            self.backend.fail_flush = UnmountError("3 files are still uploading; the drive stays mounted.")
        self.panel.readonly_box.value, self.panel.force_box.value = readonly, force
        self.panel.mount_button.click()  # a click never raises
        self.panel.wait()
        self.backend.fail_mount = self.backend.fail_flush = None
        if failure is not None and self.backend.calls and self.backend.calls[-1] == "mount":
            assert self.panel.message.text

    @rule(fail_flush=st.booleans())
    def click_unmount(self, fail_flush: bool) -> None:
        if fail_flush:
            self.backend.fail_flush = UnmountError("3 files are still uploading; the drive stays mounted.")
        self.panel.unmount_button.click()
        self.panel.wait()
        self.backend.fail_flush = None

    @rule()
    def double_click_mount(self) -> None:
        gate = threading.Event()
        self.backend.mount_delay = gate
        self.panel.mount_button.click()
        self.panel.mount_button.click()
        gate.set()
        self.panel.wait()
        self.backend.mount_delay = None

    @rule(folder=st.sampled_from(FOLDERS), add=st.booleans())
    def select(self, folder: str, add: bool) -> None:
        self.panel.sys_path_box.value = add
        try:
            self.panel.select(os.path.join(self.ctrl.root, folder))
        except DriveError:
            assert self.panel.message.text and self.panel.message.level == "error"

    @rule(folder=st.sampled_from(FOLDERS))
    def scripted_chdir(self, folder: str) -> None:
        try:
            self.ctrl.chdir(folder)
        except DriveError as exc:
            assert str(exc) and self.ctrl.error

    @rule()
    def scripted_unmount(self) -> None:
        try:
            self.ctrl.unmount()
        except DriveError:
            assert self.ctrl.error

    @rule()
    def click_refresh(self) -> None:
        self.panel.refresh_button.click()

    @rule()
    def run_the_panel_cell_again(self) -> None:
        """A new panel on the same controller (mounted or not) replaces the old one."""
        old, self.panel = self.panel, DrivePanel(self.ctrl, live=False)
        assert old.mount_button.comm is None  # the old one was closed

    # -- faults --------------------------------------------------------------------

    @precondition(lambda self: self.backend.mounted)
    @rule()
    def daemon_dies(self) -> None:
        self.backend.stale = True

    @rule()
    def unmounted_behind_our_back(self) -> None:
        self.backend.mounted = False
        self.backend.stale = False

    @precondition(lambda self: self.ctrl.state == "mounted")
    @rule()
    def working_folder_deleted(self) -> None:
        """The kernel works in a folder that is then deleted (a sync from another machine)."""
        doomed = os.path.join(self.folder, "project", "doomed")
        os.makedirs(doomed, exist_ok=True)
        try:
            self.ctrl.chdir(doomed)
        finally:
            os.rmdir(doomed)

    @precondition(lambda self: self.backend.mounted)
    @rule()
    def daemon_hangs_briefly(self) -> None:
        self.backend.hang.clear()
        try:
            assert self.ctrl.refresh() in ("stale", "mounting", "unmounting")
        finally:
            self.backend.hang.set()

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def state_is_documented(self) -> None:
        assert self.ctrl.state in STATES

    @invariant()
    def no_overlapping_backend_operations(self) -> None:
        assert self.backend.max_overlap <= 1

    @invariant()
    def matches_truth_after_refresh(self) -> None:
        state = self.ctrl.refresh()
        if self.backend.mounted:
            assert state in ("mounted", "stale")
        else:
            assert state in ("unmounted", "error")

    @invariant()
    def cwd_never_inside_an_unmounted_drive(self) -> None:
        if self.ctrl.state in ("unmounted", "error"):
            cwd = current_dir()
            assert cwd and not is_within(cwd, self.folder)

    @invariant()
    def never_left_busy(self) -> None:
        assert not self.ctrl.busy  # every action above has finished: no state stuck mid-way

    @invariant()
    def chooser_rooted_while_mounted(self) -> None:
        if self.ctrl.state == "mounted":
            assert self.panel.chooser.root == self.ctrl.root

    @invariant()
    def failures_leave_a_message(self) -> None:
        if self.ctrl.state == "error":
            assert self.ctrl.error and self.panel.message.text

    @invariant()
    def buttons_match_state(self) -> None:
        self.panel.refresh()
        state = self.ctrl.state
        assert self.panel.unmount_button.disabled == (state not in ("mounted", "stale"))
        assert self.panel.chooser.disabled == (state != "mounted")


@pytest.fixture(autouse=True)
def fast_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drivewidget.controller.REFRESH_TIMEOUT", 0.05)


TestPanelMachine = PanelMachine.TestCase
TestPanelMachine.settings = settings(
    max_examples=25,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_the_transition_table_is_enforced(controller: DriveController) -> None:
    """Issue 14: every move of ``state`` is one of TRANSITIONS; any other is refused as a bug."""
    from traitlets import TraitError

    from drivewidget.controller import TRANSITIONS

    assert set(TRANSITIONS) == set(STATES) and all(set(to) <= set(STATES) for to in TRANSITIONS.values())
    assert controller.state == "unmounted"
    with pytest.raises(TraitError, match="cannot go from 'unmounted' to 'unmounting'"):
        controller.state = "unmounting"
    assert controller.state == "unmounted"
    controller.mount()
    with pytest.raises(TraitError, match="cannot go from 'mounted' to 'mounting'"):
        controller.state = "mounting"
    controller.unmount()
    assert controller.state == "unmounted"
