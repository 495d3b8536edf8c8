"""Let a small virtual environment see a bigger one's packages, its own winning.

    python3 -m venv .venv-ipywidgets7
    .venv-ipywidgets7/bin/pip install --no-deps ipywidgets==7.7.1 ...
    .venv-ipywidgets7/bin/python scripts/venv_overlay.py .venv

The tests run again with Colab's ipywidgets 7 without installing everything else twice:
a ``.pth`` file adds the base environment's site-packages (its own ``.pth`` files, such as
the editable install of drivewidget, included) AFTER this environment's, so the packages
installed here shadow the base's. Run it with the overlay environment's Python.
"""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path


def main(base_venv: str) -> None:
    base_python = Path(base_venv).resolve() / "bin" / "python"
    base_site = subprocess.run(
        [str(base_python), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    pth = Path(site.getsitepackages()[0]) / "zz-base-venv.pth"
    pth.write_text(f"import site; site.addsitedir({base_site!r})\n")
    rclone, here = Path(base_venv).resolve() / "bin" / "rclone", Path(sys.executable).parent / "rclone"
    if rclone.exists() and not here.exists():
        here.symlink_to(rclone)  # backends look for rclone beside the running Python
    print(f"{pth}: also sees {base_site}")


if __name__ == "__main__":
    main(sys.argv[1])
