"""Shared FUSE helpers: a fusermount that does not finish is an UnmountError in words."""

from __future__ import annotations

import pytest

from drivewidget.backends import _fuse
from drivewidget.errors import MountTimeout, UnmountError


def test_fusermount_timeout_is_an_unmount_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def stuck(argv: list[str], timeout: float) -> None:
        raise MountTimeout(f"fusermount3 did not finish within {timeout:g} s.")

    monkeypatch.setattr(_fuse, "fusermount", lambda: "fusermount3")
    monkeypatch.setattr(_fuse, "run", stuck)
    with pytest.raises(UnmountError, match=r"did not finish within 15 s\..*unmounting again detaches it"):
        _fuse.fuse_unmount("/nowhere")
