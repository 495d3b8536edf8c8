"""Real-browser fixtures: a JupyterLab / Notebook 7 server per scenario, one Chromium, cleanup.

Each server runs as ``python -m jupyter lab|notebook`` (this venv's Python, so the venv's
``python3`` kernelspec runs the kernel) in its own process group, with HOME, XDG and Jupyter
folders in a fresh temporary folder and the scenario's ``DRIVEWIDGET_*`` variables, which
the kernel inherits. Teardown stops exactly that process group (SIGTERM, wait, SIGKILL),
then removes whatever the scenario left behind: mounts under its folder (mounts outlive
kernels) and processes whose command line names its folder (kernels, rclone daemons).

Chromium is the system one (``/usr/bin/chromium``); nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .notebooks import REPO, write_notebooks

CHROMIUM = Path(os.environ.get("DRIVEWIDGET_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
VENV_BIN = Path(sys.executable).parent
SERVER_START_TIMEOUT = 90.0
SERVER_STOP_TIMEOUT = 20.0
UI_TIMEOUT_MS = 30_000

SOURCE_TREE = {
    "projects/mnist/data/README.txt": "Put training data here.\n",
    "projects/mnist/train.py": "print('training...')\n",
    "projects/thesis/notes.md": "# Notes\n",
    "datasets/README.txt": "Shared data sets.\n",
}

# JupyterLab / Notebook 7 user settings: no news or update pop-ups over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


# -- scenarios ------------------------------------------------------------------------


@dataclass
class Scenario:
    """Everything one server run writes lives under ``root`` (a short path: rclone's rc socket)."""

    backend: str
    root: Path
    notebooks: Path
    source: Path
    mountpoint: Path
    env: dict[str, str] = field(default_factory=dict)


def make_scenario(backend: str, *, mountpoint: str = "", tree_prefix: str = "") -> Scenario:
    """A scenario's folders; ``mountpoint`` (default: inside it) and a folder to put the
    example tree under (``tree_prefix``, e.g. "MyDrive" as on Colab) can be chosen."""
    root = Path(tempfile.mkdtemp(prefix=f"dw-browser-{backend}-"))
    home = root / "home"
    source = root / ("cloud" if backend == "rclone" else "source")
    for relative, text in SOURCE_TREE.items():
        path = source / tree_prefix / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    run_dir = root / "run"
    run_dir.mkdir(mode=0o700)
    settings = root / "lab-settings"
    for relative, values in LAB_SETTINGS.items():
        path = settings / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DRIVEWIDGET_", "JUPYTER", "JPY_", "IPYTHON", "PYTEST_"))
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_RUNTIME_DIR=str(run_dir),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
        JUPYTER_RUNTIME_DIR=str(run_dir / "jupyter"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(root / "lab-workspaces"),
        IPYTHONDIR=str(home / ".ipython"),
        PATH=os.pathsep.join([str(VENV_BIN), env.get("PATH", os.defpath)]),
        PYTHONUNBUFFERED="1",
        DRIVEWIDGET_BACKEND=backend,
        DRIVEWIDGET_SOURCE=str(source),
        DRIVEWIDGET_MOUNTPOINT=mountpoint or str(root / "drive"),
    )
    scenario = Scenario(backend, root, root / "notebooks", source, Path(mountpoint or root / "drive"), env)
    write_notebooks(scenario.notebooks)
    return scenario


def fuse_ready() -> bool:
    return (
        os.path.exists("/dev/fuse")
        and shutil.which("fusermount3") is not None
        and ((VENV_BIN / "rclone").exists() or shutil.which("rclone") is not None)
    )


# -- servers --------------------------------------------------------------------------


@dataclass
class JupyterServer:
    app: str  # "lab" or "notebook"
    scenario: Scenario
    port: int
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        """Where a person opens ``name``; in Lab, in a fresh workspace (no tabs restored)."""
        route = f"lab/workspaces/{secrets.token_hex(4)}/tree" if self.app == "lab" else "notebooks"
        return f"{self.base_url}/{route}/{name}?token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"{self.base_url}/api/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernel_state(self, notebook: str) -> str:
        """The execution state ('idle', 'busy', ...) the server last saw for the notebook's kernel."""
        for session in self.api("sessions"):
            if session["path"] == notebook or session["path"].endswith("/" + notebook):
                return str(session["kernel"]["execution_state"])
        return "none"

    def shut_down(self, notebook: str) -> None:
        """Shut down the notebook's kernel (its session), as File > Close and Shut Down does."""
        for session in self.api("sessions"):
            if session["path"] == notebook or session["path"].endswith("/" + notebook):
                self.api(f"sessions/{session['id']}", method="DELETE")

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(app: str, scenario: Scenario) -> JupyterServer:
    """Start ``jupyter <app>`` in its own process group and wait until /api/status answers.

    ``app`` is "lab", "notebook" (Notebook 7) or "classic": the classic Notebook 6 (its own
    server, NotebookApp), the front end Colab's widgets are drawn by (ipywidgets 7).
    """
    port, token = _free_port(), secrets.token_hex(16)
    log = scenario.root / f"jupyter-{app}.log"
    common = ["--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0", "--allow-root"]
    if app == "classic":
        argv = [
            sys.executable, "-m", "notebook", *common,
            f"--NotebookApp.token={token}", f"--NotebookApp.notebook_dir={scenario.notebooks}",
            "--NotebookApp.terminals_enabled=False",
        ]  # fmt: skip
    else:
        argv = [
            sys.executable, "-m", "jupyter", app, *common,
            f"--ServerApp.token={token}", f"--ServerApp.root_dir={scenario.notebooks}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--ServerApp.terminals_enabled=False",
        ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=scenario.notebooks,
            env=scenario.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group (pgid == pid): stopped as one
        )
    server = JupyterServer(app, scenario, port, token, process, log)
    try:
        _wait_until_answering(server)
    except BaseException:
        stop_process_group(process)
        raise
    return server


def _wait_until_answering(server: JupyterServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"jupyter {server.app} exited ({server.process.returncode}):\n{server.log_tail()}")
        with contextlib.suppress(OSError, ValueError):
            if "started" in server.api("status"):
                return
        time.sleep(0.2)
    pytest.fail(
        f"jupyter {server.app} did not answer within {SERVER_START_TIMEOUT:g} s:\n{server.log_tail()}"
    )


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = SERVER_STOP_TIMEOUT) -> None:
    """SIGTERM the group led by ``process``, wait, SIGKILL what is left, then reap the leader.

    The leader is only reaped after the group has been killed, so its pid (the group id)
    cannot be reused by an unrelated process in between: exactly that group is signalled.
    """
    pgid = process.pid
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:  # has the leader exited? (WNOWAIT: leave it a zombie, keeping the pgid ours)
            info = os.waitid(os.P_PID, pgid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            break
        if info is not None:
            break
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)  # stragglers in the group, or a leader that ignored SIGTERM
    process.wait(10)


