"""demo.ipynb runs top to bottom with no cloud account and no error output."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

DEMO = Path(__file__).resolve().parent.parent / "demo.ipynb"


def test_demo_has_kernelspec() -> None:
    notebook = nbformat.read(DEMO, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_demo_runs_without_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mount_guard: list[str]
) -> None:
    mountpoint = tmp_path / "drive"
    mount_guard.append(str(mountpoint))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("DRIVEWIDGET_MOUNTPOINT", str(mountpoint))
    monkeypatch.delenv("DRIVEWIDGET_BACKEND", raising=False)
    monkeypatch.delenv("DRIVEWIDGET_SOURCE", raising=False)
    (tmp_path / "home").mkdir()
    notebook = nbformat.read(DEMO, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error" or output.get("name") == "stderr"
    ]
    assert errors == []
    texts = [
        "".join(o.get("text", "") for o in cell.get("outputs", []))
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]
    assert any(os.path.join("projects", "mnist") in text for text in texts)
    assert any("InvalidPath" in text for text in texts)
    assert any(text.startswith("Drive: ") for text in texts), "the status command printed nothing"
    assert not any("No module named" in text or "Traceback" in text for text in texts)
    widget_views = [
        o
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widget_views, "the panel was not displayed"
