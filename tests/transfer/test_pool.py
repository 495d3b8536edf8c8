"""pool.py: threads start as work arrives, tasks may add tasks, a stuck call is abandoned, a bug is told."""

from __future__ import annotations

import threading
import time

from drivewidget.transfer import pool as pool_module
from drivewidget.transfer.pool import Pool, join_or_abandon


def test_grows_only_as_work_arrives_and_tasks_may_submit_tasks() -> None:
    pool = Pool(8, "test")
    pool.submit(lambda: None)
    assert pool.join(5) and len(pool._threads) == 1  # one file: one thread
    done: list[int] = []
    lock = threading.Lock()

    def task(n: int) -> None:
        with lock:
            done.append(n)
        if n < 20:
            pool.submit(lambda: task(n + 1))

    pool.submit(lambda: task(0))
    assert pool.join(5) and sorted(done) == list(range(21))
    assert len(pool._threads) <= 8
    pool.shutdown()


def test_a_call_stuck_on_a_hung_drive_is_abandoned_once_stopping(monkeypatch: object) -> None:
    pool = Pool(2, "test")
    hang = threading.Event()
    pool.submit(hang.wait)
    warnings: list[str] = []
    pool_module.STUCK_GRACE, old = 0.2, pool_module.STUCK_GRACE
    try:
        start = time.monotonic()
        join_or_abandon(pool, lambda: True, warnings.append)
        assert time.monotonic() - start < 3
    finally:
        pool_module.STUCK_GRACE = old
        hang.set()
    assert len(warnings) == 1 and "1 file operation(s) were still blocked" in warnings[0]
    assert pool.join(5)
    pool.shutdown()


def test_a_task_that_raises_is_told_and_the_worker_lives_on() -> None:
    errors: list[Exception] = []
    pool = Pool(1, "test", on_error=errors.append)

    def broken() -> None:
        raise RuntimeError("a bug")

    ran = threading.Event()
    pool.submit(broken)
    pool.submit(ran.set)
    assert pool.join(5) and ran.is_set()
    assert [str(e) for e in errors] == ["a bug"]
    pool.shutdown()
