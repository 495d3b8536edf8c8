"""drivewidget.holds: guards refuse before any hold settles; unmount and remount ask both."""

from __future__ import annotations

import pytest

from drivewidget import DriveController
from drivewidget.errors import Busy
from drivewidget.holds import Holds
from drivewidget.testing import FakeBackend


class FinalPass:
    """A hold like a keep-synced job: settling it does work and says so."""

    def __init__(self) -> None:
        self.settled = 0

    def describe(self) -> str:
        return "a final pass"

    def before_unmount(self, timeout: float) -> list[str]:
        self.settled += 1
        return ["final pass done"]


def refuse() -> None:
    raise Busy("Cannot unmount while a copy is running.")


def test_a_guard_refuses_before_any_hold_settles() -> None:
    """A hold added before the guard is not settled (a job stopped) for an unmount that a
    running copy then refuses."""
    holds = Holds()
    hold = FinalPass()
    holds.add(hold)
    remove_guard = holds.add_guard(refuse)
    with pytest.raises(Busy):
        holds.settle(5)
    assert hold.settled == 0
    remove_guard()
    remove_guard()  # safe twice
    assert holds.settle(5) == ["final pass done"] and hold.settled == 1
    assert len(holds) == 1 and list(holds) == [hold]


def test_unmount_refused_by_a_guard_leaves_everything_running(
    controller: DriveController, fake_backend: FakeBackend
) -> None:
    controller.mount()
    hold = FinalPass()
    controller.holds.add(hold)
    controller.holds.add_guard(refuse)
    with pytest.raises(Busy):
        controller.unmount()
    assert controller.state == "mounted" and hold.settled == 0 and "unmount" not in fake_backend.calls


@pytest.mark.parametrize("stale", [False, True])
def test_force_remount_asks_the_guards_and_settles_the_holds(
    controller: DriveController, fake_backend: FakeBackend, stale: bool
) -> None:
    """A remount unmounts first, so it is refused under a running copy, and work still
    writing to the drive settles first, as for Unmount."""
    controller.mount()
    fake_backend.stale = stale
    assert controller.refresh() == ("stale" if stale else "mounted")
    hold = FinalPass()
    controller.holds.add(hold)
    remove_guard = controller.holds.add_guard(refuse)
    calls = list(fake_backend.calls)
    with pytest.raises(Busy, match="copy is running"):
        controller.mount(force=True)
    assert fake_backend.calls == calls and hold.settled == 0 and "copy is running" in controller.error
    remove_guard()
    fake_backend.stale = False
    controller.mount(force=True)
    assert controller.state == "mounted" and hold.settled == 1
    assert "final pass done" in controller.message
