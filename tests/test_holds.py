"""drivewidget.holds: guards refuse before any hold settles; unmount and remount ask both."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivewidget import DriveController
from drivewidget.errors import BackendUnavailable, Busy
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


def test_no_copy_or_job_starts_while_the_drive_is_going_away(
    controller: DriveController, tmp_path: Path
) -> None:
    """Second review: the guards are asked before the holds settle, and a final pass may
    take a while with the state still 'mounted'; a copy started meanwhile (a cell running
    during the unmount) was then unmounted under. Now it is refused until the unmount is over."""
    controller.mount()
    (Path(controller.root) / "src").mkdir()
    refused: list[str] = []

    class StartsACopy(FinalPass):
        def before_unmount(self, timeout: float) -> list[str]:
            for start in (
                lambda: controller.start_stage("src", tmp_path / "dest"),
                lambda: controller.keep_synced(tmp_path / "run", "src"),
            ):
                try:
                    start()
                except Busy as exc:
                    refused.append(str(exc))
            return super().before_unmount(timeout)

    controller.holds.add(StartsACopy())
    controller.unmount()
    assert controller.state == "unmounted" and len(refused) == 2
    assert all("being unmounted" in text for text in refused)
    assert not controller.holds.closing  # over: the next mount may start work again


def test_a_remount_refused_before_it_starts_settles_nothing(
    controller: DriveController, fake_backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second review: a force remount whose backend turned out unavailable had already made
    the final passes and stopped the keep-synced jobs, and then left the drive mounted."""
    controller.mount()
    hold = FinalPass()
    controller.holds.add(hold)

    def unavailable() -> None:
        raise BackendUnavailable("the tool went away")

    monkeypatch.setattr(fake_backend, "check_available", unavailable)
    with pytest.raises(BackendUnavailable):
        controller.mount(force=True)
    assert hold.settled == 0 and controller.state == "mounted" and not controller.holds.closing
