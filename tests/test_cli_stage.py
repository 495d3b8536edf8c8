"""``stage`` / ``sync-back`` on the command line: progress bar on stderr, summary, exit status."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivewidget import cli_stage
from drivewidget.cli_stage import add_stage_parser
from drivewidget.controller import DriveController
from drivewidget.testing import FakeBackend
from tests.transfer import contents, make_tree


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="drivewidget")
    add_stage_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def fake(
    fake_backend: FakeBackend, drive_folder: Path, monkeypatch: pytest.MonkeyPatch, restore_cwd: None
) -> FakeBackend:
    make_tree(drive_folder / "project" / "data")
    monkeypatch.setattr(cli_stage, "make_controller", lambda: DriveController(fake_backend))
    return fake_backend


def test_stage_prints_a_bar_and_a_summary(
    fake: FakeBackend, drive_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.mounted = True
    assert run(["stage", "project/data", str(tmp_path / "local")]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Copied ") and "0 failed" in out
    assert "files" in err and "B" in err  # tqdm's bar: bytes and file counts
    assert contents(tmp_path / "local") == contents(drive_folder / "project" / "data")
    assert run(["stage", "-q", "--json", "project/data", str(tmp_path / "local")]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["copied"] == 0 and data["skipped"] > 20 and data["ok"] is True and err == ""


def test_stage_errors_exit_2_with_a_message(
    fake: FakeBackend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["stage", "project", str(tmp_path / "x")]) == 2
    assert "error: The drive is not mounted" in capsys.readouterr().err
    fake.mounted = True
    assert run(["stage", "nope", str(tmp_path / "x")]) == 2
    assert "There is nothing at" in capsys.readouterr().err
    assert run(["stage", "project", str(tmp_path / "x"), "--workers", "0"]) == 2
    assert "workers must be between" in capsys.readouterr().err


def test_mount_flag_mounts_first(
    fake: FakeBackend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["stage", "--mount", "-q", "project/notes.txt", str(tmp_path / "n.txt")]) == 0
    assert fake.mounted and (tmp_path / "n.txt").read_text() == "hello"


def test_sync_back(
    fake: FakeBackend, drive_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.mounted = True
    results = tmp_path / "results"
    make_tree(results)
    assert run(["sync-back", "--no-flush", "-q", str(results), "project/results"]) == 0
    assert "flush" not in fake.calls
    assert contents(drive_folder / "project" / "results") == contents(results)
    (results / "plain.txt").write_text("v2")
    assert run(["sync-back", str(results), "project/results"]) == 0
    assert "flush" in fake.calls and "Copied 1 file(s)" in capsys.readouterr().out


def test_failed_files_exit_1(
    fake: FakeBackend, drive_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.mounted = True
    local = tmp_path / "local"
    (local / "plain.txt").mkdir(parents=True)  # a folder where the drive has a file
    assert run(["stage", "-q", "project/data", str(local)]) == 1
    out, err = capsys.readouterr()
    assert "1 failed" in out and "plain.txt: the destination has a folder" in err


def test_python_m_drivewidget_stage(tmp_path: Path, mount_guard: list[str]) -> None:
    from drivewidget.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    if "stage" not in commands.choices:
        pytest.skip("drivewidget.cli does not register the stage command yet")
    source = tmp_path / "source"
    make_tree(source / "data")
    env = {
        **os.environ,
        "DRIVEWIDGET_BACKEND": "local",
        "DRIVEWIDGET_SOURCE": str(source),
        "DRIVEWIDGET_MOUNTPOINT": str(tmp_path / "mnt"),  # a bind mount as root: removed afterwards
    }
    mount_guard.append(str(tmp_path / "mnt"))
    proc = subprocess.run(
        [sys.executable, "-m", "drivewidget", "stage", "--mount", "data", str(tmp_path / "local")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Copied" in proc.stdout and "files" in proc.stderr
    assert contents(tmp_path / "local") == contents(source / "data")


def test_unconfirmed_upload_exits_3_and_kept_newer_files_4(
    fake: FakeBackend, drive_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from drivewidget.errors import UnmountError

    fake.mounted = True
    (tmp_path / "r.txt").write_text("result")
    fake.fail_flush = UnmountError("rclone is not answering")
    assert run(["sync-back", "-q", str(tmp_path / "r.txt"), "project/"]) == 3  # `&& shutdown` must not run
    assert "upload could not be confirmed" in capsys.readouterr().err
    os.utime(tmp_path / "r.txt", (1_000_000_000, 1_000_000_000))
    (drive_folder / "project" / "r.txt").write_text("newer on the drive")
    assert run(["sync-back", "-q", str(tmp_path / "r.txt"), "project/"]) == 4  # kept: a script can tell
    assert "newer at the destination" in capsys.readouterr().out
    assert run(["sync-back", "-q", "--overwrite-newer", str(tmp_path / "r.txt"), "project/"]) == 0
    assert (drive_folder / "project" / "r.txt").read_text() == "result"
