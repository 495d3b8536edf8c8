"""DriveFolderChooser: ipyfilechooser's FileChooser made safe and fast for a mounted drive.

ipyfilechooser 0.6.0 (pinned) lists a folder with ``os.listdir`` plus one ``os.path.isdir``
per entry, straight from widget callbacks, so a hung FUSE mount freezes the kernel. This
subclass keeps its look and public API but overrides every method that touches the
filesystem (``_set_form_values``, ``_on_dircontent_select``, ``_show_dialog``,
``_apply_selection``, ``reset``, ``refresh`` and the setters that validate paths): listings
and checks come from :mod:`drivewidget.folders` (one scandir pass, capped, cached, the drive
read through :mod:`drivewidget.drivefs`), bounded in time; only folders inside
``sandbox_path`` can be reached. It adds a name filter with "More" for capped folders, a
breadcrumb path list, ``on_choose`` callbacks and ``disabled``; the other tools and the
never-raise rule live in :mod:`drivewidget.ui.chooser_extras`. Only plain widgets (no
``Output``: the classic Notebook 6 front end cannot create one).
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from ipyfilechooser import FileChooser
from ipywidgets import HTML, Button, HBox, Layout, Text, VBox, Widget
from traitlets import Bool, Unicode

from .. import folders
from ..errors import DriveError, InvalidPath
from ..folders import DEFAULT_LIMIT, ListingCache, Scan, make_listing, shared_cache
from ..status.mounttable import is_within
from ..text import ROOT_LABEL, display_name, visible_name
from ..timeouts import FS_TIMEOUT
from .chooser_extras import NOT_RESPONDING, ChooserTools, subpaths
from .list_keys import KEEP_KEYS
from .tree import close_tree

__all__ = ["DEFAULT_TIMEOUT", "NOT_RESPONDING", "DriveFolderChooser"]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT = FS_TIMEOUT
"""Seconds a listing or check may take before the drive is called not responding: listing a
folder the user opened is a deliberate operation (timeouts.FS_TIMEOUT says why ten seconds)."""
CHOOSE_SHOWN = "Choose this folder"
"""The commit button's text while browsing (the label says which folder that is)."""

CHOOSER_CLASS = "dw-folder-chooser"
_SHOWN: None = None  # layout.display value that shows a widget
_HIDDEN = "none"


