"""``python -m drivewidget stage SRC DEST`` and ``sync-back SRC DEST``, with a progress bar.

Commands::

    stage SRC DEST       copy SRC (a folder or file of the drive; relative paths start at the
                         drive's root) to DEST on local disk
    sync-back SRC DEST   copy SRC (local) into DEST on the drive, then wait for the upload

Both skip files that are already identical, so running again resumes an interrupted copy.
A progress bar (tqdm) goes to stderr, the summary to stdout (``--json``: the result as JSON).
Ctrl-C cancels cleanly: finished files are kept, no half-written file is left.

Exit status: 0 all copied or identical, 1 some files failed or changed while copied,
2 nothing could be done (not mounted, bad path, not enough space, busy), 3 (sync-back)
copied into the drive but its upload to the cloud could not be confirmed, 4 some files were
kept because the destination's copy is newer (--overwrite-newer replaces them), 130 cancelled.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .controller import DriveController
    from .transfer import Transfer, TransferProgress

__all__ = ["add_stage_parser", "cmd_stage", "cmd_sync_back"]


def add_stage_parser(subparsers: Any) -> None:
    """Register ``stage`` and ``sync-back`` on the ``add_subparsers()`` object of the main parser."""
    from .transfer import DEFAULT_WORKERS

    for name, func, help_text, src_help, dest_help in (
        (
            "stage",
            cmd_stage,
            "copy a folder or file of the drive to local disk (fast, resumable)",
            "folder or file on the drive (relative to the drive's root, or absolute)",
            "local folder to copy into (created if missing)",
        ),
        (
            "sync-back",
            cmd_sync_back,
            "copy local results into the drive and wait until they are uploaded",
            "local folder or file",
            "folder on the drive (relative to the drive's root, or absolute)",
        ),
    ):
        cmd = subparsers.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ". Files that are already identical "
            "(same size and modification time) are skipped, so running again resumes.",
        )
        cmd.add_argument("src", metavar="SRC", help=src_help)
        cmd.add_argument("dest", metavar="DEST", help=dest_help)
        cmd.add_argument(
            "--workers",
            type=int,
            default=None,
            metavar="N",
            help=f"files copied at once (default {DEFAULT_WORKERS})",
        )
        cmd.add_argument(
            "--checksum",
            action="store_true",
            help="compare contents instead of size + modification time (reads both sides)",
        )
        cmd.add_argument("--no-verify", action="store_true", help="do not read each copy back to check it")
        cmd.add_argument(
            "--overwrite-newer",
            action="store_true",
            help="replace destination files that are newer than the source (default: keep them and say so)",
        )
        cmd.add_argument(
            "--symlinks",
            choices=("copy", "follow", "skip"),
            default=None,
            help=(
                "copy symbolic links as links (default; from the drive only links that lead inside "
                "the copied folder), follow them (on the drive: only inside it), or skip them"
            ),
        )
        if name == "sync-back":
            cmd.add_argument(
                "--no-flush",
                action="store_true",
                help="return once copied into the mount, without waiting for the upload",
            )
        cmd.add_argument("--mount", action="store_true", help="mount the drive first if it is not mounted")
        cmd.add_argument("--json", action="store_true", help="print the result as JSON")
        cmd.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        cmd.set_defaults(func=func)


def cmd_stage(args: argparse.Namespace) -> int:
    return _run(args, "stage")


def cmd_sync_back(args: argparse.Namespace) -> int:
    return _run(args, "sync_back")


def make_controller() -> DriveController:
    """The controller the commands use (auto-detected backend; tests replace this)."""
    from .controller import DriveController

    return DriveController()


def _run(args: argparse.Namespace, kind: str) -> int:
    from .errors import DriveError
    from .transfer import api

    options: dict[str, Any] = {
        "workers": args.workers,
        "checksum": args.checksum or None,
        "verify": False if args.no_verify else None,
        "symlinks": args.symlinks,
        "overwrite_newer": args.overwrite_newer or None,
    }
    options = {k: v for k, v in options.items() if v is not None}
    if kind == "sync_back" and args.no_flush:
        options["flush"] = False
    controller = None
    bar = _Bar(kind, enabled=not args.quiet)
    try:
        controller = make_controller()
        if args.mount and controller.refresh() != "mounted":
            controller.mount()
        start = api.start_stage if kind == "stage" else api.start_sync_back
        transfer = start(controller, args.src, args.dest, on_progress=bar.update, **options)
        cancelled = False
        try:
            while not transfer.done:
                transfer_wait(transfer)
        except KeyboardInterrupt:
            cancelled = True
            _emit(sys.stderr, "\nCancelling: finishing the files in flight, removing partial ones...")
            transfer.cancel()
            with contextlib.suppress(DriveError, TimeoutError):
                transfer.wait(30)
        bar.close()
        result = transfer.wait(0)
    except (DriveError, ValueError, TimeoutError) as exc:
        bar.close()
        _emit(sys.stderr, f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        bar.close()
        _emit(sys.stderr, "\nCancelled before anything was copied.")
        return 130
    finally:
        if controller is not None:
            controller.close()
    if args.json:
        # ASCII-only JSON: names from the drive never reach a terminal raw
        _emit(sys.stdout, json.dumps(result.to_json(), indent=2))
    else:
        _emit(sys.stdout, result.summary())
    for line in result.errors[:50]:
        _emit(sys.stderr, f"  {line}")
    if len(result.errors) > 50:
        _emit(sys.stderr, f"  ... and {len(result.errors) - 50} more")
    for line in result.warnings:
        _emit(sys.stderr, f"warning: {line}")
    if cancelled or result.cancelled:
        return 130
    if not result.ok:
        return 1
    if result.upload_unconfirmed:
        return 3
    return 4 if result.kept_newer else 0


def _emit(stream: TextIO, text: str) -> None:
    """Write a line, degrading characters the terminal's encoding lacks instead of failing."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(encoding, "replace").decode(encoding) + "\n")
    stream.flush()


