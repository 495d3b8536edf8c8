"""``python -m drivewidget status [--json]``: the panel's status on the command line; never mounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivewidget.cli import build_parser, main
from drivewidget.status.mounttable import find_mount

REQUIRED_KEYS = {"state", "backend", "mountpoint", "root", "cwd", "ram", "disk", "gpus"}


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    monkeypatch.setenv("DRIVEWIDGET_BACKEND", "local")
    monkeypatch.setenv("DRIVEWIDGET_SOURCE", str(source))
    monkeypatch.setenv("DRIVEWIDGET_MOUNTPOINT", str(tmp_path / "mnt"))
    return tmp_path


def test_status_json(local_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json", "--no-gpu"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= REQUIRED_KEYS
    assert data["state"] == "unmounted"
    assert data["mountpoint"] == str(local_env / "mnt")
    assert data["backend"].startswith("Local folder ")
    assert data["cwd"] == os.getcwd()
    for key in ("ram", "disk"):
        assert isinstance(data[key]["used"], int) and isinstance(data[key]["total"], int)
        assert 0 <= data[key]["used"] <= data[key]["total"]
    assert {"used", "total"} <= set(data["drive_disk"])
    assert data["gpus"] == []


def test_status_text(local_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--no-gpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Drive: Not mounted"
    assert lines[1].startswith("Backend: Local folder")
    assert any(line.startswith("RAM: ") and "used of" in line for line in lines)
    assert any(line.startswith("VM disk: ") for line in lines)
    assert any(line.startswith("Runtime: up ") for line in lines)
    assert lines[-1] == "GPU not queried (--no-gpu)."


def test_status_never_mounts(local_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json"]) == 0
    capsys.readouterr()
    assert not (local_env / "mnt").exists()
    assert find_mount(local_env / "mnt") is None


def test_status_without_a_backend(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRIVEWIDGET_BACKEND", "nosuchbackend")
    assert main(["status", "--json", "--no-gpu"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["state"] == "error" and "Unknown backend" in data["error"]
    assert set(data) >= REQUIRED_KEYS
    assert main(["status", "--no-gpu"]) == 0
    assert capsys.readouterr().out.startswith("Drive: Error: No drive backend: Unknown backend")


def test_timeout_option(local_env: Path) -> None:
    args = build_parser().parse_args(["status", "--timeout", "2.5"])
    assert args.timeout == 2.5 and not args.json


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "status" in out and "usage:" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("drivewidget ")


def test_python_dash_m(local_env: Path) -> None:
    """The real entry point, GPU query included (on a machine without a GPU: 'No GPU')."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(
        [sys.executable, "-m", "drivewidget", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= REQUIRED_KEYS
    assert isinstance(data["gpus"], list)
    assert data["gpus"] or data["gpu_message"].startswith("No GPU")
    text = subprocess.run(
        [sys.executable, "-m", "drivewidget", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Drive: Not mounted\n")
    assert "Traceback" not in text.stderr
