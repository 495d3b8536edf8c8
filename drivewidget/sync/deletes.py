"""``mirror_deletes``: a file deleted locally is deleted on the drive, but only what the job wrote.

The ledger remembers, for each file the job itself committed, the drive-side stamp of that
version (:meth:`~.ledger.Ledger.written`). A file the job found on the drive (identical, or
kept because the drive's copy was newer) is never a candidate, and a candidate is deleted
only while the drive still holds exactly the version the job wrote: a collaborator's edit
since then is kept, and said so.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import DISCONNECTED_ERRNOS, InvalidPath
from ..text import printable
from ..transfer.handle import Transfer
from .drive_side import DestTree, split
from .ledger import Ledger
from .local_tree import Stamp

if TYPE_CHECKING:
    from .syncpass import PassOutcome

__all__ = ["delete_written", "deletions_of", "kept_changed_text"]


def deletions_of(
    ledger: Ledger, files: dict[str, Stamp], gone: Iterable[str], *, full: bool, mirror: bool
) -> list[str]:
    """Known files that are no longer there locally: forgotten, and with ``mirror`` returned
    for deletion when the job itself wrote them. ``full``: ``files`` is every local file
    (else ``gone`` lists the reported paths that vanished)."""
    if full:
        missing = [rel for rel in ledger if rel not in files]
    else:
        missing = sorted({k for rel in gone for k in ledger.under(rel) if k not in files})
    doomed = []
    for rel in missing:
        if mirror and ledger.written(rel) is not None:
            doomed.append(rel)
        else:
            ledger.forget(rel)
    return doomed


def delete_written(
    tree: DestTree, ledger: Ledger, deletions: list[str], local: str, outcome: PassOutcome, t: Transfer
) -> None:
    """Delete what the job wrote, where the drive still holds exactly that version; then the
    folders left empty that are gone locally too."""
    folders: set[str] = set()
    for rel in deletions:
        if t.stopping:
            return
        written = ledger.written(rel)
        if written is None:  # not the job's own (deletions_of never returns one)
            ledger.forget(rel)
            continue
        try:
            done = tree.remove_file(rel, written)
            if done == "removed":
                outcome.deleted.append(rel)
            elif done == "changed":
                outcome.kept_changed.append(rel)
        except InvalidPath:
            pass  # its folder on the drive is a link or a file now: nothing of ours to delete
        except OSError as exc:
            if exc.errno in DISCONNECTED_ERRNOS:
                raise
            t.note_error(f"{printable(rel)}: cannot be deleted on the drive ({exc.strerror}).")
            continue
        ledger.forget(rel)
        folder = split(rel)[0]
        while folder:
            folders.add(folder)
            folder = split(folder)[0]
    for folder in sorted(folders, key=lambda f: -f.count(os.sep)):
        if not os.path.isdir(os.path.join(local, folder)):
            with contextlib.suppress(OSError, InvalidPath):
                tree.remove_empty_folder(folder)
    if outcome.kept_changed:
        t.note_warning(kept_changed_text(outcome.kept_changed))


def kept_changed_text(names: list[str]) -> str:
    """The words for files deleted locally but kept on the drive (changed there since)."""
    more = f" and {len(names) - 1} more" if len(names) > 1 else ""
    return (
        f"Kept {printable(names[0])}{more} on the drive although deleted locally: changed on the drive "
        "since this job wrote it (someone else's edit is never deleted)."
    )
