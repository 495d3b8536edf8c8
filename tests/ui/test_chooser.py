"""DriveFolderChooser: folders only, sandboxed, bounded in time, never a traceback (no browser)."""

from __future__ import annotations

import errno
import inspect
import json
import os
import threading
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import ipyfilechooser
import ipyfilechooser.filechooser as fc_module
import ipyfilechooser.utils as fc_utils
import pytest
from ipyfilechooser import FileChooser
from ipywidgets import Button, Dropdown, HBox, Select, Text, Widget

from drivewidget import folders as listing
from drivewidget.folders import ListingCache
from drivewidget.ui.chooser import DriveFolderChooser


@pytest.fixture
def drive(tmp_path: Path) -> Path:
    root = tmp_path / "drive"
    (root / "project" / "data").mkdir(parents=True)
    (root / "project" / "notes.txt").write_text("hello")
    (root / "with space").mkdir()
    (root / ".hidden").mkdir()
    (root / "readme.md").write_text("")
    (tmp_path / "outside").mkdir()
    return root


@pytest.fixture
def chooser(drive: Path) -> Iterator[DriveFolderChooser]:
    widget = DriveFolderChooser(drive, cache=ListingCache(), timeout=2.0)
    yield widget
    widget.close()


def names(chooser: DriveFolderChooser) -> list[str]:
    """Real names listed (the Select's values), '..' included."""
    return [value for _label, value in chooser._dircontent.options]


def open_dialog(chooser: DriveFolderChooser) -> None:
    chooser._select.click()
    assert chooser._dialog_open


def all_widgets(widget: Widget) -> list[Widget]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(all_widgets(child))
    return found


# -- pinning the ipyfilechooser internals we override or rely on -----------------


def test_pinned_ipyfilechooser_version() -> None:
    assert version("ipyfilechooser") == "0.6.0", "re-check drivewidget/ui/chooser.py against the new version"
    assert ipyfilechooser.__version__ == "0.6.0"


def test_pinned_filechooser_internals(tmp_path: Path) -> None:
    fc = FileChooser(str(tmp_path), show_only_dirs=True)
    for name, kind in [("_pathlist", Dropdown), ("_dircontent", Select), ("_filename", Text),
                       ("_select", Button), ("_cancel", Button)]:  # fmt: skip
        assert isinstance(getattr(fc, name), kind), name
    for name in ("_label", "_title", "_gb", "_callback", "_selected_path", "_selected_filename",
                 "_show_hidden", "_dir_icon", "_select_desc", "_change_desc", "_sandbox_path", "_default_path"):  # fmt: skip
        assert hasattr(fc, name), name
    # children: title, the grid of lists, the button bar (we insert ours between them)
    title, grid, bar = fc.children
    assert title is fc._title and grid is fc._gb and isinstance(bar, HBox) and fc._select in bar.children
    assert fc._gb.layout.display == "none"  # closed until Select is clicked
    assert fc._LBL_TEMPLATE.format("x", "green") == '<span style="color:green;">x</span>'
    # the sandbox helpers we use are pure path arithmetic
    fc._sandbox_path = "/sand/box"
    assert fc._expand_path("/a b") == "/sand/box/a b"
    assert fc._restrict_path("/sand/box") == os.sep
    assert fc._restrict_path("/sand/box/a b") == "/a b"


def test_pinned_overridden_methods() -> None:
    """Every FileChooser method that touches the filesystem is one we override.

    If a new version adds a filesystem call elsewhere, this fails: check it and override it.
    """
    touches_fs = ("os.listdir", "get_dir_contents", "os.path.isdir", "os.path.isfile", "os.path.realpath",
                  "normalize_path", "get_subpaths", "self._set_form_values", "self.refresh()", "self.reset()")  # fmt: skip
    found = set()
    for name, member in vars(FileChooser).items():
        func = member.fset if isinstance(member, property) else member
        if callable(func) and any(word in inspect.getsource(func) for word in touches_fs):
            found.add(name)
    assert found == {
        "__init__", "_set_form_values", "_on_pathlist_select", "_on_dircontent_select",
        "_on_filename_change", "_show_dialog", "_apply_selection", "reset", "refresh",
        "show_hidden", "dir_icon", "dir_icon_append", "default_path", "default_filename",
        "sandbox_path", "show_only_dirs", "filter_pattern",
    }  # fmt: skip
    overridden = {"_set_form_values", "_on_pathlist_select", "_on_dircontent_select", "_show_dialog",
                  "_apply_selection", "reset", "refresh", "default_path", "sandbox_path", "show_only_dirs",
                  "_on_select_click", "selected"}  # fmt: skip
    for name in overridden:
        assert name in vars(DriveFolderChooser), name
    # the rest only call self.refresh()/_set_form_values (ours) after setting an attribute
    for name in (
        "show_hidden",
        "dir_icon",
        "dir_icon_append",
        "filter_pattern",
        "default_filename",
        "_on_filename_change",
    ):
        member = vars(FileChooser)[name]
        source = inspect.getsource(member.fset if isinstance(member, property) else member)
        assert "self.refresh()" in source or "self._set_form_values(" in source, name
    params = list(inspect.signature(FileChooser._set_form_values).parameters)
    assert params == ["self", "path", "filename"]


