"""Helpers for the Connect tests: real rclone servers with credentials, isolation, secret hunting.

``serve_webdav`` / ``serve_s3`` start ``rclone serve`` on a free loopback port with the user and
password (or access key pair) given through the SERVER's environment (``RCLONE_USER``/``RCLONE_PASS``,
``RCLONE_AUTH_KEY``), never its command line, and stop and reap it afterwards, whatever happened.
``CmdlineScanner`` reads every ``/proc/*/cmdline`` in a loop while a block runs.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def rclone() -> str:
    from drivewidget.backends._process import find_program

    program = find_program("rclone")
    if program is None:
        pytest.skip("rclone is not installed")
    return program


def isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """A private HOME and XDG folders, no RCLONE_* settings: nothing of the real user is read or written.

    The runtime folder (sockets of mounts) is a short path under /tmp, because a unix socket's
    path may not exceed 107 bytes; it is removed when the test ends.
    """
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_DATA_HOME", ".local/share"),
    ):
        monkeypatch.setenv(name, str(home / sub))
    run = Path(tempfile.mkdtemp(prefix="dwc-"))
    request.addfinalizer(lambda: shutil.rmtree(run, ignore_errors=True))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    for name in list(os.environ):
        if name.startswith("RCLONE_"):
            monkeypatch.delenv(name)
    return home


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rclone serve exited: {log.read_text(errors='replace')[-500:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError("rclone serve did not start listening")


@contextlib.contextmanager
def _serve(kind: str, root: Path, env: dict[str, str], extra: Iterable[str] = ()) -> Iterator[Server]:
    port = free_port()
    log = root.parent / f"{kind}-server.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    full_env.update(env)
    full_env["RCLONE_CONFIG"] = os.devnull  # the server needs no config and must not read the user's
    with open(log, "wb") as out:
        process = subprocess.Popen(
            # --dir-cache-time 0s: files the tests put straight into ``root`` show at once
            [rclone(), "serve", kind, str(root), "--addr", f"127.0.0.1:{port}", "--dir-cache-time", "0s", *extra],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=full_env, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_listening(port, process, log)
        yield Server(url=f"http://127.0.0.1:{port}", root=root, process=process, log=log)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def serve_webdav(root: Path, user: str, password: str) -> contextlib.AbstractContextManager[Server]:
    """``rclone serve webdav`` with basic auth; the credentials go through the server's environment."""
    root.mkdir(parents=True, exist_ok=True)
    return _serve("webdav", root, {"RCLONE_USER": user, "RCLONE_PASS": password})


def serve_s3(root: Path, access_key: str, secret_key: str) -> contextlib.AbstractContextManager[Server]:
    """``rclone serve s3`` (folders of ``root`` are buckets); the key pair goes through ``RCLONE_AUTH_KEY``."""
    root.mkdir(parents=True, exist_ok=True)
    return _serve("s3", root, {"RCLONE_AUTH_KEY": f'"{access_key},{secret_key}"'})


class CmdlineScanner:
    """Reads every process's command line in a loop; ``hits`` names (pid, needle index), never the text."""

    def __init__(self, needles: Iterable[str]) -> None:
        self.needles = [n.encode() for n in needles if n]
        self.hits: list[tuple[int, int]] = []
        self.scans = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cmdline-scanner", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                try:
                    data = Path(f"/proc/{name}/cmdline").read_bytes()
                except OSError:
                    continue
                for index, needle in enumerate(self.needles):
                    if needle in data:
                        self.hits.append((int(name), index))
            self.scans += 1
            time.sleep(0.001)

    def __enter__(self) -> CmdlineScanner:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def variants(secret: str) -> list[str]:
    """A secret as it might leak: plain, base64 (widget buffers), and JSON-escaped."""
    data = secret.encode()
    return [secret, base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode().rstrip("=")]


def files_containing(root: Path, needles: Iterable[str], *, skip: Iterable[Path] = ()) -> list[Path]:
    """Regular files under ``root`` (no links followed) holding any needle, except ``skip``."""
    skipped = {Path(p).resolve() for p in skip}
    wanted = [n.encode() for n in needles if n]
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if path.is_symlink() or path.resolve() in skipped:
                continue
            with contextlib.suppress(OSError):
                data = path.read_bytes()
                if any(n in data for n in wanted):
                    found.append(path)
    return found
