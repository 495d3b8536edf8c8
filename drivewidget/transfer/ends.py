"""The two ends of a copy, opened once as folder descriptors that every later call starts from.

A path string is checked once and then used many times by the copy; on a shared drive a
collaborator can swap a folder for a symlink between the two. So the source and the
destination are opened here once, and every folder below them is reached one name at a
time relative to these descriptors (:mod:`drivewidget.drivefs`):

* below the source, symlinks are refused (``symlinks="copy"`` / ``"skip"``: links are read
  as links, never entered), or followed only inside ``area`` (the drive) when the
  transfer follows links; a local source without an area follows them anywhere;
* below the destination, symlinks are never followed: the copy writes only into the
  folders it listed or made itself.

Both ends are also compared as open folders (the kernel's paths of the descriptors), so
a destination that is a link into the source ("copy a drive folder into itself") is
refused however it is spelled.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from .. import drivefs
from ..errors import InvalidPath
from ..text import printable

__all__ = ["Ends", "split"]

_DIR = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC


def split(rel: str) -> tuple[str, ...]:
    """A relative path of the plan as names (``""`` is the top itself)."""
    return tuple(rel.split(os.sep)) if rel else ()


class Ends:
    """The opened source and destination of one transfer (close with :meth:`close`).

    ``src_area`` / ``dest_area``: the drive's root when that end is on the drive (its
    folders are then opened below the area, and links must stay inside it); ``None`` for a
    folder on local disk, which is opened like any path the user types.
    """

    def __init__(self, src: str, dest: str, *, follow: bool, src_area: str | None, dest_area: str | None):
        self.src_path, self.dest_path = src, dest
        self.single = False
        self.src_name = self.dest_name = ""
        self.src = self.dest = self.area = -1
        self.dest_area = -1
        self.dest_exists = False
        self.src_links: drivefs.Links = "refuse"
        if follow:
            self.src_links = "inside" if src_area is not None else "follow"
        self._src_area_path, self._dest_area_path = src_area, dest_area
        try:
            self._open_src()
            self._open_dest()
        except BaseException:
            self.close()
            raise

    # -- opening ------------------------------------------------------------------------

    def _open_src(self) -> None:
        if self._src_area_path is not None:
            self.area = os.open(self._src_area_path, _DIR)
            names = _below(self.src_path, self._src_area_path)
            try:
                self.src = drivefs.open_dir(self.area, names, links="inside", area=self.area)
                return
            except NotADirectoryError:
                if not names:
                    raise
            self.src = drivefs.open_dir(self.area, names[:-1], links="inside", area=self.area)
            self.src_name = names[-1]
            st = drivefs.stat_at(self.src, self.src_name, links="inside", area=self.area)
        else:
            try:
                self.src = os.open(self.src_path, _DIR)
                return
            except NotADirectoryError:
                pass
            self.src = os.open(os.path.dirname(self.src_path) or os.sep, _DIR)
            self.src_name = os.path.basename(self.src_path)
            st = os.stat(self.src_name, dir_fd=self.src)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidPath(
                f"{printable(self.src_path)} is not a regular file or a folder, so it cannot be copied."
            )
        self.single = True

    def _open_dest(self) -> None:
        """Open the destination folder (a single file: its parent) if it exists yet."""
        if self._dest_area_path is not None:
            self.dest_area = os.open(self._dest_area_path, _DIR)
        folder = os.path.dirname(self.dest_path) if self.single else self.dest_path
        if self.single:
            self.dest_name = os.path.basename(self.dest_path)
        try:
            self.dest = self._dest_folder(folder, create=False)
        except FileNotFoundError:
            return
        except NotADirectoryError:
            if self.single:
                raise
            raise InvalidPath(
                f"{printable(self.dest_path)} is a file; give a folder to copy the folder {printable(self.src_path)} into."
            ) from None
        self.dest_exists = True
        if not self.single and (
            drivefs.is_inside(self.dest, self.src) or drivefs.is_inside(self.src, self.dest)
        ):
            raise InvalidPath(
                f"Cannot copy {printable(self.src_path)} to {printable(self.dest_path)}: one is inside the other "
                f"({printable(drivefs.real_path(self.dest))} is {printable(drivefs.real_path(self.src))} or in it, "
                "or holds it). Choose a destination elsewhere."
            )

    def _dest_folder(self, folder: str, *, create: bool) -> int:
        if self.dest_area >= 0:
            assert self._dest_area_path is not None
            names = _below(folder, self._dest_area_path)
            return drivefs.open_dir(self.dest_area, names, links="inside", area=self.dest_area, create=create)
        if create:
            os.makedirs(folder, exist_ok=True)
        return os.open(folder, _DIR)

    def make_dest(self) -> None:
        """Create the destination folder (a single file: its parent) when it is missing; never
        inside the source (judged on the nearest folder that exists, before anything is made)."""
        if self.dest >= 0:
            return
        folder = os.path.dirname(self.dest_path) if self.single else self.dest_path
        if not self.single and self.dest_area < 0:
            existing = folder
            while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
                existing = os.path.dirname(existing)
            with (
                contextlib.suppress(NotADirectoryError, FileNotFoundError),
                drivefs.opened(os.open(existing, _DIR)) as near,
            ):
                if drivefs.is_inside(near, self.src):
                    raise InvalidPath(
                        f"Cannot copy {printable(self.src_path)} to {printable(self.dest_path)}: one is "
                        "inside the other. Choose a destination elsewhere."
                    )
        self.dest = self._dest_folder(folder, create=True)

    # -- folders below the ends --------------------------------------------------------

    def src_dir(self, names: tuple[str, ...]) -> int:
        """An ``O_PATH`` descriptor of the source folder ``names`` (the caller closes it)."""
        return drivefs.open_dir(
            self.src, names, links=self.src_links, area=self.area if self.area >= 0 else None
        )

    def dest_dir(self, names: tuple[str, ...]) -> int:
        """An ``O_PATH`` descriptor of the destination folder ``names``; never through a link."""
        return drivefs.open_dir(self.dest, names, links="refuse")

    def src_file(self, rel: str) -> tuple[int, str]:
        """(folder descriptor, name) of a planned source file (the caller closes the descriptor)."""
        if self.single:
            return os.open(".", _DIR, dir_fd=self.src), self.src_name
        names = split(rel)
        return self.src_dir(names[:-1]), names[-1]

    def dest_file(self, rel: str) -> tuple[int, str]:
        """(folder descriptor, name) of where a planned file goes."""
        if self.single:
            return os.open(".", _DIR, dir_fd=self.dest), self.dest_name
        names = split(rel)
        return self.dest_dir(names[:-1]), names[-1]

    @property
    def file_links(self) -> drivefs.Links:
        """How a planned file's own name is opened: a link is entered only when following, or
        when it is the single file the user named (inside the drive, for a drive source)."""
        if self.single:
            return "inside" if self.area >= 0 else "follow"
        return self.src_links

    @property
    def area_fd(self) -> int | None:
        return self.area if self.area >= 0 else None

    def close(self) -> None:
        for name in ("src", "dest", "area", "dest_area"):
            fd = getattr(self, name, -1)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, -1)


def _below(path: str, area: str) -> tuple[str, ...]:
    """``path`` as names below ``area`` (both as given by the caller, already normalised)."""
    rel = os.path.relpath(path, area)
    if rel == os.curdir:
        return ()
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise OSError(errno.EXDEV, "is outside the drive", path)
    return drivefs.split_relative(rel)
