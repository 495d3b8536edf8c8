"""Weight of the panel's first display: widget models and bytes of state (targets: <= 60, <= 40 KB).

Every widget model is a comm message through the front end (through Colab's proxy, one by
one), so the first display should hold only what is shown. Counts the models a display
creates and the JSON state the front end receives for them, side by side with a plain
ipyfilechooser FileChooser, for the panel unmounted and mounted, and what opening "More"
and the folder chooser add later (built once, on first use).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from ipyfilechooser import FileChooser

from drivewidget import DriveController, DrivePanel
from drivewidget.backends.local import LocalBackend
from drivewidget.ui.tree import close_tree, open_models, state_bytes

MAX_MODELS = 60
MAX_KB = 40.0


def weigh(build: Callable[[], Any]) -> tuple[int, float, Any]:
    before = set(open_models())
    result = build()
    new = [model for key, model in open_models().items() if key not in before]
    return len(new), state_bytes(new) / 1000, result


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        os.makedirs(os.path.join(folder, "projects", "mnist"))
        os.chdir(folder)
        ctrl = DriveController(LocalBackend(folder, bind=False))
        fc_models, fc_kb, chooser = weigh(lambda: FileChooser(folder))
        close_tree(chooser)
        models, kb, panel = weigh(lambda: DrivePanel(ctrl, live=False))
        print(f"plain ipyfilechooser FileChooser: {fc_models} models, {fc_kb:.1f} KB")
        print(f"DrivePanel() unmounted, first display: {models} models, {kb:.1f} KB "
              f"({models / fc_models:.2f}x the FileChooser's models)")  # fmt: skip
        panel.close()
        ctrl.mount()
        m_models, m_kb, panel = weigh(lambda: DrivePanel(ctrl, live=False))
        print(f"DrivePanel() mounted, first display:   {m_models} models, {m_kb:.1f} KB "
              f"({m_models / fc_models:.2f}x)")  # fmt: skip
        more, more_kb, _ = weigh(lambda: panel.more.show(True))
        print(f"  + opening More:           {more} models, {more_kb:.1f} KB")
        ch, ch_kb, _ = weigh(panel.open_chooser)
        print(f"  + opening the chooser:    {ch} models, {ch_kb:.1f} KB")
        again, _, _ = weigh(lambda: (panel.more.show(True), panel.open_chooser()))
        print(f"  + opening both again:     {again} models")
        panel.close()
        ctrl.unmount()
    worst_models, worst_kb = max(models, m_models), max(kb, m_kb)
    ok = worst_models <= MAX_MODELS and worst_kb <= MAX_KB
    print(
        f"first display: {worst_models}/{MAX_MODELS} models, {worst_kb:.1f}/{MAX_KB:g} KB: {'OK' if ok else 'OVER'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
