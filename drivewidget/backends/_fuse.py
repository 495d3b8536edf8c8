"""Shared FUSE helpers: availability checks and unmounting (normal, then lazy for stale mounts)."""

from __future__ import annotations

import os

from ..errors import BackendUnavailable, MountTimeout, UnmountError
from ..status.mounttable import find_mount
from ..timeouts import UNMOUNT_TIMEOUT
from ._process import find_program, last_line, run

FUSE_HINT = "Install FUSE 3 with `apt-get install fuse3` (Debian/Ubuntu)."


def fusermount() -> str:
    for name in ("fusermount3", "fusermount"):
        path = find_program(name)
        if path:
            return path
    raise BackendUnavailable(f"fusermount3 is not installed. {FUSE_HINT}")


def check_fuse() -> None:
    if not os.path.exists("/dev/fuse"):
        raise BackendUnavailable(
            "This machine has no /dev/fuse, so FUSE filesystems cannot be mounted here "
            "(in a container, start it with --device /dev/fuse --cap-add SYS_ADMIN)."
        )
    fusermount()


def fuse_unmount(mountpoint: str, *, lazy: bool = False, timeout: float = UNMOUNT_TIMEOUT) -> None:
    """Unmount a FUSE mount; ``lazy`` detaches a stale or hung one at once."""
    argv = [fusermount(), "-u", "-z", mountpoint] if lazy else [fusermount(), "-u", mountpoint]
    try:
        result = run(argv, timeout=timeout)
    except MountTimeout as exc:
        raise UnmountError(
            f"Cannot unmount {mountpoint}: {exc} The drive may be hung; unmounting again detaches it."
        ) from exc
    if result.returncode == 0 or find_mount(mountpoint) is None:
        return
    reason = last_line(result.stderr) or f"exit status {result.returncode}"
    if "busy" in reason.lower():
        raise UnmountError(
            f"Cannot unmount {mountpoint}: files on the drive are still open ({reason}). "
            "Close them (or stop the code using them) and unmount again."
        )
    raise UnmountError(f"Cannot unmount {mountpoint}: {reason}")
