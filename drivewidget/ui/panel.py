"""DrivePanel: the one widget users display. It renders controller state and forwards clicks.

All decisions (what is mounted, what a click does to the drive) live in the
:class:`~drivewidget.controller.DriveController`; the panel observes its traits, so changes
made from code in another cell show up here too.

The face answers what a Colab user asks first: is the drive mounted, where am I working,
will my work be saved, and how much RAM, GPU and disk is in use. Line one says the state
and offers the one next action (Mount Drive, or Change folder / Unmount); line two draws
resource bars; messages appear only for errors and for what line one does not already
say. Everything else (options, copy to local disk, connections, GPU details, runtime
facts) sits under "More" and, like the folder chooser, is built only when first opened
(each widget is a comm message through the front end: the first display stays small).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from typing import Any

import ipywidgets as widgets

from .._env import in_colab
from ..backends import ENV_BACKEND, ENV_MOUNTPOINT, ENV_SOURCE, UnavailableBackend
from ..backends.base import Backend
from ..connect import Connection
from ..controller import DriveController
from ..errors import DriveError, InvalidPath
from ..remember import remember_folder, remembered_folder
from ..status.mounttable import is_within
from ..status.sample import StatusSampler
from ..sync import adopt_jobs, sync_jobs
from ..text import display_name
from ._compat import focus
from .actions import ActionRunner, explain
from .chooser import NOT_RESPONDING, DriveFolderChooser
from .chooser_extras import REMEMBERED
from .live import DEFAULT_INTERVAL, LiveUpdater
from .message import MessageBox
from .more import MoreView
from .options import Options
from .prelist import Prelister
from .state_line import SAID_BY_STATE_LINE, cwd_html, state_hint, state_html
from .status_view import GpuView, StatusView
from .theme import PANEL_CLASS, style_widget
from .tree import close_tree, keep_buttons_whole, resend_tree

BUSY_ICON = "hourglass-half"
"""The Mount/Unmount buttons' icon while busy: one Font Awesome name, as ipywidgets 7's
button (Colab's) takes only one ("spinner spin" breaks it, and the button goes blank)."""
MOUNT_TEXT = "Mount Drive"
_default_controllers: dict[tuple[str, ...], DriveController] = {}
"""The auto-detected controller per configuration (``DrivePanel()`` run again reuses it)."""
_panels: weakref.WeakValueDictionary[object, DrivePanel] = weakref.WeakValueDictionary()
"""The open panel of each controller (by id), and under DEFAULT_PANEL the last one built
without a controller: a new panel closes the one before in its slots."""
DEFAULT_PANEL = "DrivePanel()"
_FIT = {"width": "auto"}
"""Text parts size to their content (ipywidgets 8 gives an HTML widget a fixed inline width)."""


def default_controller() -> DriveController:
    """The auto-detected controller, the same one each time for the same environment variables,
    so running ``DrivePanel()`` again shows the same drive (and its mount's processes) instead
    of a second controller; when no backend can be built, one that explains why (not kept, so
    it is retried once the cause is fixed)."""
    key = tuple(os.environ.get(name, "") for name in (ENV_BACKEND, ENV_SOURCE, ENV_MOUNTPOINT))
    ctrl = _default_controllers.get(key)
    if ctrl is None:
        try:
            ctrl = _default_controllers[key] = DriveController()
        except DriveError as exc:
            return DriveController(UnavailableBackend(str(exc)), mountpoint=os.path.expanduser("~/drive"))
    return ctrl


def _line(children: list[Any], name: str) -> widgets.HBox:
    box = widgets.HBox(
        children, layout=widgets.Layout(width="auto", flex_flow="row wrap", align_items="center")
    )
    box.add_class("dw-line")
    box.add_class(f"drivewidget-{name}")
    return box


class DrivePanel(widgets.VBox):  # type: ignore[misc]
    """Mount/Unmount, the working folder, resource bars; options and extras under "More".

    One panel per controller is open at a time: building a new one (running its cell again)
    closes the previous one, so no live update loop is left behind.
    """

    def __init__(
        self,
        controller: DriveController | None = None,
        *,
        refresh_interval: float = DEFAULT_INTERVAL,
        live: bool = True,
        sampler: StatusSampler | None = None,
        **kwargs: Any,
    ) -> None:
        self.controller = controller if controller is not None else default_controller()
        try:
            self._build(refresh_interval=refresh_interval, live=live, sampler=sampler, **kwargs)
        except BaseException:
            self.close()  # a half-built panel must not leave observers on the controller
            raise
        for slot in (id(self.controller), *([DEFAULT_PANEL] if controller is None else [])):
            previous = _panels.get(slot)
            _panels[slot] = self
            if previous is not None and previous is not self:
                previous.close()  # the cell ran again: no second live loop or observer left behind

    def _build(
        self, *, refresh_interval: float, live: bool, sampler: StatusSampler | None, **kwargs: Any
    ) -> None:
        ctrl = self.controller
        self._chooser: DriveFolderChooser | None = None
        self._options: Options | None = None
        self._followers: list[Any] = []
        self._last_sample: Any = None
        self._unavailable = ""
        self._chooser_said = ""
        self._choose_error: DriveError | None = None
        self._mount_note = ""
        self._remembered = ""
        self._updated_from_thread = False
        self._colab = in_colab()
        self._thread_updates_may_be_lost = self._colab
        self.live_enabled = live

        self.message = MessageBox()
        self._actions = ActionRunner(self.message.show)
        self.state_view = widgets.HTML(layout=_FIT)
        self.cwd_view = widgets.HTML(layout=_FIT)
        self.mount_button = widgets.Button(
            description=MOUNT_TEXT, icon="plug", button_style="primary", tooltip="Mount the drive"
        )
        self.change_button = widgets.Button(
            description="Change folder", icon="folder-open", tooltip="Choose the working folder on the drive"
        )
        self.unmount_button = widgets.Button(
            description="Unmount", icon="eject", tooltip="Write pending changes, then unmount"
        )
        self.status = StatusView(layout=_FIT)
        self.gpu = GpuView(layout=_FIT)
        self.more_button = widgets.ToggleButton(
            description="More",
            icon="sliders",
            tooltip="Options, copy to local disk, connections, GPU details, runtime",
        )
        self.more = MoreView(self)
        self.chooser_box = widgets.VBox(layout=widgets.Layout(display="none", width="auto"))
        self.chooser_box.add_class("dw-chooser")
        self.sampler = sampler if sampler is not None else StatusSampler(ctrl)
        self.live = LiveUpdater(self._tick, refresh_interval)
        self.prelist = Prelister()

        self.mount_button.on_click(lambda _: self._mount())
        self.unmount_button.on_click(lambda _: self._unmount())
        self.change_button.on_click(lambda _: self.change_folder())
        self.more_button.observe(lambda change: self.more.show(change["new"]), names="value")
        ctrl.observe(self._on_controller, names=["state", "problem", "readonly", "root"])
        ctrl.observe(self._on_text, names=["message", "error"])
        ctrl.observe(self._render_cwd, names="cwd")

        self.state_line = _line(
            # Mount before Change folder: when Mount hides after mounting, the next Tab (from
            # where it was) lands on Change folder, not Unmount, also where focus() is missing.
            [self.state_view, self.cwd_view, self.mount_button, self.change_button, self.unmount_button],
            "state",
        )
        self.bars_line = _line([self.status, self.gpu, self.more_button], "bars")
        super().__init__(
            [style_widget(), self.state_line, self.chooser_box, self.message, self.bars_line, self.more],
            **kwargs,
        )
        self.add_class(PANEL_CLASS)
        keep_buttons_whole(self)
        for widget, name in (
            (self.state_view, "state-text"),
            (self.cwd_view, "cwd"),
            (self.message, "message"),
            (self.status, "status"),
            (self.gpu, "gpu"),
        ):
            widget.add_class(f"drivewidget-{name}")  # stable hooks for styling and browser tests
        self._check_backend()
        self._on_controller()
        self._on_text()
        self.live.tick_now()
        if live:
            self.live.start()

    # -- parts built on first use -----------------------------------------------------

    @property
    def chooser(self) -> DriveFolderChooser:
        """The folder chooser (built on first use: it alone is some 40 widgets)."""
        if self._chooser is None:
            chooser = DriveFolderChooser(None, on_message=self._chooser_says, remembered=self._remembered)
            chooser.on_choose(self._choose)
            chooser.observe(self._on_chooser_open, names="dialog_open")
            for button in (chooser._select, chooser._cancel):  # runs after the chooser's own handler
                button.on_click(lambda _b: self._focus_after_chooser())
            self._chooser = chooser
            self.chooser_box.children = (chooser,)
            keep_buttons_whole(chooser)
            ctrl = self.controller
            if ctrl.state == "mounted":
                chooser.set_root(ctrl.root)
            self._render()
        return self._chooser

    def options_row(self) -> Options:
        """Read-only, force remount, sys.path, live updates and refresh (built on first use)."""
        if self._options is None:
            self._options = Options(self)
            self._render()
        return self._options

    @property
    def readonly_box(self) -> widgets.Checkbox:
        return self.options_row().readonly_box

    @property
    def force_box(self) -> widgets.Checkbox:
        return self.options_row().force_box

    @property
    def sys_path_box(self) -> widgets.Checkbox:
        return self.options_row().sys_path_box

    @property
    def live_button(self) -> widgets.ToggleButton:
        return self.options_row().live_button

    @property
    def refresh_button(self) -> widgets.Button:
        return self.options_row().refresh_button

    @property
    def stage(self) -> Any:
        """'Copy to local disk' (under More)."""
        return self.more.section("Copy to local disk")

    @property
    def connect_panel(self) -> Any:
        """'Connect a cloud' (under More; not offered where the backend signs in by itself)."""
        return self.more.section("Connect a cloud")

    @property
    def title(self) -> Any:
        """'About this drive' (under More): backend, mountpoint, drive folder, runtime."""
        return self.more.section("About this drive")

    def follow(self, view: Any) -> Any:
        """Keep ``view`` (with ``update(sample, history)``) up to date with the live status."""
        self._followers.append(view)
        if self._last_sample is not None:
            view.update(self._last_sample, self.sampler.history)
        return view

    def _option(self, name: str, default: bool = False) -> bool:
        return bool(getattr(self._options, name).value) if self._options is not None else default

    # -- user actions ------------------------------------------------------------

    def _mount(self) -> None:
        ctrl = self.controller
        readonly, force = self._option("readonly_box"), self._option("force_box")

        def mount() -> None:
            ctrl.mount(readonly=readonly, force=force)
            if self._options is not None:
                self._options.force_box.value = False  # a one-off: left ticked, the next click remounts
            focus(self.change_button)  # Mount is hidden now: the next action takes the focus

        # Only a backend that must ask from the main thread (Colab's sign-in) mounts inline.
        self._actions.run(mount, name="mount", inline=ctrl.backend.main_thread_only)

    def _unmount(self) -> None:
        ctrl, prelist = self.controller, self.prelist

        def unmount() -> None:
            prelist.cancel(wait=2.0)  # no background listing holds the folder being unmounted
            ctrl.unmount()
            focus(self.mount_button)  # Unmount is hidden now

        # An unmount that waits for uploads runs in the background so the kernel keeps answering.
        self._actions.run(unmount, name="unmount", inline=False)

    def open_chooser(self) -> None:
        """Show the folder chooser in place of the state line (the Change folder button), at the
        working folder when it is on the drive (a script's ``ctrl.chdir`` included), else at the
        folder last chosen (or the root)."""
        chooser, ctrl = self.chooser, self.controller
        if chooser.dialog_open or chooser.disabled:
            return
        sandbox = chooser.sandbox_path
        here = ctrl.cwd if ctrl.state == "mounted" and ctrl.cwd_on_drive else ""
        at_cwd = bool(here and sandbox and is_within(here, sandbox))
        if at_cwd and (chooser.browse(here) is not None or NOT_RESPONDING in chooser.error):
            return  # shown; or a hung drive, said, and not waited for a second time
        chooser.open_dialog()  # the error, if any, stays said until the next good move

    def change_folder(self) -> None:
        """The Change folder button (and Copy to local disk's): the chooser replaces line one
        (and this button), so the focus goes to its folder list (arrows move, Enter opens)."""
        self.open_chooser()
        if self.chooser.dialog_open:
            focus(self.chooser._dircontent)

    def _focus_after_chooser(self) -> None:
        """Choose or Cancel closed the chooser (and hid the focused button): back to line one."""
        if self._chooser is not None and not self._chooser.dialog_open:
            focus(self.change_button)

    def _on_chooser_open(self, change: dict[str, Any]) -> None:
        opened = bool(change["new"])
        self.chooser_box.layout.display = None if opened else "none"
        self.state_line.layout.display = "none" if opened else None
        if not opened:
            self._render()

    def use_backend(self, backend: Backend) -> None:
        """Mount ``backend`` from now on (the Connect panel's Use button); refused while mounted."""
        self.controller.set_backend(backend)
        self._check_backend()
        self.live.tick_now()

    def connection_in_use(self, connection: Connection) -> bool:
        """Whether ``connection`` is the one mounted now (Connect refuses to change it then)."""
        ctrl, backend = self.controller, self.controller.backend
        if ctrl.state not in ("mounted", "stale", "mounting", "unmounting"):
            return False
        return connection.uses(backend)  # each kind of connection knows its backend

    def refresh(self) -> None:
        """Re-read the mount state, take a status sample and redraw (the Refresh button)."""
        self.live.tick_now()

    def pause(self) -> None:
        """Stop live updates (Refresh still works)."""
        self.set_live(False)

    def resume(self) -> None:
        self.set_live(True)

    def set_live(self, on: bool) -> None:
        self.live_enabled = on
        if self._options is not None:
            self._options.show_live(on)
        if on:
            self.live.start()
            self.live.resume()
        else:
            self.live.pause()

    def _tick(self) -> None:
        self.controller.refresh()
        sample = self._last_sample = self.sampler.sample()
        self.status.update(sample)
        self.gpu.update(sample, self.sampler.history)
        for view in self._followers:
            view.update(sample, self.sampler.history)
        self._render()
        if self._updated_from_thread and threading.current_thread() is threading.main_thread():
            # After a cell or a Refresh (main thread) in Colab: what background threads changed
            # may not have reached the page, although the kernel holds it. Send it once more.
            self._updated_from_thread = False
            resend_tree(self)

    def select(self, path: str | os.PathLike[str]) -> str:
        """Choose a folder as if clicked in the chooser: chdir, remember, show.

        Returns the new working directory; a folder that cannot be used raises the
        :class:`~drivewidget.errors.DriveError` shown in :attr:`message`.
        """
        self._choose_error = None
        try:
            if self.controller.state != "mounted":
                self.controller.chdir(path)  # raises the explanation (not mounted, stale)
            chosen = self.chooser.select(os.fspath(path))
        except DriveError as exc:
            self.message.show(explain(exc), "error")
            raise
        if self._choose_error is not None:
            raise self._choose_error
        if chosen is None:  # the chooser refused it and said why
            raise InvalidPath(self.chooser.error or self.message.text or f"Cannot choose {path}.")
        return self.controller.cwd

    def wait(self, timeout: float | None = 60) -> None:
        """Wait for a running Mount/Unmount to finish (for scripts and tests)."""
        self._actions.wait(timeout)

    def _chooser_says(self, text: str, level: str) -> None:
        """The chooser's messages; its "" (an error fixed by the next action) clears the line
        only if the chooser's own message is still shown there."""
        if text:
            self._chooser_said = text
            self.message.show(text, level)
        elif self._chooser_said and self.message.text == self._chooser_said:
            self.message.clear()

    def on_sys_path(self, on: bool) -> None:
        """The sys.path box: applies to the folder chosen now, and to the next ones."""
        ctrl = self.controller
        if on and (ctrl.state != "mounted" or not ctrl.cwd_on_drive):
            return  # applies when a folder of the drive is chosen
        try:
            ctrl.use_sys_path(on)
        except DriveError as exc:
            self.message.show(explain(exc), "error")
            return
        self.message.show(
            f"{display_name(ctrl.cwd)} is now first on sys.path."
            if on
            else "Removed the folder from sys.path.",
            "success",
        )

    def _choose(self, path: str) -> None:
        ctrl = self.controller
        self._choose_error = None
        try:
            target = ctrl.chdir(path, add_to_sys_path=self._option("sys_path_box"))
        except DriveError as exc:
            self._choose_error = exc
            raise  # the chooser shows it and goes back to the previous choice
        note = remember_folder(ctrl, target)
        text = f"Working directory: {display_name(target)}" + (f" ({note})" if note else "")
        self.message.show(text, "warning" if note else "success", quiet=not note)  # line one shows the folder

    # -- rendering ---------------------------------------------------------------

    def _check_backend(self) -> None:
        try:
            self.controller.backend.check_available()
            self._unavailable = ""
        except DriveError as exc:
            self._unavailable = explain(exc)
            self.message.show(self._unavailable, "error")

    def _on_controller(self, change: dict[str, Any] | None = None) -> None:
        ctrl = self.controller
        if change is not None and change["name"] == "state":
            self.sampler.invalidate()
            self.live.poke()  # the bars follow the state line at once
        if ctrl.state == "mounted":
            # Also on the first render: a drive mounted before this panel (a kernel restart,
            # the cell run again) gets its chooser rooted, and a root that moved follows.
            root_moved = change is not None and change["name"] == "root" and change["old"] != change["new"]
            first = change is None or (change["name"] == "state" and change["old"] != "mounted")
            if first or root_moved:
                self._after_mount()
        elif (
            change is not None
            and change["name"] == "state"
            and (change["old"] == "mounted" or change["new"] in ("unmounted", "error"))
        ):
            self._mount_note = ""
            self.prelist.cancel(wait=0)
            if self._chooser is not None:
                self._chooser.set_root(None)
        self._render()

    def _after_mount(self) -> None:
        ctrl = self.controller
        # Keep-synced jobs started through an earlier controller of this drive (the cell run
        # again, More never opened): this panel's Unmount must make their final pass too.
        adopt_jobs(ctrl)
        if self._chooser is not None:
            self._chooser.set_root(ctrl.root)
        offer = remembered_folder(ctrl)
        self._mount_note = offer.note  # why a remembered folder was dropped, if it was
        if offer.folder:
            self._remembered = offer.folder
            if self._chooser is not None:
                self._chooser.set_remembered(offer.folder)
            # Said nothing when the kernel already works there (the state line shows the folder).
            here = bool(ctrl.cwd) and os.path.normpath(ctrl.cwd) == os.path.normpath(offer.folder)
            self._mount_note = (
                ""
                if here
                else f"Last time you worked in {display_name(offer.folder)}: choose it under '{REMEMBERED}'."
            )
        # The chooser's first open after a mount is as fast as a revisit: list the root and
        # the remembered folder now, in the background (bounded, cancelled on unmount).
        self.prelist.start(ctrl, [ctrl.root, offer.folder or ""])

    def _note_thread(self) -> None:
        if self._thread_updates_may_be_lost and threading.current_thread() is not threading.main_thread():
            self._updated_from_thread = True

    def _on_text(self, change: dict[str, Any] | None = None) -> None:
        self._note_thread()
        ctrl = self.controller
        if ctrl.error:
            if ctrl.state != "error" or not self._unavailable:
                self.message.show(ctrl.error, "error")
            return
        if not ctrl.message and not (self._mount_note and ctrl.state == "mounted"):
            return  # (a drive mounted before this panel has no message, but may have a note)
        note, self._mount_note = (self._mount_note, "") if ctrl.state == "mounted" else ("", self._mount_note)
        text = "\n".join(filter(None, [ctrl.message, note]))
        news = [line for line in text.splitlines() if line and not line.startswith(SAID_BY_STATE_LINE)]
        level = "warning" if ctrl.message_level == "warning" else ("info" if ctrl.busy or news else "success")
        # Only the news is shown: a line the state line says already is not said twice.
        self.message.show("\n".join(news) or text, level, quiet=not news)

    def _render(self) -> None:
        self._note_thread()
        ctrl = self.controller
        state, force = ctrl.state, self._option("force_box")
        mounted_like = state in ("mounted", "stale")
        mount = self.mount_button
        mount.disabled = bool(self._unavailable) or ctrl.busy or (mounted_like and not force)
        mount.description = (
            "Mounting..." if state == "mounting" else ("Remount" if mounted_like and force else MOUNT_TEXT)
        )
        mount.icon = BUSY_ICON if state == "mounting" else "plug"
        mount.button_style = (
            "" if mount.disabled else "primary"
        )  # a disabled button never looks like the action
        _show(mount, state == "mounting" or not mounted_like or force)
        unmount = self.unmount_button
        unmount.disabled = not mounted_like
        unmount.description = "Unmounting..." if state == "unmounting" else "Unmount"
        unmount.icon = BUSY_ICON if state == "unmounting" else "eject"
        unmount.button_style = "primary" if state == "stale" else ""  # the one way out of a stale mount
        _show(unmount, mounted_like or state == "unmounting")
        self.change_button.disabled = state != "mounted"
        self.change_button.button_style = "primary" if state == "mounted" and not ctrl.cwd_on_drive else ""
        _show(self.change_button, state == "mounted")
        if self._options is not None:
            self._options.render(ctrl)
        if self._chooser is not None:
            self._chooser.disabled = state != "mounted"
            self._chooser.read_only = ctrl.readonly
        words = ctrl.describe_state() if state != "error" else "Not mounted: the last command failed"
        hint = state_hint(ctrl)
        if (
            mounted_like
            and self._options is not None
            and self._option("readonly_box") != ctrl.readonly
            and not force
        ):
            wanted = "read-only" if self._option("readonly_box") else "writable"
            hint = f"To make the drive {wanted}, tick Force remount and click Remount."
        self.state_view.value = state_html(state, words, hint)
        self._render_cwd()

    def _render_cwd(self, _: dict[str, Any] | None = None) -> None:
        # Running keep-synced jobs show on line one (each live tick), not only under More.
        jobs = [f"{job.describe()}: {job.status_text()}" for job in sync_jobs(self.controller)]
        self.cwd_view.value = cwd_html(self.controller, colab=self._colab, syncing=jobs)

    def close(self) -> None:
        """Stop live updates, background listings and observers, and close every widget.

        Safe on a half-built panel (ipywidgets 7 closes widgets on garbage collection too).
        """
        if getattr(self, "live", None) is not None:
            self.live.stop()
        if getattr(self, "prelist", None) is not None:
            self.prelist.cancel(wait=0)
        if getattr(self, "more", None) is not None:
            self.more.close()
        for handler, names in (
            (self._on_controller, ["state", "problem", "readonly", "root"]),
            (self._on_text, ["message", "error"]),
            (self._render_cwd, ["cwd"]),
        ):
            with contextlib.suppress(ValueError):
                self.controller.unobserve(handler, names=names)
        for child in self.children:
            close_tree(child)
        super().close()


def _show(widget: widgets.DOMWidget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"