def test_pinned_ipyfilechooser_listing_cost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why we replace it: one isdir per entry, and the chooser lists each folder three times."""
    for i in range(30):
        (tmp_path / f"f{i}").touch()
    calls = {"isdir": 0, "listdir": 0, "get_dir_contents": 0}
    real_isdir, real_listdir, real_gdc = os.path.isdir, os.listdir, fc_utils.get_dir_contents

    def isdir(path: Any) -> bool:
        calls["isdir"] += str(path).startswith(str(tmp_path))
        return real_isdir(path)

    def listdir(path: Any = ".") -> list[str]:
        calls["listdir"] += str(path).startswith(str(tmp_path))
        return real_listdir(path)

    def gdc(*args: Any, **kwargs: Any) -> list[str]:
        calls["get_dir_contents"] += 1
        return real_gdc(*args, **kwargs)

    monkeypatch.setattr(os.path, "isdir", isdir)
    monkeypatch.setattr(os, "listdir", listdir)
    assert fc_utils.get_dir_contents(str(tmp_path), show_only_dirs=True) == [".."]
    assert calls["isdir"] == 31 and calls["listdir"] == 1
    monkeypatch.setattr(fc_module, "get_dir_contents", gdc)
    calls.update(isdir=0, listdir=0)
    FileChooser(str(tmp_path), show_only_dirs=True)
    assert calls["get_dir_contents"] == 2 and calls["listdir"] == 3 and calls["isdir"] >= 62


def test_our_navigation_avoids_ipyfilechooser_listing(
    chooser: DriveFolderChooser, drive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("ipyfilechooser's listing was used")

    real_isdir, real_listdir = os.path.isdir, os.listdir
    isdir_calls: list[str] = []

    def isdir(path: Any) -> bool:
        if str(path).startswith(str(drive)):
            isdir_calls.append(str(path))
        return real_isdir(path)

    def listdir(path: Any = ".") -> list[str]:
        assert not str(path).startswith(str(drive)), "os.listdir on the drive"
        return real_listdir(path)

    monkeypatch.setattr(fc_module, "get_dir_contents", forbidden)
    monkeypatch.setattr(fc_utils, "get_dir_contents", forbidden)
    monkeypatch.setattr(os.path, "isdir", isdir)
    monkeypatch.setattr(os, "listdir", listdir)
    open_dialog(chooser)
    chooser._dircontent.value = "project"
    chooser._pathlist.value = os.sep
    chooser.refresh()
    chooser.show_hidden = True
    assert chooser.error == "" and isdir_calls == []
    assert ".hidden" in names(chooser)


# -- construction, listing, navigation ---------------------------------------------


def test_lists_folders_only_and_navigates(chooser: DriveFolderChooser, drive: Path) -> None:
    assert not chooser.disabled and chooser.root == str(drive) and chooser.sandbox_path == str(drive)
    assert not chooser._dialog_open and chooser._top.layout.display is not None
    open_dialog(chooser)
    assert chooser._top.layout.display is None and chooser._bottom.layout.display is None  # extras follow
    assert names(chooser) == ["project", "with space"]  # no files, no hidden, no '..' at the root
    assert chooser.current == str(drive)
    assert chooser.listing_note == "1 file not shown."
    chooser._dircontent.value = "project"
    assert chooser.current == str(drive / "project")
    assert names(chooser) == ["..", "data"]
    assert [value for _l, value in chooser._pathlist.options] == ["/project", "/"]
    chooser._dircontent.value = ".."
    assert chooser.current == str(drive)
    chooser._dircontent.value = "with space"
    chooser._pathlist.value = "/"
    assert chooser.current == str(drive)


def test_choose_with_the_select_button(chooser: DriveFolderChooser, drive: Path) -> None:
    got: list[str] = []
    legacy: list[object] = []
    chooser.on_choose(got.append)
    chooser.register_callback(legacy.append)
    open_dialog(chooser)
    chooser._dircontent.value = "project"
    chooser._select.click()
    target = str(drive / "project")
    assert chooser.chosen == target and chooser.selected == target and chooser.value == target
    assert got == [target] and legacy == [chooser]
    assert not chooser._dialog_open and chooser._select.description == "Change folder"
    assert target in chooser._label.value
    open_dialog(chooser)  # reopens where it was chosen
    assert chooser.current == target
    chooser._select.click()  # the same folder again still runs the callbacks
    assert got == [target, target]


def test_select_programmatically(chooser: DriveFolderChooser, drive: Path) -> None:
    got: list[str] = []
    chooser.on_choose(got.append)
    assert chooser.select("project/data") == str(drive / "project" / "data")  # relative: from the root
    assert chooser.select(drive / "with space") == str(drive / "with space")
    assert got == [str(drive / "project" / "data"), str(drive / "with space")]
    assert chooser.chosen == str(drive / "with space") and chooser.error == ""
    chooser.on_choose(got.append, remove=True)
    chooser.select(drive)
    assert len(got) == 2


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("missing", "There is no folder"),
        ("readme.md", "is a file, not a folder"),
        ("/etc", "is outside the drive"),
        ("../outside", "is outside the drive"),
        ("", "Type or paste a folder path"),
    ],
)
def test_select_rejects(chooser: DriveFolderChooser, path: str, words: str) -> None:
    assert chooser.select(path) is None  # never raises: the reason is in error/message
    assert words in chooser.error and chooser.message == chooser.error
    assert chooser.chosen == ""


def test_symlink_leading_outside_is_refused(chooser: DriveFolderChooser, drive: Path) -> None:
    (drive / "escape").symlink_to(drive.parent / "outside")
    open_dialog(chooser)
    assert "escape" not in names(chooser)  # a link off the drive is not offered as a folder...
    assert chooser.select("escape") is None and "leads outside the drive" in chooser.error


def test_path_box(chooser: DriveFolderChooser, drive: Path) -> None:
    chooser._path_box.value = f"  {drive / 'project'}\n"  # pasted with whitespace around it
    assert chooser._dialog_open and chooser.current == str(drive / "project") and chooser.error == ""
    assert chooser._path_box.value == ""  # cleared after success
    for typed, words in [
        (str(drive / "nope"), "There is no folder"),
        (str(drive / "readme.md"), "is a file, not a folder"),
        ("/etc", "is outside the drive"),
    ]:
        chooser._path_box.value = typed
        assert words in chooser.error, typed
        assert chooser.current == str(drive / "project")  # stayed where it was
        assert chooser._path_box.value == typed  # kept so it can be corrected
    chooser._path_box.value = "../with space"  # relative: from the folder shown, as in a shell
    chooser._go_button.click()
    assert chooser.current == str(drive / "with space")
    chooser._path_box.value = ""
    chooser._go_button.click()
    assert "Type or paste" in chooser.error


def test_the_path_box_is_the_keyboard_route_to_a_folder(chooser: DriveFolderChooser, drive: Path) -> None:
    """Where a front end does not run the list's key script, an arrow key in the list opens
    the folder it lands on (ipyfilechooser navigates on every selection), and the box above
    it is how a keyboard reaches a folder: it says a folder's name works, and a name opens
    that folder of the one shown."""
    open_dialog(chooser)
    assert "folder name" in chooser._path_box.placeholder
    chooser._path_box.value = "project"
    assert chooser.current == str(drive / "project") and chooser.error == ""
    chooser._path_box.value = "data"
    assert chooser.current == str(drive / "project" / "data")


# -- new folder -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "Type a name"),
        ("   ", "Type a name"),
        (".", "is not a folder name"),
        ("..", "is not a folder name"),
        ("a/b", "cannot contain '/'"),
        ("nul\0", "NUL"),
        ("line\nbreak", "line break"),
        ("x" * 256, "too long"),
        ("project", "already exists"),
        ("readme.md", "already exists"),
    ],
)
def test_new_folder_validation(chooser: DriveFolderChooser, drive: Path, name: str, words: str) -> None:
    open_dialog(chooser)
    before = sorted(os.listdir(drive))
    assert chooser.make_folder(name) is None
    assert words in chooser.error
    assert sorted(os.listdir(drive)) == before


@pytest.mark.parametrize("name", ["New folder", "$(touch pwned)", 'it\'s "quoted"', "ünï 📁", "x" * 255])
def test_new_folder_created(chooser: DriveFolderChooser, drive: Path, name: str) -> None:
    open_dialog(chooser)
    chooser._dircontent.value = "project"
    chooser._new_name.value = name
    chooser._new_button.click()
    target = drive / "project" / name
    assert target.is_dir() and chooser.error == ""
    assert chooser.current == str(target)  # opened, ready to be chosen
    assert chooser.message.startswith("Created folder") and chooser._new_name.value == ""
    assert not (drive / "project" / "pwned").exists() and not Path("pwned").exists()
    chooser._dircontent.value = ".."
    assert name in names(chooser)  # the cached listing of the parent was dropped


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (PermissionError(errno.EACCES, "Permission denied"), "No permission to create"),
        (OSError(errno.EROFS, "Read-only file system"), "mounted read-only"),
        (OSError(errno.ENOTCONN, "Transport endpoint is not connected"), "disconnected"),
    ],
)
def test_new_folder_refused_by_the_drive(
    chooser: DriveFolderChooser, drive: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, words: str
) -> None:
    open_dialog(chooser)
    real = os.mkdir

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if str(path).startswith(str(drive)) or kwargs.get("dir_fd") is not None:
            raise error  # by path, or (as drivefs does) by a name in an open folder
        real(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    chooser._new_name.value = "x"
    chooser._new_button.click()  # a click never raises
    assert words in chooser.error
    chooser._new_name.value = ""
    assert chooser.make_folder("x") is None and words in chooser.error


# -- quick roots, re-rooting, disabled --------------------------------------------


def test_quick_roots_colab_layout(tmp_path: Path) -> None:
    mp = tmp_path / "content" / "drive"
    (mp / "MyDrive" / "work").mkdir(parents=True)
    (mp / "Shareddrives" / "Team").mkdir(parents=True)
    chooser = DriveFolderChooser(mp / "MyDrive", cache=ListingCache())
    assert chooser.quick_roots == {"My Drive": str(mp / "MyDrive"), "Shared drives": str(mp / "Shareddrives")}
    assert chooser.sandbox_path == str(mp)  # so Shared drives are inside it
    buttons = {b.description: b for b in chooser._quick_box.children}
    assert set(buttons) == {"My Drive", "Shared drives"}
    buttons["Shared drives"].click()
    assert chooser._dialog_open and chooser.current == str(mp / "Shareddrives")
    assert names(chooser) == ["..", "Team"]
    buttons["My Drive"].click()
    assert chooser.current == str(mp / "MyDrive")
    chooser.close()


def test_quick_roots_without_shared_drives(chooser: DriveFolderChooser, drive: Path) -> None:
    assert chooser.quick_roots == {"My Drive": str(drive)}


def test_remembered_folder(chooser: DriveFolderChooser, drive: Path) -> None:
    chooser.set_remembered(drive / "project" / "data")
    buttons = {b.description: b for b in chooser._quick_box.children}
    assert "Remembered folder" in buttons
    buttons["Remembered folder"].click()
    assert chooser.current == str(drive / "project" / "data")
    chooser.set_remembered(drive.parent / "outside")  # not on this drive: not offered
    assert "Remembered folder" not in chooser.quick_roots
    chooser.set_remembered(drive / "gone")
    buttons = {b.description: b for b in chooser._quick_box.children}
    buttons["Remembered folder"].click()
    assert "There is no folder" in chooser.error
    chooser.set_remembered(None)
    assert "Remembered folder" not in chooser.quick_roots


def test_explicit_quick_roots(drive: Path) -> None:
    chooser = DriveFolderChooser(drive, quick_roots={"Data": str(drive / "project" / "data"), "Away": "/etc"})
    assert chooser.quick_roots == {"Data": str(drive / "project" / "data")}
    chooser.close()


def test_not_mounted_and_set_root(drive: Path, tmp_path: Path) -> None:
    messages: list[tuple[str, str]] = []
    chooser = DriveFolderChooser(None, on_message=lambda text, level: messages.append((text, level)))
    assert chooser.disabled and chooser.root is None
    assert chooser.message == "Mount the drive to choose a folder on it."
    assert messages == []  # a state, not pushed over the host's own messages
    assert chooser._message_html.layout.display == "none"  # the host shows messages
    controls = [w for w in all_widgets(chooser) if hasattr(w, "disabled") and w is not chooser]
    assert controls and all(w.disabled for w in controls if not isinstance(w, HBox))
    assert chooser.select(drive) is None and "Mount the drive" in chooser.error
    assert messages[-1] == (chooser.error, "error")
    chooser._select.click()  # disabled: nothing happens, nothing raises
    assert not chooser._dialog_open

    assert chooser.set_root(drive) is True
    assert not chooser.disabled and not chooser._select.disabled and chooser.root == str(drive)
    assert chooser.select("project") == str(drive / "project")

    other = tmp_path / "other"
    (other / "x").mkdir(parents=True)
    assert chooser.set_root(other) is True  # re-rooted after a remount elsewhere
    assert chooser.chosen == "" and chooser.root == str(other)
    open_dialog(chooser)
    assert names(chooser) == ["x"]

    assert chooser.set_root(tmp_path / "missing") is False
    assert "There is no folder" in chooser.error and messages[-1][1] == "error"

    chooser.set_root(None)
    assert chooser.disabled and not chooser._dialog_open
    chooser.close()


def test_disabled_by_host(chooser: DriveFolderChooser, drive: Path) -> None:
    open_dialog(chooser)
    chooser.disabled = True
    assert not chooser._dialog_open
    assert chooser._select.disabled and chooser._path_box.disabled and chooser._new_button.disabled
    assert all(b.disabled for b in chooser._quick_box.children)
    assert chooser.select("project") is None and "Mount the drive" in chooser.error
    chooser.disabled = False
    assert not chooser._select.disabled
    chooser.select("project")


def test_sandbox_setter_and_reset(chooser: DriveFolderChooser, drive: Path) -> None:
    chooser.select("project")
    chooser.reset()
    assert chooser.chosen == "" and chooser.selected is None and "No selection" in chooser._label.value
    chooser.sandbox_path = str(drive / "project")
    assert chooser.root == str(drive / "project")
    assert chooser.select(drive / "with space") is None and "outside the drive" in chooser.error
    with pytest.raises(ValueError, match="folders only"):
        chooser.show_only_dirs = False


# -- huge folders ------------------------------------------------------------------


def test_capped_listing_filter_and_more(tmp_path: Path) -> None:
    root = tmp_path / "big"
    root.mkdir()
    for i in range(2500):
        (root / f"d{i:04d}").mkdir()
    chooser = DriveFolderChooser(root, limit=1000, cache=ListingCache())
    open_dialog(chooser)
    assert len(names(chooser)) == 1000
    assert chooser.listing_note == "Showing 1,000 of 2,500 folders — type a name to filter, or click More."
    assert "Showing 1,000 of 2,500" in chooser._note.value
    assert chooser._more_button.layout.display is None
    chooser._more_button.click()
    assert len(names(chooser)) == 2000
    chooser._more_button.click()
    assert len(names(chooser)) == 2500 and chooser.listing_note == ""
    assert chooser._more_button.layout.display == "none"
    chooser._filter_box.value = "d012"
    assert names(chooser) == [f"d012{i}" for i in range(10)]
    chooser._filter_box.value = "zzz"
    assert names(chooser) == [] and chooser.listing_note == "No folders match 'zzz'."
    chooser._filter_box.value = "d0001"
    chooser._dircontent.value = "d0001"  # opening a folder clears the filter
    assert chooser._filter_box.value == "" and names(chooser) == [".."]
    chooser.close()


def test_cache_is_used_between_visits(
    chooser: DriveFolderChooser, drive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in (drive, drive / "project"):
        past = time.time() - 3600
        os.utime(folder, (past, past))
    calls: list[str] = []
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        calls.append(where(path))
        return real(path)

    monkeypatch.setattr(listing.os, "scandir", scandir)
    open_dialog(chooser)
    chooser._dircontent.value = "project"
    chooser._dircontent.value = ".."
    chooser._dircontent.value = "project"
    assert calls.count(str(drive)) == 1 and calls.count(str(drive / "project")) == 1
    chooser.refresh()  # the Refresh button bypasses the cache
    assert calls.count(str(drive / "project")) == 2


def where(path: Any) -> str:
    """The folder ``os.scandir`` was given: a path, or (as drivewidget.folders lists) a descriptor."""
    return os.readlink(f"/proc/self/fd/{path}") if isinstance(path, int) else os.fspath(path)


# -- a drive that does not answer ----------------------------------------------------


@pytest.fixture
def hanging_scandir(drive: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """os.scandir blocks on the drive (like a dead FUSE daemon) until the event is set."""
    release = threading.Event()
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if where(path).startswith(str(drive)):
            release.wait(30)
        return real(path)

    monkeypatch.setattr(listing.os, "scandir", scandir)
    yield release
    release.set()


def test_hung_listing_says_not_responding(drive: Path, hanging_scandir: threading.Event) -> None:
    chooser = DriveFolderChooser(drive, timeout=0.3, cache=ListingCache())
    start = time.monotonic()
    chooser._select.click()  # opens the dialog: lists the root
    assert time.monotonic() - start < 1.5
    assert "not responding" in chooser.error and "Refresh" in chooser.error
    start = time.monotonic()
    chooser.refresh()  # still stuck: answered at once, no second stuck thread
    assert time.monotonic() - start < 0.2 and "not responding" in chooser.error
    assert chooser.browse("project") is None and "not responding" in chooser.error
    hanging_scandir.set()  # the daemon answers again
    deadline = time.monotonic() + 5
    while True:
        chooser.refresh()
        if chooser.error == "" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert chooser.error == "" and chooser.current == str(drive / "project")  # the last one asked for
    assert names(chooser) == ["..", "data"]
    chooser.close()


def test_slow_listing_finishes_in_the_background(drive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold cloud folder slower than the deadline: Refresh shows it once it has arrived."""
    calls: list[str] = []
    real = os.scandir

    def slow(path: Any = ".") -> Any:
        if where(path).startswith(str(drive)):
            calls.append(where(path))
            time.sleep(0.6)
        return real(path)

    monkeypatch.setattr(listing.os, "scandir", slow)
    past = time.time() - 3600
    os.utime(drive, (past, past))
    chooser = DriveFolderChooser(drive, timeout=0.2, cache=ListingCache())
    chooser._select.click()
    assert "not responding" in chooser.error
    time.sleep(0.8)  # the listing finished on its probe thread and was cached
    chooser._refresh_button.click()
    assert chooser.error == "" and names(chooser) == ["project", "with space"]
    assert calls == [str(drive)]  # not listed a second time
    chooser._refresh_button.click()  # a plain Refresh lists again
    assert calls == [str(drive), str(drive)]
    chooser.close()


