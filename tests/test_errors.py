"""drivewidget.errors: the error tree and the one place an OSError becomes a DriveError."""

from __future__ import annotations

import errno

import pytest

from drivewidget import errors
from drivewidget.errors import (
    DISCONNECTED_ERRNOS,
    Busy,
    DriveError,
    InvalidPath,
    NotEnoughSpace,
    StaleMount,
    TransferBusy,
    TransferError,
    from_os_error,
)


def _os(code: int, path: str = "x") -> OSError:
    return OSError(code, errno.errorcode[code].lower() + " text", path)


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        (errno.ENOENT, InvalidPath, "There is nothing at data/a"),
        (errno.ENOTDIR, InvalidPath, "a part of the path is a file"),
        (errno.EACCES, InvalidPath, "No permission to copy data/a"),
        (errno.EPERM, InvalidPath, "No permission to copy data/a"),
        (errno.EROFS, InvalidPath, "read-only"),
        (errno.ENOSPC, NotEnoughSpace, "disk is full"),
        (errno.EDQUOT, NotEnoughSpace, "quota is used up"),
        (errno.ENOTCONN, StaleMount, "disconnected"),
        (errno.ECONNABORTED, StaleMount, "disconnected"),
        (errno.ESTALE, StaleMount, "disconnected"),
        (errno.EIO, StaleMount, "disconnected"),
        (errno.ETIMEDOUT, StaleMount, "not responding"),
        (errno.ENAMETOOLONG, InvalidPath, "name is too long"),
        (errno.ELOOP, InvalidPath, "symbolic link"),
        (errno.EEXIST, InvalidPath, "a already exists here"),
    ],
)
def test_each_errno_has_its_type_and_words(code: int, kind: type[DriveError], words: str) -> None:
    err = from_os_error(_os(code), doing="copy", path="data/a")
    assert type(err) is kind
    assert words in str(err)
    assert "\n" not in str(err) and "Errno" not in str(err)


def test_a_folder_reads_as_a_folder() -> None:
    missing = from_os_error(_os(errno.ENOENT), doing="open", path="proj", folder=True)
    assert str(missing) == "There is no folder proj on the drive. Check the name or create it first."
    file = from_os_error(_os(errno.ENOTDIR), doing="open", path="a.txt", folder=True)
    assert str(file) == "a.txt is a file, not a folder. Choose a folder."


def test_a_link_out_names_the_allowed_area() -> None:
    exc = OSError(errno.EXDEV, "leads outside the drive (to /etc)", "etc")
    err = from_os_error(exc, doing="open", path="etc", area="/content/drive/MyDrive")
    assert isinstance(err, InvalidPath)
    assert str(err) == "etc leads outside the drive (to /etc). Choose a folder under /content/drive/MyDrive."


def test_half_done_work_is_said_and_unknown_errnos_use_the_fallback() -> None:
    then = "Files copied so far are complete."
    err = from_os_error(_os(errno.ENOSPC), doing="write", path="/d/f", then=then)
    assert then in str(err)
    odd = from_os_error(_os(errno.EOVERFLOW), doing="copy", path="/d/f", fallback=TransferError)
    assert type(odd) is TransferError and "eoverflow text" in str(odd)
    assert type(from_os_error(_os(errno.EOVERFLOW), doing="open", path="p")) is InvalidPath


def test_an_errno_less_oserror_still_has_a_message() -> None:
    err = from_os_error(OSError("boom"), doing="open", path="p")
    assert type(err) is InvalidPath and str(err) == "Cannot open p: boom."
    bare = from_os_error(OSError(), doing="open", path="p")
    assert str(bare) == "Cannot open p: unknown error."


def test_one_disconnected_set_everywhere() -> None:
    from drivewidget.status import probe

    assert probe.DISCONNECTED_ERRNOS is DISCONNECTED_ERRNOS
    assert {errno.ENOTCONN, errno.ECONNABORTED, errno.EIO, errno.ESTALE} == set(DISCONNECTED_ERRNOS)


def test_transfer_errors_live_in_the_tree() -> None:
    from drivewidget import transfer

    assert transfer.NotEnoughSpace is NotEnoughSpace and transfer.TransferError is TransferError
    assert issubclass(TransferBusy, Busy) and issubclass(NotEnoughSpace, DriveError)
    assert set(errors.__all__) >= {"from_os_error", "DISCONNECTED_ERRNOS", "TransferError"}
