"""A shared drive to attack: what a collaborator writes (``source``) and what the user mounts."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivewidget.backends.local import LocalBackend
from drivewidget.controller import DriveController
from drivewidget.errors import DriveError

AS_ROOT = os.geteuid() == 0


@dataclass
class Shared:
    """A mounted drive shared with an attacker.

    ``source`` is the shared folder the attacker writes to (the cloud); ``root`` is the same
    folder as the user sees it, mounted (a bind mount as root, else the folder in place);
    ``outside`` is a folder of the user's machine with a secret the attacker wants.
    """

    ctrl: DriveController
    source: Path
    outside: Path

    @property
    def root(self) -> Path:
        return Path(self.ctrl.root)

    @property
    def secret(self) -> Path:
        return self.outside / "secret.txt"


@pytest.fixture
def shared(tmp_path: Path, mount_guard: list[str], restore_cwd: None) -> Iterator[Shared]:
    source = tmp_path / "shared"
    (source / "project" / "data").mkdir(parents=True)
    (source / "project" / "data" / "train.csv").write_text("a,b\n1,2\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the user's secret\n")
    mountpoint = tmp_path / "mnt"
    mount_guard.append(str(mountpoint))
    ctrl = DriveController(LocalBackend(source, bind=AS_ROOT), mountpoint=mountpoint)
    ctrl.mount()
    yield Shared(ctrl, source, outside)
    with contextlib.suppress(DriveError):
        ctrl.unmount()
    ctrl.close()