def test_hung_root_at_construction(drive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real = os.stat

    def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if isinstance(path, str) and path.startswith(str(drive)):
            release.wait(30)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    try:
        start = time.monotonic()
        chooser = DriveFolderChooser(drive, timeout=0.3, cache=ListingCache())
        assert time.monotonic() - start < 1.5
        assert "not responding" in chooser.error and chooser.root == str(drive)
    finally:
        release.set()
    chooser.close()


def test_disconnected_drive(
    chooser: DriveFolderChooser, drive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scandir(path: Any = ".") -> Any:
        raise OSError(errno.ENOTCONN, "Transport endpoint is not connected", where(path))

    monkeypatch.setattr(listing.os, "scandir", scandir)
    chooser._select.click()
    assert "disconnected" in chooser.error and "Transport endpoint" in chooser.error


# -- never a traceback, always JSON-safe ----------------------------------------------


def test_callback_errors_become_messages(chooser: DriveFolderChooser) -> None:
    def broken(path: str) -> None:
        raise RuntimeError("boom")

    chooser.on_choose(broken)
    chooser.select("project")  # does not raise
    assert "callback failed: RuntimeError: boom" in chooser.error
    assert chooser.chosen.endswith("project")


def test_undecodable_names_are_json_safe(drive: Path) -> None:
    raw = os.path.join(os.fsencode(drive), b"bad-\xff")
    os.mkdir(raw)
    os.mkdir(os.path.join(raw, b"inner"))
    chooser = DriveFolderChooser(drive, cache=ListingCache())
    open_dialog(chooser)
    bad = os.fsdecode(b"bad-\xff")
    assert bad in names(chooser)
    chooser._dircontent.value = bad
    assert chooser.current == os.fsdecode(raw) and names(chooser) == ["..", "inner"]
    chooser._select.click()
    assert chooser.chosen == os.fsdecode(raw) and os.path.isdir(chooser.chosen)
    chooser.make_folder("x")
    for widget in all_widgets(chooser):
        json.dumps(widget.get_state(), ensure_ascii=False, default=str).encode("utf-8")
    assert "bad-\\xff" in chooser._label.value
    chooser.close()


def test_close_closes_children(chooser: DriveFolderChooser) -> None:
    parts = all_widgets(chooser)
    chooser.close()
    assert all(w.comm is None for w in parts)


def test_the_commit_button_says_which_folder_it_will_choose(chooser: DriveFolderChooser, drive: Path) -> None:
    chooser.select("project")
    assert "project" in chooser._label.value and chooser._select.description == "Change folder"
    chooser._select.click()  # opens the dialog
    chooser.browse(str(drive))
    assert chooser._select.description == "Choose this folder"
    assert f"Will choose: {drive}" in chooser._label.value
    chooser._cancel.click()  # nothing chosen: the old choice is shown again
    assert chooser._select.description == "Change folder" and "Will choose" not in chooser._label.value
    assert chooser.chosen == str(drive / "project")


def test_a_folder_that_cannot_be_listed_never_becomes_the_choice(
    chooser: DriveFolderChooser, drive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The label always names what 'Choose this folder' would choose."""
    import errno

    chooser.select("project")
    open_dialog(chooser)
    chooser.browse("with space")
    chooser._cancel.click()
    real_scan = chooser._cache.scan

    def broken(path: str, **kwargs: object) -> object:
        if path.endswith("data"):
            raise OSError(errno.EIO, "Input/output error", path)
        return real_scan(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(chooser._cache, "scan", broken)
    assert chooser.browse("project/data") is None and "Input/output error" in chooser.error
    if chooser._dialog_open:
        shown = chooser._label.value
        chooser._select.click()
        assert chooser.chosen and chooser.chosen in shown
    else:
        assert chooser.chosen == str(drive / "project")


def test_a_refused_choice_stops_the_callbacks_and_is_never_announced(
    chooser: DriveFolderChooser, drive: Path
) -> None:
    from drivewidget.errors import InvalidPath

    seen: list[str] = []
    chooser.select("project")
    chooser.observe(lambda change: seen.append(change["new"]), names="chosen")

    def refuse(folder: str) -> None:
        raise InvalidPath("refused by the host")

    chooser.on_choose(refuse)
    chooser.on_choose(seen.append)
    assert chooser.select("with space") is None and "refused by the host" in chooser.error
    assert seen == [] and chooser.chosen == str(drive / "project")


def test_the_root_has_one_name_and_edge_spaces_show(chooser: DriveFolderChooser, drive: Path) -> None:
    """The root is "My Drive" on its button and in the breadcrumb; a name that starts or ends
    with a space is quoted (a list option and a path drop edge spaces: " a" would read "a")."""
    (drive / " lead").mkdir()
    open_dialog(chooser)
    assert chooser._pathlist.options[0][0] == "My Drive" and "My Drive" in chooser.quick_roots
    labels = [label for label, _value in chooser._dircontent.options]
    assert any(label.endswith('" lead"') for label in labels), labels
    chooser.browse(" lead")
    assert chooser._pathlist.options[0][0] == 'My Drive \u203a " lead"'


def test_a_shared_drives_sandbox_names_the_root_in_the_breadcrumb(tmp_path: Path) -> None:
    """Colab's tree: <mp>/MyDrive beside <mp>/Shareddrives; the breadcrumb says Drive > My Drive."""
    (tmp_path / "mp" / "MyDrive" / "projects").mkdir(parents=True)
    (tmp_path / "mp" / "Shareddrives").mkdir()
    chooser = DriveFolderChooser(tmp_path / "mp" / "MyDrive", cache=ListingCache(), timeout=2.0)
    try:
        chooser.browse("projects")
        assert chooser._pathlist.options[0][0] == "Drive \u203a My Drive \u203a projects"
    finally:
        chooser.close()
