"""Fixtures for keep-synced tests: a local folder, a drive folder, and no job left running."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivewidget.sync import FolderDrive, stop_all, sync_jobs


@pytest.fixture(autouse=True)
def no_jobs_left() -> Iterator[None]:
    yield
    stop_all(flush=False, timeout=10)
    assert not sync_jobs()


@pytest.fixture
def local(tmp_path: Path) -> Path:
    folder = tmp_path / "local"
    folder.mkdir()
    return folder


@pytest.fixture
def drive(tmp_path: Path) -> FolderDrive:
    folder = tmp_path / "drive"
    folder.mkdir()
    return FolderDrive(folder)


def tree(root: Path) -> dict[str, bytes]:
    """Relative path -> content of every regular file under ``root`` (temp files included)."""
    out: dict[str, bytes] = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = path.read_bytes()
    return out


def wait_for(predicate, timeout: float = 15.0, step: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true (a deadline for a condition, not a timing assertion)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def write_old(path: Path, data: bytes) -> None:
    """Write ``data`` and date the file a minute back, so it is quiet (settled) at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    past = time.time() - 60
    os.utime(path, (past, past))
