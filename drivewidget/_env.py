"""Environment checks (Colab or not, the working directory), kept in one place."""

from __future__ import annotations

import os

COLAB_MARKER = "/var/colab/hostname"
"""The file ``google.colab.drive`` itself checks before it agrees to mount."""


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return os.path.exists(COLAB_MARKER) or "COLAB_RELEASE_TAG" in os.environ


def current_dir() -> str:
    """The working directory, or "" when it cannot be read (deleted under us, e.g. by a sync
    from another machine): a kernel must never be stuck because of that."""
    try:
        return os.getcwd()
    except OSError:
        return ""
