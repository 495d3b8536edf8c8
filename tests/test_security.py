"""Security properties that hold for the whole package."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

import drivewidget
from drivewidget.settings import DriveSettings, write_private

PACKAGE = Path(drivewidget.__file__).resolve().parent


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


@pytest.mark.parametrize("module", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_shell_anywhere(module: Path) -> None:
    """Folder names and secrets never pass through a shell: no shell=True, os.system or os.popen."""
    tree = ast.parse(module.read_text())
    for call in _calls(tree):
        for keyword in call.keywords:
            if keyword.arg == "shell":
                assert isinstance(keyword.value, ast.Constant) and keyword.value.value is False, (
                    f"{module}:{call.lineno} uses shell=True"
                )
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "os":
            assert func.attr not in {"system", "popen"}, f"{module}:{call.lineno} uses os.{func.attr}"


def test_private_files_are_0600_even_with_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_private(tmp_path / "secret.conf", "token = x\n")
        DriveSettings(tmp_path).update(last_folder="a")
    finally:
        os.umask(old)
    assert (tmp_path / "secret.conf").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / ".drivewidget.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / ".drivewidget.json").read_text()) == {"last_folder": "a"}
    assert not list(tmp_path.glob(".*.tmp*"))  # no temp file left behind


def test_runtime_dir_is_private() -> None:
    from drivewidget.settings import runtime_dir

    assert runtime_dir().stat().st_mode & 0o777 == 0o700
