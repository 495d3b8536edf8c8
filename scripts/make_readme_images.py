"""Render the README's pictures of the panel (docs/panel-light.png, docs/panel-dark.png).

Runs the browser test ``tests/browser/test_face.py::test_readme_images`` with
DRIVEWIDGET_README_IMAGES=1: a real JupyterLab and Chromium, the panel mounted at
/content/drive (a local folder bind-mounted there, so root is needed) with
MyDrive/projects/mnist chosen, and an example GPU through the package's fake NVML. Re-run it
whenever the panel's face changes, so the pictures stay current.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    env = {**os.environ, "DRIVEWIDGET_README_IMAGES": "1"}
    test = "tests/browser/test_face.py::test_readme_images"
    return subprocess.call(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", test], cwd=REPO, env=env
    )


if __name__ == "__main__":
    sys.exit(main())
