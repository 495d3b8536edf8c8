"""The values of a transfer: its options, its progress snapshots and its result.

Plain frozen dataclasses, safe to pass between threads and to render from anywhere; they
import nothing of the engine, so a display can use them without starting one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ..text import format_bytes, printable

__all__ = ["DEFAULT_WORKERS", "CopyOptions", "Phase", "Symlinks", "TransferProgress", "TransferResult"]

Symlinks = Literal["copy", "follow", "skip"]
"""Symlinks in the source: copied as links, followed (staying inside the drive), or skipped."""
Phase = Literal["starting", "listing", "copying", "flushing", "done", "cancelled", "failed"]

DEFAULT_WORKERS = 64
"""Files in flight at once: enough to hide a cloud's round trips, few enough for its rate limits."""


@dataclass(frozen=True)
class CopyOptions:
    """How a transfer copies (all keyword arguments of ``stage`` / ``sync_back`` / ``start_copy``)."""

    workers: int = DEFAULT_WORKERS
    """Files copied (and folders listed) at once."""
    checksum: bool = False
    """Decide what is identical by comparing contents (reads both sides) instead of size + mtime."""
    verify: bool = True
    """Read each copy back and compare it with the bytes read from the source before keeping it."""
    fsync: bool = True
    """Flush each file to disk before renaming it to its final name."""
    symlinks: Symlinks = "copy"
    """``copy`` links as links, ``follow`` them (copy what they point to), or ``skip`` them.
    Followed links on the drive are followed only when they stay inside the drive, and each
    folder is entered once (a link back up or to the drive's root is a loop, not a copy)."""
    reserve: int | None = None
    """Bytes to leave free on the destination; ``None``: 256 MB or 5 % of the disk, the smaller."""
    retries: int = 1
    """How often a file that changed while it was read is read again before giving up on it."""
    overwrite_newer: bool = False
    """Replace destination files that are newer than the source. By default they are kept and
    listed in ``kept_newer`` (someone changed them since: replacing them would lose work)."""

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= 512:
            raise ValueError(f"workers must be between 1 and 512, not {self.workers}")
        if self.symlinks not in ("copy", "follow", "skip"):
            raise ValueError(f"symlinks must be 'copy', 'follow' or 'skip', not {self.symlinks!r}")
        if self.retries < 0:
            raise ValueError("retries must be 0 or more")

    @classmethod
    def from_kwargs(cls, options: CopyOptions | None = None, **kwargs: Any) -> CopyOptions:
        """``options`` (or the defaults) with ``kwargs`` applied; unknown names raise TypeError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(
                f"unknown transfer option(s): {', '.join(unknown)} (known: {', '.join(sorted(names))})"
            )
        given = {k: v for k, v in kwargs.items() if v is not None or k == "reserve"}
        return dataclasses.replace(options or cls(), **given)


@dataclass(frozen=True)
class TransferProgress:
    """A snapshot of a running transfer, cheap to take and safe to render from any thread."""

    phase: Phase
    files_total: int
    """Files found in the source so far (final once ``phase`` is past ``listing``)."""
    files_done: int
    """Files finished: copied, skipped as identical, or failed."""
    files_copied: int
    files_skipped: int
    files_failed: int
    bytes_total: int
    """Bytes that need copying (identical files excluded)."""
    bytes_done: int
    elapsed: float
    rate: float
    """Bytes per second over the last few seconds."""
    files_rate: float
    """Files finished per second over the last few seconds."""
    eta: float | None
    """Seconds left, estimated from both rates; ``None`` while unknown."""
    current: str = ""
    """A file being copied now (for display)."""
    message: str = ""
    """The latest line from the drive while ``flushing`` ("Uploading 3 file(s)...")."""

    @property
    def fraction(self) -> float:
        """0..1, by bytes when there are bytes to copy, else by files."""
        if self.phase == "done":
            return 1.0
        if self.bytes_total > 0:
            return min(1.0, self.bytes_done / self.bytes_total)
        return min(1.0, self.files_done / self.files_total) if self.files_total else 0.0

    def describe(self) -> str:
        """One line for a status bar: what is happening and how far it is."""
        if self.phase in ("starting", "listing"):
            return f"Listing: {self.files_total} files found so far"
        if self.phase == "flushing":
            return f"Writing to the drive: {self.message or 'waiting for uploads to finish'}"
        parts = [
            f"{self.files_done}/{self.files_total} files",
            f"{format_bytes(self.bytes_done)} of {format_bytes(self.bytes_total)}",
        ]
        if self.rate > 0:
            parts.append(f"{format_bytes(self.rate)}/s")
        if self.eta is not None and self.phase == "copying":
            parts.append(f"{self.eta:.0f} s left")
        if self.files_skipped:
            parts.append(f"{self.files_skipped} already identical")
        if self.files_failed:
            parts.append(f"{self.files_failed} failed")
        word = {"copying": "Copying", "done": "Done", "cancelled": "Cancelled", "failed": "Stopped"}[
            self.phase
        ]
        return f"{word}: " + ", ".join(parts)


@dataclass(frozen=True)
class TransferResult:
    """What a finished transfer did. ``ok`` when every file was copied or already identical."""

    kind: str
    src: str
    dest: str
    method: str
    files_total: int
    copied: int
    skipped: int
    failed: int
    bytes_copied: int
    bytes_skipped: int
    changed: tuple[str, ...] = ()
    """Source files that changed while they were copied (left out; also counted in ``failed``)."""
    errors: tuple[str, ...] = ()
    """What went wrong, in words (one line per file or folder)."""
    warnings: tuple[str, ...] = ()
    kept_newer: tuple[str, ...] = ()
    """Files left as they are because the destination's copy is newer and differs
    (``overwrite_newer=True`` replaces them)."""
    upload_unconfirmed: str = ""
    """sync_back: why the drive could not confirm it uploaded the copied files ("" when it did,
    or when not asked to). The files are in the mount, maybe not yet in the cloud."""
    cancelled: bool = False
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.errors and not self.cancelled

    def summary(self) -> str:
        """One sentence: counts, sizes and time."""
        head = "Cancelled after copying" if self.cancelled else "Copied"
        text = (
            f"{head} {self.copied} file(s) ({format_bytes(self.bytes_copied)}), skipped {self.skipped} "
            f"already identical ({format_bytes(self.bytes_skipped)}), {self.failed} failed, "
            f"in {self.elapsed:.1f} s."
        )
        if self.changed:
            text += (
                f" {len(self.changed)} changed while being copied and were left out: run again to copy them."
            )
        elif self.failed or self.errors:
            text += " See the errors."
        if self.kept_newer:
            text += (
                f" Kept {len(self.kept_newer)} file(s) that are newer at the destination (first: "
                f"{printable(self.kept_newer[0])}); copy with overwrite_newer=True to replace them."
            )
        return text

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["changed"] = [printable(p) for p in self.changed]
        data["kept_newer"] = [printable(p) for p in self.kept_newer]
        data["ok"] = self.ok
        return data
