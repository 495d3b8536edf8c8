"""Start ``python -m drivewidget`` without its working folder on ``sys.path`` (like ``python -P``).

``python -m`` puts the working folder first on ``sys.path`` before it imports anything, so
every import then looks there first. Run from a folder of a hung drive, the very first
import (``drivewidget`` itself) blocks in ``stat`` for as long as the drive hangs; run from
a shared folder where a collaborator left a ``json.py``, that file would be imported
instead of the standard library's. The command line needs nothing from that folder.

``drivewidget-safe-start.pth`` (installed next to the package) calls :func:`install` while
Python starts, before that folder is added, and only when the command line runs this
package: a path hook then answers for the working folder with a finder that finds
nothing, so Python never looks into it. :mod:`drivewidget.__main__` also removes the entry.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

PACKAGE = "drivewidget"
_OPTIONS_WITH_VALUE = frozenset({"-X", "-W", "--check-hash-based-pycs"})


def runs_package(argv: Sequence[str]) -> bool:
    """Whether ``argv`` (``sys.orig_argv``) is ``python [options] -m drivewidget ...``."""
    args = iter(argv[1:])
    for arg in args:
        if arg == "-m":
            return next(args, "") == PACKAGE
        if arg.startswith("-m"):
            return arg[2:] == PACKAGE
        if arg in _OPTIONS_WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-") or arg in ("-", "-c") or arg.startswith("-c"):
            return False  # a script, stdin or -c: not us
    return False


class _FindsNothing:
    """The finder for the working folder: it holds no module the command line needs."""

    def find_spec(self, fullname: str, target: object = None) -> None:
        return None

    def invalidate_caches(self) -> None:
        return None


class _SkipFolder:
    """A ``sys.path_hooks`` entry that claims one folder and hands every other to the next hook."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __call__(self, entry: str) -> _FindsNothing:
        if entry in ("", self.folder):
            return _FindsNothing()
        raise ImportError("not the working folder")  # the next hook takes it


def install(argv: Sequence[str] | None = None) -> bool:
    """Keep imports out of the working folder if this process runs ``python -m drivewidget``."""
    try:
        if not runs_package(sys.orig_argv if argv is None else argv):
            return False
        folder = os.getcwd()  # the kernel's record: answers even when the drive hangs
    except (AttributeError, OSError):  # no orig_argv (Python < 3.10), a deleted working folder
        return False
    sys.path_hooks.insert(0, _SkipFolder(folder))
    sys.path_importer_cache.pop(folder, None)
    return True


def drop_working_folder() -> None:
    """Take the working folder that ``python -m`` put first on ``sys.path`` off it."""
    try:
        folder = os.getcwd()
    except OSError:
        return
    if sys.path and sys.path[0] in ("", folder):
        del sys.path[0]
