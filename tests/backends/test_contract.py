"""The Backend contract, one suite for every backend (fsspec-style).

Each test runs against: a local folder, rclone (a real FUSE mount of a local remote), the
google-drive-ocamlfuse stand-in (tests/fakes, mounting with rclone) and Colab's drive (the
fake ``google.colab``, also a real FUSE mount). A backend that passes these can sit behind the
controller: it says whether it is mounted from the mount table alone, refuses a bad
mountpoint before mounting, makes written files reach its source by flush + unmount, detaches
a stale mount, tells its capabilities as flags and is built by the registry from a spec.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

from drivewidget.backends import BACKENDS, create_backend
from drivewidget.backends.base import Backend
from drivewidget.backends.colab import ColabBackend
from drivewidget.backends.local import LocalBackend
from drivewidget.backends.rclone import RcloneBackend
from drivewidget.errors import DriveError, InvalidMountpoint
from drivewidget.status.mounttable import find_mount, read_mounts

from ._ocamlfuse_fixtures import cleanup_mount, fuse_problem, make_world, state_file_text

KINDS = ("local", "rclone", "ocamlfuse", "colab")
FLAGS = (
    "main_thread_only",
    "needs_browser_auth",
    "confirms_uploads",
    "supports_readonly",
    "keeps_unsent_writes",
)


@dataclass
class Subject:
    """One backend under test: where it mounts and where written files must arrive."""

    backend: Backend
    mountpoint: str
    source: Path
    """The folder behind the drive: what the cloud would hold."""
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return Path(self.backend.root(self.mountpoint))

    def source_of(self, name: str) -> Path:
        """Where a file written at ``root/name`` lands in the source."""
        if not self.mounts:
            return self.source / name
        return self.source / os.path.relpath(self.root / name, self.mountpoint)

    @property
    def mounts(self) -> bool:
        """Whether anything shows in the mount table (a local folder used in place does not)."""
        return not (isinstance(self.backend, LocalBackend) and not self.backend.bind)


def _needs_fuse() -> None:
    if fuse_problem():
        pytest.skip(f"needs FUSE: {fuse_problem()}")


def _detach(mountpoint: str) -> None:
    if find_mount(mountpoint) is not None:
        cleanup_mount(mountpoint)


@pytest.fixture(params=KINDS)
def subject(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    restore_cwd: None,
) -> Iterator[Subject]:
    kind: str = request.param
    source = tmp_path / "source"
    source.mkdir()
    mountpoint = str(tmp_path / "mnt")
    if kind == "local":
        made = Subject(LocalBackend(source), mountpoint, source)
    elif kind == "rclone":
        _needs_fuse()
        made = Subject(RcloneBackend(str(source)), mountpoint, source)
    elif kind == "ocamlfuse":
        _needs_fuse()
        world = make_world(tmp_path / "gdfuse", monkeypatch)
        backend = world.backend()
        backend.install_state_file(state_file_text())
        made = Subject(backend, str(world.mountpoint), world.cloud)
    else:
        colab = request.getfixturevalue("colab_drive")
        made = _colab(colab, tmp_path)
    made.cleanups.append(lambda: _detach(made.mountpoint))
    try:
        yield made
    finally:
        for cleanup in reversed(made.cleanups):
            cleanup()
        made.backend.close()


def _colab(drive: ModuleType, tmp_path: Path) -> Subject:
    (tmp_path / "content").mkdir()
    return Subject(ColabBackend(timeout_ms=5000), str(tmp_path / "content" / "drive"), Path(drive.CLOUD))


def _mount(s: Subject, *, readonly: bool = False) -> list[str]:
    """What the controller does before and for a mount."""
    s.backend.check_available()
    s.backend.validate_mountpoint(s.mountpoint, read_mounts())
    return s.backend.mount(s.mountpoint, readonly=readonly)


# -- the contract ---------------------------------------------------------------------------------


def test_capabilities_are_flags(subject: Subject) -> None:
    for flag in FLAGS:
        assert isinstance(getattr(subject.backend, flag), bool), flag
    assert subject.backend.label and subject.backend.describe()


def test_not_mounted_until_mounted(subject: Subject) -> None:
    table = read_mounts()
    assert not subject.backend.is_mounted(subject.mountpoint)
    assert not subject.backend.is_mounted(subject.mountpoint, table)


def test_mount_write_flush_unmount(subject: Subject) -> None:
    """Mounted from the one mount-table read the controller passes; a written file reaches
    the source by flush + unmount; unmounted afterwards."""
    (subject.source / "MyDrive").mkdir(exist_ok=True)
    lines = _mount(subject)
    assert all(isinstance(line, str) for line in lines)
    assert subject.backend.is_mounted(subject.mountpoint, read_mounts())
    assert subject.backend.is_mounted(subject.mountpoint)
    (subject.root / "results.txt").write_text("epoch 3: 0.91")
    arrives = subject.source_of("results.txt")  # asked while mounted (Colab's root is MyDrive)
    subject.backend.flush(subject.mountpoint)
    subject.backend.unmount(subject.mountpoint)
    assert not subject.backend.is_mounted(subject.mountpoint)
    assert arrives.read_text() == "epoch 3: 0.91"


def test_a_folder_with_files_is_refused_before_mounting(subject: Subject) -> None:
    if not subject.mounts:
        pytest.skip("a local folder used in place mounts nothing over the mountpoint")
    os.makedirs(subject.mountpoint, exist_ok=True)
    Path(subject.mountpoint, "keep.txt").write_text("mine")
    with pytest.raises(InvalidMountpoint, match="already contains files"):
        subject.backend.validate_mountpoint(subject.mountpoint, read_mounts())
    assert Path(subject.mountpoint, "keep.txt").read_text() == "mine"


def test_a_missing_parent_is_refused_in_words(subject: Subject) -> None:
    if not subject.mounts:
        pytest.skip("a local folder used in place mounts nothing over the mountpoint")
    nowhere = os.path.join(subject.mountpoint, "no", "such", "place")
    with pytest.raises(InvalidMountpoint, match="does not exist"):
        subject.backend.validate_mountpoint(nowhere, read_mounts())


def test_read_only_when_supported(subject: Subject) -> None:
    if not subject.backend.supports_readonly:
        pytest.skip(f"{subject.backend.describe()} says it cannot mount read-only")
    (subject.source / "MyDrive").mkdir(exist_ok=True)
    _mount(subject, readonly=True)
    with pytest.raises(OSError):
        (subject.root / "new.txt").write_text("x")
    subject.backend.unmount(subject.mountpoint)
    assert not subject.backend.is_mounted(subject.mountpoint)


def test_a_stale_mount_is_detached(subject: Subject) -> None:
    """``unmount(stale=True)`` detaches without needing the drive to answer."""
    (subject.source / "MyDrive").mkdir(exist_ok=True)
    _mount(subject)
    subject.backend.flush_stale(subject.mountpoint)
    subject.backend.unmount(subject.mountpoint, stale=True)
    assert not subject.backend.is_mounted(subject.mountpoint)
    if subject.mounts:
        assert find_mount(subject.mountpoint) is None


def test_someone_elses_mount_is_not_ours(subject: Subject, tmp_path: Path) -> None:
    """A mount of something else at the mountpoint is neither 'mounted' nor accepted."""
    if not subject.mounts or fuse_problem():
        pytest.skip("needs a real FUSE mount of something else")
    other = tmp_path / "other"
    other.mkdir()
    stranger = RcloneBackend(str(other))
    stranger.check_available()
    stranger.mount(subject.mountpoint)
    try:
        table = read_mounts()
        assert not subject.backend.is_mounted(subject.mountpoint, table)
        with pytest.raises(InvalidMountpoint, match="already mounted"):
            subject.backend.validate_mountpoint(subject.mountpoint, table)
    finally:
        stranger.unmount(subject.mountpoint)


def test_failures_are_drive_errors(subject: Subject) -> None:
    """Unmounting what is not mounted fails with a typed error (or harmlessly), never an OSError."""
    try:
        lines = subject.backend.unmount(subject.mountpoint)
    except DriveError as exc:
        assert str(exc)
    else:
        assert isinstance(lines, list) and all(isinstance(line, str) for line in lines)
    assert not subject.backend.is_mounted(subject.mountpoint)


@pytest.mark.parametrize("name", list(BACKENDS))
def test_the_registry_builds_from_a_spec(name: str, tmp_path: Path) -> None:
    source = {"rclone": str(tmp_path), "local": str(tmp_path), "ocamlfuse": "work"}.get(name)
    backend = create_backend(name, source)
    assert backend.name == name and isinstance(backend, BACKENDS[name].load())
    assert type(backend).from_spec(source).describe() == backend.describe()
