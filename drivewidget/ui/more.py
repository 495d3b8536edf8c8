"""The panel's "More" fold: rarely used controls, built only when someone opens them.

Every widget is a comm message through the front end (and Colab's proxy), so the panel's
first display holds only what the first ten seconds need; what sits behind "More" is built
when "More" is opened, and each section below it when its own header is first clicked.

Sections are one list, :data:`SECTIONS`. A feature adds its own with one line, naming its
factory by ``"module:function"`` so its module is imported only when the section opens::

    Section("Keep in sync", "drivewidget.ui.sync_view:sync_section")

The factory is called with the panel and returns the section's widget (it may read
``panel.controller`` and report through ``panel.message.show(text, level)``); a widget with
a ``close`` method is closed with the panel, one with ``update(sample, history)`` follows
the live status.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .tree import close_tree, keep_buttons_whole

if TYPE_CHECKING:
    from .panel import DrivePanel

Factory = Callable[["DrivePanel"], Any]


@dataclass(frozen=True)
class Section:
    """One foldable section under "More": its header text and what builds its body."""

    title: str
    factory: str | Factory
    """``"module:function"`` (imported on first open) or a callable taking the panel."""
    offered: Callable[[DrivePanel], bool] | None = None
    """Whether the section makes sense for this panel (None: always)."""

    def build(self, panel: DrivePanel) -> Any:
        factory = self.factory
        if isinstance(factory, str):
            module, _, name = factory.partition(":")
            factory = getattr(importlib.import_module(module), name)
        return factory(panel)


def _connect_offered(panel: DrivePanel) -> bool:
    """Connect is for backends that sign in through drivewidget (not Colab's own sign-in)."""
    backend = panel.controller.backend
    return not backend.needs_browser_auth  # a capability flag of the Backend contract


def _stage(panel: DrivePanel) -> Any:
    from .stage_view import StageView

    return StageView(panel.controller, panel.message.show, choose=panel.change_folder)


def _connect(panel: DrivePanel) -> Any:
    from .connect import ConnectPanel

    return ConnectPanel(on_use=panel.use_backend, message=panel.message, in_use=panel.connection_in_use)


def _gpu(panel: DrivePanel) -> Any:
    from .status_view import GpuDetails

    return panel.follow(GpuDetails())


def _about(panel: DrivePanel) -> Any:
    from .status_view import AboutView

    return panel.follow(AboutView())


SECTIONS: list[Section] = [
    Section("Copy to local disk", _stage),
    Section("Keep in sync", "drivewidget.ui.sync_view:sync_section"),
    Section("Connect a cloud", _connect, offered=_connect_offered),
    Section("GPU details", _gpu),
    Section("About this drive", _about),
]
"""The sections under "More", in order; add yours with one line (see the module docstring)."""


class _Fold(widgets.VBox):  # type: ignore[misc]
    """A header button that shows and hides a body built on the first click."""

    def __init__(self, section: Section, panel: DrivePanel) -> None:
        self.section = section
        self._panel = panel
        self.body: Any = None
        self.header = widgets.ToggleButton(
            description=section.title,
            icon="plus",
            tooltip=f"Show or hide: {section.title}",
            layout=widgets.Layout(width="auto", flex="0 0 auto"),
        )
        self.header.observe(self._toggle, names="value")
        self._holder = widgets.VBox(layout=widgets.Layout(display="none", padding="0 0 4px 12px"))
        super().__init__([self.header, self._holder], layout=widgets.Layout(width="auto"))

    def ensure(self) -> Any:
        """The body, built now if it was not yet (also for code and tests that need it)."""
        if self.body is None:
            self.body = self.section.build(self._panel)
            keep_buttons_whole(self.body)
            self._holder.children = (self.body,)
        return self.body

    def _toggle(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.ensure()
        self._holder.layout.display = None if change["new"] else "none"
        self.header.icon = "minus" if change["new"] else "plus"


class MoreView(widgets.VBox):  # type: ignore[misc]
    """The "More" fold: the options row first, then one fold per offered section."""

    def __init__(self, panel: DrivePanel, sections: list[Section] | None = None) -> None:
        self._panel = panel
        self._sections = SECTIONS if sections is None else sections
        self._folds: dict[str, _Fold] = {}
        self._built = False
        super().__init__(layout=widgets.Layout(display="none", width="auto"))
        self.add_class("dw-more")

    @property
    def is_open(self) -> bool:
        return bool(self.layout.display != "none")

    def show(self, visible: bool) -> None:
        if visible:
            self.build()
        self.layout.display = None if visible else "none"

    def build(self) -> None:
        """Build the options row and the section headers (not their bodies), once."""
        if self._built:
            return
        self._built = True
        row = self._panel.options_row()
        for section in self._sections:
            if section.offered is None or section.offered(self._panel):
                self._folds[section.title] = _Fold(section, self._panel)
        self.children = (row, *self._folds.values())
        keep_buttons_whole(self)

    def section(self, title: str) -> Any:
        """The body of section ``title`` (built on first use, shown or not)."""
        self.build()
        fold = self._folds.get(title)
        if fold is None:
            raise KeyError(f"No section {title!r} under More here.")
        return fold.ensure()

    def built_bodies(self) -> list[Any]:
        return [fold.body for fold in self._folds.values() if fold.body is not None]

    def close(self) -> None:
        for fold in self._folds.values():
            close_tree(fold)
        super().close()
