"""The panel's first lines in words: the drive's state with the next step, and where the
working folder's files go (saved on the drive, or lost at a VM reset).

Pure functions of the controller's state that return HTML, so the panel only places them
and every name from the drive is escaped in one place.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence

from ..controller import DriveController
from ..status.mounttable import is_within
from ..text import ROOT_LABEL, display_name, safe_text, visible_name

__all__ = ["SAID_BY_STATE_LINE", "cwd_html", "state_hint", "state_html"]

DOT = {
    "mounted": "var(--dw-ok)",
    "unmounted": "var(--dw-muted)",
    "mounting": "var(--dw-focus)",
    "unmounting": "var(--dw-focus)",
    "stale": "var(--dw-warn)",
    "error": "var(--dw-full)",
}
"""The state dot's colour (theme variables: readable in light and dark themes)."""
SAID_BY_STATE_LINE = (
    "Mounted at ",
    "Mounting ",
    "Unmounted",
    "Working directory: ",
    "Writing pending changes",
)
"""Controller messages whose news the state line already shows: kept in ``panel.message``
for code to read, not shown a second time."""


def state_html(state: str, words: str, hint: str) -> str:
    """The state line: a coloured dot, the state in words, then a muted hint (the next step)."""
    hint_html = f" <span class='dw-muted'>{html.escape(hint)}</span>" if hint else ""
    return (
        f"<span class='dw-state'><span class='dw-dot' style='--dw-dot:{DOT[state]}' aria-hidden='true'></span>"
        f"{html.escape(safe_text(words))}</span>{hint_html}"
    )


def cwd_html(ctrl: DriveController, *, colab: bool, syncing: Sequence[str] = ()) -> str:
    """Where the working folder is and what happens to files written there; ``syncing``:
    the status of each running keep-synced job (shown as one short mark, details on hover)."""
    return _where(ctrl, colab) + _sync_mark(syncing)


def _sync_mark(syncing: Sequence[str]) -> str:
    if not syncing:
        return ""
    n = len(syncing)
    what = "a folder" if n == 1 else f"{n} folders"
    details = html.escape(" ".join(safe_text(text) for text in syncing), quote=True)
    return f" · <span class='dw-muted' title='{details}'>keeping {what} in sync</span>"


def _where(ctrl: DriveController, colab: bool) -> str:
    if not ctrl.cwd:
        return "· working folder: it was deleted (by a sync or another program), choose a folder"
    full = display_name(ctrl.cwd)
    where = html.escape(full, quote=True)
    if ctrl.state == "mounted" and ctrl.cwd_on_drive:
        shown = html.escape(short_path(ctrl.cwd, ctrl.mountpoint, ctrl.root))
        fate = "mounted read-only: nothing can be saved here" if ctrl.readonly else "saved on the drive"
        return f"· <code title='{where}'>{shown}</code> · <span>{fate}</span>"
    # On Colab the VM's disk is wiped at a reset; a machine of your own keeps its files.
    fate = "are lost when the VM resets" if colab else "stay on this machine, not on the drive"
    return f"— files in <code title='{where}'>{html.escape(full)}</code> {fate}"


def short_path(path: str, mountpoint: str, root: str) -> str:
    """A drive folder as users know it: ``MyDrive/projects/mnist``, not the mountpoint's path;
    the root by the name the chooser gives it; a name with spaces at its edges quoted."""
    if root and os.path.normpath(path) == os.path.normpath(root):
        return ROOT_LABEL
    for base in (mountpoint, os.path.dirname(root.rstrip(os.sep))):
        if base and is_within(path, base) and path != base:
            return "/".join(visible_name(name) for name in os.path.relpath(path, base).split(os.sep))
    return display_name(path)


def state_hint(ctrl: DriveController) -> str:
    if ctrl.state == "stale":
        return "Click Unmount to clear the broken mount, then Mount again."
    if ctrl.state == "error":
        return "Fix the problem below and click Mount Drive to try again."
    return ""
