"""status.mounttable: parsing /proc/self/mountinfo, which every "is it mounted" answer trusts."""

from __future__ import annotations

import os
from pathlib import Path

from drivewidget.status.mounttable import find_mount, is_within, parse_mountinfo, read_mounts

# Real lines (from a Colab VM and a Debian desktop), with the optional fields mountinfo may carry.
MOUNTINFO = r"""22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
98 22 0:45 / /content/drive rw,nosuid,nodev,relatime shared:52 - fuse.drive drive rw,user_id=0,group_id=0
99 22 0:46 / /home/me/My\040Drive rw,nosuid,nodev master:3 - fuse.rclone gdrive: rw,user_id=1000
100 22 8:1 /srv/data /mnt/bind ro,relatime - ext4 /dev/sda1 rw
101 22 0:47 / /mnt/tab\011and\134slash rw - tmpfs none rw
102 98 0:48 / /content/drive rw - fuse.rclone other: rw
garbage line without separator
103 22 0:49 / - fuse
"""


def test_fields() -> None:
    entries = parse_mountinfo(MOUNTINFO)
    assert [e.mountpoint for e in entries] == [
        "/",
        "/content/drive",
        "/home/me/My Drive",
        "/mnt/bind",
        "/mnt/tab\tand\\slash",
        "/content/drive",
    ]
    drive = entries[1]
    assert (drive.fstype, drive.source, drive.fsroot) == ("fuse.drive", "drive", "/")
    assert not drive.readonly
    bind = entries[3]
    assert bind.fsroot == "/srv/data" and bind.readonly  # the mount options, not the superblock's


def test_optional_fields_do_not_shift_the_rest() -> None:
    """Zero, one or more optional fields (shared:, master:) stand before the ' - ' separator."""
    entry = parse_mountinfo(MOUNTINFO)[2]
    assert (entry.fstype, entry.source) == ("fuse.rclone", "gdrive:")


def test_malformed_lines_are_skipped() -> None:
    assert parse_mountinfo("") == []
    assert parse_mountinfo("garbage\n1 2 3 - x\n") == []


def test_the_topmost_mount_wins(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(MOUNTINFO)
    top = find_mount("/content/drive", table)
    assert top is not None and top.source == "other:"  # stacked later, so it is what a path reaches
    assert find_mount("/content/drive/", table) == top
    assert find_mount("/content", table) is None
    entries = parse_mountinfo(MOUNTINFO)
    assert find_mount("/home/me/My Drive", table=entries) == entries[2]  # a table already read


def test_an_unreadable_table_is_empty(tmp_path: Path) -> None:
    assert read_mounts(tmp_path / "missing") == []


def test_this_machine() -> None:
    """The real table parses: /proc is there (read_mounts reads it). "/" is not asserted: in
    a chroot (make test-py313) the root is a plain folder, not a mount."""
    assert any(entry.mountpoint == "/proc" and entry.fstype == "proc" for entry in read_mounts())


def test_is_within_by_text() -> None:
    assert is_within("/content/drive/MyDrive", "/content/drive")
    assert is_within("/content/drive", "/content/drive/")
    assert not is_within("/content/drive2", "/content/drive")
    assert not is_within("", "/content/drive") and not is_within("/x", "")
    assert is_within(os.path.join("/a", "..", "b", "c"), "/b")
