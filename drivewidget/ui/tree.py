"""Closing composite widgets completely.

``Widget.close()`` closes one widget, not what it contains. A container left open around
closed children breaks ``Widget.get_manager_state()`` (used when a notebook saves its
widget state), and children left open leak. Close whole trees, leaves first.
"""

from __future__ import annotations

from typing import Any


def close_tree(widget: Any) -> None:
    """Close ``widget`` and everything it contains (each widget's own ``close`` runs)."""
    for child in tuple(getattr(widget, "children", ())):
        close_tree(child)
    widget.close()
