"""A stand-in training loop with self-checking checkpoints, and a keep-synced job process.

Used by tests/sync/test_kill.py and benchmarks/bench_keep_synced.py::

    python -m tests.sync.checkpoints loop LOCAL LOG [--size N] [--write-time S] [--gap S]
    python -m tests.sync.checkpoints job LOCAL DRIVE [--every S] [--settle S]

A checkpoint is ``MAGIC | seq (8 bytes) | payload length (8) | sha256(payload) (32) | payload``:
a file that is torn, short, or a mix of two versions fails :func:`check`. The loop rewrites
``ckpt/model.pt`` and ``ckpt/optim.pt`` *in place* (truncate, then slow chunked writes, like
``torch.save`` into an open file) and ``metrics.json``, then appends ``seq wall-time`` to LOG
(fsynced) once the round is finished; every 5th round also writes a new ``ckpt/step-<seq>.pt``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

MAGIC = b"DWCKPT01"
HEADER = struct.Struct(">8sQQ32s")


def make(seq: int, size: int) -> bytes:
    payload = (hashlib.sha256(f"{seq}".encode()).digest() * (size // 32 + 1))[:size]
    return HEADER.pack(MAGIC, seq, len(payload), hashlib.sha256(payload).digest()) + payload


def check(data: bytes) -> int | None:
    """The checkpoint's sequence number, or None when it is torn, short or mixed."""
    if len(data) < HEADER.size:
        return None
    magic, seq, length, digest = HEADER.unpack_from(data)
    payload = data[HEADER.size :]
    if magic != MAGIC or len(payload) != length or hashlib.sha256(payload).digest() != digest:
        return None
    return int(seq)


