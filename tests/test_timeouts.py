"""drivewidget.timeouts: one set of deadlines, each documented, used by every module it names."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import drivewidget
from drivewidget import timeouts

PACKAGE = Path(drivewidget.__file__).parent


def _documented(path: Path) -> dict[str, str]:
    """Each module-level constant and the docstring under it."""
    body = ast.parse(path.read_text()).body
    found: dict[str, str] = {}
    for node, after in zip(body, [*body[1:], None], strict=True):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            doc = (
                after.value.value
                if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                else ""
            )
            found[node.targets[0].id] = str(doc)
    return found


def test_every_timeout_says_why() -> None:
    docs = _documented(Path(timeouts.__file__))
    assert set(timeouts.__all__) <= set(docs)
    for name in timeouts.__all__:
        assert len(docs[name].split()) >= 8, f"{name} needs a docstring that gives the reason"
        value = getattr(timeouts, name)
        assert isinstance(value, float) and value > 0


def test_the_waits_are_ordered() -> None:
    """A command outwaits a refresh; a deliberate call outwaits a look; a look outwaits a sample."""
    assert timeouts.COMMAND_WAIT > 2 * timeouts.REFRESH_TIMEOUT
    assert timeouts.SAMPLE_TIMEOUT <= timeouts.PROBE_TIMEOUT < timeouts.SETTINGS_TIMEOUT < timeouts.FS_TIMEOUT
    assert timeouts.FS_TIMEOUT < timeouts.CHECK_TIMEOUT and timeouts.FS_TIMEOUT < timeouts.HOLD_TIMEOUT


def _sources() -> list[Path]:
    """Every module but timeouts.py itself."""
    return [path for path in sorted(PACKAGE.rglob("*.py")) if path != PACKAGE / "timeouts.py"]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_second_copy_of_a_timeout(path: Path) -> None:
    """A deadline named like one of timeouts.py's is imported from there, never written again
    (the controller once waited 5 s for what the copier waited 10 s)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                assert not (isinstance(target, ast.Name) and target.id in timeouts.__all__), (
                    f"{path.name} sets {target.id} = {node.value.value}: import it from drivewidget.timeouts"
                )


def test_modules_use_the_shared_values() -> None:
    controller = importlib.import_module("drivewidget.controller")
    sample = importlib.import_module("drivewidget.status.sample")
    probe = importlib.import_module("drivewidget.status.probe")
    chooser = importlib.import_module("drivewidget.ui.chooser")
    assert (
        controller.FS_TIMEOUT == timeouts.FS_TIMEOUT
        and controller.REFRESH_TIMEOUT == timeouts.REFRESH_TIMEOUT
    )
    assert sample.DRIVE_TIMEOUT == timeouts.SAMPLE_TIMEOUT and probe.DEFAULT_TIMEOUT == timeouts.PROBE_TIMEOUT
    assert chooser.DEFAULT_TIMEOUT == timeouts.FS_TIMEOUT  # a chooser listing is deliberate
