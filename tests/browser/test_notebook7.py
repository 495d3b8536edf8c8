"""The panel in Notebook 7 (the classic-style UI on JupyterLab components), in a real Chromium."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .conftest import PanelUI, mounts_under
from .notebooks import PANEL_CELL, PANEL_NOTEBOOK

if TYPE_CHECKING:
    from .conftest import JupyterServer, NotebookUI

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ACTION_TIMEOUT_MS = 45_000


def test_panel_mounts_in_notebook7(
    notebook7_server: JupyterServer,
    open_notebook: Callable[[JupyterServer, str], NotebookUI],
    shot: Callable[..., Path],
) -> None:
    """The panel renders in Notebook 7, and its Mount and Unmount buttons reach the kernel."""
    from playwright.sync_api import expect

    scenario = notebook7_server.scenario
    mountpoint = str(scenario.mountpoint)
    nb = open_notebook(notebook7_server, PANEL_NOTEBOOK)
    expect(nb.page.locator("#jp-NotebookPanel, .jp-NotebookPanel").first).to_be_visible()

    nb.run(PANEL_CELL)
    root = nb.cell(PANEL_CELL).locator(".jp-OutputArea-output .drivewidget-panel")
    expect(root).to_be_visible()
    panel = PanelUI(root)
    expect(panel.state).to_contain_text("Not mounted")
    shot("rendered")

    panel.button("Mount Drive").click()
    expect(panel.state).to_contain_text(f"Mounted at {mountpoint}", timeout=ACTION_TIMEOUT_MS)
    expect(panel.button("Change folder")).to_be_enabled()
    assert any(mp == mountpoint for mp, _ in mounts_under(scenario.root)), "nothing in the mount table"
    shot("mounted")

    panel.button("Unmount").click()
    expect(panel.state).to_contain_text("Not mounted", timeout=ACTION_TIMEOUT_MS)
    assert not any(mp == mountpoint for mp, _ in mounts_under(scenario.root))
    shot("unmounted")
    nb.assert_no_page_errors()
