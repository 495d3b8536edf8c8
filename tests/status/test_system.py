"""System status: RAM, VM disk and runtime ages, with a fake psutil and fake clocks."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drivewidget.status import system
from drivewidget.status.system import (
    COLAB_MAX_RUNTIME,
    RuntimeInfo,
    Usage,
    disk_usage,
    ram_usage,
    runtime_info,
    sample_system,
    vm_disk_path,
)

GiB = 1 << 30


class FakeProcess:
    def __init__(self, started: float | None) -> None:
        self.started = started

    def create_time(self) -> float:
        if self.started is None:
            raise PermissionError("no access")
        return self.started


def fake_psutil(*, pid1: float | None = 1_000.0, me: float = 5_000.0, boot: float = 500.0) -> Any:
    def process(pid: int) -> FakeProcess:
        return FakeProcess(pid1 if pid == 1 else me)

    return SimpleNamespace(
        virtual_memory=lambda: SimpleNamespace(total=12 * GiB, available=9 * GiB, used=2 * GiB, free=GiB),
        Process=process,
        boot_time=lambda: boot,
    )


def test_ram_is_total_minus_available() -> None:
    ram = ram_usage(fake_psutil())
    assert ram == Usage(used=3 * GiB, total=12 * GiB, free=9 * GiB)
    assert ram.fraction == 0.25 and ram.known
    assert ram.to_json() == {"used": 3 * GiB, "total": 12 * GiB, "free": 9 * GiB}


def test_ram_without_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)
    ram = ram_usage()
    assert not ram.known and ram.fraction is None
    assert ram.note == "psutil is not installed"
    assert ram.to_json() == {"used": None, "total": None, "free": None, "note": "psutil is not installed"}


def test_ram_failure_is_a_note() -> None:
    def boom() -> None:
        raise OSError("no /proc")

    ram = ram_usage(SimpleNamespace(virtual_memory=boom))
    assert not ram.known and "no /proc" in ram.note


def test_real_ram() -> None:
    ram = ram_usage()
    assert ram.known and 0 < ram.used <= ram.total  # type: ignore[operator]


def test_disk_usage(tmp_path: Path) -> None:
    usage = disk_usage(str(tmp_path))
    assert usage.known and usage.path == str(tmp_path)
    assert 0 <= usage.used <= usage.total  # type: ignore[operator]
    assert usage.to_json()["path"] == str(tmp_path)
    missing = disk_usage(str(tmp_path / "nope"))
    assert not missing.known and missing.note


def test_vm_disk_path_avoids_the_drive(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert vm_disk_path() == str(tmp_path / "home")
    assert vm_disk_path(avoid="/content/drive") == str(tmp_path / "home")
    assert vm_disk_path(avoid=str(tmp_path)) == os.sep  # home is inside the mount
    assert vm_disk_path(avoid=str(tmp_path / "home")) == os.sep


def test_runtime_ages_from_pid1_and_this_process() -> None:
    info = runtime_info(fake_psutil(), wall=lambda: 8_600.0, colab=False)
    assert info == RuntimeInfo(vm_age=7_600.0, kernel_age=3_600.0, colab=False, colab_left=None)
    assert info.to_json() == {
        "vm_age_s": 7_600.0,
        "kernel_age_s": 3_600.0,
        "colab": False,
        "colab_max_s": None,
        "colab_left_s": None,
    }


def test_runtime_age_falls_back_to_boot_time() -> None:
    info = runtime_info(fake_psutil(pid1=None, boot=600.0), wall=lambda: 1_600.0, colab=False)
    assert info.vm_age == 1_000.0


def test_runtime_without_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)
    monkeypatch.setattr(system, "_start_cache", None)
    info = runtime_info(colab=True)
    assert info.vm_age is None and info.kernel_age is None and info.colab_left is None


def test_colab_time_left() -> None:
    ps = fake_psutil(pid1=0.0)
    info = runtime_info(ps, wall=lambda: 3 * 3600.0, colab=True)
    assert info.colab and info.colab_left == COLAB_MAX_RUNTIME - 3 * 3600.0
    assert info.to_json()["colab_max_s"] == 12 * 3600.0
    late = runtime_info(ps, wall=lambda: 13 * 3600.0, colab=True)
    assert late.colab_left == 0.0
    pro = runtime_info(ps, wall=lambda: 13 * 3600.0, colab=True, max_runtime=24 * 3600.0)
    assert pro.colab_left == 11 * 3600.0


def test_colab_detected_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20250101")
    assert runtime_info(fake_psutil(), wall=lambda: 2_000.0).colab
    monkeypatch.delenv("COLAB_RELEASE_TAG")
    if not os.path.exists("/var/colab/hostname"):
        assert not runtime_info(fake_psutil(), wall=lambda: 2_000.0).colab


def test_real_runtime_ages_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "_start_cache", None)
    info = runtime_info(colab=False)
    assert info.vm_age is not None and info.kernel_age is not None
    assert 0 <= info.kernel_age <= info.vm_age + 1
    assert system._start_cache is not None
    cached = system._start_cache
    runtime_info(colab=False)
    assert system._start_cache is cached


def test_sample_system(tmp_path: Path) -> None:
    times = iter([42.0])
    sample = sample_system(
        str(tmp_path), ps=fake_psutil(), clock=lambda: next(times), wall=lambda: 6_000.0, colab=False
    )
    assert sample.timestamp == 42.0
    assert sample.ram.used == 3 * GiB
    assert sample.disk.path == str(tmp_path) and sample.disk.known
    assert sample.runtime.kernel_age == 1_000.0
