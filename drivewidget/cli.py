"""Command line: ``python -m drivewidget <command>`` (also installed as ``drivewidget``).

Commands::

    status [--json] [--no-gpu] [--timeout S]      the status the panel shows, as text or JSON
    stage SRC DEST [...]                          copy a drive folder to local disk (cli_stage.py)
    sync-back SRC DEST [...]                      copy local results to the drive (cli_stage.py)
    keep-synced LOCAL DEST [--every S] [...]      keep a local folder synced to the drive (cli_sync.py)

``status`` builds a :class:`~drivewidget.controller.DriveController` with the auto-detected
backend (``DRIVEWIDGET_BACKEND`` etc. apply) and only looks: it never mounts or unmounts.
It exits 0 whenever it could print a status, including "no backend" (then ``state`` is
"error" and ``error`` says why). The JSON keys are documented in
:mod:`drivewidget.status.sample`.

Each command is a function registered in :func:`build_parser` (``set_defaults(func=...)``),
so more commands (``stage``, ...) are one ``add_parser`` call each.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import __version__
from .cli_stage import add_stage_parser
from .cli_sync import add_sync_parser

if TYPE_CHECKING:
    from .controller import DriveController

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m drivewidget",
        description="Mount a cloud drive, pick a working folder and watch the GPU (command line).",
    )
    parser.add_argument("--version", action="version", version=f"drivewidget {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = commands.add_parser(
        "status",
        help="print the drive, disk, RAM, runtime and GPU status",
        description="Print the status the panel shows. Looks only: never mounts anything.",
    )
    status.add_argument(
        "--json", action="store_true", help="print JSON (keys: see drivewidget.status.sample)"
    )
    status.add_argument("--no-gpu", action="store_true", help="skip the GPU query")
    status.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait for the drive before calling it not responding (default 0.25)",
    )
    status.set_defaults(func=cmd_status)
    add_stage_parser(commands)
    add_sync_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args))


def cmd_status(args: argparse.Namespace) -> int:
    from .errors import DriveError
    from .status.gpu import GpuStatus
    from .status.sample import take_sample
    from .timeouts import SAMPLE_TIMEOUT

    controller: DriveController | None = None
    problem = ""
    try:
        from .controller import DriveController

        controller = DriveController()
    except (DriveError, OSError) as exc:
        problem = f"No drive backend: {exc}"
    try:
        gpu_source = (
            (lambda: GpuStatus(0.0, False, (), "GPU not queried (--no-gpu).")) if args.no_gpu else None
        )
        timeout = SAMPLE_TIMEOUT if args.timeout is None else args.timeout
        sample = take_sample(controller, gpu_source=gpu_source, drive_timeout=timeout, error=problem)
    finally:
        if controller is not None:
            controller.close()
    if args.json:
        # ASCII-only JSON: names from the drive never reach a terminal raw
        _write(json.dumps(sample.to_json(), indent=2))
    else:
        _write(sample.to_text())
    return 0


def _write(text: str) -> None:
    """Print, degrading characters the terminal's encoding lacks (°, ▁...) instead of failing."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    sys.stdout.write(text.encode(encoding, "replace").decode(encoding) + "\n")
    sys.stdout.flush()
