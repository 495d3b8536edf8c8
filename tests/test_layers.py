"""The package reads top-down: widgets -> controller -> features and backends -> status -> errors, text.

Issue 14: an import circle (controller <-> transfer) and imports running back up the layers
had crept in. This test reads every module's imports (those that run: ``TYPE_CHECKING``
blocks are for annotations only) and refuses any that points to a higher layer, and it
imports the whole core with ipywidgets blocked.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import drivewidget

PACKAGE = Path(drivewidget.__file__).parent
LAYERS: dict[str, int] = {
    # 0: leaves every layer may use
    "errors": 0, "text": 0, "timeouts": 0, "_env": 0, "settings": 0, "drivefs": 0,
    # 1: reading the machine and the drive, no policy
    "status": 1, "folders": 1, "holds": 1, "userpaths": 1,
    # 2: mechanism and features, each ignorant of the controller
    "backends": 2, "connect": 2, "transfer": 2, "sync": 2,
    # 3: the state machine and what builds on it
    "controller": 3, "remember": 3, "testing": 3, "demo": 3,
    # 4: the faces
    "ui": 4, "cli": 4, "cli_stage": 4, "cli_sync": 4, "__main__": 4, "_safe_start": 4, "__init__": 4,
}  # fmt: skip


def _layer(module: str) -> int:
    """``drivewidget.status.probe`` -> the layer of ``status``."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    return LAYERS.get(top, LAYERS["__init__"])  # ``from drivewidget import __version__``: the package


def _name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts) if len(parts) > 1 or parts[0] != "drivewidget" else "drivewidget"


def _runtime_imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every drivewidget import outside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    package = _name(path).split(".") if path.name == "__init__.py" else _name(path).split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names] if node.module is None else [target]
            found += [(node.lineno, n) for n in names if n.startswith("drivewidget")]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("drivewidget")]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_up_the_layers(path: Path) -> None:
    me = _name(path)
    mine = _layer(me)
    for line, target in _runtime_imports(path):
        assert _layer(target) <= mine, f"{me}:{line} imports {target}, a higher layer"


def test_the_core_imports_no_widgets() -> None:
    code = (
        "import sys; sys.modules['ipywidgets'] = None\n"
        "import drivewidget.controller, drivewidget.backends, drivewidget.connect, drivewidget.status.sample\n"
        "import drivewidget.text, drivewidget.timeouts, drivewidget.cli\n"
        "from drivewidget.backends import colab, rclone, ocamlfuse, local\n"
        "assert not [m for m in sys.modules if m.startswith('drivewidget.ui')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
