"""The panel's message line: the last error or outcome, in plain words, never a traceback."""

from __future__ import annotations

import html

import ipywidgets as widgets
from traitlets import Enum, Unicode

from ..text import safe_text

LEVELS = ("info", "success", "warning", "error")


class MessageBox(widgets.HTML):  # type: ignore[misc]
    """An HTML line whose plain ``text`` and ``level`` are readable from code and tests.

    ``str(panel.message)`` and ``"Mounted" in panel.message`` work on the plain text. A
    ``quiet`` message (news the panel already shows elsewhere, such as the state line) is
    kept for code to read but not drawn; the line takes no room while it shows nothing.
    """

    text = Unicode("", help="The message as plain text.")
    level = Enum(LEVELS, default_value="info", help="info, success, warning or error.")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(layout=widgets.Layout(display="none", width="auto"), **kwargs)

    def show(self, text: str, level: str = "info", *, quiet: bool = False) -> None:
        text = safe_text(text)  # a name with undecodable bytes must not break the comm
        self.text, self.level = text, level
        if not text or quiet:
            self.value = ""
            self.layout.display = "none"
            return
        body = html.escape(text).replace("\n", "<br>")
        role = " role='alert'" if level == "error" else ""
        self.value = f"<div class='dw-message dw-{level}'{role}>{body}</div>"
        self.layout.display = None

    def clear(self) -> None:
        self.show("")

    def __str__(self) -> str:
        return self.text

    def __contains__(self, fragment: object) -> bool:
        return isinstance(fragment, str) and fragment in self.text