def transfer_wait(transfer: Transfer) -> None:
    """Wait a little (short waits keep Ctrl-C responsive on the main thread)."""
    with contextlib.suppress(TimeoutError):
        transfer.wait(0.2)


class _Bar:
    """A tqdm bar over bytes, with file counts; fed from the transfer's progress thread."""

    def __init__(self, kind: str, *, enabled: bool) -> None:
        self.kind = kind
        self.enabled = enabled
        self._bar: Any = None
        self._lock = threading.Lock()

    def update(self, progress: TransferProgress) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._draw(progress)

    def _draw(self, p: TransferProgress) -> None:
        listing = p.phase in ("starting", "listing")
        if self._bar is None:
            if p.phase == "failed":
                return  # nothing was shown yet: the error message says it all
            from tqdm import tqdm

            self._bar = tqdm(
                total=None if listing else p.bytes_total,
                unit="B",
                unit_scale=True,
                unit_divisor=1000,
                desc=self.kind.replace("_", "-"),
                file=sys.stderr,
                dynamic_ncols=True,
                mininterval=0.2,
                bar_format="{desc}{postfix}" if listing else None,
            )
            self._bar.start_t = self._bar.last_print_t = self._bar._time() - p.elapsed  # rate since the start
        bar = self._bar
        if listing:
            bar.set_postfix_str(f"listing: {p.files_total} files found", refresh=True)
            return
        if p.phase == "flushing":
            bar.set_postfix_str(f"uploading: {p.message[:60]}", refresh=True)
            return
        if bar.bar_format is not None or bar.total != p.bytes_total:
            bar.bar_format = None
            bar.total = p.bytes_total
        done = min(p.bytes_done, p.bytes_total)
        if done >= bar.n:
            bar.update(done - bar.n)  # through update(), so tqdm's rate is right
        else:
            bar.n = done  # a copy thrown away (changed, failed)
        postfix = f"{p.files_done}/{p.files_total} files"
        if p.files_skipped:
            postfix += f", {p.files_skipped} identical"
        if p.files_failed:
            postfix += f", {p.files_failed} failed"
        bar.set_postfix_str(postfix, refresh=True)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            self.enabled = False