class DriveFolderChooser(ChooserTools, FileChooser):  # type: ignore[misc]
    """Choose a folder of a mounted drive; fast on huge folders, never blocks on a dead mount.

    Embed it, observe ``chosen`` (or register :meth:`on_choose`) to act on the choice, show
    ``message`` somewhere (it is also shown under the chooser), call :meth:`set_root` after
    a mount and ``set_root(None)`` after an unmount.
    """

    chosen = Unicode("", help="Absolute path of the folder last chosen; empty when none.")
    current = Unicode("", help="Absolute path of the folder being browsed.")
    message = Unicode("", help="Last information or error for the user (plain text, never a traceback).")
    error = Unicode("", help="The last error; empty when the last action succeeded.")
    listing_note = Unicode("", help="Why names are missing ('Showing 1,000 of 10,200 ...') or ''.")
    disabled = Bool(False, help="Disable every control (e.g. while nothing is mounted).")
    remembered = Unicode("", help="A folder offered as the 'Remembered folder' quick root.")
    read_only = Bool(False, help="The drive is mounted read-only: 'New folder' is off.")
    dialog_open = Bool(False, help="Whether the folder list is shown (browsing).")

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        start: str | os.PathLike[str] | None = None,
        sandbox: str | os.PathLike[str] | None = None,
        quick_roots: Mapping[str, str] | None = None,
        root_label: str = ROOT_LABEL,
        remembered: str = "",
        title: str = "",
        limit: int = DEFAULT_LIMIT,
        timeout: float = DEFAULT_TIMEOUT,
        show_hidden: bool = False,
        cache: ListingCache | None = None,
        select_desc: str = "Choose folder",
        change_desc: str = "Change folder",
        dir_icon: str | None = "\U0001f4c1 ",
        on_message: Callable[[str, str], Any] | None = None,
        layout: Layout | None = None,
        **kwargs: Any,
    ) -> None:
        # Plain attributes first: FileChooser.__init__ calls our _set_form_values.
        self._ready = False
        self._root: str | None = None
        self._last_timeout: str | None = None
        self._current = ""
        self._scan: Scan | None = None
        self._limit = limit
        self._page_limit = limit
        self.timeout = timeout
        self._cache = cache if cache is not None else shared_cache
        self._root_label = root_label
        self._fixed_quick_roots = dict(quick_roots) if quick_roots is not None else None
        self._quick_roots: dict[str, str] = {}
        self._choose_callbacks: list[Callable[[str], Any]] = []
        self._on_message_cb = on_message
        self._level = "info"
        self._notify = True
        # The parent lists its start folder and validates it with unbounded calls; give it
        # "/" (never a FUSE mount) and no sandbox, then root ourselves with bounded calls.
        super().__init__(
            path=os.sep,
            title=title,
            select_desc=select_desc,
            change_desc=change_desc,
            show_hidden=show_hidden,
            show_only_dirs=True,
            dir_icon=dir_icon,
            sandbox_path=None,
            layout=layout if layout is not None else Layout(width="auto"),
            **kwargs,
        )
        self._sandbox_path: str | None = None
        self._default_path = ""
        self._dircontent.rows = 7
        self.add_class(CHOOSER_CLASS)
        self._title.value = f"{html.escape(title)}{KEEP_KEYS}"

        self._build_extras()
        self.observe(self._on_disabled, names=["disabled", "read_only"])
        self.observe(self._render_message, names=["message", "error"])
        self.observe(self._on_remembered, names="remembered")
        self.observe(self._on_note, names="listing_note")
        self._ready = True
        self.remembered = remembered
        self.set_root(root, start=start, sandbox=sandbox)

    # -- public API --------------------------------------------------------------

    @property
    def root(self) -> str | None:
        """The drive root the chooser starts in (None while nothing is mounted)."""
        return self._root

    def set_root(
        self,
        root: str | os.PathLike[str] | None,
        *,
        start: str | os.PathLike[str] | None = None,
        sandbox: str | os.PathLike[str] | None = None,
        quick_roots: Mapping[str, str] | None = None,
    ) -> bool:
        """Root the chooser at ``root`` (e.g. after a mount); ``None`` disables it (unmounted).

        ``sandbox`` (default: ``root``, or its parent when a Shared drives folder sits beside
        it, as on Colab) is the folder users cannot leave; ``start`` where browsing begins;
        ``quick_roots`` (label -> folder) replaces the detected quick-root buttons.
        Never raises (it is called from observers): returns False when the root cannot be
        used, with the reason in ``message``/``error``; the chooser then stays rooted there
        so Refresh can retry.
        """

        def rooted() -> bool:
            self._set_root(root, start, sandbox, quick_roots)
            return True

        return bool(self._attempt(rooted))

    def _set_root(
        self,
        root: str | os.PathLike[str] | None,
        start: str | os.PathLike[str] | None,
        sandbox: str | os.PathLike[str] | None,
        quick_roots: Mapping[str, str] | None,
    ) -> None:
        self._clear()
        self._close_dialog()
        self._scan = None
        self._current = self.current = ""
        if quick_roots is not None:
            self._fixed_quick_roots = dict(quick_roots)
        if root is None or not os.fspath(root):
            self._root = None
            self._sandbox_path = None
            self._quick_roots = {}
            self._set_selection(None)
            self._rebuild_quick_roots()
            self.disabled = True
            # A state, not an event: shown in the chooser, not pushed over the host's messages.
            self._info("Mount the drive to choose a folder on it.", notify=False)
            return
        if self._sandbox_path:
            self._cache.invalidate(self._sandbox_path)  # a new mount: nothing cached holds
        root_path = os.path.abspath(os.path.expanduser(os.fspath(root)))
        given_sandbox = os.path.abspath(os.fspath(sandbox)) if sandbox is not None else None
        self._root = root_path
        self._sandbox_path = given_sandbox or root_path
        self._default_path = root_path
        self._quick_roots = {self._root_label: root_path}
        self._rebuild_quick_roots()
        self.disabled = False
        if given_sandbox is not None and not is_within(root_path, given_sandbox):
            raise self._reject(InvalidPath(f"{root_path} is not inside {given_sandbox}."))

        def inspect() -> str | None:
            folders.check_folder(root_path, given_sandbox or root_path)
            return folders.shared_drives_folder(root_path)

        shared = self._bounded(root_path, inspect)  # raises on failure
        if shared and given_sandbox is None and not is_within(shared, self._sandbox_path):
            self._sandbox_path = os.path.dirname(shared)  # Colab: <mp> holds MyDrive and Shareddrives
        if shared and is_within(shared, self._sandbox_path):
            self._quick_roots["Shared drives"] = shared
        if self._fixed_quick_roots is not None:
            self._quick_roots = {
                k: os.path.abspath(v)
                for k, v in self._fixed_quick_roots.items()
                if is_within(v, self._sandbox_path)
            }
        self._rebuild_quick_roots()
        if self.chosen and not is_within(self.chosen, self._sandbox_path):
            self._set_selection(None)
        if start is not None:
            start_path = self._resolve(start)
            self._default_path = start_path

    def browse(self, path: str | os.PathLike[str]) -> str | None:
        """Open the chooser at ``path`` (relative paths start at the root), without choosing it.

        Returns the folder shown, or None when it cannot be shown: the reason (what to do) is
        then in ``error``/``message`` and sent to ``on_message``. Never raises.
        """
        return self._attempt(lambda: self._do_browse(path))

    def select(self, path: str | os.PathLike[str]) -> str | None:
        """Choose ``path`` as if browsed to and clicked: sets ``chosen`` and runs the callbacks.

        Relative paths start at the root. Returns the absolute folder, or None (reason in
        ``error``) for a missing folder, a file, a folder off the drive, a drive that is not
        mounted or not responding. Never raises.
        """
        return self._attempt(lambda: self._do_select(path))

    def _do_browse(self, path: str | os.PathLike[str]) -> str:
        self._clear()
        self._require_root()
        target, sandbox = self._resolve(path), self._sandbox_path or ""
        self._bounded(target, lambda: folders.check_folder(target, sandbox))
        self._show_folder(target)  # raises when it cannot be listed: the dialog stays as it was
        self._open_dialog()
        self._path_box.value = ""
        return target

    def _do_select(self, path: str | os.PathLike[str]) -> str:
        self._clear()
        self._require_root()
        target, sandbox = self._resolve(path), self._sandbox_path or ""
        self._bounded(target, lambda: folders.check_folder(target, sandbox))
        refusal = self._commit(target)
        if refusal is not None:
            raise refusal
        return target

    def refresh(self) -> None:
        """List the folder being browsed again, bypassing the cache (the Refresh button).

        After a listing timed out, Refresh retries that folder and takes the listing that may
        have finished in the background meanwhile (forcing a new one could time out forever
        on a slow cloud folder).
        """
        self._clear()
        if self._root is None:
            self._info("Mount the drive to choose a folder on it.")
            return
        pending = self._last_timeout
        target = pending or self._current or self._default_path
        if pending is None:
            self._cache.invalidate(target)
        self._page_limit = self._limit
        self._try_show(target, refresh=pending is None)

    def reset(self, path: str | None = None, filename: str | None = None) -> None:
        """Forget the choice and close the dialog; ``path`` becomes where browsing starts."""
        self._clear()
        self._set_selection(None)
        self._close_dialog()
        if path is not None:
            with contextlib.suppress(DriveError):  # recorded in message
                self._default_path = self._resolve(path)

    def close(self) -> None:
        """Close this widget and all the widgets it is made of."""
        for child in self.children:
            close_tree(child)
        super().close()

    # -- FileChooser properties whose setters validate paths without a deadline -----

    @property
    def selected(self) -> str | None:
        """The chosen folder (no trailing slash, unlike FileChooser's file-oriented value)."""
        return self._selected_path

    @property
    def selected_filename(self) -> str | None:
        return self._selected_filename

    @property
    def sandbox_path(self) -> str | None:
        return self._sandbox_path

    @sandbox_path.setter
    def sandbox_path(self, sandbox_path: str) -> None:
        self.set_root(sandbox_path)

    @property
    def default_path(self) -> str:
        return self._default_path

    @default_path.setter
    def default_path(self, path: str) -> None:
        self._clear()
        resolved = self._attempt(lambda: self._resolve(path))
        if resolved is None:
            return
        self._default_path = resolved
        if self._dialog_open:
            self._try_show(self._default_path)

    @property
    def show_only_dirs(self) -> bool:
        return True

    @show_only_dirs.setter
    def show_only_dirs(self, show_only_dirs: bool) -> None:
        if not show_only_dirs:
            raise ValueError("DriveFolderChooser chooses folders only.")

    # -- overridden FileChooser internals (pinned by tests/ui/test_chooser.py) -------

    def _set_form_values(self, path: str, filename: str) -> None:
        """Every FileChooser code path that re-lists lands here: bounded, cached, capped."""
        if not self._ready:
            return  # called by FileChooser.__init__ before we are rooted
        self._clear()
        self._try_show(path)

    def _on_pathlist_select(self, change: Mapping[str, Any]) -> None:
        if change["new"] is None or self._sandbox_path is None:
            return
        self._clear()
        self._try_show(self._expand_path(change["new"]))

    def _on_dircontent_select(self, change: Mapping[str, Any]) -> None:
        name = change["new"]
        if name is None or not self._current:
            return
        self._clear()
        parent = os.path.dirname(self._current)
        target = parent if name == os.pardir else os.path.join(self._current, name)
        if not self._try_show(target):
            with self._quiet():
                self._dircontent.value = None

    def _on_select_click(self, _button: object) -> None:
        if self.disabled:
            return
        if not self._dialog_open:
            self._show_dialog()
            return
        self._apply_selection()

    def _show_dialog(self) -> None:
        self._clear()
        if self._root is None:
            self._info("Mount the drive to choose a folder on it.")
            return
        self._open_dialog()
        preferred = self._selected_path or self._default_path
        self._page_limit = self._limit
        if not self._try_show(preferred) and preferred != self._default_path:
            self._try_show(self._default_path)

    def _apply_selection(self) -> None:
        if self._current:
            self._commit(self._current)

    def _commit(self, folder: str) -> DriveError | None:
        """Choose ``folder`` and run the callbacks. When one refuses it (raises a DriveError,
        e.g. the controller cannot enter it) the rest do not run, the previous choice is shown
        again and ``chosen`` never announced the refused folder; returns that error."""
        previous = self._selected_path
        self._set_selection(folder, announce=False)  # ipyfilechooser callbacks read .selected
        self._close_dialog()
        refusal = self._run_callbacks(folder)
        self._set_selection(previous if refusal is not None else folder)
        return refusal

    # -- internals ---------------------------------------------------------------

    @property
    def _dialog_open(self) -> bool:
        return bool(self._gb.layout.display != _HIDDEN)

    def _build_extras(self) -> None:
        self._select.layout.width = "auto"  # upstream's 6em cuts "Change folder" to "Chang..."
        self._cancel.layout.width = "auto"
        for box, name in ((self._pathlist, "Folder"), (self._dircontent, "Open a folder")):
            box.description = name  # an accessible name; the panel's stylesheet hides it from view
            box.add_class("dw-sr-label")
        self._build_tools()
        self._filter_box = Text(placeholder="Filter names", layout=Layout(width="12em"))
        self._filter_box.observe(self._on_filter, names="value")
        self._note = HTML(layout=Layout(flex="1 1 auto"))
        self._more_button = Button(
            description="More", tooltip="Show the next names", layout=Layout(width="auto", display=_HIDDEN)
        )
        self._more_button.on_click(self._on_more)
        self._top = VBox(
            [
                HBox([self._quick_box, self._refresh_button], layout=Layout(width="auto")),
                HBox([self._path_box, self._go_button], layout=Layout(width="auto")),
            ],
            layout=Layout(width="auto", display=_HIDDEN),
        )
        self._bottom = VBox(
            [
                HBox([self._filter_box, self._note, self._more_button], layout=Layout(width="auto")),
                HBox([self._new_name, self._new_button], layout=Layout(width="auto")),
            ],
            layout=Layout(width="auto", display=_HIDDEN),
        )
        # With on_message the host shows messages; do not show them twice.
        shown = _HIDDEN if self._on_message_cb is not None else _SHOWN
        self._message_html = HTML(layout=Layout(width="auto", display=shown))
        own: tuple[Widget, ...] = tuple(self.children)  # type: ignore[has-type]
        title, grid, buttonbar = own  # FileChooser's own three (pinned by a test)
        buttonbar.children[-1].add_class(
            "dw-choice"
        )  # "Will choose: ..." wraps under the buttons when narrow
        self.children = (title, self._top, grid, self._bottom, buttonbar, self._message_html)
        self._gb.layout.observe(self._on_dialog_display, names="display")
        self._rebuild_quick_roots()

    def _controls(self) -> list[Widget]:
        return [
            self._pathlist,
            self._dircontent,
            self._select,
            self._cancel,
            self._refresh_button,
            self._path_box,
            self._go_button,
            self._filter_box,
            self._more_button,
            self._new_name,
            self._new_button,
            *self._quick_box.children,
        ]

    def _on_dialog_display(self, change: Mapping[str, Any]) -> None:
        self._top.layout.display = change["new"]
        self._bottom.layout.display = change["new"]

    def _on_disabled(self, change: Mapping[str, Any]) -> None:
        for widget in self._controls():
            widget.disabled = self.disabled
        self._new_name.disabled = self._new_button.disabled = self.disabled or self.read_only
        if change["name"] == "disabled" and change["new"]:
            self._close_dialog()

    def _try_show(self, path: str, refresh: bool = False) -> bool:
        """Show ``path``; on failure the reason is in ``message`` and False is returned."""
        try:
            self._show_folder(path, refresh)
        except DriveError:
            return False
        return True

    def _show_folder(self, path: str, refresh: bool = False) -> None:
        """List ``path`` (bounded, cached) and show it; raises (and records) a DriveError."""
        target = self._resolve(path)
        cache, sandbox = self._cache, self._sandbox_path or target

        def load() -> tuple[Scan, bool]:
            return cache.scan(target, refresh=refresh, area=sandbox)

        scan, hit = self._bounded(target, load)
        if target != self._current:  # a new folder: back to the first page, no filter
            self._page_limit = self._limit
            self._scan = None  # so clearing the filter does not re-render the old folder
            self._filter_box.value = ""
        self._current = self.current = target
        self._scan = scan
        self._last_timeout = None
        self._render(scan, from_cache=hit)
        self._show_browsing()

    def _render(self, scan: Scan, from_cache: bool) -> None:
        listing = make_listing(
            scan,
            dirs_only=True,
            show_hidden=self._show_hidden,
            name_filter=self._filter_box.value,
            limit=self._page_limit,
            from_cache=from_cache,
        )
        restricted = self._restrict_path(scan.path)
        icon = self._dir_icon or ""
        options: list[tuple[str, str]] = []
        if self._sandbox_path and scan.path != self._sandbox_path:
            options.append((f"{icon}{os.pardir}", os.pardir))
        options.extend((f"{icon}{visible_name(name)}", name) for name in listing.folders)
        with self._quiet():
            self._pathlist.options = [(self._crumbs(p), p) for p in subpaths(restricted)]
            self._pathlist.value = restricted
            self._dircontent.options = options
            self._dircontent.value = None
        note = listing.summary()
        if listing.capped and not listing.name_filter:
            note = note[:-1] + ", or click More."
        if listing.files_not_shown and not listing.capped:
            files = f"{listing.files_not_shown:,} file{'s' if listing.files_not_shown != 1 else ''} not shown"
            note = f"{note[:-1]} ({files})." if note else f"{files.capitalize()}."
        self.listing_note = note
        self._more_button.layout.display = _SHOWN if listing.has_more else _HIDDEN

    def _crumbs(self, restricted: str) -> str:
        """'/MyDrive/projects' -> 'Drive > My Drive > projects' (with a single angle quote): the
        path list reads as a breadcrumb, and the root is named as its button is."""
        path = self._sandbox_path or os.sep
        crumbs = [self._root_label if path == self._root else "Drive"]
        for name in (n for n in restricted.split(os.sep) if n):
            path = os.path.join(path, name)
            crumbs.append(self._root_label if path == self._root else visible_name(name))
        return " \u203a ".join(crumbs)

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """Change the lists without their observers re-listing."""
        self._pathlist.unobserve(self._on_pathlist_select, names="value")
        self._dircontent.unobserve(self._on_dircontent_select, names="value")
        try:
            yield
        finally:
            self._pathlist.observe(self._on_pathlist_select, names="value")
            self._dircontent.observe(self._on_dircontent_select, names="value")

    def open_dialog(self) -> None:
        """Show the folder list, at the folder chosen (or the root); as the button does."""
        if not self.disabled and not self._dialog_open:
            self._show_dialog()

    def _open_dialog(self) -> None:
        self.dialog_open = True
        self._gb.layout.display = _SHOWN
        self._cancel.layout.display = _SHOWN
        self._select.description = CHOOSE_SHOWN
        self._show_browsing()  # the label names what the button would choose, always

    def _close_dialog(self) -> None:
        self.dialog_open = False
        self._gb.layout.display = _HIDDEN
        self._cancel.layout.display = _HIDDEN
        self._show_choice()

    def _on_cancel_click(self, _button: object) -> None:
        self._close_dialog()  # and show the current choice again, not the folder browsed

    def _show_choice(self) -> None:
        """The label and button while the dialog is closed: the folder chosen, if any."""
        folder = self._selected_path
        self._select.description = self._change_desc if folder else self._select_desc
        self._label.value = html.escape(display_name(folder)) if folder else self._LBL_NOFILE

    def _show_browsing(self) -> None:
        """While browsing, the label says which folder the button would choose."""
        if self._dialog_open and self._current:
            shown = html.escape(display_name(self._current))
            self._label.value = f"Will choose: {shown}"

    def _set_selection(self, folder: str | None, *, announce: bool = True) -> None:
        self._selected_path = folder
        self._selected_filename = "" if folder else None
        if announce:
            self.chosen = folder or ""
        if self._dialog_open:
            self._show_browsing()
        else:
            self._show_choice()

    def __repr__(self) -> str:
        return (
            f"DriveFolderChooser(root={self._root!r}, sandbox={self._sandbox_path!r}, chosen={self.chosen!r})"
        )
