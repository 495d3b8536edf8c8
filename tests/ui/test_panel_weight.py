"""The panel's first display stays light: few widget models, little state (each is a comm message)."""

from __future__ import annotations

from drivewidget import DriveController, DrivePanel
from drivewidget.ui.tree import open_models, state_bytes

MAX_MODELS = 60
MAX_STATE_BYTES = 40_000


def _weight(build: object) -> tuple[int, int, object]:
    before = set(open_models())
    result = build()  # type: ignore[operator]
    new = [model for key, model in open_models().items() if key not in before]
    return len(new), state_bytes(new), result


def test_first_display_is_light(controller: DriveController) -> None:
    count, size, panel = _weight(lambda: DrivePanel(controller, live=False))
    try:
        assert count <= MAX_MODELS, count
        assert size <= MAX_STATE_BYTES, size
        # Folded parts cost nothing until opened; opening builds them once.
        more, _, _ = _weight(lambda: panel.more_button.set_trait("value", True))  # type: ignore[attr-defined]
        chooser, _, _ = _weight(lambda: panel.chooser)  # type: ignore[attr-defined]
        assert more > 0 and chooser > 0
        again, _, _ = _weight(lambda: (panel.more.show(True), panel.chooser))  # type: ignore[attr-defined]
        assert again == 0
    finally:
        panel.close()  # type: ignore[attr-defined]


def test_mounted_first_display_is_light(controller: DriveController) -> None:
    controller.mount()
    count, size, panel = _weight(lambda: DrivePanel(controller, live=False))
    try:
        assert count <= MAX_MODELS and size <= MAX_STATE_BYTES, (count, size)
    finally:
        panel.close()  # type: ignore[attr-defined]
