"""DrivePanel: the one widget users display. It renders controller state and forwards clicks.

All decisions (what is mounted, what a click does to the drive) live in the
:class:`~drivewidget.controller.DriveController`; the panel observes its traits, so changes
made from code in another cell show up here too.
"""

from __future__ import annotations

import contextlib
import html
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
from ..status.sample import StatusSampler
from ..text import display_name, safe_text
from ._compat import titled_accordion
from .actions import ActionRunner, explain
from .chooser import DriveFolderChooser
from .connect import ConnectPanel
from .live import DEFAULT_INTERVAL, LiveUpdater
from .message import MessageBox
from .stage_view import StageView
from .status_view import GpuView, StatusView
from .tree import close_tree, keep_buttons_whole, resend_tree

_STATE_STYLE = {
    "mounted": ("#26a269", "●"),
    "unmounted": ("#77767b", "○"),
    "mounting": ("#1a5fb4", "◌"),
    "unmounting": ("#1a5fb4", "◌"),
    "stale": ("#c64600", "⚠"),
    "error": ("#c01c28", "✖"),
}
BUSY_ICON = "hourglass-half"
"""The Mount/Unmount buttons' icon while busy: one Font Awesome name, as ipywidgets 7's
button (Colab's) takes only one ("spinner spin" breaks it, and the button goes blank)."""


_default_controllers: dict[tuple[str, ...], DriveController] = {}
"""The auto-detected controller per configuration (``DrivePanel()`` run again reuses it)."""
_panels: weakref.WeakValueDictionary[object, DrivePanel] = weakref.WeakValueDictionary()
"""The open panel of each controller (by id), and under DEFAULT_PANEL the last one built
without a controller: a new panel closes the one before in its slots (for ``DrivePanel()``
whatever controller either got: detection failed, or the environment variables changed)."""
DEFAULT_PANEL = "DrivePanel()"


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


