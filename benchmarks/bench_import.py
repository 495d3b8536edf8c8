"""What does ``import drivewidget`` cost a notebook? Fresh interpreters, side by side, one run.

Each case runs in a new ``python -c`` that times only its import statement (interpreter
start-up excluded); cases are interleaved round-robin so drift hits them alike, and the median
of N runs is reported. ``import ipywidgets`` is the yardstick: every notebook with widgets pays
it anyway. Target: ``import drivewidget`` adds < 100 ms, and imports none of psutil, pynvml,
ipywidgets (they load on first use). Runs in well under 30 s.

    python benchmarks/bench_import.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_ADDED_S = 0.100

CASES = {
    "import ipywidgets": "import ipywidgets",
    "import drivewidget": "import drivewidget",
    "import drivewidget + status + CLI": "import drivewidget, drivewidget.status.sample, drivewidget.cli",
    "from drivewidget import DriveController": "from drivewidget import DriveController",
    "ipywidgets, then drivewidget": "import ipywidgets\n__T0 = __import__('time').perf_counter()\nimport drivewidget",
}

TEMPLATE = """\
import time, sys
__T0 = time.perf_counter()
{code}
print(time.perf_counter() - __T0)
print(','.join(m for m in ('psutil', 'pynvml', 'ipywidgets', 'traitlets') if m in sys.modules))
"""


def run(code: str) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    out = subprocess.run(
        [sys.executable, "-c", TEMPLATE.format(code=code)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    lines = out.stdout.splitlines()
    return float(lines[0]), (lines[1] if len(lines) > 1 else "")


def main(n: int = 9) -> int:
    # panel import, if the UI exists yet
    probe = subprocess.run(
        [sys.executable, "-c", "import drivewidget.ui.panel"], capture_output=True, cwd=ROOT
    )
    cases = dict(CASES)
    if probe.returncode == 0:
        cases["from drivewidget import DrivePanel"] = "from drivewidget import DrivePanel"
        cases["ipywidgets, then DrivePanel"] = (
            "import ipywidgets\n__T0 = __import__('time').perf_counter()\nfrom drivewidget import DrivePanel"
        )
    times: dict[str, list[float]] = {name: [] for name in cases}
    loaded: dict[str, str] = {}
    for code in cases.values():  # warm the file cache
        run(code)
    for _ in range(n):
        for name, code in cases.items():
            seconds, modules = run(code)
            times[name].append(seconds)
            loaded[name] = modules
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"python {sys.version.split()[0]}, median of {n} fresh interpreters (import statement only)")
    for name in cases:
        print(f"  {name:42s} {med[name] * 1e3:7.1f} ms   loads: {loaded[name] or '-'}")
    ipw, dw = med["import ipywidgets"], med["import drivewidget"]
    print(f"import drivewidget / import ipywidgets: {dw / ipw:.3f}  ({ipw / dw:.0f}x cheaper)")
    added = med["ipywidgets, then drivewidget"]
    verdict = "OK" if dw < TARGET_ADDED_S else "MISSED"
    print(
        f"added by import drivewidget: {dw * 1e3:.1f} ms alone, {added * 1e3:.1f} ms after ipywidgets "
        f"(target < {TARGET_ADDED_S * 1e3:.0f} ms: {verdict})"
    )
    heavy = [m for m in loaded["import drivewidget"].split(",") if m in ("psutil", "pynvml", "ipywidgets")]
    print(f"heavy modules loaded by import drivewidget: {', '.join(heavy) or 'none'}")
    return 0 if not heavy and dw < TARGET_ADDED_S else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 9))
