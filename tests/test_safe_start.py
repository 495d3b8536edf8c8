"""drivewidget._safe_start: which command lines keep imports out of their working folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import drivewidget
from drivewidget import _safe_start


@pytest.mark.parametrize(
    ("argv", "runs"),
    [
        (["python", "-m", "drivewidget", "status"], True),
        (["python", "-u", "-X", "dev", "-m", "drivewidget"], True),
        (["python", "-mdrivewidget", "status"], True),
        (["python", "-m", "drivewidget.cli"], False),
        (["python", "-m", "pytest", "drivewidget"], False),
        (["python", "script.py", "-m", "drivewidget"], False),
        (["python", "-c", "import drivewidget", "-m", "drivewidget"], False),
        (["python"], False),
    ],
)
def test_runs_package(argv: list[str], runs: bool) -> None:
    assert _safe_start.runs_package(argv) is runs


def test_install_claims_only_the_working_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    hooks = list(sys.path_hooks)
    monkeypatch.setattr(sys, "path_hooks", hooks)
    assert not _safe_start.install(["python", "-m", "pytest"]) and hooks == sys.path_hooks
    assert _safe_start.install(["python", "-m", "drivewidget"])
    hook = sys.path_hooks[0]
    assert hook(str(tmp_path)).find_spec("json") is None
    with pytest.raises(ImportError):
        hook("/usr/lib/python3")


def test_the_startup_file_is_installed_next_to_the_package() -> None:
    """``pip install`` (editable too) puts drivewidget-safe-start.pth into site-packages."""
    import site

    folders = [
        *site.getsitepackages(),
        site.getusersitepackages(),
        str(Path(drivewidget.__file__).parents[1]),
    ]
    assert any((Path(f) / "drivewidget-safe-start.pth").is_file() for f in folders), folders
