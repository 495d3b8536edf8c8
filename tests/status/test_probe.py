"""status.probe.bounded: a call that may hang on a mount, with a deadline, never piling up."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

from drivewidget.status.probe import bounded, probe_dir


def test_value_error_and_timeout() -> None:
    assert bounded("k-value", lambda: 42).value == 42
    failed = bounded("k-error", lambda: os.stat("/no/such/path"))
    assert not failed.ok and failed.error is not None and failed.error.errno == errno.ENOENT
    release = threading.Event()
    try:
        slow = bounded("k-timeout", lambda: release.wait(10), timeout=0.05)
        assert slow.timed_out and not slow.ok and slow.value is None
    finally:
        release.set()


def test_other_exceptions_become_oserrors() -> None:
    def broken() -> None:
        raise ValueError("bad answer")

    result = bounded("k-other", broken)
    assert isinstance(result.error, OSError) and "bad answer" in str(result.error)


def test_a_stuck_call_answers_at_once_and_starts_no_second_thread() -> None:
    release = threading.Event()
    calls: list[int] = []

    def stuck() -> None:
        calls.append(1)
        release.wait(10)

    try:
        assert bounded("k-stuck", stuck, timeout=0.05).timed_out
        started = time.monotonic()
        again = bounded("k-stuck", stuck, timeout=5.0)
        assert again.timed_out and time.monotonic() - started < 1.0  # not another 5 s wait
        assert len(calls) == 1
        assert bounded("k-elsewhere", lambda: "fine").value == "fine"  # other keys are not held up
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while bounded("k-stuck", lambda: "back").value != "back":  # once it returns, calls run again
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_probe_dir(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x")
    assert probe_dir(str(tmp_path)).ok
    assert probe_dir(str(tmp_path / "a")).error is not None  # a file: scandir fails
    assert probe_dir(str(tmp_path / "missing")).error is not None
