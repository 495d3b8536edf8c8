"""Background listing after a mount: the chooser's first open finds the root and the remembered
folder already listed; an unmount stops it."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from drivewidget import DriveController, DrivePanel
from drivewidget import folders as folders_module
from drivewidget.folders import ListingCache
from drivewidget.remember import remember_folder
from drivewidget.ui.prelist import Prelister


def _wait(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_mount_lists_root_and_remembered_folder_in_the_background(controller: DriveController) -> None:
    controller.mount()
    remember_folder(controller, os.path.join(controller.root, "project"))
    controller.unmount()
    panel = DrivePanel(controller, live=False)
    cache = panel.prelist.cache = ListingCache()
    try:
        controller.mount()
        _wait(lambda: not panel.prelist.running)
        root, remembered = controller.root, os.path.join(controller.root, "project")
        assert panel.prelist.listed == [root, remembered]
        assert root in cache and remembered in cache
    finally:
        panel.close()


def test_cancel_stops_between_folders(controller: DriveController, monkeypatch: pytest.MonkeyPatch) -> None:
    controller.mount()
    gate, entered = threading.Event(), threading.Event()
    real = os.scandir

    def slow(path: Any = ".") -> Any:
        entered.set()
        gate.wait(5)
        return real(path)

    monkeypatch.setattr(folders_module.os, "scandir", slow)
    prelist = Prelister(ListingCache())
    prelist.start(controller, [controller.root, os.path.join(controller.root, "project")])
    assert entered.wait(5)
    prelist.cancel()  # returns at once (wait=0): the click that unmounts never blocks
    gate.set()
    _wait(lambda: not prelist.running)
    assert prelist.listed == [controller.root]  # the second folder was never started


def test_a_stuck_listing_is_abandoned(controller: DriveController, monkeypatch: pytest.MonkeyPatch) -> None:
    controller.mount()
    release = threading.Event()
    real = os.scandir
    monkeypatch.setattr(folders_module.os, "scandir", lambda path=".": (release.wait(10), real(path))[1])
    prelist = Prelister(ListingCache(), timeout=0.2)
    try:
        prelist.start(controller, [controller.root, Path(controller.root, "project").as_posix()])
        _wait(lambda: not prelist.running, timeout=3)
        assert prelist.listed == []
    finally:
        release.set()
