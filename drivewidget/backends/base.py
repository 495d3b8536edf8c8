"""The contract every mount backend implements: mechanism and capability flags, no UI.

A backend knows how to mount, flush and unmount one kind of drive and how to tell
whether it is mounted. It holds no UI, no retry policy and no global state, and raises
only :mod:`drivewidget.errors` types whose messages say what happened, not which button to
click. The controller adds serialisation, state, cwd handling and the wording and retry
policy on top (for example: a stale mount whose flush could not finish is detached on the
second unmount), so a backend stays a handful of small methods.

What differs between backends in ways a UI must know is a capability flag, never a name
check (``backend.name == "colab"``)::

    main_thread_only     mount must run on the kernel's main thread (a sign-in prompt)
    needs_browser_auth   mount signs in through the runtime's own browser prompt, so
                         connections made in drivewidget do not apply
    confirms_uploads     flush() can confirm uploads while staying mounted
    supports_readonly    mount(readonly=True) gives a read-only drive
    keeps_unsent_writes  writes not uploaded when a stale mount is detached are kept and
                         sent at the next mount (False: they are lost)

A backend is built from a registry spec with :meth:`Backend.from_spec` (``DRIVEWIDGET_SOURCE``
is its source: an rclone remote, a local folder, an ocamlfuse label).
"""

from __future__ import annotations

import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from ..errors import InvalidMountpoint
from ..status.mounttable import MountEntry, find_mount

Progress = Callable[[str], None]
"""Receives short human-readable progress lines ("Uploading 3 files...")."""


def _ignore(_: str) -> None:
    return None


