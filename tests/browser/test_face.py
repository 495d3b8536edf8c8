"""The panel's face measured in a real JupyterLab: height, each fact once, axe-core, narrow, keyboard.

Issue 15's targets, at 1280x900 in JupyterLab 4 (light, then dark): the panel is at most
200 px tall with nothing opened (mounted or not) and at most 450 px with the folder chooser
open; the mountpoint and the working folder each appear once; axe-core (all default rules,
contrast included: html and body get their real height first, as JupyterLab's body is 0 px
tall) finds nothing on the panel unmounted, mounted and with the chooser open; a 330 px wide
output area never scrolls sideways; Mount Drive is a few Tabs from the cell and works with
Enter, the focused control shows a ring, and arrow keys stay in the folder list.

The measurements are written to ``test-artifacts/browser/face-measurements.json``.
``DRIVEWIDGET_README_IMAGES=1`` (``scripts/make_readme_images.py``) also renders the README's
pictures from the real panel, in both themes, with the package's fake NVML GPU.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from .conftest import ARTIFACTS, REPO, JupyterServer, NotebookUI, PanelUI, running_jupyter

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

MAX_HEIGHT = 200
MAX_HEIGHT_CHOOSER = 450
NARROW = 330
VERY_NARROW = 240
"""The output area in a 360 px wide window: the chooser's parts wrap, none is cut or squeezed."""
MAX_TABS = 4
"""Tab presses from the selected panel cell (command mode) to Mount Drive."""
ACTION_TIMEOUT_MS = 45_000
FACE_NOTEBOOK = "face.ipynb"
FAKE_GPU_CELL = (
    "from drivewidget import DrivePanel\n"
    "from drivewidget.status.gpu import NVML\n"
    "from drivewidget.status.sample import StatusSampler\n"
    "from drivewidget.testing import FakeGPU, FakeNVML\n"
    "from drivewidget.ui.panel import default_controller\n"
    "# An example GPU through the package's fake NVML (this machine may have none).\n"
    "gpu = FakeNVML([FakeGPU('NVIDIA T4', memory_total=15 << 30, memory_used=int(4.6 * (1 << 30)),"
    " utilization=37, temperature=52, power_mw=31_000, power_limit_mw=70_000)])\n"
    "ctrl = default_controller()\n"
    "panel = DrivePanel(ctrl, sampler=StatusSampler(ctrl, gpu_source=NVML(gpu)), refresh_interval=1)\n"
    "panel"
)
README_IMAGES = os.environ.get("DRIVEWIDGET_README_IMAGES") == "1"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def axe_source() -> str:
    """axe-core's script: ``DRIVEWIDGET_TEST_AXE`` (a path to axe.min.js from npm), else the copy
    that the ``axe-playwright-python`` test dependency ships."""
    given = os.environ.get("DRIVEWIDGET_TEST_AXE")
    if given:
        return Path(given).read_text()
    package = pytest.importorskip("axe_playwright_python")
    return (Path(package.__file__).parent / "axe.min.js").read_text()


