"""Sizes and paths in words for transfer messages (moves to :mod:`drivewidget.text` once that is committed).

Kept here, small, so the transfer modules do not depend on a module another change is
still writing; the wording is the same as before the split (decimal kB/MB, like quotas).
"""

from __future__ import annotations

from ..drivefs import printable

__all__ = ["format_bytes", "show"]


def format_bytes(n: float) -> str:
    """Sizes as people read them: 4.1 kB, 96.5 MB (decimal, like drive quotas)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def show(path: str) -> str:
    """A path fit for a message: undecodable bytes and control characters made visible."""
    return printable(path)
