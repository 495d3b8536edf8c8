"""Environment checks, kept in one place."""

from __future__ import annotations

import os

COLAB_MARKER = "/var/colab/hostname"
"""The file ``google.colab.drive`` itself checks before it agrees to mount."""


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return os.path.exists(COLAB_MARKER) or "COLAB_RELEASE_TAG" in os.environ