# -- cleanup of what kernels leave behind ------------------------------------------------


def _unescape_mountinfo(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def mounts_under(root: Path) -> list[tuple[str, str]]:
    """(mountpoint, fstype) of every mount at or under ``root``, deepest first."""
    found = []
    prefix = str(root).rstrip("/") + "/"
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
        for line in table:
            fields = line.split()
            dash = fields.index("-")
            mountpoint, fstype = _unescape_mountinfo(fields[4]), fields[dash + 1]
            if mountpoint.startswith(prefix):
                found.append((mountpoint, fstype))
    return sorted(found, key=lambda item: item[0].count("/"), reverse=True)


def unmount_all_under(root: Path) -> None:
    for _ in range(3):
        mounts = mounts_under(root)
        if not mounts:
            return
        for mountpoint, fstype in mounts:
            if fstype.startswith("fuse"):
                argv = ["fusermount3", "-u", "-z", mountpoint]
            else:
                argv = ["umount", "-l", mountpoint]
            subprocess.run(argv, capture_output=True, timeout=15, check=False)


def processes_naming(root: Path) -> list[int]:
    """Pids of processes whose command line mentions ``root`` (kernels, rclone daemons)."""
    needle = os.fsencode(str(root))
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in Path(f"/proc/{entry}/cmdline").read_bytes():
                pids.append(int(entry))
    return pids


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def stop_processes_naming(root: Path, timeout: float = 10.0) -> list[int]:
    """SIGTERM (then SIGKILL) the processes :func:`processes_naming` finds; returns them."""
    pids = processes_naming(root)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.1)
        if not any(_alive(pid) for pid in pids):
            break
    for pid in pids:  # ours to reap only if they are our children
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
    return pids


