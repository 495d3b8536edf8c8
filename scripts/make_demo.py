"""Regenerate demo.ipynb (kept in the repository; run this after editing the cells below)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    new_markdown_cell(
        "# drivewidget demo\n\n"
        "One panel to mount your drive, pick the folder you work in, and see your GPU.\n"
        "This demo uses the embedded **local folder** backend, so it needs no cloud account: "
        "set `DRIVEWIDGET_BACKEND` to `colab`, `rclone` or `ocamlfuse` to use a real drive."
    ),
    new_code_cell(
        "import os\n"
        "os.environ.setdefault('DRIVEWIDGET_BACKEND', 'local')\n\n"
        "from drivewidget.demo import seed_demo_drive\n"
        "demo_drive = seed_demo_drive()  # a few example folders in the local drive, if it is empty"
    ),
    new_markdown_cell(
        "## The panel\n\nClick **Mount Drive**, then **Change folder** to choose a folder: the kernel's working directory follows."
    ),
    new_code_cell("from drivewidget import DrivePanel\n\npanel = DrivePanel()\npanel"),
    new_markdown_cell(
        "## Scripting the controller\n\n"
        "Everything the panel does is available from code; the panel above follows along."
    ),
    new_code_cell(
        "ctrl = panel.controller\n"
        "ctrl.mount()\n"
        "print(ctrl.describe_state())\n"
        "ctrl.chdir('projects/mnist', add_to_sys_path=True)\n"
        "print('working directory:', os.getcwd())"
    ),
    new_code_cell("print(os.getcwd())"),
    new_markdown_cell(
        "Training reads many small files: copy the data to the VM's own disk first (fast, "
        "verified; a re-run skips what is already identical), and copy results back at the end."
    ),
    new_code_cell(
        "local = os.path.expanduser('~/local/mnist')\n"
        "print(ctrl.stage('projects/mnist', local).summary())\n"
        "print(ctrl.stage('projects/mnist', local).summary())  # again: nothing to copy"
    ),
    new_markdown_cell(
        "Bad input gets a clear message, never a traceback (the panel shows it too, until the "
        "next command succeeds):"
    ),
    new_code_cell(
        "from drivewidget import DriveError\n\n"
        "try:\n"
        "    ctrl.chdir('no/such/folder')\n"
        "except DriveError as exc:\n"
        "    print(type(exc).__name__, '-', exc)\n"
        "print('panel says:', panel.message)\n\n"
        "ctrl.chdir('projects/mnist');  # a command that succeeds clears the error"
    ),
    new_markdown_cell("The same status from a terminal (here, with this kernel's Python):"),
    new_code_cell("import sys\n\n!{sys.executable} -m drivewidget status"),
]


def main() -> None:
    notebook = new_notebook(cells=CELLS)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    path = Path(__file__).resolve().parent.parent / "demo.ipynb"
    nbformat.write(notebook, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
