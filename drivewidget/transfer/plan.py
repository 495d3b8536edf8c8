"""Plan a copy: list the source and the destination in parallel, decide what each file needs.

Folders are listed through descriptors (:class:`~.ends.Ends`), never through path strings.
Each source file is compared with what the destination has: the same size and
modification time (at the coarser of the two clocks) means identical and it is skipped;
with ``checksum=True`` the contents decide later, in the copy phase. Nothing that is not
a regular file, a folder or a link is ever opened: a device, FIFO or socket on the drive
is reported and left out, from its ``lstat`` alone.

Links copied as links (``symlinks="copy"``, the default) from the drive must lead inside the
copied folder: a link to ``/home/you/.bashrc`` or ``../../..`` planted on the drive would,
once copied to local disk, point at this machine's own files (and code that writes through
it would overwrite them). Followed links (``symlinks="follow"``) must stay inside the drive; a folder reached
through a link is entered only if it is not the source itself or a folder around it, not
a folder of the current chain (a loop), and not entered through another link before, so
a folder full of links to each other or to ``..`` costs one listing each, not an
exponential or endless copy.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .. import drivefs
from ..errors import DISCONNECTED_ERRNOS, DriveError, TransferError, from_os_error
from ..text import printable
from .ends import Ends, split
from .files import NEWER_TOLERANCE_NS, TEMP_RE, TEMP_STALE_AFTER, same_mtime
from .handle import Transfer

__all__ = ["Item", "Plan", "Planner", "whole_error"]

Key = tuple[int, int]


@dataclass
class Item:
    """One thing to copy: a regular file or a link (``rel`` is ``""`` for a single file)."""

    rel: str
    kind: Literal["file", "link"]
    size: int = 0
    mtime_ns: int = 0
    mode: int = 0o644
    target: str = ""
    check: bool = False
    """Contents decide (checksum mode, same size): compared in the copy phase."""
    dest_newer: bool = False
    """The destination's copy was changed after this one (beyond clock skew between machines):
    replacing it could undo someone's work, so it is kept unless the contents are identical."""


@dataclass
class Plan:
    """What the copy phase does: files to copy, folders to make, temporary files to remove."""

    items: list[Item] = field(default_factory=list)
    new_dirs: list[tuple[str, int]] = field(default_factory=list)
    stale: list[tuple[str, str]] = field(default_factory=list)
    """(folder, name) of temporary files an interrupted run left at the destination."""
    links_skipped: int = 0


def whole_error(exc: OSError, path: str) -> DriveError:
    """The error that stops a whole transfer (drive gone, disk full, a path unusable)."""
    return from_os_error(
        exc,
        doing="copy",
        path=printable(path),
        then="Files copied so far are complete; run again to finish." if exc.errno != errno.ENOENT else "",
        fallback=TransferError,
    )


