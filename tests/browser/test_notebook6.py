"""The panel in the classic Notebook 6 with ipywidgets 7's front end: how Colab draws widgets.

Colab's page renders widgets with the ipywidgets 7 protocol and 7.x controls, and its kernel
runs ipykernel 6.17 / IPython 7.34 / traitlets 5.7. This test runs where that stack is
installed (``make test-colab``: Notebook 6.5.7, widgetsnbextension 3.6.10 and the rest at
Colab's versions) and skips elsewhere. A widget class or attribute the 7.x front end lacks
shows up as a console error, so the page must log none.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import JupyterServer, NotebookUI, PanelUI, running_jupyter
from .notebooks import CWD_CELL, PANEL_CELL, PANEL_NOTEBOOK, PYTHON_CELL, SLEEP_CELL, SLEEP_SECONDS
from .test_lab import ExternalMount

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

LIVE_TIMEOUT_MS = 6_000
ACTION_TIMEOUT_MS = 45_000


def _classic_stack() -> str | None:
    """Why this environment cannot run the test, or None when it is Colab's front-end stack."""
    try:
        import ipywidgets
        import notebook
    except ImportError as exc:
        return f"needs the classic notebook: {exc}"
    if not (notebook.__version__.startswith("6.") and ipywidgets.__version__.startswith("7.")):
        return (
            f"needs Notebook 6 and ipywidgets 7 (Colab's front end), not notebook {notebook.__version__} "
            f"and ipywidgets {ipywidgets.__version__}: runs in `make test-colab`"
        )
    return None


@pytest.fixture(scope="module")
def classic_server() -> Iterator[JupyterServer]:
    """Classic Notebook 6 with the embedded local backend (a real bind mount as root)."""
    reason = _classic_stack()
    if reason:
        pytest.skip(reason)
    with running_jupyter("classic", "local") as server:
        yield server


class ClassicNotebookUI(NotebookUI):
    """A notebook in the classic Notebook 6 page (its own DOM: .cell, .input_prompt, ...)."""

    def open(self) -> ClassicNotebookUI:
        from playwright.sync_api import expect

        self.page.goto(self.server.notebook_url(self.name))
        expect(self.cells.first).to_be_visible(timeout=60_000)
        self.wait_for_kernel()
        return self

    def wait_for_kernel(self, timeout: float = 60.0) -> None:
        """Until the page's kernel indicator says idle (Notebook 6's server keeps reporting
        'starting' in /api/sessions until a cell runs, so the page is asked instead)."""
        self.wait_kernel_state("idle", timeout)

    def wait_kernel_state(self, state: str, timeout: float = 10.0) -> None:
        from playwright.sync_api import expect

        indicator = self.page.locator(f"#kernel_indicator_icon.kernel_{state}_icon")
        expect(indicator).to_have_count(1, timeout=timeout * 1000)

    @property
    def cells(self) -> Any:
        return self.page.locator("#notebook-container .cell")

    def prompt(self, index: int) -> str:
        return str(self.cell(index).locator(".input_prompt").inner_text()).strip()

    def start(self, index: int) -> str:
        before = self.prompt(index)
        self.cell(index).locator(".input_area").click()
        self.page.keyboard.press("Control+Enter")
        return before

    def run(self, index: int, timeout_ms: int = 30_000) -> Any:
        before = self.start(index)
        self.wait_finished(index, before, timeout_ms)
        return self.cell(index).locator(".output_area")

    def wait_finished(self, index: int, before: str, timeout_ms: int = 30_000) -> None:
        from playwright.sync_api import expect

        old = re.search(r"\d+", before)
        not_old = rf"(?!{old.group()}\])" if old else ""
        prompt = self.cell(index).locator(".input_prompt")
        expect(prompt).to_have_text(re.compile(rf"^\s*In\s*\[{not_old}\d+\]:\s*$"), timeout=timeout_ms)

    def output_text(self, index: int) -> str:
        return str(self.cell(index).locator(".output_area .output_text").last.inner_text()).strip()


@pytest.fixture
def classic_notebook(
    page: Any, page_errors: list[str], classic_server: JupyterServer
) -> Iterator[ClassicNotebookUI]:
    notebook = ClassicNotebookUI(page, classic_server, PANEL_NOTEBOOK, page_errors)
    yield notebook.open()
    with contextlib.suppress(OSError, ValueError):
        classic_server.shut_down(PANEL_NOTEBOOK)


