"""The panel's message line: the last info or error, in plain words, never a traceback."""

from __future__ import annotations

import html

import ipywidgets as widgets
from traitlets import Enum, Unicode

from ..text import safe_text

_COLOURS = {"info": "#1a5fb4", "success": "#26a269", "warning": "#a05a00", "error": "#c01c28"}


class MessageBox(widgets.HTML):  # type: ignore[misc]
    """An HTML line whose plain ``text`` and ``level`` are readable from code and tests.

    ``str(panel.message)`` and ``"Mounted" in panel.message`` work on the plain text.
    """

    text = Unicode("", help="The message as plain text.")
    level = Enum(tuple(_COLOURS), default_value="info", help="info, success, warning or error.")

    def show(self, text: str, level: str = "info") -> None:
        text = safe_text(text)  # a name with undecodable bytes must not break the comm
        self.text, self.level = text, level
        if not text:
            self.value = ""
            return
        body = html.escape(text).replace("\n", "<br>")
        self.value = f'<div style="color:{_COLOURS[level]};white-space:normal">{body}</div>'

    def clear(self) -> None:
        self.show("")

    def __str__(self) -> str:
        return self.text

    def __contains__(self, fragment: object) -> bool:
        return isinstance(fragment, str) and fragment in self.text
