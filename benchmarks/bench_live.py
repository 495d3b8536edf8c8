"""Idle cost of the panel's live refresh loop at the default interval (target: < 1% of one core).

Displays nothing (no browser), but runs the real loop: controller refresh, status sample,
widget updates. Measures this process's CPU time over the same wall time with the loop
running and with it paused, side by side, and prints the share of one core.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from drivewidget import DriveController, DrivePanel
from drivewidget.backends.local import LocalBackend
from drivewidget.ui.live import DEFAULT_INTERVAL


def cpu_share(seconds: float) -> float:
    wall0, cpu0 = time.monotonic(), time.process_time()
    time.sleep(seconds)
    return (time.process_time() - cpu0) / (time.monotonic() - wall0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time per phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.makedirs(os.path.join(folder, "project"))
        ctrl = DriveController(LocalBackend(folder, bind=False))
        ctrl.mount()
        panel = DrivePanel(ctrl, refresh_interval=DEFAULT_INTERVAL)
        try:
            panel.pause()
            idle = cpu_share(args.seconds)
            panel.resume()
            live = cpu_share(args.seconds)
        finally:
            panel.close()
    added = max(0.0, live - idle)
    print(f"interval {DEFAULT_INTERVAL:g} s, {args.seconds:g} s per phase")
    print(f"CPU share paused: {idle * 100:.3f}% of one core")
    print(f"CPU share live:   {live * 100:.3f}% of one core")
    print(
        f"added by the loop: {added * 100:.3f}% of one core (target < 1%): {'OK' if added < 0.01 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