class Planner:
    """Builds a :class:`Plan` for ``transfer`` between ``ends``; ``submit`` runs a task on the pool."""

    def __init__(self, transfer: Transfer, ends: Ends, submit: Callable[[Callable[[], None]], None]) -> None:
        self.t = transfer
        self.o = transfer.options
        self.ends = ends
        self.plan = Plan()
        self._submit = submit
        self._lock = threading.Lock()
        self._linked = drivefs.Visited()
        """Folders entered through a link, or below one (device, inode): each at most once, so
        nested links cannot make a copy grow with the square of a tree's depth."""
        self._top: Key = (0, 0)

    def start(self) -> None:
        """Plan the top (a single file at once; a folder's listing goes on on the pool)."""
        ends = self.ends
        if ends.single:
            st = drivefs.stat_at(ends.src, ends.src_name, links=ends.file_links, area=ends.area_fd)
            dst = None
            if ends.dest_exists:
                with contextlib.suppress(FileNotFoundError):
                    dst = os.stat(ends.dest_name, dir_fd=ends.dest, follow_symlinks=False)
            self._decide(Item("", "file", st.st_size, st.st_mtime_ns, st.st_mode), dst)
            return
        st = os.fstat(ends.src)
        self._top = (st.st_dev, st.st_ino)
        self._submit(lambda: self._list("", ends.dest_exists, frozenset({self._top}), linked=False))

    # -- listing -----------------------------------------------------------------------

    def _list(self, rel: str, dest_exists: bool, chain: frozenset[Key], *, linked: bool) -> None:
        """Plan the folder ``rel``; ``linked``: it was reached through a followed link."""
        if self.t.stopping:
            return
        names = split(rel)
        try:
            folder = self.ends.src_dir(names)
        except OSError as exc:
            self._folder_error(rel, exc, "cannot be listed")
            return
        with drivefs.opened(folder):
            try:
                entries = _entries(folder)
            except OSError as exc:
                self._folder_error(rel, exc, "cannot be listed")
                return
            existing: dict[str, os.stat_result] = {}
            if dest_exists:
                listed = self._dest_entries(rel, names)
                if listed is None:
                    return
                existing = listed
            # Folders first, links after: a folder also reached through a link keeps its own name.
            for name, lst in sorted(entries, key=lambda entry: stat.S_ISLNK(entry[1].st_mode)):
                if TEMP_RE.match(name):
                    continue
                child = os.path.join(rel, name) if rel else name
                self._entry(folder, name, lst, child, existing.get(name), chain, linked=linked)

    def _dest_entries(self, rel: str, names: tuple[str, ...]) -> dict[str, os.stat_result] | None:
        """The destination folder's names (``None`` after reporting it cannot be listed)."""
        out: dict[str, os.stat_result] = {}
        try:
            with drivefs.opened(self.ends.dest_dir(names)) as folder:
                for name, lst in _entries(folder):
                    if TEMP_RE.match(name):
                        if time.time() - lst.st_mtime > TEMP_STALE_AFTER:  # else: maybe being written now
                            with self._lock:
                                self.plan.stale.append((rel, name))
                    else:
                        out[name] = lst
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._folder_error(rel, exc, "cannot be listed at the destination")
            return None
        return out

    def _entry(
        self,
        folder: int,
        name: str,
        lst: os.stat_result,
        child: str,
        existing: os.stat_result | None,
        chain: frozenset[Key],
        *,
        linked: bool,
    ) -> None:
        try:
            st, via_link = lst, False
            if stat.S_ISLNK(lst.st_mode):
                if self.o.symlinks == "skip":
                    with self._lock:
                        self.plan.links_skipped += 1
                    return
                if self.o.symlinks == "copy":
                    target = os.readlink(name, dir_fd=folder)
                    if self.ends.area_fd is not None and not _stays_inside(child, target):
                        self.t.note_failed(
                            f"{printable(child)}: a symbolic link to {printable(target)}, outside the folder "
                            "being copied; not copied (here it would lead to this machine's files, not the "
                            "drive's). Use symlinks='follow' to copy what it leads to inside the drive."
                        )
                        return
                    self._decide(Item(child, "link", target=target), existing)
                    return
                followed = self._follow(folder, name, child)
                if followed is None:
                    return
                st, via_link = followed, True
            if stat.S_ISDIR(st.st_mode):
                if via_link:
                    enter = self._entered(child, st, chain)
                else:
                    enter = not linked or self._once_below_links(child, st)
                if enter:
                    self._folder(child, st, existing, chain, linked=linked or via_link)
            elif stat.S_ISREG(st.st_mode):
                self._decide(Item(child, "file", st.st_size, st.st_mtime_ns, st.st_mode), existing)
            else:
                self.t.note_failed(
                    f"{printable(child)}: not a regular file, folder or link (a device, pipe or socket); skipped."
                )
        except OSError as exc:
            if exc.errno in DISCONNECTED_ERRNOS:
                self.t.abort(whole_error(exc, os.path.join(self.ends.src_path, child)))
                return
            self.t.note_failed(f"{printable(child)}: cannot be read ({exc.strerror or exc}).")

    def _follow(self, folder: int, name: str, child: str) -> os.stat_result | None:
        """What the link ``name`` leads to, if it may be followed (else reported, ``None``)."""
        try:
            return drivefs.stat_at(folder, name, links=self.ends.src_links, area=self.ends.area_fd)
        except FileNotFoundError:
            target = os.readlink(name, dir_fd=folder)
            self.t.note_failed(
                f"{printable(child)}: a symbolic link to something missing ({printable(target)}); not copied."
            )
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                self.t.note_failed(
                    f"{printable(child)}: a symbolic link that {exc.strerror}; not copied "
                    "(links are followed only inside the drive)."
                )
            elif exc.errno == errno.ELOOP:
                self.t.note_failed(
                    f"{printable(child)}: a symbolic link that leads to itself (a loop); not copied."
                )
            else:
                raise
        return None

    def _entered(self, child: str, st: os.stat_result, chain: frozenset[Key]) -> bool:
        """May the folder that the link ``name`` leads to be entered? (Reports why not.)"""
        key = (st.st_dev, st.st_ino)
        around = key in chain
        if not around:
            with drivefs.opened(self.ends.src_dir(split(child))) as target:
                around = drivefs.is_inside(self.ends.src, target)
        if around:
            self.t.note_error(
                f"{printable(child)}: a symbolic link back to a folder that contains it (a loop); not followed."
            )
            return False
        if not self._linked.first(st):
            self.t.note_error(
                f"{printable(child)}: a symbolic link to a folder already copied through another link; "
                "not copied twice."
            )
            return False
        return True

    def _once_below_links(self, child: str, st: os.stat_result) -> bool:
        """A folder below a followed link is entered once, however many links lead over it."""
        if self._linked.first(st):
            return True
        self.t.note_error(
            f"{printable(child)}: a folder already copied through another symbolic link; not copied twice."
        )
        return False

    def _folder(
        self,
        child: str,
        st: os.stat_result,
        existing: os.stat_result | None,
        chain: frozenset[Key],
        *,
        linked: bool,
    ) -> None:
        dest_has = False
        if existing is not None:
            if stat.S_ISLNK(existing.st_mode):
                self.t.note_error(
                    f"{printable(child)}: the destination has a symbolic link here; the copy never writes "
                    "through links, so this folder was not copied. Remove the link and run again."
                )
                return
            if not stat.S_ISDIR(existing.st_mode):
                self.t.note_error(
                    f"{printable(child)}: the destination has a file where the source has a folder; "
                    "move the file away and run again."
                )
                return
            dest_has = True
        else:
            with self._lock:
                self.plan.new_dirs.append((child, st.st_mode))
        key = (st.st_dev, st.st_ino)
        self._submit(lambda: self._list(child, dest_has, chain | {key}, linked=linked))

    # -- decisions ---------------------------------------------------------------------

    def _decide(self, item: Item, dst: os.stat_result | None) -> None:
        copy = True
        if dst is not None and stat.S_ISDIR(dst.st_mode):
            self.t.note_planned(0, copy=True)
            self.t.note_failed(
                f"{printable(item.rel or self.ends.dest_path)}: the destination has a folder with this name; "
                "move it away and run again."
            )
            return
        if item.kind == "link":
            if dst is not None and stat.S_ISLNK(dst.st_mode):
                with contextlib.suppress(OSError), drivefs.opened(self.ends.dest_file(item.rel)[0]) as parent:
                    copy = os.readlink(os.path.basename(item.rel), dir_fd=parent) != item.target
        elif dst is not None and stat.S_ISREG(dst.st_mode):
            item.dest_newer = (
                not self.o.overwrite_newer and dst.st_mtime_ns > item.mtime_ns + NEWER_TOLERANCE_NS
            )
            same_size = dst.st_size == item.size
            if item.dest_newer and not (self.o.checksum and same_size):
                self.t.note_kept_newer(item.rel or os.path.basename(self.ends.dest_path))
                return
            if same_size and self.o.checksum:
                item.check = True  # contents decide, in the copy phase
            elif same_size:
                copy = not same_mtime(dst.st_mtime_ns, item.mtime_ns)
        self.t.note_planned(item.size, copy=copy)
        if copy:
            with self._lock:
                self.plan.items.append(item)

    def _folder_error(self, rel: str, exc: OSError, what: str) -> None:
        if exc.errno in DISCONNECTED_ERRNOS:
            self.t.abort(
                whole_error(exc, os.path.join(self.ends.src_path, rel) if rel else self.ends.src_path)
            )
            return
        if exc.errno == errno.ELOOP:
            reason = "a symbolic link stands where the folder was listed; it is not followed"
        elif exc.errno == errno.EXDEV:
            reason = exc.strerror or "it leads outside the drive"
        else:
            reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        self.t.note_error(
            f"{printable(rel or self.ends.src_path)}: the folder {what} ({reason}); its contents were not copied."
        )


def _stays_inside(child: str, target: str) -> bool:
    """Whether the link ``child`` -> ``target`` leads inside the copied folder, whatever the
    other links in it lead to: a relative target whose ``..`` names all come first and climb
    no higher than the copied folder. (``a/../..`` style targets are refused: after a name
    that is itself a link, ``..`` climbs from where that link leads, not from its name.)"""
    if not target or os.path.isabs(target):
        return False
    names = [name for name in target.split(os.sep) if name not in ("", os.curdir)]
    climb = 0
    while climb < len(names) and names[climb] == os.pardir:
        climb += 1
    depth = len(split(os.path.dirname(child)))
    return climb <= depth and os.pardir not in names[climb:]


def _entries(folder: int) -> list[tuple[str, os.stat_result]]:
    """(name, lstat) of every entry of the open folder: nothing is opened, links not followed."""
    with drivefs.opened(drivefs.open_listable(folder)) as listable, os.scandir(listable) as it:
        return [(entry.name, entry.stat(follow_symlinks=False)) for entry in it]
