"""drivewidget.folders: one scandir pass, no stat per entry, capped, cached by folder mtime."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivewidget import folders as listing
from drivewidget.folders import (
    Listing,
    ListingCache,
    check_folder,
    list_folder,
    make_folder,
    make_listing,
    scan_folder,
)
from drivewidget.text import display_name

REPO = Path(__file__).resolve().parents[1]

AWKWARD = [
    "with space",
    " leading space",
    "trailing space ",
    "it's",
    'say "hi"',
    "$(touch pwned)",
    "`id`",
    "; rm -rf ~",
    "-rf",
    "ünïcödé",
    "日本語のフォルダ",
    "emoji 📁",
    "back\\slash",
    "new\nline",
    "tab\there",
    "*",
    "x" * 255,
]
BAD_BYTES = [b"latin1-\xe9", b"\xff\xfe"]


def old(path: Path | str) -> None:
    """Date a folder's mtime back, out of the cache's racy window."""
    past = time.time() - 3600
    os.utime(path, (past, past))


def make_awkward(folder: Path) -> tuple[set[str], set[str]]:
    dirs, files = set(), set()
    for name in AWKWARD:
        (folder / name).mkdir()
        dirs.add(name)
        (folder / f"f {name[:250]}").write_text("x")
        files.add(f"f {name[:250]}")
    for raw in BAD_BYTES:
        os.mkdir(os.path.join(os.fsencode(folder), raw))
        dirs.add(os.fsdecode(raw))
        with open(os.path.join(os.fsencode(folder), b"file-" + raw), "w") as handle:
            handle.write("x")
        files.add(os.fsdecode(b"file-" + raw))
    return dirs, files


def test_awkward_names(tmp_path: Path) -> None:
    dirs, files = make_awkward(tmp_path)
    (tmp_path / ".hidden-dir").mkdir()
    (tmp_path / ".hidden-file").write_text("")
    shown = list_folder(tmp_path)
    assert set(shown.folders) == dirs
    assert set(shown.files) == files
    assert not shown.capped and shown.summary() == ""
    # every name works as given with os functions (no shell, no re-encoding)
    for name in shown.folders:
        assert os.path.isdir(os.path.join(tmp_path, name))
    for name in shown.files:
        assert os.path.isfile(os.path.join(tmp_path, name))
    with_hidden = list_folder(tmp_path, show_hidden=True)
    assert ".hidden-dir" in with_hidden.folders and ".hidden-file" in with_hidden.files
    assert not (tmp_path / "pwned").exists()


def test_sorted_folders_first_case_insensitive(tmp_path: Path) -> None:
    for name in ["b", "A", "c", "B2"]:
        (tmp_path / name).mkdir()
    for name in ["z.txt", "Y.txt", "a.txt"]:
        (tmp_path / name).write_text("")
    shown = list_folder(tmp_path)
    assert shown.folders == ("A", "b", "B2", "c")
    assert shown.files == ("a.txt", "Y.txt", "z.txt")


def test_dirs_only_counts_files_not_shown(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for i in range(3):
        (tmp_path / f"f{i}").write_text("")
    (tmp_path / ".hidden").write_text("")
    shown = list_folder(tmp_path, dirs_only=True)
    assert shown.folders == ("d",) and shown.files == ()
    assert shown.files_not_shown == 3 and shown.total == 1
    assert list_folder(tmp_path, dirs_only=True, show_hidden=True).files_not_shown == 4


class FakeEntry:
    """A DirEntry that records which of its methods were asked (and so which would stat)."""

    def __init__(self, name: str, kind: str, asked: list[str]) -> None:
        self.name, self.kind, self.asked = name, kind, asked

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        if follow_symlinks and self.kind.startswith("link"):
            self.asked.append(f"stat {self.name}")  # only through a link does it stat
            return self.kind == "link-to-dir"
        return self.kind == "dir"

    def is_symlink(self) -> bool:
        return self.kind.startswith("link")

    def stat(self, **kwargs: object) -> os.stat_result:
        self.asked.append(f"stat() {self.name}")
        raise AssertionError("no stat() per entry")


def test_only_symlinks_cost_a_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    entries = [FakeEntry(f"f{i}", "file", asked) for i in range(100)]
    entries += [FakeEntry("d", "dir", asked), FakeEntry("ld", "link-to-dir", asked)]
    entries += [FakeEntry("lf", "link-to-file", asked)]

    class FakeScandir:
        def __init__(self, path: object) -> None:
            pass

        def __enter__(self) -> list[FakeEntry]:
            return entries

        def __exit__(self, *exc: object) -> None:
            return None

    def stat_at(fd: int, name: str, **kwargs: object) -> os.stat_result:
        asked.append(f"stat {name}")  # one look through each link, relative to the folder
        return os.stat(tmp_path if name == "ld" else __file__)

    monkeypatch.setattr(listing.os, "scandir", FakeScandir)
    monkeypatch.setattr(listing.drivefs, "stat_at", stat_at)
    scan = scan_folder(tmp_path)
    assert scan.folders == ("d", "ld") and len(scan.files) == 101
    assert asked == ["stat ld", "stat lf"]


def test_symlinks(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "file").write_text("")
    (tmp_path / "to-dir").symlink_to("real")
    (tmp_path / "to-file").symlink_to("file")
    (tmp_path / "broken").symlink_to("nowhere")
    (tmp_path / "loop").symlink_to("loop")
    shown = list_folder(tmp_path)
    assert shown.folders == ("real", "to-dir")
    assert set(shown.files) == {"file", "to-file", "broken", "loop"}


def test_missing_folder_and_file_raise_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list_folder(tmp_path / "nope")
    (tmp_path / "f").write_text("")
    with pytest.raises(NotADirectoryError):
        list_folder(tmp_path / "f")


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("big")
    for i in range(200):
        (folder / f"dir{i:04d}").mkdir()
    for i in range(10_000):
        (folder / f"file{i:05d}.txt").touch()
    return folder


def test_big_folder_is_capped_with_totals(big_folder: Path) -> None:
    shown = list_folder(big_folder)
    assert shown.total_folders == 200 and shown.total_files == 10_000
    assert shown.shown == 1000 and shown.capped and shown.has_more
    assert shown.folders[0] == "dir0000" and len(shown.folders) == 200
    assert shown.files[-1] == "file00799.txt"
    assert shown.summary() == "Showing 1,000 of 10,200 entries — type a name to filter."


def test_big_folder_paging_and_filter(big_folder: Path) -> None:
    scan = scan_folder(big_folder)
    page = make_listing(scan, offset=10_000, limit=1000)
    assert page.folders == () and page.files[0] == "file09800.txt" and page.shown == 200
    assert not page.has_more
    assert page.summary() == "Showing 10,001-10,200 of 10,200 entries — type a name to filter."
    middle = make_listing(scan, offset=150, limit=100)
    assert middle.folders[0] == "dir0150" and middle.files[0] == "file00000.txt" and middle.shown == 100
    hits = make_listing(scan, name_filter="FILE0999")
    assert hits.files == tuple(f"file0999{i}.txt" for i in range(10)) and not hits.capped
    glob = make_listing(scan, name_filter="dir01*")
    assert glob.total == 100
    none = make_listing(scan, name_filter="nothing-like-this")
    assert none.summary() == "No entries match 'nothing-like-this'."
    uncapped = make_listing(scan, limit=0)
    assert uncapped.shown == 10_200 and not uncapped.capped
    folders = make_listing(scan, dirs_only=True, limit=50)
    assert folders.summary() == "Showing 50 of 200 folders — type a name to filter."
    assert folders.files_not_shown == 10_000


def test_big_folder_is_fast(big_folder: Path) -> None:
    start = time.perf_counter()
    list_folder(big_folder)
    assert time.perf_counter() - start < 1.0


def test_display_name_is_json_safe() -> None:
    for raw in [*BAD_BYTES, b"new\nline", b"ok"]:
        text = display_name(os.fsdecode(raw))
        json.dumps(text, ensure_ascii=False).encode("utf-8")  # no lone surrogates
    assert display_name(os.fsdecode(b"\xff")) == "\\xff"
    assert display_name("new\nline") == "new\\x0aline"
    assert display_name("ünï 📁") == "ünï 📁"
    assert display_name("\ud800") == "\\ud800"  # a lone surrogate that is not an escape


# -- cache ---------------------------------------------------------------------


class ScandirCounter:
    """Wraps os.scandir and counts the calls made for one folder."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
        self.calls = 0
        self.folder = os.fspath(folder)
        real = os.scandir

        def scandir(path: object = ".") -> object:
            where = os.readlink(f"/proc/self/fd/{path}") if isinstance(path, int) else os.fspath(path)  # type: ignore[arg-type]
            if where == self.folder:
                self.calls += 1
            return real(path)  # type: ignore[arg-type]

        monkeypatch.setattr(listing.os, "scandir", scandir)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "a").mkdir()
    (tmp_path / "b.txt").write_text("")
    old(tmp_path)
    return tmp_path