def cleanup_scenario(scenario: Scenario) -> None:
    unmount_all_under(scenario.root)  # rclone daemons exit once unmounted
    stop_processes_naming(scenario.root)
    unmount_all_under(scenario.root)
    if not mounts_under(scenario.root):  # never delete through a mount
        shutil.rmtree(scenario.root, ignore_errors=True)


@contextlib.contextmanager
def running_jupyter(app: str, backend: str, **options: str) -> Iterator[JupyterServer]:
    """A scenario's folder and server; afterwards no server, kernel, daemon or mount remains.

    ``options`` go to :func:`make_scenario`; a mountpoint outside the scenario's folder is
    unmounted afterwards too."""
    scenario = make_scenario(backend, **options)
    server: JupyterServer | None = None
    try:
        server = start_server(app, scenario)
        yield server
    finally:
        try:
            if server is not None:
                stop_process_group(server.process)
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(server.log, ARTIFACTS / f"jupyter-{app}-{backend}.log")
        finally:
            if not is_relative(scenario.mountpoint, scenario.root):
                unmount_all_under(scenario.mountpoint)
            cleanup_scenario(scenario)


def is_relative(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["local", "rclone"])
def lab_server(request: pytest.FixtureRequest) -> Iterator[JupyterServer]:
    """JupyterLab on a scenario: the embedded local backend, then rclone on a real FUSE mount."""
    if request.param == "rclone" and not fuse_ready():
        pytest.skip("needs /dev/fuse, fusermount3 and rclone")
    with running_jupyter("lab", request.param) as server:
        yield server


@pytest.fixture(scope="module")
def notebook7_server() -> Iterator[JupyterServer]:
    """Notebook 7 with the embedded local backend."""
    with running_jupyter("notebook", "local") as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole session (a fresh temporary profile)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


KNOWN_PAGE_ERRORS = (
    # Notebook 7.6 itself, while loading its settings, before any notebook code runs.
    "Cannot read properties of undefined (reading 'schema')",
)


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught exceptions and console errors of the page (e.g. a widget view that fails)."""
    return []


@pytest.fixture
def page(browser: Any, page_errors: list[str], request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; its console is saved next to the screenshots."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    console: list[str] = []

    def on_console(msg: Any) -> None:
        console.append(f"{msg.type}: {msg.text}")
        if msg.type == "error":
            page_errors.append(f"console error: {msg.text}")

    def on_page_error(exc: Any) -> None:
        console.append(f"pageerror: {exc}")
        if not any(known in str(exc) for known in KNOWN_PAGE_ERRORS):
            page_errors.append(f"uncaught: {exc}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{_safe_name(request.node.name)}-console.txt").write_text("\n".join(console) + "\n")
        context.close()


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


@pytest.fixture
def shot(page: Any, request: pytest.FixtureRequest) -> Callable[..., Path]:
    """shot(step, locator=None): save a screenshot of the page (or of one element) as an artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = _safe_name(request.node.name)
    for old in ARTIFACTS.glob(f"{prefix}-[0-9][0-9]-*.png"):
        old.unlink()
    counter = iter(range(1, 100))

    def take(step: str, locator: Any = None) -> Path:
        path = ARTIFACTS / f"{prefix}-{next(counter):02d}-{_safe_name(step)}.png"
        (locator or page).screenshot(path=str(path))
        return path

    return take


# -- driving a notebook in JupyterLab or Notebook 7 ---------------------------------------


