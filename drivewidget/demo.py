"""Example content for the demo's local drive, so there is something to browse."""

from __future__ import annotations

import os
from pathlib import Path

from .backends import ENV_SOURCE
from .settings import default_local_folder

EXAMPLE_TREE = {
    "projects/mnist/data/README.txt": "Put training data here.\n",
    "projects/mnist/train.py": "print('training...')\n",
    "projects/thesis/notes.md": "# Notes\n",
    "datasets/README.txt": "Shared data sets.\n",
}


def seed_demo_drive(folder: str | os.PathLike[str] | None = None) -> Path:
    """Create a few example folders in the local drive if it is empty; returns the folder."""
    root = Path(folder or os.environ.get(ENV_SOURCE) or default_local_folder())
    root.mkdir(parents=True, exist_ok=True)
    if not any(root.iterdir()):
        for relative, text in EXAMPLE_TREE.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return root
