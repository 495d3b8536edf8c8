"""The panel's 'Keep in sync' section: start, watch, re-run shows the same job, stop with a final pass."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drivewidget.controller import DriveController
from drivewidget.sync import SyncJob, sync_jobs
from drivewidget.testing import FakeBackend
from drivewidget.ui.sync_view import SyncView

from .conftest import tree, wait_for


class Messages(list[tuple[str, str]]):
    def __call__(self, text: str, level: str) -> None:
        self.append((text, level))


@pytest.fixture
def mounted(controller: DriveController) -> DriveController:
    controller.mount()
    return controller


def start(view: SyncView, local: Path, every: int = 5) -> None:
    view.local_box.value = str(local)
    view.drive_box.value = "project/run"
    view.every_box.value = every
    view.toggle.value = True


def started(controller: DriveController, local: Path) -> tuple[SyncView, SyncJob]:
    """A section whose toggle started a job for ``local``."""
    view = SyncView(controller, Messages())
    start(view, local)
    assert view.job is not None
    return view, view.job


def test_toggle_starts_and_stops_with_a_final_pass(mounted: DriveController, local: Path) -> None:
    messages = Messages()
    view = SyncView(mounted, messages)
    assert not view.toggle.value and view.sync_now_button.disabled
    assert "Not running" in view.status.value
    (local / "a.txt").write_text("a")
    start(view, local)
    job = view.job
    assert job is not None and job.running and sync_jobs(mounted) == [job]
    assert view.local_box.disabled and not view.sync_now_button.disabled
    assert wait_for(lambda: "last synced" in view.status.value)
    (local / "b.txt").write_text("b")
    view.toggle.value = False
    assert wait_for(lambda: job.state == "stopped")
    assert wait_for(lambda: any("Final pass" in text for text, _ in messages))
    assert tree(Path(mounted.root) / "project" / "run") == tree(local)
    assert wait_for(lambda: not view.toggle.value and not view.local_box.disabled)
    view.close()


def test_running_the_cell_again_shows_the_running_job(
    mounted: DriveController, fake_backend: FakeBackend, local: Path
) -> None:
    _first, job = started(mounted, local)
    # the cell again: a new controller of the same drive, a new section
    again = DriveController(fake_backend)
    second = SyncView(again, Messages())
    assert second.job is job and second.toggle.value
    assert second.local_box.value == str(local)
    # the new controller's unmount makes its final pass, and so does the first one's still
    assert job in list(again.holds) and job in list(mounted.holds)
    assert again.sync_jobs == [job] == mounted.sync_jobs
    second.toggle.value = False  # and a second start would have returned the same job
    assert wait_for(lambda: job.state == "stopped")
    assert not sync_jobs()
    assert job not in list(again.holds) and job not in list(mounted.holds)


def test_a_section_of_another_backend_on_the_same_mountpoint_does_not_take_the_job(
    mounted: DriveController, local: Path, tmp_path: Path
) -> None:
    first, job = started(mounted, local)
    other = DriveController(FakeBackend(str(tmp_path / "elsewhere")), mountpoint=mounted.mountpoint)
    second = SyncView(other, Messages())
    assert second.job is None and not other.sync_jobs
    assert job not in list(other.holds)
    first.close()
    second.close()


def test_errors_are_messages_not_tracebacks(controller: DriveController, local: Path) -> None:
    messages = Messages()
    view = SyncView(controller, messages)  # not mounted
    start(view, local)
    assert not view.toggle.value and view.job is None
    assert messages[-1][1] == "error" and "mount it first" in messages[-1][0]


def test_a_local_folder_that_cannot_be_made_is_a_message(mounted: DriveController, local: Path) -> None:
    messages = Messages()
    view = SyncView(mounted, messages)
    (local / "a-file").write_text("")
    start(view, local / "a-file" / "run")
    assert messages[-1][1] == "warning" and "does not exist. Click Keep in sync again" in messages[-1][0]
    view.toggle.value = True  # yes, create it
    assert not view.toggle.value and view.job is None
    assert messages[-1][1] == "error" and "is a file, not a folder" in messages[-1][0]
    assert "Unexpected problem" not in messages[-1][0]
    view.close()


def test_short_colab_time_left_offers_sync_now(mounted: DriveController, local: Path) -> None:
    messages = Messages()
    view = SyncView(mounted, messages)
    sample: Any = SimpleNamespace(runtime=SimpleNamespace(colab=True, colab_left=3 * 3600.0))
    start(view, local)
    assert view.job is not None
    assert wait_for(lambda: view.job is not None and view.job.last_synced is not None)
    view.update(sample)
    assert view.warning.layout.display == "none"
    sample.runtime.colab_left = 600.0
    view.update(sample)
    assert view.warning.layout.display is None
    assert "of this Colab runtime left: the last pass was" in view.warning.value
    assert "Sync now" in view.warning.value
    assert messages[-1][1] == "warning"
    (local / "late.txt").write_text("late")
    view.sync_now_button.click()
    assert wait_for(lambda: (Path(mounted.root) / "project" / "run" / "late.txt").exists())
    assert wait_for(lambda: any(text.startswith("Synced now") for text, _ in messages))
    view.close()


def test_the_panel_offers_keep_in_sync_under_more(mounted: DriveController, local: Path) -> None:
    from drivewidget import DrivePanel

    panel = DrivePanel(mounted, live=False)
    try:
        view = panel.more.section("Keep in sync")
        assert isinstance(view, SyncView) and view.controller is mounted
        start(view, local)
        assert view.job is not None and mounted.sync_jobs == [view.job]
    finally:
        panel.close()


def test_nothing_is_started_on_a_folder_the_user_did_not_name(mounted: DriveController, local: Path) -> None:
    """Browser review: an empty local box started syncing ~/run, and a mistyped folder was
    created and reported as 'Watching', while the run wrote somewhere else."""
    messages = Messages()
    view = SyncView(mounted, messages)
    view.drive_box.value = "project/run"
    view.toggle.value = True
    assert not view.toggle.value and view.job is None and "Type the local folder" in messages[-1][0]
    typo = local / "nope" / "deeper"
    start(view, typo)
    assert not view.toggle.value and view.job is None and not typo.exists()
    assert "does not exist" in messages[-1][0] and messages[-1][1] == "warning"
    view.toggle.value = True  # asked, and clicked again: made, and said so
    job = view.job
    assert job is not None and typo.is_dir() and messages[-1][0].startswith(f"Created {typo}.")
    job.stop(flush=False)
    view.close()


@pytest.mark.parametrize("every", [0, -5, 10**12])
def test_an_interval_out_of_range_is_refused_in_words(
    mounted: DriveController, local: Path, every: int
) -> None:
    messages = Messages()
    view = SyncView(mounted, messages)
    start(view, local, every=every)
    assert view.job is None and not view.toggle.value
    assert "'every' must be between 5 s and" in messages[-1][0] and view.every_box.value == every
    view.close()


def test_an_undecodable_drive_folder_is_shown_escaped_and_used_as_it_is(
    mounted: DriveController, local: Path
) -> None:
    """Attack review: a drive folder whose name is not UTF-8 went into the box as it was, and
    the widget's state could not be sent to the browser. The box shows it escaped; starting
    again from the box still syncs into the real folder."""
    import json
    import os

    raw = os.path.join(os.fsencode(mounted.root), b"run-\xff")
    os.mkdir(raw)
    mounted.chdir(os.fsdecode(raw))
    view = SyncView(mounted, Messages())
    view.local_box.value = str(local)
    view.toggle.value = True
    job = view.job
    assert job is not None and job.dest == os.fsdecode(raw)
    for widget in (view.local_box, view.drive_box, view.status):
        json.dumps(widget.get_state(), ensure_ascii=False, default=str).encode("utf-8")
    assert view.drive_box.value.endswith("run-\\xff")
    job.stop(flush=True)
    view.toggle.value = True  # again, from what the box shows
    assert view.job is not None and view.job.dest == os.fsdecode(raw)
    view.job.stop(flush=False)
    view.close()


def test_start_on_a_drive_that_does_not_answer_touches_no_path_on_it(
    controller: DriveController, fake_backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second review: the 'does the local folder exist' question looked at a path on the
    drive (relative to a working folder there) before the drive was known to answer: on a
    hung FUSE mount that look never returns. Now the drive's refusal comes in words."""
    controller.mount()
    os.chdir(controller.root)  # the working folder chosen on the drive
    fake_backend.stale = True
    assert controller.refresh() == "stale"
    touched: list[str] = []
    real = os.path.lexists

    def lexists(path):  # type: ignore[no-untyped-def]
        full = os.path.abspath(path)
        if full.startswith(fake_backend.folder):
            touched.append(full)  # on a hung FUSE mount this call never returns
        return real(path)

    monkeypatch.setattr(os.path, "lexists", lexists)
    reports: list[tuple[str, str]] = []
    view = SyncView(controller, lambda text, level="info": reports.append((text, level)))
    view.local_box.value = "run"
    view.drive_box.value = "project/run"
    view.start()
    assert not touched, f"touched {touched} on a drive that does not answer; said {reports}"
    assert reports == [
        (
            "The drive does not answer (a stale mount): unmount it and mount it again, then start "
            "keeping run in sync.",
            "error",
        )
    ]
    view.close()
