"""The panel in JupyterLab, driven the way a person uses it, in a real Chromium.

Runs once with the embedded local backend (a real bind mount, as root) and once with rclone
on a real FUSE mount of a local "cloud" folder (see ``lab_server`` in conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import VENV_BIN, PanelUI, Scenario, mounts_under
from .notebooks import (
    CWD_CELL,
    DEMO_NOTEBOOK,
    PANEL_CELL,
    PANEL_NOTEBOOK,
    PYTHON_CELL,
    SLEEP_CELL,
    SLEEP_SECONDS,
    demo_cell_count,
    demo_code_cells,
)

if TYPE_CHECKING:
    from .conftest import JupyterServer, NotebookUI

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

LIVE_TIMEOUT_MS = 6_000
"""How long a change made behind the panel's back may take to show (refresh_interval=1)."""
ACTION_TIMEOUT_MS = 45_000
"""Mount and Unmount clicks (rclone: start the daemon; flush, then unmount)."""


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


class ExternalMount:
    """Mount and unmount the scenario's drive behind the panel's back (as another program would)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.mountpoint = str(scenario.mountpoint)
        self.process: subprocess.Popen[bytes] | None = None

    def in_mount_table(self) -> bool:
        return any(mp == self.mountpoint for mp, _ in mounts_under(self.scenario.root))

    def mount(self) -> None:
        os.makedirs(self.mountpoint, exist_ok=True)
        if self.scenario.backend == "local":
            subprocess.run(
                ["mount", "--bind", str(self.scenario.source), self.mountpoint], check=True, timeout=10
            )
            return
        rclone = str(VENV_BIN / "rclone") if (VENV_BIN / "rclone").exists() else shutil.which("rclone")
        assert rclone is not None
        root = self.scenario.root
        self.process = subprocess.Popen(
            [rclone, "mount", str(self.scenario.source), self.mountpoint, "--vfs-cache-mode", "off",
             "--cache-dir", str(root / "external-cache"), "--log-file", str(root / "external-rclone.log")],
            env={**self.scenario.env, "RCLONE_CONFIG": str(root / "external-rclone.conf")},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not self.in_mount_table():
            assert self.process.poll() is None, (root / "external-rclone.log").read_text()
            assert time.monotonic() < deadline, "rclone did not mount within 30 s"
            time.sleep(0.05)

    def unmount(self) -> None:
        argv = (
            ["umount", self.mountpoint]
            if self.scenario.backend == "local"
            else ["fusermount3", "-u", self.mountpoint]
        )
        for _ in range(50):  # the panel's refresh may have the root open for a moment (EBUSY)
            if not self.in_mount_table():
                break
            subprocess.run(argv, capture_output=True, timeout=10, check=False)
            if self.in_mount_table():
                time.sleep(0.1)
        assert not self.in_mount_table(), f"could not unmount {self.mountpoint}"
        if self.process is not None:
            self.process.wait(15)
            self.process = None

    def close(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.SubprocessError):
            if self.in_mount_table():
                self.unmount()
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def external_mount(lab_server: JupyterServer) -> Iterator[ExternalMount]:
    mount = ExternalMount(lab_server.scenario)
    yield mount
    mount.close()


def _wait_kernel(server: JupyterServer, notebook: str, state: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while server.kernel_state(notebook) != state:
        assert time.monotonic() < deadline, f"the kernel did not become {state} within {timeout:g} s"
        time.sleep(0.05)


def _panel(notebook: NotebookUI, cell: int) -> PanelUI:
    root = notebook.cell(cell).locator(".jp-OutputArea-output .drivewidget-panel")
    _expect()(root).to_be_visible()
    return PanelUI(root)


def _option(panel: PanelUI, name: str) -> Any:
    """The folder ``name`` in the chooser's list (shown as '📁 name')."""
    return panel.folder_list.locator("option").filter(has_text=re.compile(rf"(^|\s){re.escape(name)}$"))


