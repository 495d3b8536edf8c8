"""``python -m drivewidget keep-synced LOCAL DEST --every 60``: keep a folder synced, in the foreground.

Starts a keep-synced job (:func:`drivewidget.sync.keep_synced`) on the already mounted drive
and prints one line after every pass that copied something or had a problem. Ctrl-C (or
SIGTERM) makes a final pass, prints its summary and exits.

Exit status: 0 stopped cleanly (the final pass copied everything), 1 the final pass left
files behind (failed, or still being written), 2 the job could not start (not mounted, bad
folder, another job writing there), 130 a second Ctrl-C cut the final pass short.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .controller import DriveController
    from .sync import SyncJob

__all__ = ["add_sync_parser", "cmd_keep_synced", "make_controller"]


def add_sync_parser(subparsers: Any) -> None:
    """Register ``keep-synced`` on the ``add_subparsers()`` object of the main parser."""
    cmd = subparsers.add_parser(
        "keep-synced",
        help="keep a local folder copied to the drive while a run writes it (Ctrl-C: final pass)",
        description="Keep LOCAL copied into DEST on the mounted drive: files are copied whole once they "
        "stop changing, under a temporary name renamed into place, so the drive never holds a torn file. "
        "Ctrl-C makes a final pass and stops.",
    )
    cmd.add_argument("local", metavar="LOCAL", help="local folder the run writes into (created if missing)")
    cmd.add_argument(
        "dest", metavar="DEST", help="folder on the drive (relative to the drive's root, or absolute)"
    )
    cmd.add_argument(
        "--every", type=float, default=60.0, metavar="S", help="seconds between passes (default 60)"
    )
    cmd.add_argument(
        "--settle",
        type=float,
        default=None,
        metavar="S",
        help="seconds a file must stay unchanged before it is copied (default 0.5)",
    )
    cmd.add_argument(
        "--mirror-deletes",
        action="store_true",
        help="delete on the drive what is deleted locally (only files this job copied)",
    )
    cmd.add_argument("-q", "--quiet", action="store_true", help="print only the final summary")
    cmd.set_defaults(func=cmd_keep_synced)


def make_controller() -> DriveController:
    from .controller import DriveController

    return DriveController()


def cmd_keep_synced(args: argparse.Namespace) -> int:
    from .errors import DriveError, from_os_error
    from .sync import keep_synced
    from .text import printable

    try:
        controller = make_controller()
    except (DriveError, OSError) as exc:
        _err(f"error: No drive backend: {exc}")
        return 2
    try:
        job = keep_synced(
            controller,
            args.local,
            args.dest,
            every=args.every,
            settle=args.settle,
            mirror_deletes=args.mirror_deletes,
        )
    except (DriveError, ValueError, TypeError, OSError) as exc:
        if isinstance(exc, OSError):  # keep_synced wraps its own; one line, never a traceback
            exc = from_os_error(exc, doing="keep in sync", path=printable(args.local))
        _err(f"error: {exc}")
        controller.close()
        return 2
    if not args.quiet:
        _out(
            f"Keeping {printable(job.local)} synced to {printable(job.dest)} every {job.every:g} s. "
            "Press Ctrl-C to make a final pass and stop."
        )
        job.observe(lambda change: _report(job, change["new"]), names=["last_synced", "error"])
    with interrupts():
        with contextlib.suppress(KeyboardInterrupt):
            wait_for_interrupt(job)
        if not args.quiet:
            _out("Final pass... (Ctrl-C again stops at once; files already copied are complete)")
        try:
            result = job.stop(flush=True)
        except KeyboardInterrupt:
            job.stop(flush=False)
            controller.close()
            _err("Stopped without finishing the final pass: some files may be older on the drive.")
            return 130
    controller.close()
    if result is None:
        _err(f"error: the final pass did not run: {job.error or 'the drive did not answer'}")
        return 1
    _out(f"Final pass: {result.summary()}")
    for line in result.errors:
        _err(f"  {line}")
    left = job.pending or not result.ok
    if job.error:
        _err(f"error: {job.error}")
    return 1 if left else 0


@contextlib.contextmanager
def interrupts() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM raise KeyboardInterrupt while the job runs, whatever the
    process inherited: a shell starts background jobs with SIGINT ignored, and then
    ``kill -INT`` would never make the final pass."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_for_interrupt(job: SyncJob) -> None:
    """Block until an interrupt (see :func:`interrupts`) or the job stops."""
    done = threading.Event()
    job.observe(lambda change: done.set() if change["new"] == "stopped" else None, names=["state"])
    while not done.wait(0.5):
        pass


def _report(job: SyncJob, _new: object) -> None:
    result = job.last_result
    if job.error:
        _err(f"{job.status_text()}")
    elif result is not None and (result.copied or result.failed):
        _out(f"{job.status_text()} {result.summary()}")


def _out(text: str) -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
