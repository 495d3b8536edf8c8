"""A test fake of the ``google.colab`` package: only what ``drivewidget`` touches.

The real package (googlecolab/colabtools, not installable from PyPI) exists only inside a
Colab runtime. Tests put ``tests/fakes`` on ``sys.path`` (see ``tests/backends/conftest.py``)
to import this one instead; ``google`` stays a namespace package so other ``google.*``
distributions still import. Modules: :mod:`.drive` (``mount``, ``flush_and_unmount``),
:mod:`._message` (the frontend request channel, ``MessageError``) and :mod:`.errors`.
Like the real ``__init__``, importing the package imports ``drive``.
"""

from google.colab import drive

__all__ = ["drive"]