def test_panel_workflow_in_lab(
    lab_server: JupyterServer,
    open_notebook: Callable[[JupyterServer, str], NotebookUI],
    shot: Callable[..., Path],
    external_mount: ExternalMount,
) -> None:
    """Render, live updates (kernel idle and busy), Mount, choose a folder by clicking, Unmount."""
    expect = _expect()
    scenario = lab_server.scenario
    mountpoint = str(scenario.mountpoint)
    chosen = os.path.join(mountpoint, "projects", "mnist")
    nb = open_notebook(lab_server, PANEL_NOTEBOOK)

    # The kernel is this venv's Python (the venv's python3 kernelspec).
    nb.run(PYTHON_CELL)
    assert Path(nb.output_text(PYTHON_CELL)).parent == VENV_BIN

    # 1. The panel renders: not mounted, Mount Drive the one action, files said to be lost.
    nb.run(PANEL_CELL)
    panel = _panel(nb, PANEL_CELL)
    expect(panel.state).to_contain_text("Not mounted")
    expect(panel.cwd).to_contain_text("stay on this machine, not on the drive")  # not Colab
    expect(panel.button("Mount Drive")).to_be_enabled()
    expect(panel.button("Unmount")).to_be_hidden()
    expect(panel.button("Change folder")).to_be_hidden()
    expect(panel.status).to_contain_text("RAM")
    shot("rendered")

    # 2. Live, kernel idle: a mount made by another program shows up without any click.
    external_mount.mount()
    expect(panel.state).to_contain_text(f"Mounted at {mountpoint}", timeout=LIVE_TIMEOUT_MS)
    expect(panel.button("Unmount")).to_be_enabled()
    shot("live-mounted-behind-its-back")

    # 3. Live, kernel busy (a cell sleeps): only the panel's background thread can update it.
    before = nb.start(SLEEP_CELL)
    _wait_kernel(lab_server, PANEL_NOTEBOOK, "busy")
    external_mount.unmount()
    expect(panel.state).to_contain_text("Not mounted", timeout=LIVE_TIMEOUT_MS)
    assert nb.running(SLEEP_CELL), "the sleeping cell finished before the update arrived"
    assert lab_server.kernel_state(PANEL_NOTEBOOK) == "busy"
    shot("live-while-kernel-busy")
    nb.wait_finished(SLEEP_CELL, before, timeout_ms=(SLEEP_SECONDS + 20) * 1000)
    assert nb.output_text(SLEEP_CELL) == "slept"  # nothing from the live thread lands in cells

    # 4. Click Mount Drive.
    panel.button("Mount Drive").click()
    expect(panel.state).to_contain_text(f"Mounted at {mountpoint}", timeout=ACTION_TIMEOUT_MS)
    expect(panel.button("Unmount")).to_be_enabled()
    expect(panel.button("Change folder")).to_be_enabled()
    assert external_mount.in_mount_table()
    shot("mounted")

    # 5. Choose a folder by clicking: open the chooser, click into projects, then mnist, choose.
    panel.button("Change folder").click()
    expect(_option(panel, "projects")).to_be_visible()
    expect(_option(panel, "datasets")).to_be_visible()
    _option(panel, "projects").click()
    expect(_option(panel, "mnist")).to_be_visible()
    _option(panel, "mnist").click()
    expect(_option(panel, "data")).to_be_visible()
    shot("chooser-in-mnist")
    expect(panel.root).to_contain_text(f"Will choose: {chosen}")  # the button says what it picks
    panel.button("Choose this folder").click()
    expect(panel.cwd).to_contain_text("projects/mnist")
    expect(panel.cwd).to_contain_text("saved on the drive")
    expect(panel.folder_list).to_be_hidden()
    shot("folder-chosen")
    shot("panel", panel.root)

    # 6. The kernel works in the chosen folder.
    nb.run(CWD_CELL)
    assert nb.output_text(CWD_CELL) == chosen
    shot("cwd-in-chosen-folder")

    # 7. Click Unmount: not mounted, and the kernel left the drive.
    panel.button("Unmount").click()
    expect(panel.state).to_contain_text("Not mounted", timeout=ACTION_TIMEOUT_MS)
    expect(panel.button("Mount Drive")).to_be_enabled()
    expect(panel.button("Unmount")).to_be_hidden()
    assert not external_mount.in_mount_table()
    nb.run(CWD_CELL)
    cwd = nb.output_text(CWD_CELL)
    assert not (cwd == mountpoint or cwd.startswith(mountpoint + os.sep)), cwd
    assert cwd == str(scenario.notebooks)
    shot("unmounted")
    nb.assert_no_page_errors()


def test_demo_notebook_in_lab(
    lab_server: JupyterServer,
    open_notebook: Callable[[JupyterServer, str], NotebookUI],
    shot: Callable[..., Path],
) -> None:
    """demo.ipynb runs top to bottom (Run > Run All Cells); the panel follows the scripted mount."""
    expect = _expect()
    nb = open_notebook(lab_server, DEMO_NOTEBOOK)
    mountpoint = str(lab_server.scenario.mountpoint)
    cells = demo_code_cells()
    expect(nb.cells).to_have_count(
        demo_cell_count(), timeout=30_000
    )  # every cell rendered before counting them
    last_code = _cell_index(nb, cells, cells[-1])
    before = nb.prompt(last_code)

    nb.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    nb.page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    nb.wait_finished(last_code, before, timeout_ms=90_000)

    panel_cell = _cell_index(nb, cells, "DrivePanel()")
    panel = _panel(nb, panel_cell)
    expect(panel.state).to_contain_text(f"Mounted at {mountpoint}", timeout=LIVE_TIMEOUT_MS)
    script_cell = _cell_index(nb, cells, "ctrl.mount()")
    expect(nb.cell(script_cell).locator(".jp-OutputArea-output")).to_contain_text(
        os.path.join(mountpoint, "projects", "mnist")
    )
    expect(nb.cell(_cell_index(nb, cells, "no/such/folder"))).to_contain_text("InvalidPath")
    # The demo leaves a clean panel (in Voila its first sight): no red error line from the
    # bad-input cell, and no PosixPath(...) echoed by the first cell.
    expect(panel.root.locator(".dw-message.dw-error")).to_have_count(0)
    expect(nb.cell(_cell_index(nb, cells, "seed_demo_drive()"))).not_to_contain_text("PosixPath")
    expect(
        nb.page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    ).to_have_count(0)
    expect(
        nb.page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
    ).to_have_count(0)
    shot("demo-run-all")

    panel.button("Unmount").click()
    expect(panel.state).to_contain_text("Not mounted", timeout=ACTION_TIMEOUT_MS)
    shot("demo-unmounted")
    nb.assert_no_page_errors()


def _cell_index(nb: NotebookUI, code_cells: list[str], fragment: str) -> int:
    """Position (among all cells) of the first code cell whose source contains ``fragment``."""
    wanted = next(i for i, src in enumerate(code_cells) if fragment in src)
    code_positions = [
        i for i in range(nb.cells.count()) if "jp-CodeCell" in (nb.cell(i).get_attribute("class") or "")
    ]
    return code_positions[wanted]
