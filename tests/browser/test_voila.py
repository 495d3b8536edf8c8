"""The panel as a Voila app (the notebook rendered without code), in a real Chromium."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import PanelUI, mounts_under
from .notebooks import PANEL_NOTEBOOK

if TYPE_CHECKING:
    from .conftest import JupyterServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_panel_mounts_in_voila(notebook7_server: JupyterServer, page: Any, shot: Callable[..., Path]) -> None:
    """Voila (a server extension of the same Jupyter server) renders the panel; Mount works."""
    from playwright.sync_api import expect

    pytest.importorskip("voila")
    scenario = notebook7_server.scenario
    page.goto(f"{notebook7_server.base_url}/voila/render/{PANEL_NOTEBOOK}?token={notebook7_server.token}")
    root = page.locator(".drivewidget-panel")
    expect(root).to_be_visible(timeout=90_000)
    panel = PanelUI(root)
    expect(panel.state).to_contain_text("Not mounted", timeout=30_000)
    shot("voila-rendered")
    panel.button("Mount Drive").click()
    expect(panel.state).to_contain_text("Mounted at", timeout=45_000)
    expect(panel.status).to_contain_text("Drive", timeout=15_000)  # the live bars follow (drive space)
    assert mounts_under(scenario.root), "Mount in Voila did not reach the kernel"
    shot("voila-mounted")
    panel.button("Unmount").click()
    expect(panel.state).to_contain_text("Not mounted", timeout=45_000)
    assert not any(mp == str(scenario.mountpoint) for mp, _ in mounts_under(scenario.root))
