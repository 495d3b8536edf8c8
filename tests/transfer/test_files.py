"""files.py: temporary names and the mtime comparison at the coarser precision."""

from __future__ import annotations

import pytest

from drivewidget.transfer.files import TEMP_RE, same_mtime, temp_name


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (1_700_000_000_123_456_789, 1_700_000_000_123_456_789, True),
        (1_700_000_000_123_456_789, 1_700_000_000_000_000_000, True),  # a cloud keeping seconds
        (1_700_000_000_123_456_789, 1_700_000_000_123_000_000, True),  # ...or milliseconds
        (1_700_000_000_123_456_789, 1_700_000_001_000_000_000, False),
        (1_700_000_000_123_456_789, 1_700_000_000_124_000_000, False),
        (1_700_000_000_123_456_789, 1_700_000_000_123_456_788, False),
    ],
)
def test_same_mtime_at_the_coarser_precision(a: int, b: int, same: bool) -> None:
    assert same_mtime(a, b) is same and same_mtime(b, a) is same


def test_temporary_names_are_short_and_stable() -> None:
    assert temp_name("x" * 255) == temp_name("x" * 255)
    assert len(temp_name("x" * 255)) < 30 and TEMP_RE.match(temp_name("a"))
    assert temp_name("a") != temp_name("b")
