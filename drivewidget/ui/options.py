"""The options row under "More": read-only, force remount, sys.path, live updates, Refresh.

Built only when "More" is first opened (or a script asks for one of its boxes); until then
the panel mounts with the defaults these boxes start from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

if TYPE_CHECKING:
    from ..controller import DriveController
    from .panel import DrivePanel

_LIVE_TEXT = {True: "Live", False: "Paused"}
_AUTO = {"width": "auto"}


class Options(widgets.HBox):  # type: ignore[misc]
    """Checkboxes and buttons that change how the next Mount behaves and how the panel updates."""

    def __init__(self, panel: DrivePanel) -> None:
        self._panel = panel
        self.readonly_box = widgets.Checkbox(description="Read-only", indent=False, layout=_AUTO)
        self.force_box = widgets.Checkbox(description="Force remount", indent=False, layout=_AUTO)
        self.sys_path_box = widgets.Checkbox(
            description="Add the folder to sys.path", indent=False, layout=_AUTO
        )
        live = panel.live_enabled
        self.live_button = widgets.ToggleButton(
            value=live,
            description=_LIVE_TEXT[live],
            icon="pause" if live else "play",
            tooltip="Pause or resume live updates",
            layout=_AUTO,
        )
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="Re-read the mount state now", layout=_AUTO
        )
        self.readonly_box.observe(lambda _: panel._render(), names="value")
        self.force_box.observe(lambda _: panel._render(), names="value")
        self.sys_path_box.observe(lambda change: panel.on_sys_path(change["new"]), names="value")
        self.live_button.observe(self._on_live, names="value")
        self.refresh_button.on_click(lambda _: panel.refresh())
        super().__init__(
            [self.readonly_box, self.force_box, self.sys_path_box, self.live_button, self.refresh_button],
            layout=widgets.Layout(width="auto", flex_flow="row wrap", align_items="center"),
        )
        self.add_class("dw-line")

    def _on_live(self, change: dict[str, Any]) -> None:
        self.show_live(change["new"])
        if change["new"] != self._panel.live_enabled:
            self._panel.set_live(change["new"])

    def show_live(self, on: bool) -> None:
        self.live_button.value = on
        self.live_button.icon = "pause" if on else "play"
        self.live_button.description = _LIVE_TEXT[on]

    def render(self, ctrl: DriveController) -> None:
        mounted_like = ctrl.state in ("mounted", "stale")
        self.readonly_box.disabled = ctrl.busy
        self.force_box.disabled = ctrl.busy or not mounted_like  # only a mount can be forced again
        if not mounted_like and not ctrl.busy and self.force_box.value:
            self.force_box.value = False  # e.g. a failed remount: never left ticked and greyed out
        self.sys_path_box.disabled = ctrl.state != "mounted"
