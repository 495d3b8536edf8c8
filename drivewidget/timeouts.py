"""How long drivewidget waits for a drive, in one place, each with the reason for its value.

A FUSE daemon that hangs makes every call on its mount block, and nothing interrupts a
thread stuck there; so each call that may touch a mount runs under
:func:`drivewidget.status.probe.bounded` with one of these deadlines. Three kinds of wait:

* a **look** (is the drive answering?) is short: it runs on every refresh and render, and
  a healthy FUSE mount answers a ``stat`` plus one ``readdir`` in milliseconds;
* a **deliberate operation** (enter a folder, check a copy's source, create a folder) is
  long enough for a cold folder of a cloud drive, whose first listing is a network round
  trip per page of names;
* **settling** (uploads, a final sync pass, a daemon's exit) is long, and says so while it runs.

Seconds throughout. Modules import the names (``from ..timeouts import FS_TIMEOUT``), so a
test may shorten one for one module with ``monkeypatch.setattr(module, "FS_TIMEOUT", ...)``.
"""

from __future__ import annotations

__all__ = [
    "CHECK_TIMEOUT",
    "COMMAND_WAIT",
    "DRIVE_SPACE_TTL",
    "FS_TIMEOUT",
    "HOLD_TIMEOUT",
    "PROBE_TIMEOUT",
    "REFRESH_TIMEOUT",
    "SAMPLE_TIMEOUT",
    "SETTINGS_TIMEOUT",
    "UNMOUNT_TIMEOUT",
]

# -- looks ---------------------------------------------------------------------------------

PROBE_TIMEOUT = 0.5
"""A look at a mount (``stat`` and one ``readdir`` of its root) before it is called not
responding. A healthy FUSE mount answers in milliseconds, even over a network (attributes
are cached); half a second keeps a refresh invisible yet never mistakes a busy daemon for a
hung one."""

REFRESH_TIMEOUT = PROBE_TIMEOUT
"""A controller refresh is one look at the drive's root."""

SAMPLE_TIMEOUT = 0.25
"""A status sample's ``statfs`` of the drive. Shorter than a look: the live status line
samples every second or two, and a space reading may simply be skipped once."""

DRIVE_SPACE_TTL = 10.0
"""How long a live status display reuses the drive's space: a ``statfs`` of a cloud drive
can be a round trip to the provider's quota API, and the number changes slowly."""

COMMAND_WAIT = 3 * REFRESH_TIMEOUT + 1.0
"""How long a command waits for a refresh already in progress. A refresh holds the lock for
at most a few bounded looks, so this is a bound on a refresh, not on another command
(a command started while another runs is refused at once with ``Busy``)."""

# -- deliberate operations -------------------------------------------------------------------

FS_TIMEOUT = 10.0
"""One call of a deliberate operation on the drive (enter a folder, check or open a copy's
source and destination, create a folder, list a folder in the chooser). A cold folder of a
cloud drive lists in pages, one round trip each: a few seconds on Google Drive for a folder
of thousands of names. Ten seconds lets that finish; after it the drive is called not
responding, which still leaves the kernel free (the call runs on a probe thread)."""

SETTINGS_TIMEOUT = 3.0
"""Reading or writing drivewidget's small settings file on the drive (the remembered folder).
Optional, so shorter than an operation: without an answer the panel goes on without it."""

CHECK_TIMEOUT = 30.0
"""A connection check (``rclone lsf`` of a remote's root, a sign-in's trial mount): it may
start a token refresh and a TLS handshake to a slow provider before listing anything."""

# -- settling ----------------------------------------------------------------------------------

HOLD_TIMEOUT = 60.0
"""What an unmount gives the work registered on the drive (a keep-synced job's final pass)
to settle, shared among all holds; a running copy refuses at once instead."""

UNMOUNT_TIMEOUT = 15.0
"""``fusermount -u`` after a flush. It returns in well under a second unless the daemon
hangs; then the unmount fails after this, saying to try again (which detaches it lazily)."""