class Backend(ABC):
    """Base class of mount backends (see the module docstring)."""

    name: ClassVar[str] = ""
    """Registry name, as in ``DRIVEWIDGET_BACKEND``."""
    label: ClassVar[str] = ""
    """What users read in the panel ("rclone", "Google Colab Drive")."""
    main_thread_only: ClassVar[bool] = False
    """True when mount must run on the kernel's main thread (Colab's auth prompt)."""
    needs_browser_auth: ClassVar[bool] = False
    """True when mount signs in through the runtime's own browser prompt (Colab): the
    controller says so while mounting, and connections made in drivewidget do not apply."""
    confirms_uploads: ClassVar[bool] = True
    """Whether :meth:`flush` can confirm that writes reached the cloud while staying mounted
    (Colab's Drive cannot: only ``flush_and_unmount`` does)."""
    supports_readonly: bool = True
    """Whether ``mount(readonly=True)`` gives a read-only drive (an instance may say no)."""
    keeps_unsent_writes: ClassVar[bool] = False
    """Whether writes not yet uploaded when a stale mount is detached survive (in a local
    cache, uploaded at the next mount) rather than being lost."""
    fstypes: ClassVar[tuple[str, ...]] = ()
    """Filesystem types in the mount table that count as this backend's mount."""
    _recognised: frozenset[MountEntry] = frozenset()
    """Mount-table entries :meth:`owns` already accepted (it may stat or scan processes, and
    the state is refreshed every few seconds). Only acceptances are kept: a refusal may stop
    applying once the other mount is gone."""

    @classmethod
    def from_spec(cls, source: str | None = None) -> Backend:
        """Build one from the registry's spec: ``source`` is ``DRIVEWIDGET_SOURCE`` (a remote,
        a folder, a label). The default takes no source and ignores one."""
        return cls()

    def check_available(self) -> None:
        """Raise :class:`BackendUnavailable` (with an install hint) if it cannot run here."""

    def default_mountpoint(self) -> str:
        return os.path.expanduser("~/drive")

    def describe(self) -> str:
        """Short text naming the backend and its source, for the panel and the CLI."""
        return self.label

    def first_answer_timeout(self) -> float:
        """Seconds a fresh mount may take to list its root for the first time (a cold cloud
        root is slow; that is a slow start, not a failed mount)."""
        return 5.0

    def root(self, mountpoint: str) -> str:
        """The folder users browse (Colab: ``<mountpoint>/MyDrive``)."""
        return mountpoint

    def resolve_mountpoint(self, mountpoint: str) -> str:
        """Turn a user's mountpoint into the absolute path the backend will use."""
        return real_mountpoint(mountpoint)

    def validate_mountpoint(self, mountpoint: str, table: Sequence[MountEntry] | None = None) -> None:
        """Reject mountpoints that would fail or break something, before mounting.

        The default accepts an empty folder, or a missing folder whose parent exists
        (it is created at mount time). ``table``: the mount table as the caller read it
        (None: read it now); the controller reads it once per command.
        """
        check_mountpoint(mountpoint, table=table)

    def mount_entry(self, mountpoint: str, table: Sequence[MountEntry] | None = None) -> MountEntry | None:
        """This backend's entry in the mount table (never touches the filesystem)."""
        entry = find_mount(mountpoint, table=table)
        if entry is None:
            return None
        if entry not in self._recognised:
            if not self.owns(entry):
                return None
            self._recognised = self._recognised | {entry}
        return entry

    def owns(self, entry: MountEntry) -> bool:
        """Whether a mount-table entry is this backend's mount (of its source, not another
        tool's or another remote's, which it must never flush into or unmount)."""
        return not self.fstypes or entry.fstype in self.fstypes

    def is_mounted(self, mountpoint: str, table: Sequence[MountEntry] | None = None) -> bool:
        """Whether the drive is mounted at ``mountpoint``; must not block on a hung mount.
        ``table``: the mount table as the caller read it (None: read it now)."""
        return self.mount_entry(mountpoint, table) is not None

    @abstractmethod
    def mount(self, mountpoint: str, *, readonly: bool = False, force: bool = False) -> list[str]:
        """Mount and return once mounted; returns lines worth showing to the user.

        The caller has called :meth:`check_available` and :meth:`validate_mountpoint` (the
        controller does, once per mount), so a backend does not repeat them."""

    def flush(self, mountpoint: str, progress: Progress = _ignore) -> None:
        """Wait until every pending write has reached the remote."""

    def flush_stale(self, mountpoint: str, progress: Progress = _ignore) -> None:
        """Before a stale mount is unmounted: push pending writes through a channel that does
        not touch the (hung or dead) mount, where the backend has one. Default: none.

        Returns at once when nothing can be pushed (the daemon is gone); raises
        :class:`UnmountError` when pushing did not finish, and the controller then decides
        whether the next unmount detaches anyway."""

    @abstractmethod
    def unmount(self, mountpoint: str, *, stale: bool = False) -> list[str]:
        """Unmount (after :meth:`flush`); ``stale`` asks for a forced/lazy unmount."""

    def close(self) -> None:
        """Release resources held by the backend object (not the mount itself)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"


def real_mountpoint(mountpoint: str) -> str:
    """``mountpoint`` made absolute with its parent's symlinks resolved: the path the kernel
    lists in the mount table. The last part is left alone (it may be a hung mount)."""
    path = os.path.abspath(os.path.expanduser(mountpoint))
    parent, name = os.path.split(path)
    if not name:
        return path
    from ..status.probe import bounded  # a parent inside a hung mount must not hang us

    real = bounded(parent, lambda: os.path.realpath(parent), 1.0)
    return os.path.join(real.value, name) if real.ok and real.value else path


def check_mountpoint(
    mountpoint: str, *, allow_missing: bool = True, table: Sequence[MountEntry] | None = None
) -> None:
    """The checks every mounting tool needs: raise :class:`InvalidMountpoint` in plain words.

    Something already mounted there (another tool, another remote, a hung mount) is refused
    from the mount table alone (``table`` as the caller read it, else read now), without touching it.
    """
    entry = find_mount(mountpoint, table=table)
    if entry is not None:
        raise InvalidMountpoint(
            f"Cannot mount at {mountpoint}: {entry.source} ({entry.fstype}) is already mounted there by "
            f"something else. Unmount it first (`fusermount3 -u {mountpoint}`, or `umount {mountpoint}` "
            "for a bind mount) or choose another mountpoint."
        )
    path = Path(mountpoint)
    try:
        st = path.lstat()
    except FileNotFoundError:
        parent = path.parent
        if not parent.is_dir():
            raise InvalidMountpoint(
                f"Cannot mount at {mountpoint}: its parent folder {parent} does not exist. "
                "Create it first or choose another mountpoint."
            ) from None
        if not allow_missing:
            raise InvalidMountpoint(f"Cannot mount at {mountpoint}: the folder does not exist.") from None
        return
    except OSError as exc:
        raise InvalidMountpoint(f"Cannot use {mountpoint} as a mountpoint: {exc.strerror}.") from exc
    if stat.S_ISLNK(st.st_mode):
        raise InvalidMountpoint(
            f"Cannot mount at {mountpoint}: it is a symbolic link. Use a real folder path."
        )
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidMountpoint(
            f"Cannot mount at {mountpoint}: it is a file, not a folder. Move it away or choose another mountpoint."
        )
    try:
        with os.scandir(path) as entries:
            not_empty = next(entries, None) is not None
    except OSError as exc:
        raise InvalidMountpoint(f"Cannot use {mountpoint} as a mountpoint: {exc.strerror}.") from exc
    if not_empty:
        raise InvalidMountpoint(
            f"Cannot mount at {mountpoint}: the folder already contains files. "
            "Mount at an empty or new folder (mounting would hide those files)."
        )


def ensure_mountpoint(mountpoint: str) -> None:
    """Create a missing mountpoint folder (its parent must exist)."""
    try:
        os.mkdir(mountpoint, 0o755)
    except FileExistsError:
        pass
    except OSError as exc:
        raise InvalidMountpoint(f"Cannot create mountpoint {mountpoint}: {exc.strerror}.") from exc