def test_cache_does_not_relist_unchanged_folder(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = ScandirCounter(monkeypatch, folder)
    cache = ListingCache()
    first = list_folder(folder, cache=cache)
    second = list_folder(folder, cache=cache)
    third = list_folder(folder, cache=cache, show_hidden=True, dirs_only=True)
    assert counter.calls == 1
    assert not first.from_cache and second.from_cache and third.from_cache
    assert second.folders == first.folders == ("a",)


def test_cache_relists_after_change(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = ScandirCounter(monkeypatch, folder)
    cache = ListingCache()
    list_folder(folder, cache=cache)
    (folder / "new").mkdir()  # moves the folder's mtime
    shown = list_folder(folder, cache=cache)
    assert counter.calls == 2 and "new" in shown.folders and not shown.from_cache


def test_cache_relists_when_mtime_is_too_recent_to_trust(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = ScandirCounter(monkeypatch, folder)
    os.utime(folder)  # modified "now": a change in the same tick would not move the mtime
    cache = ListingCache()
    list_folder(folder, cache=cache)
    list_folder(folder, cache=cache)
    assert counter.calls == 2
    relaxed = ListingCache(racy_window=0)
    list_folder(folder, cache=relaxed)
    list_folder(folder, cache=relaxed)
    assert counter.calls == 3


def test_cache_expires(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = ScandirCounter(monkeypatch, folder)
    clock = FakeClock()
    cache = ListingCache(ttl=30, clock=clock)
    list_folder(folder, cache=cache)
    clock.now += 29
    list_folder(folder, cache=cache)
    assert counter.calls == 1
    clock.now += 2
    list_folder(folder, cache=cache)
    assert counter.calls == 2


def test_cache_refresh_invalidate_and_size(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = ScandirCounter(monkeypatch, folder)
    cache = ListingCache(maxsize=2)
    list_folder(folder, cache=cache)
    list_folder(folder, cache=cache, refresh=True)
    assert counter.calls == 2
    assert os.fspath(folder) in cache
    cache.invalidate(folder.parent)  # forgets the folders below too
    assert os.fspath(folder) not in cache
    list_folder(folder, cache=cache)
    assert counter.calls == 3
    for name in ("x", "y"):
        (folder / name).mkdir(exist_ok=True)
        old(folder / name)
        cache.scan(folder / name)
    assert len(cache) == 2 and os.fspath(folder) not in cache  # least recently used went first
    cache.invalidate()
    assert len(cache) == 0


def test_cache_validation_is_one_stat_of_the_folder(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ListingCache()
    for i in range(50):
        (folder / f"f{i}").write_text("")
    old(folder)
    cache.scan(folder)
    stats: list[str] = []
    real = os.stat

    def counting_stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        stats.append(os.fspath(path))  # type: ignore[arg-type]
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(listing.os, "stat", counting_stat)
    monkeypatch.setattr(listing.os, "fstat", lambda fd: stats.append(fd) or real(fd))  # type: ignore[func-returns-value]
    _, hit = cache.scan(folder)
    assert hit and len(stats) == 1 and isinstance(stats[0], int)  # one fstat of the opened folder


# -- stat syscalls, counted by strace ---------------------------------------------

STRACE = shutil.which("strace")

LIST_SCRIPT = textwrap.dedent(
    """
    import sys
    from drivewidget.folders import list_folder
    import ipyfilechooser.utils as u
    path, which = sys.argv[1], sys.argv[2]
    if which == "ours":
        shown = list_folder(path, dirs_only=True, limit=0)
        print(shown.total_folders + shown.files_not_shown)
    else:
        print(len(u.get_dir_contents(path, show_only_dirs=True, top_path=path)))
    """
)


def stat_calls_on(folder: str, which: str, tmp_path: Path) -> tuple[int, int, str]:
    """(stat-family calls on entries inside ``folder``, calls on ``folder`` itself, stdout)."""
    log = tmp_path / f"strace-{which}.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [STRACE or "strace", "-f", "-qq", "-s", "4096", "-o", str(log), "-e", "trace=%%stat",
         sys.executable, "-c", LIST_SCRIPT, folder, which],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"strace cannot run here: {proc.stderr.strip()[-300:]}")
    inside = itself = 0
    for line in log.read_text(errors="replace").splitlines():
        if f'"{folder}/' in line or re.search(r'stat[a-z0-9]*\(\d+, "[^"]+"', line):
            inside += 1  # by path, or by a name relative to an open folder's descriptor
        elif f'"{folder}"' in line:
            itself += 1
    return inside, itself, proc.stdout


@pytest.mark.skipif(STRACE is None, reason="needs strace")
def test_no_stat_per_entry_local(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(300):
        (folder / f"f{i}").touch()
    for i in range(20):
        (folder / f"d{i}").mkdir()
    inside, itself, out = stat_calls_on(str(folder), "ours", tmp_path)
    assert out.strip() == "320"
    assert inside == 0
    assert itself <= 2
    theirs, _, _ = stat_calls_on(str(folder), "ipyfilechooser", tmp_path)
    assert theirs >= 320  # the harness does see per-entry stats


# -- a real rclone FUSE mount ------------------------------------------------------


@pytest.fixture
def rclone_mount(tmp_path: Path, mount_guard: list[str]) -> Iterator[tuple[Path, Path]]:
    """A real rclone FUSE mount of 500 files and 20 folders, through drivewidget's own backend."""
    from drivewidget.backends.rclone import RcloneBackend
    from drivewidget.errors import BackendUnavailable

    src, mountpoint = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    for i in range(500):
        (src / f"file {i:03d}.txt").touch()
    for i in range(20):
        (src / f"dir {i:02d}").mkdir()
    backend = RcloneBackend(str(src), config=os.devnull)
    try:
        backend.check_available()
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    mount_guard.append(str(mountpoint))
    backend.mount(str(mountpoint))
    yield src, mountpoint
    backend.unmount(str(mountpoint), stale=True)


@pytest.mark.fuse
@pytest.mark.skipif(STRACE is None, reason="needs strace")
def test_rclone_mount_listing_makes_no_stat_per_entry(
    rclone_mount: tuple[Path, Path], tmp_path: Path
) -> None:
    _, mountpoint = rclone_mount
    inside, itself, out = stat_calls_on(str(mountpoint), "ours", tmp_path)
    assert out.strip() == "520"
    assert inside == 0, f"{inside} stat calls on entries of the mount"
    assert itself <= 2
    theirs, _, _ = stat_calls_on(str(mountpoint), "ipyfilechooser", tmp_path)
    assert theirs >= 520  # the same harness sees ipyfilechooser's stat per entry
    shown: Listing = list_folder(mountpoint, dirs_only=True)
    assert shown.folders[0] == "dir 00" and shown.total_folders == 20 and shown.files_not_shown == 500


def test_listing_imports_no_widgets() -> None:
    code = (
        "import sys; sys.modules['ipywidgets'] = None; sys.modules['ipyfilechooser'] = None\n"
        "import drivewidget.folders as m; print(m.DEFAULT_LIMIT)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1000"


def test_a_filter_says_how_many_match(tmp_path: Path) -> None:
    for name in ("alpha", "alps", "beta"):
        (tmp_path / name).mkdir()
    listing = list_folder(tmp_path, dirs_only=True, name_filter="al")
    assert listing.summary() == "2 folders match 'al'."


# -- checks and new folders, through drivefs ---------------------------------------------


def test_check_folder_stays_inside_the_area(tmp_path: Path) -> None:
    drive, outside = tmp_path / "drive", tmp_path / "outside"
    (drive / "a" / "b").mkdir(parents=True)
    outside.mkdir()
    (drive / "file").write_text("")
    (drive / "in-link").symlink_to("a")
    (drive / "out-link").symlink_to(outside)
    assert check_folder(drive / "a" / "b", drive) == str(drive / "a" / "b")
    assert check_folder(drive / "in-link" / "b", drive) == str(drive / "in-link" / "b")
    for bad, code in (("out-link", "EXDEV"), ("file", "ENOTDIR"), ("nope", "ENOENT")):
        with pytest.raises(OSError) as caught:
            check_folder(drive / bad, drive)
        assert caught.value.errno == getattr(__import__("errno"), code), bad
    with pytest.raises(OSError) as caught:
        check_folder(outside, drive)  # outside by its path alone
    assert caught.value.errno == __import__("errno").EXDEV


def test_links_out_of_the_area_are_not_folders(tmp_path: Path) -> None:
    drive, outside = tmp_path / "drive", tmp_path / "outside"
    (drive / "a").mkdir(parents=True)
    outside.mkdir()
    (drive / "to-a").symlink_to("a")
    (drive / "escape").symlink_to(outside)
    scan = scan_folder(drive, area=drive)
    assert scan.folders == ("a", "to-a") and "escape" in scan.files


def test_make_folder_never_follows_a_name_swapped_for_a_link(tmp_path: Path) -> None:
    drive, outside = tmp_path / "drive", tmp_path / "outside"
    (drive / "p").mkdir(parents=True)
    outside.mkdir()
    assert make_folder(drive / "p", "new", drive) == str(drive / "p" / "new")
    assert (drive / "p" / "new").is_dir()
    (drive / "p" / "dangling").symlink_to(outside / "made-through-link")
    with pytest.raises(FileExistsError):
        make_folder(drive / "p", "dangling", drive)
    assert not (outside / "made-through-link").exists()
    (drive / "link").symlink_to(outside)
    with pytest.raises(OSError) as caught:
        make_folder(drive / "link", "x", drive)
    assert caught.value.errno == __import__("errno").EXDEV and not (outside / "x").exists()
    with pytest.raises(ValueError, match="cannot contain '/'"):
        make_folder(drive / "p", "a/b", drive)
