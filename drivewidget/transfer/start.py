"""Start a copy between two folders of this machine, and wait for one so that Ctrl-C cancels it.

:func:`start_copy` is the engine for any two folders (no drive needed); :mod:`.api`
builds ``stage`` / ``sync_back`` on it with the drive's rules.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from ..errors import DriveError, InvalidPath
from ..status.mounttable import is_within
from ..text import printable
from .engine import run_python
from .handle import DoneCallback, ProgressCallback, Runner, Transfer
from .options import CopyOptions, TransferResult
from .pool import STUCK_GRACE

__all__ = ["copy_tree", "resolve_dest", "start_copy", "wait_interruptibly"]


def resolve_dest(src: str, dest: str) -> str:
    """Where a copy of ``src`` goes: a folder's contents go into ``dest`` itself (like
    ``cp -rT``); a file goes into ``dest`` when that is a folder (or ends with a slash),
    otherwise ``dest`` is the new file's path."""
    if os.path.isdir(src):
        return os.path.abspath(dest)
    if dest.endswith(os.sep) or os.path.isdir(dest):
        return os.path.join(os.path.abspath(dest), os.path.basename(os.path.normpath(src)))
    return os.path.abspath(dest)


def start_copy(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    kind: str = "copy",
    options: CopyOptions | None = None,
    on_progress: ProgressCallback | None = None,
    on_done: DoneCallback | None = None,
    cancel_event: threading.Event | None = None,
    engine: Runner | None = None,
    method: str = "python",
    owner: object = None,
    checked: bool = False,
    **kwargs: Any,
) -> Transfer:
    """Start copying ``src`` (a folder or a file) to ``dest`` in the background.

    A folder's contents go into ``dest`` (created if missing); a file goes into ``dest``
    when that is a folder, else it becomes ``dest``. Keyword arguments are
    :class:`~.options.CopyOptions` fields. Raises :class:`~drivewidget.errors.TransferBusy`
    when another transfer writes to the same place,
    :class:`~drivewidget.errors.InvalidPath` when one path contains the other (the engine
    checks that again on the opened folders). ``checked``: the caller has resolved and
    checked both paths (``dest`` is final), so nothing here touches them (they may be on a
    drive that hangs).
    """
    opts = CopyOptions.from_kwargs(options, **kwargs)
    src_path = os.path.abspath(os.path.expanduser(os.fspath(src)))
    if checked:
        dest_path = lock_key = os.path.abspath(os.fspath(dest))
    else:
        dest_path = resolve_dest(src_path, os.path.expanduser(os.fspath(dest)))
        real_src, real_dest = os.path.realpath(src_path), os.path.realpath(dest_path)
        lock_key = real_dest
        if is_within(real_dest, real_src) or is_within(real_src, real_dest):
            raise InvalidPath(
                f"Cannot copy {printable(src_path)} to {printable(dest_path)}: one is inside the other. "
                "Choose a destination elsewhere."
            )
    transfer = Transfer(
        src_path,
        dest_path,
        engine or run_python,
        kind=kind,
        method=method,
        options=opts,
        on_progress=on_progress,
        on_done=on_done,
        cancel_event=cancel_event,
        owner=owner,
        lock_key=lock_key,
    )
    return transfer.start()


def copy_tree(src: str | os.PathLike[str], dest: str | os.PathLike[str], **kwargs: Any) -> TransferResult:
    """:func:`start_copy` and wait; Ctrl-C cancels cleanly (no half-written file) and re-raises."""
    return wait_interruptibly(start_copy(src, dest, **kwargs))


def wait_interruptibly(transfer: Transfer) -> TransferResult:
    """Wait for ``transfer``; on KeyboardInterrupt cancel it, wait for the clean-up, re-raise."""
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                return transfer.wait(0.25)
    except KeyboardInterrupt:
        transfer.cancel()
        with contextlib.suppress(DriveError, TimeoutError):
            transfer.wait(STUCK_GRACE + 5)
        raise
