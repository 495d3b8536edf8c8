"""A panel on a second controller of the same drive (the cell run again, More never opened)
holds the running keep-synced jobs: its Unmount makes their final pass (second review: the
drive went away under the job)."""

from __future__ import annotations

from pathlib import Path

from drivewidget.controller import DriveController
from drivewidget.testing import FakeBackend
from drivewidget.ui.panel import DrivePanel

from .conftest import wait_for


def test_unmount_from_a_new_panel_makes_the_running_jobs_final_pass(
    controller: DriveController, fake_backend: FakeBackend, local: Path
) -> None:
    controller.mount()
    job = controller.keep_synced(local, "project/run", every=3600, settle=0.1, settle_wait=1.0)
    assert wait_for(lambda: job.last_synced is not None)
    panel = DrivePanel(DriveController(fake_backend), live=False)  # the cell run again
    try:
        (local / "ckpt.pt").write_bytes(b"last checkpoint")
        panel.controller.unmount()
        assert job.state == "stopped", "the drive went away under a running job"
        assert (Path(fake_backend.folder) / "project" / "run" / "ckpt.pt").exists()
    finally:
        panel.close()


def test_line_one_says_a_folder_is_kept_in_sync(
    controller: DriveController, fake_backend: FakeBackend, local: Path
) -> None:
    """Browser review: a running job was visible only with More open."""
    panel = DrivePanel(controller, live=False)
    try:
        panel.mount_button.click()
        panel.wait()
        assert "in sync" not in panel.cwd_view.value
        job = controller.keep_synced(local, "project/run", every=3600, settle=0.1, settle_wait=1.0)
        panel.refresh()  # what each live tick does
        assert "keeping a folder in sync" in panel.cwd_view.value
        assert "project/run" in panel.cwd_view.value  # the job's status, on hover
        job.stop(flush=False)
        panel.refresh()
        assert "in sync" not in panel.cwd_view.value
    finally:
        panel.close()
