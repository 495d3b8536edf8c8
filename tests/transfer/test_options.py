"""options.py: the options are checked, unknown ones named."""

from __future__ import annotations

import pytest

from drivewidget.transfer import CopyOptions


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="workers"):
        CopyOptions(workers=0)
    with pytest.raises(ValueError, match="symlinks"):
        CopyOptions(symlinks="maybe")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown transfer option"):
        CopyOptions.from_kwargs(wrokers=3)
