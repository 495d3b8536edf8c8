"""Whole widget trees: closing them completely, resending their state.

``Widget.close()`` closes one widget, not what it contains. A container left open around
closed children breaks ``Widget.get_manager_state()`` (used when a notebook saves its
widget state), and children left open leak. Close whole trees, leaves first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def walk_tree(widget: Any, *, styling: bool = False) -> Iterator[Any]:
    """``widget`` and everything it contains, parents first; with ``styling``, also each
    one's ``layout`` and ``style`` (widgets of their own, where visibility lives)."""
    yield widget
    if styling:
        for name in ("layout", "style"):
            part = getattr(widget, name, None)
            if part is not None and hasattr(part, "send_state"):
                yield part
    for child in tuple(getattr(widget, "children", ())):
        yield from walk_tree(child, styling=styling)


def keep_buttons_whole(widget: Any) -> None:
    """Buttons never shrink below their text in a narrow notebook ("Change f..." at 700 px):
    every button of the tree sizes to its label and does not flex."""
    import ipywidgets as widgets

    for part in walk_tree(widget):
        if isinstance(part, (widgets.Button, widgets.ToggleButton, widgets.FileUpload)):
            if part.layout.width is None:
                part.layout.width = "auto"
            if part.layout.flex is None:
                part.layout.flex = "0 0 auto"


def resend_tree(widget: Any) -> int:
    """Send the full state of every open widget in the tree again; returns how many.

    Colab may drop updates sent from a background thread while the kernel keeps the new
    values (colabtools issue 3373): resending from the main thread repairs the page.
    """
    sent = 0
    for part in walk_tree(widget, styling=True):
        if getattr(part, "comm", None) is not None:
            part.send_state()
            sent += 1
    return sent


def close_tree(widget: Any) -> None:
    """Close ``widget`` and everything it contains (each widget's own ``close`` runs)."""
    for child in tuple(getattr(widget, "children", ())):
        close_tree(child)
    widget.close()


def open_models() -> dict[str, Any]:
    """Every open widget model of this kernel, by model id (ipywidgets 7 and 8)."""
    import ipywidgets as widgets

    if widgets.__version__.startswith("7."):
        return dict(widgets.Widget.widgets)
    from ipywidgets.widgets import widget as module

    return dict(module._instances)


def state_bytes(models: Any) -> int:
    """Bytes of JSON state the front end receives to create ``models`` (binary buffers counted raw)."""
    import json

    total = 0
    for model in models:
        state = model.get_state()
        for value in state.values():
            if isinstance(value, (bytes, bytearray, memoryview)):
                total += len(value)
        total += len(
            json.dumps(
                state, default=lambda v: "" if isinstance(v, (bytes, bytearray, memoryview)) else str(v)
            )
        )
    return total
