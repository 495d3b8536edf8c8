"""A local folder presented as the drive: the embedded default, no cloud account needed.

With root privileges the folder is bind-mounted at the mountpoint, so it is a real mount
(it shows in the mount table and unmount detaches it). Without them nothing is mounted:
the folder itself is the root, and the backend only remembers that it is "mounted".
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..errors import MountError, RemoteNotFound, UnmountError
from ..settings import default_local_folder
from ..status.mounttable import MountEntry
from ..status.probe import bounded
from ._process import find_program, last_line, run
from .base import Backend, check_mountpoint, ensure_mountpoint


def _can_bind_mount() -> bool:
    return os.geteuid() == 0 and find_program("mount") is not None


class LocalBackend(Backend):
    """Serve ``folder`` (default: a folder in the user's data dir) as the drive."""

    name = "local"
    label = "Local folder"

    def __init__(self, folder: str | os.PathLike[str] | None = None, *, bind: bool | None = None) -> None:
        self._default_folder = folder is None
        # Resolved: the kernel's getcwd() inside it gives the real path, which must match the root.
        self.folder = os.path.realpath(os.path.expanduser(os.fspath(folder or default_local_folder())))
        self.bind = _can_bind_mount() if bind is None else bind
        self.supports_readonly = self.bind  # a folder used in place cannot be made read-only
        self._virtual_mounted = False

    def describe(self) -> str:
        how = "bind-mounted" if self.bind else "used in place, nothing mounted from a cloud"
        return f"Local folder {self.folder} ({how})"

    def root(self, mountpoint: str) -> str:
        return mountpoint if self.bind else self.folder

    @classmethod
    def from_spec(cls, source: str | None = None) -> LocalBackend:
        return cls(source or None)

    def validate_mountpoint(self, mountpoint: str, table: Sequence[MountEntry] | None = None) -> None:
        if self.bind:
            check_mountpoint(mountpoint, table=table)

    def is_mounted(self, mountpoint: str, table: Sequence[MountEntry] | None = None) -> bool:
        if not self.bind:
            return self._virtual_mounted
        return self.mount_entry(mountpoint, table) is not None

    def owns(self, entry: MountEntry) -> bool:
        """A bind mount of this folder: not a FUSE drive (those can hang), and the mount's top
        is this very folder (same device and inode; both are local disks)."""
        if entry.fstype.startswith("fuse"):
            return False
        mountpoint, folder = entry.mountpoint, self.folder

        def same() -> bool:
            a, b = os.stat(mountpoint), os.stat(folder)
            return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

        result = bounded(mountpoint, same, 1.0)  # a network filesystem could still stall
        return bool(result.ok and result.value)

    def _check_folder(self) -> None:
        if self._default_folder:
            os.makedirs(self.folder, exist_ok=True)
        if not os.path.isdir(self.folder):
            raise RemoteNotFound(
                f"The local folder {self.folder} does not exist. Create it or set "
                "DRIVEWIDGET_SOURCE to an existing folder."
            )

    def mount(self, mountpoint: str, *, readonly: bool = False, force: bool = False) -> list[str]:
        self._check_folder()
        if not self.bind:
            self._virtual_mounted = True
            return [f"Using the local folder {self.folder} as the drive (nothing is mounted from a cloud)."]
        ensure_mountpoint(mountpoint)
        self._mount_cmd(["--bind", self.folder, mountpoint])
        if readonly:
            try:
                self._mount_cmd(["-o", "remount,bind,ro", mountpoint])
            except Exception:
                run([find_program("umount") or "umount", mountpoint], timeout=10)
                raise
        return [f"Mounted at {mountpoint}"]

    def _mount_cmd(self, args: list[str]) -> None:
        result = run([find_program("mount") or "mount", *args], timeout=10)
        if result.returncode != 0:
            raise MountError(f"Bind mount failed: {last_line(result.stderr) or result.returncode}")

    def unmount(self, mountpoint: str, *, stale: bool = False) -> list[str]:
        if not self.bind:
            self._virtual_mounted = False
            return [f"Stopped using {self.folder} as the drive."]
        argv = [find_program("umount") or "umount", *(["-l"] if stale else []), mountpoint]
        result = run(argv, timeout=10)
        if result.returncode != 0:
            reason = last_line(result.stderr) or f"exit status {result.returncode}"
            raise UnmountError(
                f"Cannot unmount {mountpoint}: {reason}. Close files open on the drive and try again."
            )
        return [f"Unmounted {mountpoint}"]