def write_in_place(path: Path, data: bytes, write_time: float, chunks: int = 16) -> None:
    """Truncate and rewrite ``path`` slowly, so a copy taken meanwhile is torn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    step = max(1, len(data) // chunks)
    with open(path, "wb", buffering=0) as handle:
        for offset in range(0, len(data), step):
            handle.write(data[offset : offset + step])
            time.sleep(write_time / chunks)


def last_seq(log: Path) -> int:
    try:
        lines = log.read_text().split("\n")
    except FileNotFoundError:
        return 0
    done = [int(line.split()[0]) for line in lines if len(line.split()) == 2]
    return max(done, default=0)


def finished(log: Path) -> list[tuple[int, float]]:
    """(seq, wall time) of every round the loop finished."""
    try:
        text = log.read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.split("\n"):
        parts = line.split()
        if len(parts) == 2:
            out.append((int(parts[0]), float(parts[1])))
    return out


def run_loop(local: Path, log: Path, size: int, write_time: float, gap: float) -> None:
    seq = last_seq(log)
    while True:
        seq += 1
        write_in_place(local / "ckpt" / "model.pt", make(seq, size), write_time)
        write_in_place(local / "ckpt" / "optim.pt", make(seq, size // 2), write_time / 2)
        write_in_place(local / "metrics.json", make(seq, 200), 0.01, chunks=2)
        if seq % 5 == 0:
            write_in_place(local / "ckpt" / f"step-{seq:05d}.pt", make(seq, size // 4), write_time / 4)
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{seq} {time.time():.3f}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        time.sleep(gap)


def run_job(local: str, drive: str, every: float, settle: float) -> None:
    from drivewidget.sync import FolderDrive, keep_synced

    job = keep_synced(FolderDrive(drive), local, "run", every=every, settle=settle, confirm_uploads=False)
    done = threading.Event()

    def stop(*_: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("started", flush=True)
    done.wait()
    result = job.stop(flush=True)
    print("stopped", result.summary() if result else "", flush=True)


REPO = Path(__file__).resolve().parents[2]


class Torture:
    """Run the loop and a job as processes, kill -9 them at random moments, check the drive.

    ``violations`` lists every file found on the drive that is neither a complete checkpoint
    nor a copy of a local file the loop left torn when it was killed (that one is the local
    truth); ``lags`` every measured delay between a round finishing locally and the drive
    holding it (or a newer one), taken only while the job has run for ``every + slack``.
    """

    def __init__(
        self,
        root: Path,
        *,
        every: float,
        slack: float,
        size: int = 1 << 20,
        write_time: float = 0.3,
        gap: float = 1.5,
        settle: float = 0.5,
        drive: Path | None = None,
    ) -> None:
        self.root, self.every, self.slack, self.settle = root, every, slack, settle
        self.size, self.write_time, self.gap = size, write_time, gap
        self.local, self.log = root / "local", root / "log"
        self.drive = drive if drive is not None else root / "drive"
        self.dest = self.drive / "run"
        self.warmup = every + 2.0 + settle
        """A restarted job's first pass (a full scan and one listing of the drive) comes first."""
        self.local.mkdir(parents=True, exist_ok=True)
        self.drive.mkdir(parents=True, exist_ok=True)
        self.torn_local: set[bytes] = set()
        self.violations: list[str] = []
        self.lags: list[float] = []
        self.kills = {"job": 0, "loop": 0}
        self.checks = 0
        self.leftovers_seen = 0
        self.job: subprocess.Popen[bytes] | None = None
        self.loop: subprocess.Popen[bytes] | None = None
        self.job_started = 0.0

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        cmd = [sys.executable, "-m", "tests.sync.checkpoints", *args]
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def start_job(self) -> None:
        assert self.job is None, "one job process at a time"
        self.job = self._spawn(
            "job", str(self.local), str(self.drive), "--every", str(self.every), "--settle", str(self.settle)
        )
        self.job_started = time.monotonic()

    def start_loop(self) -> None:
        assert self.loop is None, "one loop process at a time"
        self.loop = self._spawn(
            "loop",
            str(self.local),
            str(self.log),
            "--size",
            str(self.size),
            "--write-time",
            str(self.write_time),
            "--gap",
            str(self.gap),
        )

    def kill(self, which: str) -> None:
        proc = self.job if which == "job" else self.loop
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.kills[which] += 1
        if which == "loop":  # what a dying writer left locally is the local truth now
            for path in self.local.rglob("*"):
                if path.is_file():
                    data = path.read_bytes()
                    if check(data) is None:
                        self.torn_local.add(hashlib.sha256(data).digest())
            self.loop = None
        else:
            self.job = None

    def check_drive(self) -> None:
        """Every visible file on the drive complete (or a faithful copy of a torn local one);
        the newest complete round no older than allowed."""
        now_wall, now = time.time(), time.monotonic()
        newest = 0
        self.checks += 1
        for path in sorted(self.dest.rglob("*")) if self.dest.exists() else []:
            if not path.is_file():
                continue
            if path.name.startswith(".dw-"):
                self.leftovers_seen += 1
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # replaced between the listing and the read
            seq = check(data)
            if seq is None:
                if hashlib.sha256(data).digest() not in self.torn_local:
                    self.violations.append(f"{path.relative_to(self.dest)}: torn ({len(data)} bytes)")
            else:
                newest = max(newest, seq)
        job_up = self.job is not None and now - self.job_started >= self.warmup
        if job_up:
            newer = [t for seq, t in finished(self.log) if seq > newest]
            lag = now_wall - min(newer) if newer else 0.0
            self.lags.append(lag)
            if lag > self.every + self.slack:
                self.violations.append(f"round {newest + 1} finished {lag:.1f} s ago and is not on the drive")

    def run(self, rounds: int, seed: int, max_interval: float = 4.0, steady: float = 0.0) -> None:
        """``rounds`` of kill -9 at random moments, then ``steady`` seconds without kills."""
        rng = random.Random(seed)
        try:
            for _ in range(rounds):
                if self.job is None:
                    self.start_job()
                if self.loop is None:
                    self.start_loop()
                end = time.monotonic() + rng.uniform(0.3, max_interval)
                while time.monotonic() < end:
                    self.check_drive()
                    time.sleep(0.1)
                for which in rng.choice((("job",), ("loop",), ("job", "loop"))):
                    self.kill(which)
            if steady:
                if self.job is None:
                    self.start_job()
                if self.loop is None:
                    self.start_loop()
                end = time.monotonic() + self.warmup + steady
                while time.monotonic() < end:
                    self.check_drive()
                    time.sleep(0.1)
        finally:
            self.kill("loop")

    def finish(self, timeout: float = 60.0) -> str:
        """Start a job on the quiet folder, stop it cleanly (final pass); its output."""
        if self.job is None:
            self.start_job()
        assert self.job is not None and self.job.stdout is not None
        self.job.stdout.readline()  # "started"
        time.sleep(self.settle + 0.2)
        self.job.send_signal(signal.SIGTERM)
        out, _ = self.job.communicate(timeout=timeout)
        self.job = None
        return out.decode(errors="replace")

    def close(self) -> None:
        for which in ("job", "loop"):
            self.kill(which)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    loop = sub.add_parser("loop")
    loop.add_argument("local", type=Path)
    loop.add_argument("log", type=Path)
    loop.add_argument("--size", type=int, default=1 << 20)
    loop.add_argument("--write-time", type=float, default=0.3)
    loop.add_argument("--gap", type=float, default=1.5)
    job = sub.add_parser("job")
    job.add_argument("local")
    job.add_argument("drive")
    job.add_argument("--every", type=float, default=2.0)
    job.add_argument("--settle", type=float, default=0.5)
    args = parser.parse_args(argv)
    if args.cmd == "loop":
        run_loop(args.local, args.log, args.size, args.write_time, args.gap)
    else:
        run_job(args.local, args.drive, args.every, args.settle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
