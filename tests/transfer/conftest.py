"""Fixtures of the transfer tests: a source tree with odd names, and a copy slowed on demand."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.transfer import Slow, install_slow, make_tree


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    make_tree(folder)
    return folder


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Slow:
    return install_slow(monkeypatch)