class DrivePanel(widgets.VBox):  # type: ignore[misc]
    """Mount/Unmount, a folder chooser that sets the working directory, and live status.

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
        self.message = MessageBox()
        self._actions = ActionRunner(self.message.show)

        self.mount_button = widgets.Button(
            description="Mount", icon="plug", button_style="primary", tooltip="Mount the drive"
        )
        self.unmount_button = widgets.Button(
            description="Unmount", icon="eject", tooltip="Write pending changes, then unmount"
        )
        self.refresh_button = widgets.Button(
            icon="refresh", tooltip="Re-read the mount state", layout=widgets.Layout(width="40px")
        )
        self.readonly_box = widgets.Checkbox(description="Read-only", indent=False, layout={"width": "auto"})
        self.force_box = widgets.Checkbox(description="Force remount", indent=False, layout={"width": "auto"})
        self.sys_path_box = widgets.Checkbox(
            description="Also add the folder to sys.path", indent=False, layout={"width": "auto"}
        )
        self.state_view = widgets.HTML()
        self.cwd_view = widgets.HTML()
        self.status = StatusView()
        self.gpu = GpuView()
        self.live_button = widgets.ToggleButton(
            value=live,
            description=_LIVE_TEXT[live],
            icon="pause" if live else "play",
            tooltip="Pause or resume live updates",
            layout=widgets.Layout(width="auto"),
        )
        self.sampler = sampler if sampler is not None else StatusSampler(ctrl)
        self.stage = StageView(ctrl, self.message.show)
        self.live = LiveUpdater(self._tick, refresh_interval)
        self._chooser_said = ""
        self.chooser = DriveFolderChooser(None, on_message=self._chooser_says)
        self.chooser.on_choose(self._choose)
        self._choose_error: DriveError | None = None
        self._mount_note = ""
        self._updated_from_thread = False
        self._thread_updates_may_be_lost = in_colab()

        self.mount_button.on_click(lambda _: self._mount())
        self.unmount_button.on_click(lambda _: self._unmount())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.live_button.observe(self._on_live_toggle, names="value")
        self.force_box.observe(lambda _: self._render(), names="value")
        self.sys_path_box.observe(self._on_sys_path_box, names="value")
        self.readonly_box.observe(lambda _: self._render(), names="value")
        ctrl.observe(self._on_controller, names=["state", "problem", "readonly", "root"])
        ctrl.observe(self._on_text, names=["message", "error"])
        ctrl.observe(self._render_cwd, names="cwd")

        self.title = widgets.HTML()
        self.connect_panel = ConnectPanel(
            on_use=self.use_backend, message=self.message, in_use=self._connection_in_use
        )
        self.connect_box = titled_accordion([self.connect_panel], ["Connect a cloud"])
        self.connect_box.selected_index = None
        buttons = self._buttons = widgets.HBox(
            [self.mount_button, self.unmount_button, self.refresh_button, self.live_button]
        )
        options = widgets.HBox([self.readonly_box, self.force_box])
        super().__init__(
            [self.title, self.state_view, buttons, options, self.connect_box, self.chooser, self.sys_path_box,
             self.cwd_view, self.stage, self.message, self.status, self.gpu],
            **kwargs,
        )  # fmt: skip
        self.add_class("drivewidget-panel")
        keep_buttons_whole(self)
        for widget, name in (
            (self.state_view, "state"),
            (self.cwd_view, "cwd"),
            (self.message, "message"),
            (self.status, "status"),
            (self.gpu, "gpu"),
            (self.chooser, "chooser"),
        ):
            widget.add_class(f"drivewidget-{name}")  # stable hooks for styling and browser tests
        if ctrl.backend.name == "colab":
            self.connect_box.layout.display = "none"  # Colab authorises in the browser itself
        self._render_title()
        self._check_backend()
        self._on_controller()
        self._on_text()
        self.live.tick_now()
        if live:
            self.live.start()

    # -- user actions ------------------------------------------------------------

    def _inline(self) -> bool:
        return self.controller.backend.main_thread_only

    def _mount(self) -> None:
        ctrl = self.controller
        if ctrl.busy:
            self.message.show(f"Please wait: the drive is {ctrl.state}.", "warning")
            return
        readonly, force = self.readonly_box.value, self.force_box.value

        def mount() -> None:
            ctrl.mount(readonly=readonly, force=force)
            self.force_box.value = False  # a one-off: left ticked, the next click remounts again

        self._actions.run(mount, name="mount", inline=self._inline())

    def _unmount(self) -> None:
        ctrl = self.controller
        if ctrl.busy:
            self.message.show(f"Please wait: the drive is {ctrl.state}.", "warning")
            return
        # Only Colab's mount needs the main thread (its sign-in prompt); an unmount that waits
        # for uploads runs in the background so the kernel keeps answering.
        self._actions.run(ctrl.unmount, name="unmount", inline=False)

    def use_backend(self, backend: Backend) -> None:
        """Mount ``backend`` from now on (the Connect panel's Use button); refused while mounted."""
        self.controller.set_backend(backend)
        self._render_title()
        self._check_backend()
        self._render()

    def _connection_in_use(self, connection: Connection) -> bool:
        ctrl, backend = self.controller, self.controller.backend
        if ctrl.state not in ("mounted", "stale", "mounting", "unmounting"):
            return False
        if connection.backend == "rclone":
            return (
                getattr(backend, "remote", None) == connection.remote
                and getattr(backend, "config", None) == connection.config
            )
        return getattr(backend, "account", None) == connection.name

    def _render_title(self) -> None:
        described = html.escape(self.controller.backend.describe())
        self.title.value = f"<b>Drive</b> <span style='color:#77767b'>{described}</span>"

    def refresh(self) -> None:
        """Re-read the mount state, take a status sample and redraw (the Refresh button)."""
        self.live.tick_now()

    def pause(self) -> None:
        """Stop live updates (the Refresh button still works)."""
        self.live_button.value = False

    def resume(self) -> None:
        self.live_button.value = True

    def _on_live_toggle(self, change: dict[str, Any]) -> None:
        self.live_button.icon = "pause" if change["new"] else "play"
        self.live_button.description = _LIVE_TEXT[change["new"]]
        if change["new"]:
            self.live.start()
            self.live.resume()
        else:
            self.live.pause()

    def _tick(self) -> None:
        self.controller.refresh()
        sample = self.sampler.sample()
        self.status.update(sample)
        self.gpu.update(sample, self.sampler.history)
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

    def _on_sys_path_box(self, change: dict[str, Any]) -> None:
        ctrl = self.controller
        if change["new"] and (ctrl.state != "mounted" or not ctrl.cwd_on_drive):
            return  # applies when a folder of the drive is chosen
        try:
            ctrl.use_sys_path(change["new"])
        except DriveError as exc:
            self.message.show(explain(exc), "error")
            return
        self.message.show(
            f"{ctrl.cwd} is now first on sys.path." if change["new"] else "Removed the folder from sys.path.",
            "success",
        )

    def _choose(self, path: str) -> None:
        ctrl = self.controller
        self._choose_error = None
        try:
            target = ctrl.chdir(path, add_to_sys_path=self.sys_path_box.value)
        except DriveError as exc:
            self._choose_error = exc
            raise  # the chooser shows it and goes back to the previous choice
        note = remember_folder(ctrl, target)
        text = f"Working directory: {target}" + (f" ({note})" if note else "")
        self.message.show(text, "success")

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
            self.live.poke()  # the status table follows the state line at once
        if ctrl.state == "mounted":
            # Also on the first render: a drive mounted before this panel (a kernel restart,
            # the cell run again) gets its chooser rooted, and a root that moved follows.
            root_moved = (
                change is not None and change["name"] == "root" and self.chooser.root != change["new"]
            )
            if self.chooser.root is None or change is None or root_moved:
                self._after_mount()
        elif (
            change is not None
            and change["name"] == "state"
            and (change["old"] == "mounted" or change["new"] in ("unmounted", "error"))
        ):
            self._mount_note = ""
            self.chooser.set_root(None)
        self._render()

    def _after_mount(self) -> None:
        ctrl = self.controller
        self.chooser.set_root(ctrl.root)
        offer = remembered_folder(ctrl)
        if offer.folder:
            self.chooser.set_remembered(offer.folder)
        self._mount_note = offer.note

    def _note_thread(self) -> None:
        if self._thread_updates_may_be_lost and threading.current_thread() is not threading.main_thread():
            self._updated_from_thread = True

    def _on_text(self, change: dict[str, Any] | None = None) -> None:
        self._note_thread()
        ctrl = self.controller
        if ctrl.error:
            self.message.show(ctrl.error, "error")
        elif ctrl.message:
            note, self._mount_note = (
                (self._mount_note, "") if ctrl.state == "mounted" else ("", self._mount_note)
            )
            level = "info" if ctrl.busy else ("warning" if ctrl.message_level == "warning" else "success")
            self.message.show("\n".join(filter(None, [ctrl.message, note])), level)

    def _render(self) -> None:
        self._note_thread()
        ctrl = self.controller
        state, force = ctrl.state, self.force_box.value
        mounted_like = state in ("mounted", "stale")
        self.mount_button.disabled = bool(self._unavailable) or ctrl.busy or (mounted_like and not force)
        self.mount_button.description = (
            "Mounting..." if state == "mounting" else ("Remount" if mounted_like and force else "Mount")
        )
        self.mount_button.icon = BUSY_ICON if state == "mounting" else "plug"
        self.unmount_button.disabled = not mounted_like
        self.unmount_button.description = "Unmounting..." if state == "unmounting" else "Unmount"
        self.unmount_button.icon = BUSY_ICON if state == "unmounting" else "eject"
        self.unmount_button.button_style = "warning" if state == "stale" else ""
        self.readonly_box.disabled = ctrl.busy
        self.force_box.disabled = ctrl.busy or not mounted_like  # only a mount can be forced again
        if not mounted_like and not ctrl.busy and self.force_box.value:
            self.force_box.value = False  # e.g. a failed remount: never left ticked and greyed out
        self.chooser.disabled = state != "mounted"
        self.chooser.read_only = ctrl.readonly
        self.sys_path_box.disabled = state != "mounted"
        colour, mark = _STATE_STYLE[state]
        words = html.escape(safe_text(ctrl.describe_state()))
        hint = _state_hint(ctrl)
        if mounted_like and self.readonly_box.value != ctrl.readonly and not force:
            wanted = "read-only" if self.readonly_box.value else "writable"
            hint = f"To make the drive {wanted}, tick Force remount and click Remount."
        hint_html = f"<br><span style='color:#77767b'>{html.escape(hint)}</span>" if hint else ""
        self.state_view.value = f"{_BLOCK}<span style='color:{colour}'>{mark} {words}</span>{hint_html}</div>"
        self._render_cwd()

    def _render_cwd(self, _: dict[str, Any] | None = None) -> None:
        ctrl = self.controller
        if not ctrl.cwd:
            self.cwd_view.value = (
                f"{_BLOCK}Working directory: <span style='color:#c01c28'>it was deleted (by a sync or "
                "another program): choose a folder</span></div>"
            )
            return
        cwd = html.escape(display_name(ctrl.cwd))
        if ctrl.state == "mounted" and ctrl.cwd_on_drive and ctrl.readonly:
            badge = "<span style='color:#a05a00'>on the drive, mounted read-only: nothing can be saved here</span>"
        elif ctrl.state == "mounted" and ctrl.cwd_on_drive:
            badge = "<span style='color:#26a269'>on the drive: saved work persists</span>"
        else:
            badge = (
                "<span style='color:#a05a00'>on this machine's own disk: files saved here are lost "
                "when the VM resets</span>"
            )
        self.cwd_view.value = f"{_BLOCK}Working directory: <code>{cwd}</code> ({badge})</div>"

    def close(self) -> None:
        """Stop live updates and observing the controller, and close every child widget.

        Safe on a half-built panel (ipywidgets 7 closes widgets on garbage collection too).
        """
        if getattr(self, "live", None) is not None:
            self.live.stop()
        for part in ("connect_panel", "stage", "chooser"):  # not all are children yet when half-built
            if getattr(self, part, None) is not None:
                close_tree(getattr(self, part))  # an Accordion does not close its children
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


_LIVE_TEXT = {True: "Live", False: "Paused"}
_BLOCK = "<div style='line-height:1.4;padding:4px 0'>"
"""Wrapped lines of an HTML widget at a readable spacing (its default line-height is a row's)."""


def _state_hint(ctrl: DriveController) -> str:
    if ctrl.state == "unmounted":
        return "Click Mount to use the drive; the folder chooser works once it is mounted."
    if ctrl.state == "stale":
        return "Click Unmount to clear the broken mount, then Mount again."
    if ctrl.state == "error":
        return "Fix the problem below and click Mount to try again."
    return ""
