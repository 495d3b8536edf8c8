"""``python -m drivewidget``: the command line (see :mod:`drivewidget.cli`)."""

import sys

from ._safe_start import drop_working_folder

if __name__ == "__main__":
    drop_working_folder()  # nothing is imported from where the user happens to be (a hung drive?)
    from .cli import main

    sys.exit(main())
