"""The folder chooser's tools around ipyfilechooser, and its rule that nothing ever raises.

Tools: quick-root buttons (My Drive, Shared drives when present, the remembered folder), a
box to paste a path, Refresh, and "New folder". The rule: every action of the chooser, a
click or a call from code, either works or leaves the reason (in words that say what to do)
in the ``message``/``error`` traits, the chooser's message line and the host's
``on_message(text, level)``; filesystem calls run under a deadline
(:func:`drivewidget.status.probe.bounded`), so a dead mount answers "not responding".

:class:`ChooserTools` is a mixin of :class:`drivewidget.ui.chooser.DriveFolderChooser`,
which holds the state it reads (root, sandbox, folder shown, traits).
"""

from __future__ import annotations

import functools
import html
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ipywidgets import Button, HBox, Layout, Text

from .. import folders
from ..errors import DriveError, InvalidPath, NotMounted, StaleMount, from_os_error
from ..status.mounttable import is_within
from ..status.probe import bounded
from ..text import display_name

log = logging.getLogger("drivewidget.ui.chooser")

T = TypeVar("T")

NOT_RESPONDING = "not responding"
REMEMBERED = "Remembered folder"
"""The quick-root button of the folder remembered on the drive (the panel's messages name it)."""


class ChooserTools:
    """Quick roots, the path box, New folder, the filter's paging, and the never-raise message plumbing."""

    # Set by DriveFolderChooser (declared here for type checkers).
    _root: str | None
    _sandbox_path: str | None
    _current: str
    _default_path: str
    _fixed_quick_roots: dict[str, str] | None
    _quick_roots: dict[str, str]
    _on_message_cb: Callable[[str, str], Any] | None
    _level: str
    _notify: bool
    _last_timeout: str | None
    _ready: bool
    _cache: folders.ListingCache
    timeout: float
    remembered: str
    disabled: bool
    read_only: bool
    message: str
    error: str
    _message_html: Any
    _note: Any
    browse: Callable[[str | os.PathLike[str]], str | None]
    refresh: Callable[[], None]
    _open_dialog: Callable[[], None]
    _try_show: Callable[..., bool]
    _choose_callbacks: list[Callable[[str], Any]]
    _callback: Callable[..., Any] | None
    _scan: folders.Scan | None
    _limit: int
    _page_limit: int
    _render: Callable[..., None]

    def _build_tools(self) -> None:
        small = Layout(width="auto")
        self._quick_box = HBox(layout=Layout(width="auto", flex_flow="row wrap"))
        self._refresh_button = Button(
            description="Refresh", icon="refresh", tooltip="List this folder again", layout=small
        )
        self._refresh_button.on_click(lambda _b: self.refresh())
        self._path_box = Text(
            placeholder="Type a folder name or path, then Enter",
            continuous_update=False,
            layout=Layout(flex="1 1 12em", width="auto"),
        )
        self._path_box.observe(self._on_path_box, names="value")
        self._go_button = Button(description="Go", tooltip="Open the folder typed on the left", layout=small)
        self._go_button.on_click(lambda _b: self._go(self._path_box.value))
        self._new_name = Text(placeholder="New folder name", layout=Layout(flex="1 1 10em", width="auto"))
        self._new_button = Button(description="New folder", icon="folder", layout=small)
        self._new_button.on_click(lambda _b: self.make_folder(self._new_name.value))

    @property
    def quick_roots(self) -> dict[str, str]:
        """Label -> folder of the quick-root buttons (Remembered folder included when set)."""
        roots = dict(self._quick_roots)
        if self.remembered and self._sandbox_path and is_within(self.remembered, self._sandbox_path):
            roots[REMEMBERED] = os.path.abspath(self.remembered)
        return roots

    def set_remembered(self, folder: str | os.PathLike[str] | None) -> None:
        """Offer ``folder`` as the "Remembered folder" quick root (None or '' removes it)."""
        self.remembered = os.fspath(folder) if folder else ""

    def make_folder(self, name: str) -> str | None:
        """Create folder ``name`` in the folder being browsed (os.mkdir, never a shell) and open it.

        The name must not be empty, '.', '..', hold '/' or control characters, exceed 255 bytes
        or exist already. Returns the new folder, or None (reason in ``error``). Never raises.
        """
        return self._attempt(lambda: self._do_make_folder(name))

    def _do_make_folder(self, name: str) -> str:
        self._clear()
        self._require_root()
        parent = self._current or self._default_path
        if self.read_only:
            raise self._reject(
                InvalidPath("The drive is mounted read-only, so no folder can be created on it.")
            )
        problem = folders.name_problem(name)
        if problem:
            raise self._reject(InvalidPath(problem))
        target = os.path.join(parent, name)
        area = self._sandbox_path or parent
        try:
            self._bounded(target, lambda: folders.make_folder(parent, name, area), action="create")
        finally:
            self._cache.invalidate(parent)
        self._new_name.value = ""
        self._open_dialog()
        if self._try_show(target):
            self._info(f"Created folder {display_name(name)} in {display_name(parent)}.", "success")
        return target

    def _rebuild_quick_roots(self) -> None:
        buttons = []
        for label, path in self.quick_roots.items():
            button = Button(
                description=label, tooltip=display_name(path), layout=Layout(width="auto", flex="0 0 auto")
            )
            button.on_click(lambda _b, p=path: self.browse(p))
            button.disabled = self.disabled
            buttons.append(button)
        old = self._quick_box.children
        self._quick_box.children = tuple(buttons)
        for button in old:
            button.close()

    def _on_remembered(self, _change: Mapping[str, Any]) -> None:
        if self._ready:
            self._rebuild_quick_roots()

    def _on_path_box(self, change: Mapping[str, Any]) -> None:
        if change["new"].strip():
            self._go(change["new"])

    def _go(self, text: str) -> None:
        """The path box and Go: browse to the pasted path (a relative one from the folder
        shown, as in a shell); errors to ``message`` only."""
        path = text.strip()  # pasted paths often carry a newline or spaces around them
        if not path:
            self._fail("Type or paste a folder path first.")
            return
        if self._current and not os.path.isabs(path) and not path.startswith("~"):
            path = os.path.join(self._current, path)
        self.browse(path)

    def _attempt(self, action: Callable[[], T]) -> T | None:
        """Run an action; a DriveError is already in ``message``, anything else is put there."""
        try:
            return action()
        except DriveError:
            return None
        except Exception as exc:
            log.debug("folder chooser action failed", exc_info=True)
            self._fail(f"Something went wrong: {type(exc).__name__}: {exc}")
            return None

    def _require_root(self) -> None:
        if self._root is None or self._sandbox_path is None or self.disabled:
            raise self._reject(NotMounted("Mount the drive before choosing a folder on it."))

    def _resolve(self, path: str | os.PathLike[str]) -> str:
        """Absolute, normalised path inside the sandbox, by text alone; raises InvalidPath."""
        raw = os.path.expanduser(os.fspath(path))
        if not raw:
            raise self._reject(InvalidPath("Type or paste a folder path first."))
        if "\0" in raw:
            raise self._reject(InvalidPath("A path cannot contain a NUL character."))
        base = self._root or self._sandbox_path or os.sep
        target = os.path.normpath(raw if os.path.isabs(raw) else os.path.join(base, raw))
        if self._sandbox_path is None or not is_within(target, self._sandbox_path):
            where = self._sandbox_path or "the drive"
            raise self._reject(
                InvalidPath(f"{display_name(target)} is outside the drive. Choose a folder under {where}.")
            )
        return target

    def _bounded(self, target: str, fn: Callable[[], T], action: str = "open") -> T:
        """Run a filesystem call with the deadline; raise (and record) a DriveError on failure."""
        result = bounded(self._probe_key, fn, self.timeout)
        if result.timed_out:
            self._last_timeout = target
            raise self._reject(
                StaleMount(
                    f"The drive is {NOT_RESPONDING}: could not {action} {display_name(target)} within "
                    f"{self.timeout:g} s. Click Refresh to try again; if it persists, unmount and mount again."
                )
            )
        if result.error is not None:
            raise self._reject(self._os_error(target, result.error, action))
        return result.value  # type: ignore[return-value]

    @property
    def _probe_key(self) -> str:
        return f"drivewidget-chooser:{self._sandbox_path or self._root or ''}"

    def _os_error(self, target: str, exc: OSError, action: str) -> DriveError:
        area = self._sandbox_path or "the drive's root"
        return from_os_error(exc, doing=action, path=display_name(target), folder=True, area=area)

    def _render_message(self, change: Mapping[str, Any] | None = None) -> None:
        text, level = self.message, self._level
        self._message_html.value = (
            f"<div class='dw-message dw-{level}'>{html.escape(display_name(text))}</div>" if text else ""
        )
        if change is None or change["name"] != "message":
            return
        cleared = not text and bool(change["old"])  # the last message no longer applies
        notify = (text or cleared) and self._notify
        if notify and self._on_message_cb is not None:
            try:
                self._on_message_cb(display_name(text), level)
            except Exception:
                log.debug("on_message callback failed", exc_info=True)

    def _clear(self) -> None:
        self.error = ""
        self.message = ""

    def _info(self, text: str, level: str = "info", notify: bool = True) -> None:
        self._level, self._notify = level, notify
        self.error = ""
        self.message = text
        self._notify = True

    def _fail(self, text: str) -> None:
        self._level = "error"
        self.error = text
        self.message = text

    def _reject(self, exc: DriveError) -> DriveError:
        self._fail(str(exc))
        return exc

    def _on_note(self, change: Mapping[str, Any]) -> None:
        self._note.value = f"<span class='dw-muted'>{html.escape(change['new'])}</span>"

    def on_choose(self, callback: Callable[[str], Any], remove: bool = False) -> None:
        """Call ``callback(folder)`` each time a folder is chosen (even the same one again).

        Exceptions it raises become the ``error`` message (never a traceback in the page).
        ``register_callback`` (ipyfilechooser's, called with the chooser) still works too.
        """
        if remove:
            if callback in self._choose_callbacks:
                self._choose_callbacks.remove(callback)
        elif callback not in self._choose_callbacks:
            self._choose_callbacks.append(callback)

    def _run_callbacks(self, folder: str) -> DriveError | None:
        """Run the on_choose callbacks until one refuses the folder (raises a DriveError: returned)."""
        callbacks: list[Callable[[], Any]] = [functools.partial(cb, folder) for cb in self._choose_callbacks]
        if self._callback is not None:
            callbacks.append(self._legacy_callback)
        for callback in callbacks:
            try:
                callback()
            except DriveError as exc:
                self._fail(str(exc))
                return exc
            except Exception as exc:
                log.debug("on_choose callback failed", exc_info=True)
                self._fail(
                    f"Chose {display_name(folder)}, but the callback failed: {type(exc).__name__}: {exc}"
                )
        return None

    def _legacy_callback(self) -> None:
        """ipyfilechooser's register_callback: called with the chooser (or nothing)."""
        assert self._callback is not None
        try:
            self._callback(self)
        except TypeError:
            self._callback()

    # -- the filter box and "More" (the listing itself is the chooser's) ----------------

    def _on_filter(self, _change: Mapping[str, Any]) -> None:
        self._page_limit = self._limit
        if self._scan is not None:
            self._render(self._scan, from_cache=True)

    def _on_more(self, _button: object) -> None:
        self._page_limit += self._limit
        if self._scan is not None:
            self._render(self._scan, from_cache=True)


def subpaths(restricted: str) -> list[str]:
    """'/a/b' -> ['/a/b', '/a', '/'] by text alone (ipyfilechooser's version stats the path)."""
    paths = [restricted]
    head, tail = os.path.split(restricted)
    while tail:
        paths.append(head)
        head, tail = os.path.split(head)
    return paths
