"""Text for people: sizes, durations, the drive's state in words, untrusted names made safe.

One home for every phrase that more than one place shows, so the panel, the command line
and the API never disagree (they once did: decimal MB beside binary GiB in one panel, and
two wordings of the same state). Imports nothing of drivewidget: every layer may use it.

Sizes are always binary units (KiB, MiB, GiB: what ``df -h``, Colab's Resources panel and
``nvidia-smi`` mean), one decimal::

    format_bytes(1536)          '1.5 KiB'
    format_rate(3 << 20)        '3.0 MiB/s'
    format_duration(3725)       '1 h 02 min'
    state_text("stale", "/m", "not responding")
                                'Stale mount at /m: not responding. Unmount to recover.'

Names and paths read from the drive are untrusted (a collaborator chose them): before one
goes into a message use :func:`printable`; before one goes to a browser (a widget's
value, a tooltip) use :func:`display_name`, or :func:`safe_text` for a whole message.
"""

from __future__ import annotations

import os

__all__ = [
    "DISCONNECTED",
    "NOT_RESPONDING",
    "ROOT_LABEL",
    "display_name",
    "format_bytes",
    "format_duration",
    "format_rate",
    "printable",
    "safe_text",
    "stale_text",
    "state_text",
    "visible_name",
]

NOT_RESPONDING = "not responding"
"""Why a mount is stale: its daemon did not answer within the probe's deadline."""
DISCONNECTED = "disconnected"
"""Why a mount is stale: it answered with 'Transport endpoint is not connected' or kin."""

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


# -- numbers ----------------------------------------------------------------------------


def format_bytes(n: float | None) -> str:
    """A size in binary units: 1536 -> '1.5 KiB', 512 -> '512 B'; None -> 'N/A'."""
    if n is None:
        return "N/A"
    value, unit = float(n), 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{int(value)} B"
    return f"{value:.1f} {_UNITS[unit]}"


def format_rate(bytes_per_s: float | None) -> str:
    """A transfer rate: 3 MiB a second -> '3.0 MiB/s'; None -> 'N/A'."""
    return "N/A" if bytes_per_s is None else f"{format_bytes(bytes_per_s)}/s"


def format_duration(seconds: float | None) -> str:
    """A duration or an age, two units at most: 3725 -> '1 h 02 min', 59 -> '59 s'; None -> 'N/A'."""
    if seconds is None:
        return "N/A"
    s = int(max(0.0, seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min" if not s else f"{minutes} min {s:02d} s"
    return f"{s} s"


# -- the drive's state --------------------------------------------------------------------


def state_text(
    state: str,
    mountpoint: str,
    problem: str = "",
    error: str = "",
    readonly: bool = False,
    *,
    root: str = "",
    foreign: str = "",
) -> str:
    """The drive's state in the words the panel, the command line and the API show.

    ``problem``: why a stale mount is stale; ``error``: the last failure; ``root``: the folder
    users browse (a root outside ``mountpoint`` is a local folder used as the drive);
    ``foreign``: someone else's mount at ``mountpoint`` (``"src (fstype)"``), when not mounted.
    """
    if state == "mounted":
        suffix = " (read-only)" if readonly else ""
        if root and not _within(root, mountpoint):
            return f"Using {root} as the drive (nothing mounted from a cloud){suffix}"
        return f"Mounted at {mountpoint}{suffix}"
    if state == "unmounted":
        if foreign:
            return (
                f"Not mounted: {foreign} is mounted at {mountpoint} by something else. "
                "Unmount it there, or choose another mountpoint."
            )
        return "Not mounted"
    if state == "mounting":
        return f"Mounting at {mountpoint}..."
    if state == "unmounting":
        return f"Unmounting {mountpoint} (writing pending changes first)..."
    if state == "stale":
        return f"Stale mount at {mountpoint}: {problem or DISCONNECTED}. Unmount to recover."
    if state == "error":
        return f"Error: {error}" if error else "Error"
    return state


def stale_text(mountpoint: str, problem: str = "") -> str:
    """A sentence for a stale mount, as errors start it: 'The drive at /m is not responding.'"""
    if problem == NOT_RESPONDING:
        return f"The drive at {mountpoint} is not responding."
    if problem in ("", DISCONNECTED):
        return f"The drive at {mountpoint} is disconnected."
    return f"The drive at {mountpoint} is disconnected ({problem})."


def _within(path: str, folder: str) -> bool:
    """Path text alone, as :func:`drivewidget.status.mounttable.is_within` (kept import-free)."""
    if not path or not folder:
        return False
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# -- untrusted names --------------------------------------------------------------------


def printable(text: str) -> str:
    """``text`` (a name or path from the drive) fit for a message: undecodable bytes as
    ``\\xff``, control characters (newline, NUL, escape sequences) as ``\\n``, ``\\x1b``..."""
    decoded = os.fsencode(text).decode("utf-8", "backslashreplace") if _encodable(text) else ascii(text)[1:-1]
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in decoded)


def _encodable(text: str) -> bool:
    try:
        os.fsencode(text)
    except UnicodeError:  # a lone surrogate that is not one of Python's byte escapes
        return False
    return True


_CONTROL = {i: f"\\x{i:02x}" for i in [*range(0x20), 0x7F]}


def display_name(name: str) -> str:
    """Text safe to send to a browser for a file name from ``os.scandir``.

    Undecodable bytes (kept by Python as surrogate escapes, which JSON cannot carry) are
    shown as ``\\xff``; control characters such as a newline as ``\\x0a``; invisible
    formatting characters that could make a name look like another (a right-to-left
    override shows ``report\\u202efdp.sh`` as ``reportsh.pdf``) as ``\\u202e``.
    """
    text = safe_text(name).translate(_CONTROL)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def safe_text(text: str) -> str:
    """``text`` (a message that may quote file names) with undecodable bytes shown as ``\\xff``,
    so it can be sent to a browser; line breaks are kept."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is not an escape
        return text.encode("utf-8", "backslashreplace").decode("ascii")


ROOT_LABEL = "My Drive"
"""What the panel calls the drive's root folder: its quick-root button, its crumb, the state line."""


def visible_name(name: str) -> str:
    """A folder name fit for the page, quoted when it starts or ends with a space: a list
    option and a line of text drop such spaces, and ' data' would read as 'data'."""
    shown = display_name(name)
    return f'"{shown}"' if name != name.strip() else shown