def write_face_notebook(folder: Path, select: str = "") -> None:
    cells = [FAKE_GPU_CELL] + ([f"panel.select({select!r}); None"] if select else [])
    notebook = new_notebook(cells=[new_code_cell(src) for src in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / FACE_NOTEBOOK)


@pytest.fixture(scope="module")
def face_server() -> Iterator[JupyterServer]:
    with running_jupyter("lab", "local") as server:
        write_face_notebook(server.scenario.notebooks)
        yield server


class Measure:
    """What the page shows of one panel, as numbers."""

    def __init__(self, page: Any, root: Any, axe: str) -> None:
        self.page, self.root, self.axe = page, root, axe
        self.results: dict[str, Any] = {}

    def height(self) -> float:
        return float(self.root.bounding_box()["height"])

    def text(self) -> str:
        return str(self.root.inner_text())

    def violations(self) -> list[str]:
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            self.page.add_script_tag(content=self.axe)
        found = self.root.evaluate(
            """async (el) => {
                document.documentElement.style.height = '100%';
                document.body.style.height = '100%';  // JupyterLab's is 0 px: axe would skip contrast
                const result = await window.axe.run(el, {resultTypes: ['violations']});
                return result.violations.map(v => v.id + ' (' + v.impact + '): ' +
                    v.nodes.map(n => n.target.join(' ') + ' ' + (n.any[0] || n.all[0] || {}).message).join(' | '));
            }"""
        )
        return [str(item) for item in found]

    def sideways(self) -> dict[str, int]:
        """How far the panel and its output area overflow sideways (0: no horizontal scroll)."""
        return dict(
            self.root.evaluate(
                """(el) => {
                    const out = el.closest('.jp-OutputArea-output') || el.parentElement;
                    return {panel: el.scrollWidth - el.clientWidth, output: out.scrollWidth - out.clientWidth};
                }"""
            )
        )


def _open(page: Any, server: JupyterServer, errors: list[str]) -> tuple[NotebookUI, PanelUI]:
    notebook = NotebookUI(page, server, FACE_NOTEBOOK, errors).open()
    notebook.run(0)
    root = notebook.cell(0).locator(".jp-OutputArea-output .drivewidget-panel")
    _expect()(root).to_be_visible()
    return notebook, PanelUI(root)


def _set_theme(page: Any, name: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(name)}$")).click()
    light = "true" if "Light" in name else "false"
    _expect()(page.locator(f"body[data-jp-theme-light='{light}']")).to_have_count(1)
    page.wait_for_timeout(300)  # the theme's stylesheet applies


def _tabs_to(page: Any, target: Any, limit: int = 20) -> int:
    """Tab presses from where focus is until ``target`` has it; limit+1 (and focused) if never."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if target.evaluate("(el) => el === document.activeElement"):
            return presses
    target.focus()
    return limit + 1


def _narrow(root: Any, width: int | None) -> None:
    """Make the panel's output area ``width`` px wide (None: as it was)."""
    value = f"{width}px" if width else ""
    root.evaluate(
        f"(el) => {{ (el.closest('.jp-OutputArea-output') || el.parentElement).style.maxWidth = '{value}'; }}"
    )
    root.page.wait_for_timeout(300)


def _cut_or_squeezed(root: Any) -> list[str]:
    """The shown buttons of the panel that are cut (their text or right edge past the panel's),
    and text squeezed into a column narrower than 8 em ("Will choose: ..." one letter a line)."""
    return list(
        root.evaluate(
            """(panel) => {
                const edge = panel.getBoundingClientRect().right + 0.5, found = [];
                const em = parseFloat(getComputedStyle(panel).fontSize);
                const shown = (el) => el.offsetParent !== null && el.getClientRects().length > 0;
                for (const b of panel.querySelectorAll('button')) {
                    if (!shown(b)) continue;
                    const r = b.getBoundingClientRect();
                    if (r.right > edge || b.scrollWidth > b.clientWidth + 1) found.push('cut: ' + b.innerText.trim());
                }
                for (const t of panel.querySelectorAll('.widget-html-content')) {
                    if (!shown(t) || !t.innerText.trim()) continue;
                    const r = t.getBoundingClientRect();
                    if (r.width < 8 * em && t.innerText.trim().length > 12) found.push('squeezed: ' + t.innerText.trim().slice(0, 30));
                }
                return found;
            }"""
        )
    )


def _focus_ring(target: Any) -> float:
    return float(
        target.evaluate(
            "(el) => { const s = getComputedStyle(el); return s.outlineStyle === 'none' ? 0 : parseFloat(s.outlineWidth); }"
        )
    )


def test_face_in_lab(
    face_server: JupyterServer, page: Any, page_errors: list[str], shot: Callable[..., Path]
) -> None:
    expect = _expect()
    page.set_viewport_size({"width": 1280, "height": 900})
    nb, panel = _open(page, face_server, page_errors)
    measure = Measure(page, panel.root, axe_source())
    mountpoint = str(face_server.scenario.mountpoint)
    results = measure.results
    mount = panel.button("Mount Drive")

    # Unmounted, nothing opened: state, next action, bars.
    expect(panel.state).to_contain_text("Not mounted")
    expect(panel.cwd).to_contain_text("stay on this machine, not on the drive")  # not Colab
    expect(panel.status).to_contain_text("RAM")
    expect(panel.root.locator(".drivewidget-gpu")).to_contain_text("GPU RAM")
    results["height_unmounted"] = measure.height()
    results["axe_light_unmounted"] = measure.violations()
    shot("unmounted-light", panel.root)

    # Keyboard: Mount Drive is a few Tabs from the cell, shows a ring, and Enter mounts.
    nb.cell(0).locator(".jp-InputPrompt").click()  # the cell selected, in command mode
    results["tabs_to_mount"] = _tabs_to(page, mount)
    results["focus_ring_px"] = _focus_ring(mount)
    page.keyboard.press("Enter")
    expect(panel.state).to_contain_text(f"Mounted at {mountpoint}", timeout=ACTION_TIMEOUT_MS)
    expect(panel.button("Change folder")).to_be_visible()
    # The focus follows the next action (Mount hid itself): never the page, where the next
    # Tab reached Unmount and a second Enter unmounted.
    expect(panel.button("Change folder")).to_be_focused()
    results["height_mounted"] = measure.height()
    results["axe_light_mounted"] = measure.violations()
    shot("mounted-light", panel.root)

    # The chooser replaces line one, short, and its folder list takes the focus; there an arrow
    # key only moves the highlight (ipyfilechooser opened the folder it landed on) and Enter
    # opens the highlighted folder.
    page.keyboard.press("Enter")
    expect(panel.folder_list).to_be_visible()
    expect(panel.folder_list).to_be_focused()
    crumb = panel.root.locator(".dw-folder-chooser .widget-dropdown select")
    shown = "(s) => s.options[s.selectedIndex] ? s.options[s.selectedIndex].text : ''"
    at_root = crumb.evaluate(shown)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(800)  # a round trip to the kernel, were the folder opened
    results["arrows_opened_nothing"] = crumb.evaluate(shown) == at_root
    highlighted = panel.folder_list.evaluate("(s) => (s.options[s.selectedIndex] || {value: ''}).value")
    assert results["arrows_opened_nothing"] and highlighted, "an arrow key in the folder list opened a folder"
    before = crumb.evaluate("(s) => s.value")
    page.keyboard.press("Enter")
    expect(crumb).not_to_have_value(before)
    results["enter_opened"] = crumb.evaluate(shown)
    expect(panel.folder_list).to_be_focused()  # still in the list, one level down
    expect(panel.state).to_be_hidden()
    results["height_chooser"] = measure.height()
    results["axe_light_chooser"] = measure.violations()
    shot("chooser-light", panel.root)
    active_cell = page.evaluate(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell.jp-mod-active').length"
    )
    results["keys_kept_marker"] = panel.root.locator("[data-lm-suppress-shortcuts]").count()
    panel.folder_list.focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(500)
    results["arrow_kept_in_list"] = (
        bool(panel.root.evaluate("(el) => el.contains(document.activeElement)"))
        and page.evaluate("() => document.querySelectorAll('.jp-Notebook .jp-Cell.jp-mod-active').length")
        == active_cell
    )
    results["active_after_arrow"] = page.evaluate(
        "() => document.activeElement.tagName + '.' + document.activeElement.className"
    )
    results["focus_ring_list_px"] = _focus_ring(panel.folder_list)

    # Choose projects/mnist by clicking; then every fact shows once.
    panel.button("Cancel").click()
    expect(panel.button("Change folder")).to_be_focused()
    panel.button("Change folder").click()
    expect(panel.folder_list).to_be_visible()
    for name in ("projects", "mnist"):
        option = panel.folder_list.locator("option").filter(has_text=re.compile(rf"(^|\s){name}$"))
        expect(option).to_be_visible()
        option.click()
    panel.button("Choose this folder").click()
    expect(panel.cwd).to_contain_text("projects/mnist")
    expect(panel.folder_list).to_be_hidden()
    text = measure.text()
    results["mountpoint_shown"] = text.count(mountpoint)
    results["folder_shown"] = text.count("projects/mnist")
    results["lost_warning_shown"] = len(re.findall(r"lost when the VM resets|stay on this machine", text))
    results["height_folder_chosen"] = measure.height()

    # Narrow: a 330 px output area (a 700 px window with the file browser open) never scrolls.
    _narrow(panel.root, NARROW)
    results["sideways_mounted_330"] = measure.sideways()
    panel.button("Change folder").click()
    expect(panel.folder_list).to_be_visible()
    results["sideways_chooser_330"] = measure.sideways()
    results["chooser_parts_330"] = _cut_or_squeezed(panel.root)
    shot("chooser-330px", panel.root)
    _narrow(panel.root, VERY_NARROW)  # a 360 px wide window (a phone)
    results["sideways_chooser_240"] = measure.sideways()
    results["chooser_parts_240"] = _cut_or_squeezed(panel.root)
    shot("chooser-240px", panel.root)
    panel.button("Cancel").click()
    _narrow(panel.root, None)

    # Dark theme: the same three states.
    _set_theme(page, "JupyterLab Dark")
    results["axe_dark_mounted"] = measure.violations()
    shot("mounted-dark", panel.root)
    panel.button("Change folder").click()
    expect(panel.folder_list).to_be_visible()
    results["axe_dark_chooser"] = measure.violations()
    shot("chooser-dark", panel.root)
    panel.button("Cancel").click()
    panel.button("Unmount").click()
    expect(panel.state).to_contain_text("Not mounted", timeout=ACTION_TIMEOUT_MS)
    results["axe_dark_unmounted"] = measure.violations()
    shot("unmounted-dark", panel.root)
    _set_theme(page, "JupyterLab Light")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "face-measurements.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    problems = {k: v for k, v in results.items() if k.startswith("axe_") and v}
    assert not problems, json.dumps(problems, indent=2)
    for key in ("height_unmounted", "height_mounted", "height_folder_chosen"):
        assert results[key] <= MAX_HEIGHT, (key, results[key])
    assert results["height_chooser"] <= MAX_HEIGHT_CHOOSER, results["height_chooser"]
    assert results["mountpoint_shown"] == 1 and results["folder_shown"] == 1, results
    assert results["lost_warning_shown"] == 0  # the folder is on the drive: nothing is said to be lost
    for key in ("sideways_mounted_330", "sideways_chooser_330"):
        assert results[key] == {"panel": 0, "output": 0}, (key, results[key])
    assert results["sideways_chooser_240"] == {"panel": 0, "output": 0}, results["sideways_chooser_240"]
    for key in ("chooser_parts_330", "chooser_parts_240"):
        assert results[key] == [], (key, results[key])
    assert results["tabs_to_mount"] <= MAX_TABS, results["tabs_to_mount"]
    assert results["focus_ring_px"] >= 2 and results["focus_ring_list_px"] >= 2, results
    assert results["arrow_kept_in_list"], "ArrowDown in the folder list left it (JupyterLab took the key)"
    assert results["enter_opened"].startswith(at_root) and results["enter_opened"] != at_root, results
    nb.assert_no_page_errors()


@pytest.mark.skipif(
    not README_IMAGES, reason="README pictures: DRIVEWIDGET_README_IMAGES=1 (scripts/make_readme_images.py)"
)
def test_readme_images(browser: Any, page_errors: list[str]) -> None:
    """docs/panel-light.png and docs/panel-dark.png: the real panel, mounted at /content/drive
    with a folder of MyDrive chosen, an example GPU through the fake NVML."""
    if os.geteuid() != 0:
        pytest.skip("mounting at /content/drive needs root")
    made = [p for p in ("/content", "/content/drive") if not os.path.exists(p)]
    for folder in made:
        os.mkdir(folder)
    try:
        _render_readme_images(browser, page_errors)
    finally:
        for folder in reversed(made):
            if not os.path.ismount(folder):
                os.rmdir(folder)


def _render_readme_images(browser: Any, page_errors: list[str]) -> None:
    with running_jupyter("lab", "local", mountpoint="/content/drive", tree_prefix="MyDrive") as server:
        write_face_notebook(server.scenario.notebooks, select="MyDrive/projects/mnist")
        context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=2)
        page = context.new_page()
        try:
            nb, panel = _open(page, server, page_errors)
            panel.button("Mount Drive").click()
            _expect()(panel.state).to_contain_text("Mounted at /content/drive", timeout=ACTION_TIMEOUT_MS)
            nb.run(1)
            _expect()(panel.cwd).to_contain_text("MyDrive/projects/mnist")
            page.wait_for_timeout(2500)  # two live ticks: the GPU bars have a reading
            for theme, name in (
                ("JupyterLab Light", "panel-light.png"),
                ("JupyterLab Dark", "panel-dark.png"),
            ):
                _set_theme(page, theme)
                panel.root.screenshot(path=str(REPO / "docs" / name))
            _set_theme(page, "JupyterLab Light")
            panel.button("Unmount").click()
            _expect()(panel.state).to_contain_text("Not mounted", timeout=ACTION_TIMEOUT_MS)
        finally:
            context.close()
