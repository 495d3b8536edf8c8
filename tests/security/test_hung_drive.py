"""A drive whose FUSE daemon hangs (SIGSTOP) while the user works in it: nothing may block.

Not an attacker this time, but the same rule: the drive is never trusted to answer. Once the
working folder or ``sys.path`` points into the drive, *any* first import looks there first
and blocks in ``stat`` for as long as the drive hangs, so commands must not import lazily
once they touch the drive, and the command line must not look into its working folder.
Both tests run a fresh Python (nothing imported yet), as a new kernel or shell would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivewidget.controller import DriveController

pytestmark = pytest.mark.fuse

ATTRIBUTE_CACHE = 1.5
"""Seconds to wait after freezing the daemon: the kernel answers from its caches for ~1 s."""


def daemon_pid(ctrl: DriveController) -> int:
    return ctrl.backend._children[ctrl.mountpoint].pid  # type: ignore[attr-defined]


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(ATTRIBUTE_CACHE)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def waiting_in(folder: Path, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``argv`` started from ``folder`` once a line arrives on stdin (so that the shell enters
    the folder while the drive still answers, as a user's terminal already sits there)."""
    return subprocess.Popen(
        ["/bin/sh", "-c", 'read go; exec "$@"', "sh", *argv],
        cwd=folder,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_command_line_started_in_a_hung_folder_answers(rclone_controller: DriveController) -> None:
    """Issue 13, row 5: ``python -m drivewidget status --json`` run from a folder of a hung
    drive blocked before printing anything (``-m`` puts the working folder on sys.path, and
    the first import looked there). It must answer, and say the drive is not responding."""
    ctrl = rclone_controller
    ctrl.mount()
    env = {
        **os.environ,
        "DRIVEWIDGET_BACKEND": "rclone",
        "DRIVEWIDGET_SOURCE": str(ctrl.backend.remote),  # type: ignore[attr-defined]
        "DRIVEWIDGET_MOUNTPOINT": ctrl.mountpoint,
    }
    argv = [sys.executable, "-m", "drivewidget", "status", "--json", "--no-gpu"]
    shell = waiting_in(Path(ctrl.root, "project"), argv, env)
    try:
        with frozen(daemon_pid(ctrl)):
            started = time.monotonic()
            out, err = shell.communicate(b"go\n", timeout=20)
            elapsed = time.monotonic() - started
    finally:
        shell.kill()
        shell.wait()
    assert shell.returncode == 0, err.decode(errors="replace")
    assert elapsed < 10
    status = json.loads(out)
    assert status["state"] in ("stale", "unmounted", "error") and status["state"] != "mounted"
    ctrl.unmount()


def test_command_line_ignores_modules_in_its_working_folder(tmp_path: Path) -> None:
    """Attack: a shared folder holds ``json.py`` (and more) that run code when imported; the user
    runs ``python -m drivewidget status`` from that folder. None of them may be imported."""
    folder = tmp_path / "shared-project"
    folder.mkdir()
    marker = tmp_path / "pwned"
    for name in ("json", "argparse", "psutil", "traitlets", "platformdirs", "drivewidget_evil"):
        (folder / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').write({name!r})\n")
    result = subprocess.run(
        [sys.executable, "-m", "drivewidget", "status", "--json", "--no-gpu"],
        cwd=folder,
        capture_output=True,
        timeout=60,
        env={**os.environ, "DRIVEWIDGET_BACKEND": "local", "DRIVEWIDGET_SOURCE": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert not marker.exists(), marker.read_text()


UNMOUNT_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, "")  # as in a Jupyter kernel: the working folder is searched first
    from drivewidget import DriveController
    from drivewidget.backends.rclone import RcloneBackend

    ctrl = DriveController(RcloneBackend(sys.argv[1]), mountpoint=sys.argv[2])
    ctrl.mount()
    ctrl.chdir("project", add_to_sys_path=True)  # as the README shows
    print(ctrl.backend._children[ctrl.mountpoint].pid, flush=True)
    sys.stdin.readline()  # the test freezes the drive now
    started = time.monotonic()
    try:
        ctrl.unmount()
    except Exception as exc:
        print("error", type(exc).__name__, exc, flush=True)
    print("unmounted in", time.monotonic() - started, ctrl.state, flush=True)
    """
)


def test_unmount_with_the_hung_drive_on_sys_path_returns(tmp_path: Path, mount_guard: list[str]) -> None:
    """Issue 13, row 4: after ``ctrl.chdir(p, add_to_sys_path=True)`` the drive hangs and the
    user clicks Unmount. A first import inside unmount searched sys.path[0] (on the drive)
    and blocked for as long as the drive hung, holding the command slot (a second click: Busy).
    It must unmount (lazily) within seconds."""
    from tests.conftest import fuse_ready

    if not fuse_ready():
        pytest.skip("needs /dev/fuse and fusermount3")
    cloud, mountpoint = tmp_path / "cloud", tmp_path / "mnt"
    (cloud / "project").mkdir(parents=True)
    mount_guard.append(str(mountpoint))
    child = subprocess.Popen(
        [sys.executable, "-c", UNMOUNT_SCRIPT, str(cloud), str(mountpoint)],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    daemon = 0
    try:
        assert child.stdout is not None and child.stdin is not None
        line = child.stdout.readline()
        assert line.strip().isdigit(), line + (child.stderr.read() if child.stderr else b"")
        daemon = int(line)
        with frozen(daemon):
            child.stdin.write(b"go\n")
            child.stdin.flush()
            out, err = child.communicate(timeout=30)
    finally:
        child.kill()
        child.wait()
        for sig in (signal.SIGCONT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                if daemon:
                    os.kill(daemon, sig)
    text = out.decode(errors="replace")
    assert "unmounted in" in text and text.split()[-1] == "unmounted", text + err.decode(errors="replace")
    assert float(text.split("unmounted in")[1].split()[0]) < 15