def _option(panel: PanelUI, name: str) -> Any:
    return panel.folder_list.locator("option").filter(has_text=re.compile(rf"(^|\s){re.escape(name)}$"))


def test_panel_workflow_in_classic_notebook6(
    classic_server: JupyterServer, classic_notebook: ClassicNotebookUI, shot: Callable[..., Path]
) -> None:
    """Render with no widget error, live while a cell sleeps, Mount, choose by clicking, cwd, Unmount."""
    from playwright.sync_api import expect

    nb = classic_notebook
    scenario = classic_server.scenario
    mountpoint = str(scenario.mountpoint)
    chosen = os.path.join(mountpoint, "projects", "mnist")
    external = ExternalMount(scenario)
    try:
        # The kernel is this environment's Python (Colab's kernel stack, checked by make test-colab).
        nb.run(PYTHON_CELL)
        assert Path(nb.output_text(PYTHON_CELL)).parent == Path(sys.executable).parent

        # 1. Renders: every part, including the folder chooser (no Output widget).
        nb.run(PANEL_CELL)
        root = nb.cell(PANEL_CELL).locator(".output_area .drivewidget-panel")
        expect(root).to_be_visible()
        panel = PanelUI(root)
        expect(panel.state).to_contain_text("Not mounted")
        expect(panel.status).to_contain_text("RAM")
        expect(panel.button("Mount Drive")).to_be_enabled()
        expect(panel.button("Change folder")).to_be_hidden()
        shot("rendered")

        # 2. Live while another cell sleeps: a mount made behind the panel's back shows up.
        before = nb.start(SLEEP_CELL)
        nb.wait_kernel_state("busy")
        external.mount()
        expect(panel.state).to_contain_text(f"Mounted at {mountpoint}", timeout=LIVE_TIMEOUT_MS)
        assert nb.running(SLEEP_CELL), "the sleeping cell finished before the update arrived"
        shot("live-while-kernel-busy")
        nb.wait_finished(SLEEP_CELL, before, timeout_ms=(SLEEP_SECONDS + 20) * 1000)
        assert nb.output_text(SLEEP_CELL) == "slept"
        external.unmount()
        expect(panel.state).to_contain_text("Not mounted", timeout=LIVE_TIMEOUT_MS)

        # 3. Mount by clicking; the busy icon is one the 7.x button can take.
        panel.button("Mount Drive").click()
        expect(panel.state).to_contain_text(f"Mounted at {mountpoint}", timeout=ACTION_TIMEOUT_MS)
        expect(panel.button("Unmount")).to_be_enabled()
        assert external.in_mount_table()
        shot("mounted")

        # 4. Choose a folder by clicking in the chooser. An arrow key in its list only moves
        #    the highlight (ipyfilechooser opened the folder it landed on), here too.
        panel.button("Change folder").click()
        expect(_option(panel, "projects")).to_be_visible()
        panel.folder_list.focus()
        panel.folder_list.press("ArrowDown")
        nb.page.wait_for_timeout(800)  # a round trip to the kernel, were the folder opened
        expect(_option(panel, "projects")).to_be_visible()  # still at the root
        expect(_option(panel, "..")).to_have_count(0)
        _option(panel, "projects").click()
        expect(_option(panel, "mnist")).to_be_visible()
        _option(panel, "mnist").click()
        expect(_option(panel, "data")).to_be_visible()
        expect(panel.root).to_contain_text(f"Will choose: {chosen}")
        panel.button("Choose this folder").click()
        expect(panel.cwd).to_contain_text("projects/mnist")
        expect(panel.cwd).to_contain_text("saved on the drive")
        shot("folder-chosen")

        # 5. The next cell runs in the chosen folder.
        nb.run(CWD_CELL)
        assert nb.output_text(CWD_CELL) == chosen

        # 6. Unmount: not mounted, and the kernel left the drive.
        panel.button("Unmount").click()
        expect(panel.state).to_contain_text("Not mounted", timeout=ACTION_TIMEOUT_MS)
        assert not external.in_mount_table()
        nb.run(CWD_CELL)
        assert nb.output_text(CWD_CELL) == str(scenario.notebooks)
        shot("unmounted")
        nb.assert_no_page_errors()
    finally:
        external.close()
