"""How cheap is one status sample? Measured side by side in one run.

With ``nvidia-smi`` on PATH: one full status sample (drive state, drive space, VM disk, RAM,
runtime, every GPU through NVML) against one
``nvidia-smi --query-gpu=name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw
--format=csv`` subprocess, which is what a naive GPU widget runs per refresh. Target: >= 1000x.

Without it: the system + mount part of a sample (no GPU) against the 1 ms target.

Both the one-shot ``take_sample`` (a fresh deadline-bounded statfs of the drive every time) and
the live ``StatusSampler`` (drive space cached for a few seconds) are measured. The drive is a
local folder served by ``LocalBackend`` (no root, nothing mounted): the cost measured is ours,
not a cloud's. Runs in well under 30 s.

    python benchmarks/bench_status.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivewidget.backends.local import LocalBackend
from drivewidget.controller import DriveController
from drivewidget.status.gpu import GpuStatus, default_nvml
from drivewidget.status.sample import StatusSampler, take_sample

SMI_QUERY = [
    "--query-gpu=name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw",
    "--format=csv",
]
TARGET_RATIO = 1000.0
TARGET_SAMPLE_S = 1e-3


def per_call(fn: Callable[[], object], *, budget_s: float = 2.0, batches: int = 7) -> float:
    """Median seconds per call over ``batches`` batches sized to fill ``budget_s`` in total."""
    fn()  # warm up (lazy imports, NVML init, caches)
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    per_batch = max(1, int(budget_s / batches / one))
    results = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(per_batch):
            fn()
        results.append((time.perf_counter() - t0) / per_batch)
    return statistics.median(results)


def fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def main() -> int:
    no_gpu = lambda: GpuStatus(0.0, False)  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "drive"
        folder.mkdir()
        (folder / "data").mkdir()
        ctrl = DriveController(LocalBackend(folder, bind=False), mountpoint=Path(tmp) / "mnt")
        ctrl.mount()
        assert ctrl.state == "mounted", ctrl.state
        sampler = StatusSampler(ctrl, gpu_source=no_gpu)
        print(f"python {sys.version.split()[0]}, drive: {ctrl.backend.describe()}")

        one_shot = per_call(lambda: take_sample(ctrl, gpu_source=no_gpu))
        live = per_call(sampler.sample)
        print(f"system + mount sample, one-shot take_sample: {fmt(one_shot)}")
        print(f"system + mount sample, StatusSampler.sample: {fmt(live)}")

        smi = shutil.which("nvidia-smi")
        nvml = default_nvml()
        if smi is None or not nvml.is_available():
            why = "no nvidia-smi on PATH" if smi is None else f"NVML unavailable ({nvml.reason or 'no GPU'})"
            print(f"{why}: comparing with the {fmt(TARGET_SAMPLE_S)} target instead")
            for label, cost in (("one-shot", one_shot), ("live", live)):
                ratio = TARGET_SAMPLE_S / cost
                verdict = "OK" if cost < TARGET_SAMPLE_S else "MISSED"
                print(f"  {label}: {ratio:.1f}x under the 1 ms target ({verdict})")
            return 0

        status = nvml.sample()
        print(f"GPUs: {', '.join(g.name for g in status.gpus)}")
        gpu_only = per_call(nvml.sample)
        full_live = per_call(StatusSampler(ctrl).sample)
        full_shot = per_call(lambda: take_sample(ctrl))

        def run_smi() -> None:
            subprocess.run([smi, *SMI_QUERY], capture_output=True, check=True)

        smi_cost = per_call(run_smi, budget_s=6.0, batches=5)
        print(f"nvidia-smi --query-gpu subprocess:           {fmt(smi_cost)}")
        print(f"NVML readings only (all GPUs):              {fmt(gpu_only)}  -> {smi_cost / gpu_only:,.0f}x")
        print(
            f"full status sample, StatusSampler.sample:   {fmt(full_live)}  -> {smi_cost / full_live:,.0f}x"
        )
        print(
            f"full status sample, one-shot take_sample:   {fmt(full_shot)}  -> {smi_cost / full_shot:,.0f}x"
        )
        ratio = smi_cost / full_live
        verdict = "OK" if ratio >= TARGET_RATIO else "MISSED"
        print(f"target >= {TARGET_RATIO:,.0f}x for the live sample: {ratio:,.0f}x ({verdict})")
        ctrl.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
