"""``python -m drivewidget keep-synced LOCAL DEST``: foreground job, Ctrl-C makes a final pass."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drivewidget import cli_sync
from drivewidget.cli import main
from drivewidget.controller import DriveController
from drivewidget.sync import SyncJob
from drivewidget.testing import FakeBackend

from .conftest import tree, wait_for

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake(fake_backend: FakeBackend, monkeypatch: pytest.MonkeyPatch, restore_cwd: None) -> FakeBackend:
    monkeypatch.setattr(cli_sync, "make_controller", lambda: DriveController(fake_backend))
    return fake_backend


def test_ctrl_c_makes_a_final_pass(
    fake: FakeBackend, local: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.mounted = True
    (local / "a.txt").write_text("a")

    def interrupted(job: SyncJob) -> None:
        assert wait_for(lambda: job.last_synced is not None)
        (local / "b.txt").write_text("written last")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_sync, "wait_for_interrupt", interrupted)
    assert main(["keep-synced", str(local), "project/run", "--every", "3600", "--settle", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "Keeping" in out and "Ctrl-C" in out
    assert "Final pass: Copied 1 file(s)" in out
    assert tree(Path(fake.folder) / "project" / "run") == tree(local)


def test_errors_exit_2_with_a_message(
    fake: FakeBackend, local: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keep-synced", str(local), "project/run"]) == 2
    assert "error: The drive is unmounted: mount it first" in capsys.readouterr().err
    fake.mounted = True
    assert main(["keep-synced", str(local), "/etc"]) == 2
    assert "outside the drive" in capsys.readouterr().err
    assert main(["keep-synced", str(local), "project/run", "--every", "0"]) == 2
    assert "every must be" in capsys.readouterr().err
    (local / "a-file").write_text("")
    assert main(["keep-synced", str(local / "a-file" / "run"), "project/run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is a file, not a folder" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


AS_BACKGROUND_JOB = ["sh", "-c", 'trap "" INT; exec "$@"', "sh"]
"""Runs the command after it with SIGINT ignored, as a shell starts ``cmd &``."""


def test_sigint_in_a_real_process_over_rclone(rclone_controller: DriveController, local: Path) -> None:
    """Started as a shell starts a background job (SIGINT ignored, as ``cmd &`` does): Ctrl-C
    or ``kill -INT`` still makes the final pass (it once never came, and the test hung when
    the suite itself ran in the background)."""
    ctrl = rclone_controller
    ctrl.mount()
    (local / "model.pt").write_bytes(os.urandom(100_000))
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        DRIVEWIDGET_BACKEND="rclone",
        DRIVEWIDGET_SOURCE=ctrl.backend.remote,  # type: ignore[attr-defined]
        DRIVEWIDGET_MOUNTPOINT=ctrl.mountpoint,
    )
    command = [
        sys.executable,
        "-m",
        "drivewidget",
        "keep-synced",
        str(local),
        "project/run",
        "--every",
        "0.5",
    ]
    proc = subprocess.Popen(
        [*AS_BACKGROUND_JOB, *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("Keeping ")
        target = Path(ctrl.root) / "project" / "run"
        assert wait_for(lambda: (target / "model.pt").exists(), timeout=30)
        (local / "late.txt").write_text("late")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Final pass: Copied" in out
    assert tree(target) == tree(local)
