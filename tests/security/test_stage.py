"""Staging and syncing back (``stage`` / ``sync_back``): drive content never reaches beyond the drive.

A collaborator fills a shared data folder with links, special files and odd names, or swaps
a folder for a link while the copy runs. The copy must take only what is inside the drive,
never block on a special file, never write outside the destination, and say what it left
out in words that are safe to print.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivewidget.errors import InvalidPath
from drivewidget.transfer import engine, stage, start_stage, sync_back

from .conftest import AS_ROOT, Shared

SECRET = "the user's secret\n"


def everything(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            yield Path(dirpath) / name


def holds_secret(folder: Path) -> bool:
    return any(
        p.is_file() and not p.is_symlink() and SECRET in p.read_text(errors="replace")
        for p in everything(folder)
    )


def between_plan_and_copy(monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]) -> None:
    """Run ``change`` after the copy has listed everything and before it opens a file: the
    moment a collaborator racing the copy would aim for."""
    check = engine.CopyEngine._check_space

    def then_change(self: engine.CopyEngine) -> None:
        change()
        check(self)

    monkeypatch.setattr(engine.CopyEngine, "_check_space", then_change)


def test_followed_links_stay_inside_the_drive(shared: Shared, tmp_path: Path) -> None:
    """Issue 13, row 3: ``stage(..., symlinks="follow")`` checked only the top folder, so links
    inside it to a secret file, to a folder of the user's, ``up -> ..`` and
    ``root -> <mountpoint>`` were followed: out of the drive, and round the drive again."""
    data = shared.source / "project" / "data"
    (data / "shadow").symlink_to(shared.secret)
    (data / "etc").symlink_to(shared.outside)
    (data / "up").symlink_to("..")
    (data / "root").symlink_to(shared.ctrl.mountpoint)
    (data / "drive_root").symlink_to(shared.ctrl.root)
    local = tmp_path / "local"
    result = stage(shared.ctrl, "project/data", local, symlinks="follow")
    assert (local / "train.csv").read_text() == "a,b\n1,2\n"
    assert not holds_secret(local)
    for name in ("shadow", "etc", "up", "root", "drive_root"):
        assert not os.path.lexists(local / name), name
    said = "\n".join(result.errors)
    assert "shadow: a symbolic link that leads outside the drive" in said
    assert "etc: a symbolic link that leads outside the drive" in said
    assert "up: a symbolic link back to a folder that contains it (a loop)" in said
    assert "drive_root: a symbolic link back to a folder that contains it (a loop)" in said
    assert "root: a symbolic link" in said
    assert result.copied == 1


def test_links_copied_as_links_never_point_at_the_users_files(shared: Shared, tmp_path: Path) -> None:
    """``symlinks="copy"`` (the default) copied every link as it was: ``bashrc -> /home/you/.bashrc``
    (here: the user's secret) or ``up -> ../../..`` planted on the drive became local links
    to the user's own files, and code writing "into the staged data" wrote through them.
    Only links that lead inside the staged folder are copied as links."""
    data = shared.source / "project" / "data"
    (data / "sub").mkdir()
    (data / "bashrc").symlink_to(shared.secret)
    (data / "up").symlink_to("../../..")
    (data / "sub" / "hop").symlink_to(".")
    (data / "sub" / "sneaky").symlink_to("hop/../../..")  # '..' after a link climbs from where it leads
    (data / "latest").symlink_to("train.csv")
    (data / "sub" / "back").symlink_to("../train.csv")
    local = tmp_path / "local"
    result = stage(shared.ctrl, "project/data", local)
    assert (
        os.readlink(local / "latest") == "train.csv" and (local / "sub" / "back").read_text() == "a,b\n1,2\n"
    )
    for rel in ("bashrc", "up", "sub/sneaky"):
        assert not os.path.lexists(local / rel), rel
    said = "\n".join(result.errors)
    assert f"bashrc: a symbolic link to {shared.secret}, outside the folder being copied; not copied" in said
    assert "up: a symbolic link to ../../.., outside the folder being copied" in said
    assert "sub/sneaky: a symbolic link to hop/../../.., outside" in said
    assert result.failed == 3


def test_links_inside_the_drive_are_followed_once(shared: Shared, tmp_path: Path) -> None:
    """A link to another folder of the drive is followed (that is what ``follow`` is for),
    but a folder reached through many links is copied once, not once per path: a
    collaborator's lattice of links (``a1 -> b``, ``a2 -> b``, each level doubling) must
    not turn a small folder into an exponential copy."""
    data = shared.source / "project" / "data"
    other = shared.source / "other"
    level = other
    for depth in range(12):
        (level / "x").mkdir(parents=True)
        (level / "x" / f"f{depth}").write_text("x")
        (level / "a1").symlink_to("x")
        (level / "a2").symlink_to("x")
        level = level / "x"
    (data / "lattice").symlink_to(os.path.join(shared.ctrl.root, "other"))
    local = tmp_path / "local"
    result = stage(shared.ctrl, "project/data", local, symlinks="follow")
    copied = sum(1 for p in everything(local) if p.is_file())
    assert copied == result.copied < 100  # 12 levels: each folder once through the links (2**12 before)
    assert (local / "lattice" / "x" / "f0").read_text() == "x"
    assert any("already copied through another link" in e for e in result.errors)


def test_local_destination_that_is_a_link_into_the_drive_is_refused(shared: Shared, tmp_path: Path) -> None:
    """Issue 13, row 8: a local destination that is a symlink into the drive passed the
    "not on the drive" check (it compared path text), and ``stage`` copied a drive folder
    into itself. The destination is judged by where it really is."""
    link = tmp_path / "work"
    link.symlink_to(shared.root / "project" / "data")
    before = sorted(str(p) for p in everything(shared.source))
    with pytest.raises(InvalidPath, match="leads onto the drive"):
        stage(shared.ctrl, "project/data", link / "copy")
    with pytest.raises(InvalidPath, match="leads onto the drive"):
        stage(shared.ctrl, "project/data", link)
    assert sorted(str(p) for p in everything(shared.source)) == before


def test_local_destination_that_holds_the_drive_is_refused(shared: Shared) -> None:
    """A folder named like the mountpoint in the staged data, staged into the folder that
    holds the mountpoint: its files were written into the drive itself."""
    mountpoint = Path(shared.ctrl.mountpoint)
    (shared.source / "project" / "data" / mountpoint.name).mkdir()
    (shared.source / "project" / "data" / mountpoint.name / "planted.txt").write_text("x")
    with pytest.raises(InvalidPath, match="holds the drive's mountpoint"):
        stage(shared.ctrl, "project/data", mountpoint.parent)
    assert not (shared.source / "planted.txt").exists()


def test_local_source_that_is_a_link_into_the_drive_is_refused(shared: Shared, tmp_path: Path) -> None:
    """The same for ``sync_back``: a "local" source that leads into the drive would copy the
    drive into itself."""
    link = tmp_path / "results"
    link.symlink_to(shared.root / "project")
    with pytest.raises(InvalidPath, match="leads onto the drive"):
        sync_back(shared.ctrl, link, "project/data/copy")
    assert not (shared.source / "project" / "data" / "copy").exists()


def test_local_source_that_holds_the_drive_is_refused(shared: Shared) -> None:
    """``sync_back`` of the folder that holds the mountpoint copied the drive into itself."""
    mountpoint = Path(shared.ctrl.mountpoint)
    with pytest.raises(InvalidPath, match="holds the drive's mountpoint"):
        sync_back(shared.ctrl, mountpoint.parent, "project/backup", flush=False)
    assert not (shared.source / "project" / "backup").exists()


def test_special_files_are_never_opened(shared: Shared, tmp_path: Path) -> None:
    """What held: FIFOs, sockets and device nodes in a staged folder (and a followed link to
    one) are reported and left out from their ``lstat`` alone (opening a FIFO blocks; reading ``/dev/zero`` never ends)."""
    data = shared.source / "project" / "data"
    os.mkfifo(data / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(data / "sock"))
    if AS_ROOT:
        os.mknod(data / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    (data / "to_pipe").symlink_to("pipe")
    try:
        transfer = start_stage(shared.ctrl, "project/data", tmp_path / "local", symlinks="follow")
        result = transfer.wait(20)
    finally:
        server.close()
    assert (tmp_path / "local" / "train.csv").exists()
    specials = 4 if AS_ROOT else 3
    assert result.failed == specials
    assert sum("not a regular file, folder or link" in e for e in result.errors) == specials
    assert sorted(os.listdir(tmp_path / "local")) == ["train.csv"]


def test_a_file_swapped_for_a_fifo_after_listing_blocks_nothing(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listed as a file, replaced by a FIFO before the copy opens it: the open used to block
    forever (no writer ever comes). Files are opened non-blocking and checked first."""
    victim = shared.source / "project" / "data" / "train.csv"

    def swap() -> None:
        victim.unlink()
        os.mkfifo(victim)

    between_plan_and_copy(monkeypatch, swap)
    transfer = start_stage(shared.ctrl, "project/data", tmp_path / "local")
    result = transfer.wait(20)
    assert result.failed == 1 and "train.csv: it is not a regular file (a named pipe) now" in result.errors[0]
    assert not (tmp_path / "local" / "train.csv").exists()


def test_a_folder_swapped_for_a_link_after_listing_is_not_followed(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listed as a folder, replaced by a link to a folder of the user's before its files are
    copied: the copy opened ``data/sub/secret.txt`` by path and read the user's file. Files
    are opened one name at a time below the folders listed, never through a new link."""
    sub = shared.source / "project" / "data" / "sub"
    sub.mkdir()
    (sub / "secret.txt").write_text("x" * len(SECRET))  # same name and size as the user's secret

    def swap() -> None:
        sub.rename(sub.with_name("sub.old"))
        sub.symlink_to(shared.outside)

    between_plan_and_copy(monkeypatch, swap)
    local = tmp_path / "local"
    result = stage(shared.ctrl, "project/data", local)
    assert not holds_secret(local)
    assert any("sub/secret.txt: a symbolic link appeared in its place" in e for e in result.errors)


def test_a_drive_folder_swapped_for_a_link_is_not_written_through(
    shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sync_back`` into a drive folder that a collaborator swaps for a link to a folder of
    the user's after the listing: the copy wrote the files there. It writes only into
    folders reached without links."""
    results = tmp_path / "results"
    (results / "sub").mkdir(parents=True)
    (results / "sub" / "planted.txt").write_text("from sync_back")
    on_drive = shared.source / "project" / "out" / "sub"
    on_drive.mkdir(parents=True)

    def swap() -> None:
        on_drive.rmdir()
        on_drive.symlink_to(shared.outside)

    between_plan_and_copy(monkeypatch, swap)
    result = sync_back(shared.ctrl, results, "project/out", flush=False)
    assert not (shared.outside / "planted.txt").exists()
    assert sorted(os.listdir(shared.outside)) == ["secret.txt"]
    assert result.failed == 1 and not result.ok


def test_a_hard_link_at_the_destination_keeps_the_other_name(shared: Shared, tmp_path: Path) -> None:
    """What held: a destination file that is a hard link to another file (a collaborator
    links ``out/model.bin`` to ``project/data/train.csv``): replacing it never writes
    through the link, so the other name keeps its content."""
    out = shared.source / "project" / "out"
    out.mkdir()
    os.link(shared.source / "project" / "data" / "train.csv", out / "model.bin")
    local = tmp_path / "model.bin"
    local.write_text("new weights")
    result = sync_back(shared.ctrl, local, "project/out/", flush=False)
    assert result.copied == 1 and (out / "model.bin").read_text() == "new weights"
    assert (shared.source / "project" / "data" / "train.csv").read_text() == "a,b\n1,2\n"


def test_names_that_are_not_utf8_or_hold_control_characters(shared: Shared, tmp_path: Path) -> None:
    """What held: names a collaborator chose, bytes that are not UTF-8, a newline, an escape sequence.
    Files with such names are copied byte for byte; messages about them show them escaped,
    so a result prints and serialises as JSON."""
    data = shared.source / "project" / "data"
    odd = os.fsdecode(b"bad-\xff\xfe")
    (data / odd).write_bytes(b"1")
    os.mkfifo(data / "line\nbreak\x1b[31m")
    os.mkfifo(data / os.fsdecode(b"pipe-\xff"))
    local = tmp_path / "local"
    result = stage(shared.ctrl, "project/data", local)
    assert (local / odd).read_bytes() == b"1"
    said = "\n".join(result.errors)
    assert "line\\nbreak\\x1b[31m" in said and "pipe-\\xff" in said
    assert all("\n" not in e and "\x1b" not in e for e in result.errors)
    json.dumps(result.to_json())
    result.summary().encode("utf-8")


def test_nested_links_copy_each_folder_a_bounded_number_of_times(shared: Shared, tmp_path: Path) -> None:
    """Attack (with symlinks='follow'): a chain of 40 nested folders and, beside it, a link
    to every level. Each link once copied the whole rest of the chain again: 861 files for
    40, growing with the square of the depth. Now a folder is copied at its own place and at
    most once through links."""
    data = shared.source / "project" / "data"
    level, depth = data / "chain", 40
    for index in range(depth):
        level = level / f"d{index}"
        level.mkdir(parents=True)
        (level / "f").write_text("x")
        (data / f"l{index}").symlink_to(os.path.relpath(level, data))
    result = stage(shared.ctrl, "project/data", tmp_path / "local", symlinks="follow")
    assert depth + 1 <= result.copied <= 2 * depth + 1, result.copied
    assert (tmp_path / "local" / "chain" / "d0" / "d1" / "f").read_text() == "x"  # the real tree is whole
    assert all("not copied twice" in error for error in result.errors)