class NotebookUI:
    """A notebook open in the browser: run cells by position, read their outputs, find the panel."""

    def __init__(self, page: Any, server: JupyterServer, name: str, errors: list[str] | None = None) -> None:
        self.page = page
        self.server = server
        self.name = name
        self.errors = errors if errors is not None else []

    def open(self) -> NotebookUI:
        from playwright.sync_api import expect

        self.page.goto(self.server.notebook_url(self.name))
        expect(self.cells.first).to_be_visible(timeout=60_000)
        self.wait_for_kernel()
        self.dismiss_dialogs()
        return self

    def wait_for_kernel(self, timeout: float = 60.0) -> None:
        """Until the notebook's kernel answers as idle (the server's view; no UI guesswork)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                if self.server.kernel_state(self.name) == "idle":
                    return
            time.sleep(0.2)
        pytest.fail(f"the kernel of {self.name} did not become idle within {timeout:g} s")

    def dismiss_dialogs(self) -> None:
        """Accept a kernel-selection or other modal dialog if one is up (none is expected)."""
        dialog = self.page.locator(".jp-Dialog")
        if dialog.count():
            dialog.locator(".jp-mod-accept").first.click()

    @property
    def cells(self) -> Any:
        return self.page.locator(".jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Any:
        return self.cells.nth(index)

    def prompt(self, index: int) -> str:
        return str(self.cell(index).locator(".jp-InputPrompt").inner_text()).strip()

    def start(self, index: int) -> str:
        """Run cell ``index`` (click into it, Ctrl+Enter) without waiting; returns the old prompt."""
        before = self.prompt(index)
        self.cell(index).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Control+Enter")
        return before

    def run(self, index: int, timeout_ms: int = UI_TIMEOUT_MS) -> Any:
        """Run cell ``index`` and wait until it has finished; returns its output area."""
        before = self.start(index)
        self.wait_finished(index, before, timeout_ms)
        return self.cell(index).locator(".jp-OutputArea-output")

    def wait_finished(self, index: int, before: str, timeout_ms: int = UI_TIMEOUT_MS) -> None:
        """Until the prompt shows an execution count other than the one in ``before``."""
        from playwright.sync_api import expect

        old = re.search(r"\d+", before)
        not_old = rf"(?!{old.group()}\])" if old else ""
        prompt = self.cell(index).locator(".jp-InputPrompt")
        expect(prompt).to_have_text(re.compile(rf"^\s*\[{not_old}\d+\]:\s*$"), timeout=timeout_ms)

    def assert_no_page_errors(self) -> None:
        """No uncaught exception or console error in the page (widget views that failed, ...)."""
        assert not self.errors, "\n".join(self.errors)

    def running(self, index: int) -> bool:
        return "*" in self.prompt(index)

    def output_text(self, index: int) -> str:
        return str(self.cell(index).locator(".jp-OutputArea-output").last.inner_text()).strip()


class PanelUI:
    """The DrivePanel as a person sees it, found by the stable class hooks of its parts.

    Line one (``.drivewidget-state``) holds the state in words (``.drivewidget-state-text``),
    the working folder and what happens to files saved there (``.drivewidget-cwd``) and the
    next action's buttons; line two (``.drivewidget-bars``) the resource bars.
    """

    def __init__(self, root: Any) -> None:
        self.root = root
        self.page = root.page

    @property
    def state(self) -> Any:
        return self.root.locator(".drivewidget-state-text")

    @property
    def status(self) -> Any:
        return self.root.locator(".drivewidget-bars")

    @property
    def cwd(self) -> Any:
        return self.root.locator(".drivewidget-cwd")

    @property
    def message(self) -> Any:
        return self.root.locator(".drivewidget-message")

    def button(self, label: str) -> Any:
        """The shown button whose text is ``label`` (its icon, a Font Awesome glyph, is not text)."""
        return self.root.locator("button:visible").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))

    @property
    def folder_list(self) -> Any:
        """The folder chooser's list of folders (an ipywidgets Select: a listbox <select>)."""
        return self.root.locator(".widget-gridbox .widget-select select")


@pytest.fixture
def open_notebook(page: Any, page_errors: list[str]) -> Iterator[Callable[[JupyterServer, str], NotebookUI]]:
    """open_notebook(server, name): open it in the page; its kernel is shut down afterwards."""
    opened: list[NotebookUI] = []

    def opener(server: JupyterServer, name: str) -> NotebookUI:
        notebook = NotebookUI(page, server, name, page_errors)
        opened.append(notebook)
        return notebook.open()

    yield opener
    for notebook in opened:
        with contextlib.suppress(OSError, ValueError):
            notebook.server.shut_down(notebook.name)
