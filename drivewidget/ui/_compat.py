"""The few ipywidgets 7 / 8 differences the panel meets.

Colab preinstalls ipywidgets 7.7 and its page renders 7's widgets (8 needs its custom
widget manager), while JupyterLab 4, Notebook 7 and Voila use 8. So the panel supports both,
and these helpers hide where their APIs differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

IPYWIDGETS_7 = widgets.__version__.startswith("7.")


def titled_accordion(children: Sequence[Any], titles: Sequence[str]) -> widgets.Accordion:
    """An Accordion with section titles (7 has no ``titles=``; 8 warns on ``set_title``)."""
    accordion = widgets.Accordion(children=list(children))
    if IPYWIDGETS_7:
        for index, title in enumerate(titles):
            accordion.set_title(index, title)
    else:
        accordion.titles = tuple(titles)
    return accordion


def focus(widget: Any) -> bool:
    """Move the keyboard focus to ``widget`` in the page (8's ``DOMWidget.focus``); True if asked.

    7 (Colab) has no focus message: nothing happens there, and the panel's order of controls
    still makes the next Tab land on the next action."""
    move = getattr(widget, "focus", None)
    if not callable(move) or getattr(widget, "comm", None) is None:
        return False
    try:
        move()
    except Exception:  # noqa: BLE001 - a closed comm: focus is a courtesy, never an error
        return False
    return True


def uploaded_files(upload: widgets.FileUpload) -> list[tuple[str, bytes]]:
    """(name, content) of each file in a FileUpload, in either version's format."""
    value = upload.value
    if isinstance(value, dict):  # 7: {name: {"metadata": {...}, "content": bytes}}
        return [(str(name), bytes(item["content"])) for name, item in value.items()]
    return [(str(item.get("name", "")), bytes(item["content"])) for item in value or ()]


def empty_upload(upload: widgets.FileUpload) -> None:
    """Forget what was uploaded, everywhere the widget keeps it (its synced state included,
    so a secret never ends up in a notebook's saved widget state)."""
    if isinstance(upload.value, dict):  # 7: read-only value, the bytes live in synced `data`
        if upload.value or upload.data or upload.metadata:
            upload.set_trait("value", {})
            upload.data, upload.metadata = [], []
    elif upload.value:
        upload.value = ()
