"""drivewidget.text: the one home of sizes, durations, the state in words and safe names."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

import drivewidget
from drivewidget import text
from drivewidget.status import sample as status_sample
from drivewidget.status.gpu import GpuStatus
from drivewidget.testing import FakeBackend
from drivewidget.text import (
    display_name,
    format_bytes,
    format_duration,
    format_rate,
    printable,
    safe_text,
    stale_text,
    state_text,
)

GiB = 1 << 30


def no_gpu() -> GpuStatus:
    return GpuStatus(0.0, False)


def test_sizes_are_binary() -> None:
    assert format_bytes(1000) == "1000 B"  # not '1.0 kB'
    assert format_bytes(1024) == "1.0 KiB"
    assert format_bytes(100 * 1024 * 1024) == "100.0 MiB"
    assert format_bytes(15 * GiB) == "15.0 GiB"
    assert format_rate(3 << 20) == "3.0 MiB/s"
    assert format_rate(None) == "N/A"


def test_durations() -> None:
    assert format_duration(65) == "1 min 05 s"
    assert format_duration(120) == "2 min"
    assert format_duration(3 * 3600 + 59) == "3 h 00 min"


@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        (("mounted", "/m"), {"root": "/m/MyDrive"}, "Mounted at /m"),
        (("mounted", "/m"), {"root": "/data"}, "Using /data as the drive (nothing mounted from a cloud)"),
        (("mounted", "/m", "", "", True), {}, "Mounted at /m (read-only)"),
        (
            ("unmounted", "/m"),
            {"foreign": "sshfs (fuse.sshfs)"},
            "Not mounted: sshfs (fuse.sshfs) is mounted",
        ),
        (("stale", "/m"), {}, "Stale mount at /m: disconnected. Unmount to recover."),
        (("error", "/m", "", "Mount failed: x"), {}, "Error: Mount failed: x"),
    ],
)
def test_state_text(args: tuple[object, ...], kwargs: dict[str, str], words: str) -> None:
    assert state_text(*args, **kwargs).startswith(words)  # type: ignore[arg-type]


def test_stale_text() -> None:
    assert stale_text("/m", text.NOT_RESPONDING) == "The drive at /m is not responding."
    assert stale_text("/m") == "The drive at /m is disconnected."
    assert stale_text("/m", "Permission denied") == "The drive at /m is disconnected (Permission denied)."


def test_controller_and_sample_say_the_same(tmp_path: Path) -> None:
    """The panel shows the controller's words, the command line the sample's: one wording."""
    (tmp_path / "cloud").mkdir()
    backend = FakeBackend(str(tmp_path / "cloud"))
    ctrl = drivewidget.DriveController(backend=backend, mountpoint=str(tmp_path / "cloud"))
    for step in ("unmounted", "mounted", "stale", "error"):
        if step == "mounted":
            ctrl.mount()
        elif step == "stale":
            backend.stale = True
            ctrl.refresh()
        elif step == "error":
            backend.stale = False
            ctrl.unmount()
            backend.fail_mount = drivewidget.MountError("Mount failed: no network")
            with pytest.raises(drivewidget.MountError):
                ctrl.mount()
        words = state_text(ctrl.state, ctrl.mountpoint, ctrl.problem, ctrl.error, root=ctrl.root)
        assert ctrl.state == step and ctrl.describe_state() == words
        assert status_sample.take_sample(ctrl, gpu_source=no_gpu).state_text == words


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("new\nline", "new\\nline"), ("\x1b[31m", "\\x1b[31m"), (os.fsdecode(b"bad\xff"), "bad\\xff")],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_browser_text_is_json_safe() -> None:
    for raw in (b"\xff\xfe", b"new\nline", "\u00fc".encode()):
        json.dumps(display_name(os.fsdecode(raw)), ensure_ascii=False).encode("utf-8")
    assert safe_text("two\nlines \udcff") == "two\nlines \\xff"
    assert display_name("two\nlines") == "two\\x0alines"
    assert printable(os.path.sep.join(["a", "b\u202e"])) == "a/b\\u202e"


@pytest.mark.parametrize("invisible", ["\u202e", "\u2066", "\u200f", "\u061c", "\u200b", "\u2028"])
def test_names_cannot_disguise_themselves(invisible: str) -> None:
    """Attack: ``report<RLO>fdp.sh`` is drawn as ``reportsh.pdf``. Invisible formatting
    characters are shown as escapes; ordinary letters, accents and emoji are kept."""
    shown = display_name(f"report{invisible}fdp.sh")
    assert invisible not in shown and shown.startswith("report\\") and shown.endswith("fdp.sh")
    assert display_name("caf\u00e9 \u65e5\u672c \U0001f389") == "caf\u00e9 \u65e5\u672c \U0001f389"


def test_one_home() -> None:
    """The helpers other modules re-export are these functions, not copies that can drift."""
    assert status_sample.format_bytes is format_bytes and status_sample.state_text is state_text


def test_imports_nothing_of_drivewidget() -> None:
    """Every layer may import text.py, so it may import none of them (no circle)."""
    tree = ast.parse(Path(text.__file__).read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert all(m and not m.startswith("drivewidget") for m in imported if m != "__future__")
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))
