"""Fake of ``google.colab.errors`` (colabtools google/colab/errors.py): Colab's error types."""


class Error(Exception):
    """Base class for all Colab errors."""


class AuthorizationError(Error):
    """Authorization-related failures."""
