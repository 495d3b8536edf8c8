"""Kernel exit: a running job makes a final pass (bounded, with a message) before the process ends."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import tree

REPO = Path(__file__).resolve().parents[2]


def test_exit_makes_a_final_pass(local: Path, tmp_path: Path) -> None:
    drive = tmp_path / "drive"
    drive.mkdir()
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from drivewidget.sync import FolderDrive, keep_synced
        job = keep_synced(FolderDrive({str(drive)!r}), {str(local)!r}, "run", every=3600, settle=0.1)
        while job.last_synced is None:
            time.sleep(0.05)
        Path({str(local)!r}, "last.ckpt").write_bytes(b"written just before the kernel exits")
        time.sleep(0.2)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "final keep-in-sync pass before exit" in proc.stderr
    assert "final pass copied 1 file(s)" in proc.stderr
    assert tree(drive / "run") == tree(local)
