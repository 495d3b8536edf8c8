"""The backend contract's shared helpers: mountpoint resolution and the second-click memory."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from drivewidget.backends import base
from drivewidget.backends.base import real_mountpoint
from drivewidget.controller import SecondClick


def test_mountpoint_parent_symlinks_are_resolved_not_the_last_part(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "drive").symlink_to(tmp_path)  # the last part is never followed
    assert real_mountpoint(str(tmp_path / "link" / "drive")) == str(tmp_path / "real" / "drive")


def test_a_hung_parent_does_not_hang_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    def hung(path: str) -> str:
        time.sleep(3)
        return path

    monkeypatch.setattr(base.os.path, "realpath", hung)
    started = time.monotonic()
    assert real_mountpoint("/hung-parent-for-test/drive") == "/hung-parent-for-test/drive"
    assert time.monotonic() - started < 2


def test_second_click_is_remembered_once_and_only_for_a_while() -> None:
    clicks = SecondClick(window=0.2)
    assert not clicks.take("/mnt")
    clicks.gave_up("/mnt")
    assert clicks.take("/mnt") and not clicks.take("/mnt")  # used up
    clicks.gave_up("/mnt")
    clicks.forget("/mnt")  # e.g. a successful mount or unmount since
    assert not clicks.take("/mnt")
    clicks.gave_up("/mnt")
    time.sleep(0.3)
    assert not clicks.take("/mnt")  # too long ago: a new hang is flushed first again
