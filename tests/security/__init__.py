"""Attacks on drivewidget by someone who can write to a shared drive folder, one test each.

Drive folders are shared (collaborators, Shared drives, "Shared with me"), so everything on
the drive is treated as untrusted input: names, symlinks, FIFOs, devices, and the settings
file. Each module below is one surface; each test's name and docstring say the attack and
what must hold. They run against the local backend as a bind mount (as root, where the
drive shows symlinks, FIFOs and devices exactly as rclone ``--links`` and ocamlfuse do)
and, where the attack needs a real FUSE daemon (a hung drive), against ``rclone mount``.

* ``test_settings_file``     the shared ``.drivewidget.json``: planted links, FIFOs, devices,
                             huge, nested, non-UTF-8, changing while read, hard-linked
* ``test_remembered_folder`` the remembered folder pointing outside the drive
* ``test_chdir``             choosing folders: ``..``, ``~``, absolute paths, NUL, links out,
                             a folder swapped for a link between check and use
* ``test_transfer``          stage / sync_back through planted links, loops, FIFOs, devices,
                             temporary names, swapped folders, destinations on the drive
* ``test_chooser``           the folder chooser: links out, loops, odd names
* ``test_hung_drive``        a drive whose daemon is stopped: unmount with the drive on
                             sys.path, the command line started from a folder on it
* ``test_connect``           credentials in URLs, remotes named like options
* ``test_package``           properties of the whole package (no shell, private modes)
"""
