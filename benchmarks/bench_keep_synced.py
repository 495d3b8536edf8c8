"""Keep-synced: changed files only, idle cost, and kill -9 safety, measured side by side.

Three measurements, each printed with its target:

1. **Ten changed files in a big folder** (over a 40 ms round trip). The drive is
   ``rclone serve webdav`` behind the staging benchmark's delay line (``_delayline.py``),
   mounted with drivewidget's :class:`RcloneBackend`. Two jobs on the same mount: one keeps a
   folder of 10,000 files in sync, the other a folder of 10 files (both already on the drive,
   so their first pass only lists the drive). Then 10 files change in each, and a pass
   (``job.sync_now()``, upload confirmed) is timed; medians of a few rounds, interleaved.
   Target: the 10,000-file folder within 3x the 10-file folder (a pass copies what changed,
   it does not rescan the drive or upload everything). A full upload of the 10,000 files is
   estimated from the 10-file time for reference.
2. **Idle cost**: a job on a 10,000-file folder with nothing changing, its process's CPU
   time over ``--idle-seconds`` divided by the wall time. Target < 1 % of one core.
3. **kill -9**: the stand-in training loop of ``tests/sync/checkpoints.py`` rewrites
   self-checking checkpoints in place while a job process syncs them into a real rclone FUSE
   mount; both are killed at random moments ``--rounds`` times. Targets: no torn or partial
   file ever seen on the drive; the newest complete checkpoint there at most ``every`` + 3 s
   older than the newest finished locally; after a clean ``stop(flush=True)`` the drive
   folder is byte-identical to the local one.

Needs root, /dev/net/tun, iproute2 and fusermount3 for part 1 (skipped otherwise), fusermount3
for part 3 (falls back to a plain folder). Removes its mounts, namespaces and files.

    sudo python benchmarks/bench_keep_synced.py [--quick] [--delay-ms 20] [--rounds 40]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _delayline import DelayNet  # noqa: E402

from drivewidget.backends._process import find_program  # noqa: E402
from drivewidget.backends.rclone import RcloneBackend, rclone_version  # noqa: E402
from drivewidget.controller import DriveController  # noqa: E402
from drivewidget.sync import FolderDrive, SyncJob, keep_synced  # noqa: E402
from tests.sync.checkpoints import Torture  # noqa: E402

PORT = 8081
REPEAT = 3


def build(root: Path, folders: int, per_folder: int, size: int = 1024) -> None:
    for d in range(folders):
        folder = root / f"f{d:03d}"
        folder.mkdir(parents=True)
        for f in range(per_folder):
            (folder / f"file{f:04d}.bin").write_bytes(os.urandom(size))


def change(root: Path, count: int) -> None:
    """Rewrite ``count`` files spread over the folder (dated a little back: quiet at once)."""
    files = sorted(p for p in root.rglob("*.bin"))
    step = max(1, len(files) // count)
    for path in files[::step][:count]:
        path.write_bytes(os.urandom(1024))


def wait_first_pass(job: SyncJob, timeout: float = 600) -> None:
    end = time.monotonic() + timeout
    while job.last_synced is None:
        if time.monotonic() > end:
            raise SystemExit(f"first pass of {job.local} did not finish: {job.error}")
        time.sleep(0.1)
    if job.error:
        raise SystemExit(f"first pass of {job.local}: {job.error}")


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> float:
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


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- 1. ten changed files ------------------------------------------------------------------------


def changed_files(work: Path, program: str, delay: float, n_big: int) -> tuple[float, float, float] | str:
    why = DelayNet.available() or ("" if find_program("fusermount3") else "needs fusermount3 (fuse3)")
    if why:
        return why
    served = work / "served"
    build(served / "big", n_big // 100, 100)
    build(served / "small", 1, 10)
    local_big, local_small = work / "local_big", work / "local_small"
    shutil.copytree(served / "big", local_big)  # copy2: same times, so the first pass copies nothing
    shutil.copytree(served / "small", local_small)
    with DelayNet(delay=delay) as net:
        net.spawn_server(
            [
                program,
                "serve",
                "webdav",
                str(served),
                "--addr",
                f"{net.server_addr}:{PORT}",
                "--log-level",
                "ERROR",
            ]
        )
        net.enter_client()
        ctrl: DriveController | None = None
        try:
            rtt = wait_for_port(net.server_addr, PORT)
            print(f"  round trip through the delay line: {rtt * 1e3:.0f} ms", flush=True)
            remote = f":webdav,url='http://{net.server_addr}:{PORT}',pacer_min_sleep=0:"
            ctrl = DriveController(RcloneBackend(remote), mountpoint=work / "mnt")
            ctrl.mount()
            t0 = time.perf_counter()
            big = keep_synced(ctrl, local_big, "big", every=3600)
            wait_first_pass(big)
            first = time.perf_counter() - t0
            assert big.last_result is not None
            print(
                f"  first pass over {n_big} files already on the drive: {first:.1f} s "
                f"(copied {big.last_result.copied}, one listing per folder)",
                flush=True,
            )
            small = keep_synced(ctrl, local_small, "small", every=3600)
            wait_first_pass(small)
            t_big, t_small = [], []
            for _ in range(REPEAT):
                for job, root, times in ((small, local_small, t_small), (big, local_big, t_big)):
                    change(root, 10)
                    time.sleep(job.options.settle + 0.1)
                    t = time.perf_counter()
                    result = job.sync_now()
                    times.append(time.perf_counter() - t)
                    if result.copied != 10 or not result.ok:
                        raise SystemExit(f"pass over {root.name}: {result.summary()} {result.errors[:3]}")
            big.stop(flush=False)
            small.stop(flush=False)
            return median(t_big), median(t_small), first
        finally:
            if ctrl is not None:
                if ctrl.refresh() in ("mounted", "stale"):
                    ctrl.unmount()
                ctrl.close()
            net.leave_client()


# -- 2. idle cost ----------------------------------------------------------------------------------


def idle_cost(work: Path, n_files: int, seconds: float) -> tuple[float, float]:
    local, drive = work / "idle_local", work / "idle_drive"
    build(local, n_files // 100, 100, size=64)
    drive.mkdir()
    baseline_cpu, t = cpu(), time.perf_counter()
    time.sleep(seconds / 3)
    baseline = (cpu() - baseline_cpu) / (time.perf_counter() - t)
    job = keep_synced(FolderDrive(drive), local, "run", every=60)
    wait_first_pass(job)
    time.sleep(2)  # the first pass's threads wind down
    c0, t0 = cpu(), time.perf_counter()
    time.sleep(seconds)
    share = (cpu() - c0) / (time.perf_counter() - t0)
    job.stop(flush=False)
    return share, baseline


# -- 3. kill -9 ------------------------------------------------------------------------------------


def digest_tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            out[str(path.relative_to(root))] = hashlib.sha1(path.read_bytes()).hexdigest()
    return out


def kill_rounds(work: Path, program: str | None, rounds: int, every: float) -> tuple[Torture, str, str, bool]:
    drive_dir = work / "torture_drive"
    mnt = work / "torture_mnt"
    ctrl: DriveController | None = None
    where = "a plain folder"
    if program and find_program("fusermount3") and os.path.exists("/dev/fuse"):
        drive_dir.mkdir()
        ctrl = DriveController(RcloneBackend(str(drive_dir)), mountpoint=mnt)
        ctrl.mount()
        where = "an rclone FUSE mount"
    torture = Torture(work / "torture", every=every, slack=3.0, drive=mnt if ctrl else None)
    try:
        torture.run(rounds=rounds, seed=int.from_bytes(os.urandom(4), "big"), max_interval=8.0, steady=10.0)
        out = torture.finish()
        identical = digest_tree(torture.dest) == digest_tree(torture.local)
    finally:
        torture.close()
        if ctrl is not None:
            if ctrl.refresh() in ("mounted", "stale"):
                ctrl.unmount()
            ctrl.close()
    return torture, where, out, identical


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 files, 8 kill rounds, 10 s idle")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="delay each way (default 20: 40 ms RTT)")
    parser.add_argument("--rounds", type=int, default=40, help="kill -9 rounds")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=2.0, help="the job's interval in the kill rounds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args, _ = parser.parse_known_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    n_files = 1000 if args.quick else 10_000
    rounds = 8 if args.quick else args.rounds
    idle_seconds = 10.0 if args.quick else args.idle_seconds
    program = find_program("rclone")
    work = Path(tempfile.mkdtemp(prefix="dw-bench-keep-synced-"))
    version = ".".join(map(str, rclone_version(program))) if program else "none"
    print(f"rclone {version}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    ok = True
    started = time.monotonic()
    try:
        print(f"1. {n_files} files, 10 changed, over a {2 * args.delay_ms:.0f} ms round trip", flush=True)
        measured = changed_files(work, program, args.delay_ms / 1000, n_files) if program else "needs rclone"
        print(f"2. idle job on {n_files} files for {idle_seconds:.0f} s", flush=True)
        idle, baseline = idle_cost(work, n_files, idle_seconds)
        print(f"3. kill -9 rounds: {rounds}", flush=True)
        torture, where, out, identical = kill_rounds(work, program, rounds, args.every)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print()
    if isinstance(measured, str):
        print(f"10 changed files: skipped ({measured})")
    else:
        t_big, t_small, first = measured
        ratio = t_big / t_small
        verdict = "OK" if ratio <= 3 else "MISSED"
        ok = ok and ratio <= 3
        print(
            f"10 changed of {n_files:>6} files: {t_big:6.2f} s   10 changed of 10 files: {t_small:6.2f} s   "
            f"ratio {ratio:4.2f}x (target <= 3x: {verdict})"
        )
        print(
            f"   (a full upload of {n_files} files would take about {t_small * n_files / 10:.0f} s at the 10-file "
            f"rate; the first pass over them, all already there, took {first:.1f} s)"
        )
    verdict = "OK" if idle < 0.01 else "MISSED"
    ok = ok and idle < 0.01
    print(
        f"idle job, {n_files} files, nothing changing: {100 * idle:.3f} % of one core "
        f"(process without a job: {100 * baseline:.3f} %) (target < 1 %: {verdict})"
    )
    lags = sorted(torture.lags)
    max_lag = lags[-1] if lags else float("nan")
    p95 = lags[int(0.95 * (len(lags) - 1))] if lags else float("nan")
    bound = args.every + 3.0
    clean = not torture.violations
    in_time = bool(lags) and max_lag <= bound
    ok = ok and clean and in_time
    print(
        f"kill -9 on {where}: {torture.kills['job']} job kills, {torture.kills['loop']} loop kills, "
        f"{torture.checks} checks of the drive: {len(torture.violations)} torn/partial files "
        f"(target 0: {'OK' if clean else 'MISSED'})"
    )
    for line in torture.violations[:5]:
        print(f"   {line}")
    print(
        f"   newest complete checkpoint on the drive behind the newest finished locally: p95 {p95:.1f} s, "
        f"max {max_lag:.1f} s (target <= every + 3 = {bound:.0f} s: {'OK' if in_time else 'MISSED'}); "
        f"hidden temporary files seen mid-copy: {torture.leftovers_seen}"
    )
    ok = ok and identical
    print(
        f"   after a clean stop(flush=True) the drive folder is byte-identical to the local one: "
        f"{'yes' if identical else 'NO'} ({out.strip().splitlines()[-1] if out.strip() else 'no output'})"
    )
    print(f"total benchmark time {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
