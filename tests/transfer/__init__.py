"""Transfer tests; helpers shared by them: trees to copy, tree comparison, a copy slowed on demand."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from drivewidget.transfer import engine
from drivewidget.transfer.files import TEMP_RE

WEIRD_NAMES = [
    "plain.txt",
    "with space.txt",
    "new\nline.txt",
    "tab\there",
    "-leading-dash",
    "ünïcödé ✓.bin",
    os.fsdecode(b"bad-utf8-\xff\xfe.bin"),
    "x" * 255,
    ".hidden",
    "quote'\"and\\backslash",
]


def make_tree(root: Path, *, big: int = 0, utf8_only: bool = False) -> dict[str, bytes]:
    """A folder with nested folders, odd names, an empty file and folder; returns rel -> bytes.

    ``utf8_only`` leaves out the name that is not valid UTF-8 (cloud drives cannot hold it).
    """
    files: dict[str, bytes] = {}
    for i, name in enumerate(WEIRD_NAMES):
        if utf8_only and "bad-utf8" in name:
            continue
        files[name] = os.urandom(37 * i + 1)
    for d in range(3):
        for f in range(5):
            files[os.path.join(f"dir{d}", "sub", f"f{f}.dat")] = os.urandom(1000 * f)
    files["empty.bin"] = b""
    files["mib_plus_one.bin"] = os.urandom((1 << 20) + 1)
    if big:
        files["big.bin"] = os.urandom(big)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "empty_dir").mkdir()
    (root / "dir0" / "sub" / "f1.dat").chmod(0o600)
    return files


def tree(root: Path) -> dict[str, tuple[str, bytes | str, int]]:
    """Everything under ``root``: rel -> (kind, content or link target, mode bits)."""
    out: dict[str, tuple[str, bytes | str, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path), 0)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", b"", 0)
            else:
                out[rel] = ("file", Path(path).read_bytes(), st.st_mode & 0o777)
    return out


def contents(root: Path) -> dict[str, bytes | None]:
    """rel -> bytes for files, None for folders (drives keep no permission bits)."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = Path(path).read_bytes()
    return out


def mtimes(root: Path) -> dict[str, int]:
    return {
        os.path.relpath(os.path.join(d, f), root): os.lstat(os.path.join(d, f)).st_mtime_ns
        for d, _, fs in os.walk(root)
        for f in fs
    }


def leftovers(root: Path) -> list[str]:
    """Temporary files the copier would have left."""
    return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if TEMP_RE.match(f)]


class Slow:
    """Slows ``engine.write_all`` down and signals when copying has begun (to cancel mid-file)."""

    def __init__(self, delay: float = 0.02, hook: Callable[[int, bytes], None] | None = None) -> None:
        self.delay = delay
        self.started = threading.Event()
        self.chunks = 0
        self.hook = hook
        self._real = engine.write_all

    def __call__(self, fd: int, data: bytes) -> None:
        self._real(fd, data)
        self.chunks += 1
        if self.hook is not None:
            self.hook(fd, data)
        self.started.set()
        time.sleep(self.delay)


def install_slow(monkeypatch: pytest.MonkeyPatch, delay: float = 0.02) -> Slow:
    """Slow every write of the copier down (fixtures in the test modules call this)."""
    slow = Slow(delay)
    monkeypatch.setattr(engine, "write_all", slow)
    return slow
