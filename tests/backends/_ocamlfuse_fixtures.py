"""Helpers for tests that run OcamlfuseBackend against the google-drive-ocamlfuse stand-in.

``GdfuseWorld`` is a private HOME (so ``~/.gdfuse`` is a temp folder), a fake cloud folder the
stand-in mounts, and a mountpoint. ``cleanup_mount`` detaches whatever is left there and kills
and waits for the daemons serving it. ``ProcScanner`` watches every process's command line and
environment for secrets while a block runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drivewidget.backends.ocamlfuse import OcamlfuseBackend
from drivewidget.status.mounttable import find_mount

FAKES = Path(__file__).resolve().parent.parent / "fakes"
FAKE_PROGRAM = FAKES / "google-drive-ocamlfuse"


def find_rclone() -> str | None:
    from drivewidget.backends._process import find_program

    return find_program("rclone")


def fuse_problem() -> str:
    """Why real FUSE mounts cannot be tested here ("" when they can)."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if not any(os.path.exists(os.path.join(d, "fusermount3")) for d in os.get_exec_path()):
        return "fusermount3 is not installed"
    if find_rclone() is None:
        return "rclone is not installed (the stand-in mounts with it)"
    return ""


requires_fuse = pytest.mark.skipif(bool(fuse_problem()), reason=fuse_problem() or "FUSE available")


def state_file_text(token: str = "1//0gFAKE-refresh-token-from-another-machine") -> str:
    """A state file as google-drive-ocamlfuse writes it after a successful sign-in."""
    return (
        "access_token_date=2025-01-01T10:00:00.000Z\n"
        "auth_request_date=2025-01-01T10:00:00.000Z\n"
        "auth_request_id=\n"
        "last_access_token=ya29.a0FAKE-access-token\n"
        f"refresh_token={token}\n"
        "saved_version=0.7.32\n"
    )


@dataclass
class GdfuseWorld:
    home: Path
    cloud: Path
    mountpoint: Path
    tmp: Path
    backends: list[OcamlfuseBackend] = field(default_factory=list)

    def backend(self, label: str | None = None, **kwargs: object) -> OcamlfuseBackend:
        kwargs.setdefault("program", str(FAKE_PROGRAM))
        kwargs.setdefault("exit_timeout", 15.0)
        kwargs.setdefault("mount_timeout", 30.0)
        backend = OcamlfuseBackend(label, **kwargs)  # type: ignore[arg-type]
        self.backends.append(backend)
        return backend

    def gdfuse_dir(self, label: str = "default") -> Path:
        return self.home / ".gdfuse" / label

    def service_account_key(self) -> Path:
        key = self.tmp / "service-account.json"
        key.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "drivewidget-tests",
                    "private_key_id": "0123456789abcdef",
                    "private_key": "-----BEGIN PRIVATE KEY-----\nFAKE\n-----END PRIVATE KEY-----\n",
                    "client_email": "mounter@drivewidget-tests.iam.gserviceaccount.com",
                    "client_id": "123456789012345678901",
                }
            )
        )
        os.chmod(key, 0o600)
        return key


def make_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GdfuseWorld:
    home = tmp_path / "home"
    cloud = tmp_path / "cloud"
    mountpoint = tmp_path / "mnt" / "drive"
    for folder in (home, cloud / "project", mountpoint.parent):
        folder.mkdir(parents=True)
    (cloud / "project" / "notes.txt").write_text("hello from the cloud")
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAKE_GDFUSE_CLOUD", str(cloud))
    rclone = find_rclone()
    if rclone:
        monkeypatch.setenv("FAKE_GDFUSE_RCLONE", rclone)
    # The stand-in starts with `#!/usr/bin/env python3`: find this interpreter first (faster).
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    monkeypatch.setenv("PATH", path)
    return GdfuseWorld(home=home, cloud=cloud, mountpoint=mountpoint, tmp=tmp_path)


# -- processes ------------------------------------------------------------------------------


def _argv(pid: int) -> list[bytes]:
    try:
        return [a for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def processes_serving(mountpoint: str | os.PathLike[str]) -> list[int]:
    """Live processes (other than this one) with ``mountpoint`` as an argument."""
    target = os.fsencode(os.path.abspath(mountpoint))
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid() and target in _argv(int(name)) and _alive(int(name)):
            found.append(int(name))
    return found


def wait_gone(pids: Iterable[int], timeout: float = 10.0) -> list[int]:
    """Reap (if ours) and wait for ``pids`` to exit; return those still alive."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while True:
        for pid in pids:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        left = [pid for pid in pids if _alive(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def cleanup_mount(mountpoint: str | os.PathLike[str]) -> None:
    """Detach anything mounted at ``mountpoint`` and kill/wait for its daemons, whatever happened."""
    mountpoint = os.path.abspath(mountpoint)
    for _ in range(5):
        if find_mount(mountpoint) is None:
            break
        subprocess.run(["fusermount3", "-u", "-z", mountpoint], capture_output=True, timeout=15, check=False)
    pids = processes_serving(mountpoint)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    left = wait_gone(pids)
    assert not left, f"processes {left} serving {mountpoint} did not exit"


# -- secrets in /proc -----------------------------------------------------------------------


class ProcScanner:
    """Read every /proc/*/cmdline and /proc/*/environ in a loop, noting which pids show a needle."""

    def __init__(self, needles: Iterable[str]) -> None:
        self.needles = [n.encode() for n in needles if n]
        self.hits: list[tuple[int, str, int]] = []  # (pid, file, needle index): never the text
        self.scans = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proc-scanner", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                for what in ("cmdline", "environ"):
                    try:
                        data = Path(f"/proc/{name}/{what}").read_bytes()
                    except OSError:
                        continue
                    for index, needle in enumerate(self.needles):
                        if needle in data:
                            self.hits.append((int(name), what, index))
            self.scans += 1
            time.sleep(0.002)

    @contextlib.contextmanager
    def running(self) -> Iterator[ProcScanner]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(10)


def files_containing(root: Path, needle: str) -> list[Path]:
    """Regular files under ``root`` (not following links) whose bytes contain ``needle``."""
    found = []
    data = needle.encode()
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            with contextlib.suppress(OSError):
                if not path.is_symlink() and data in path.read_bytes():
                    found.append(path)
    return found
