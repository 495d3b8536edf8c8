"""'Keep in sync': keep a local folder copied to the drive while a run writes it, from the panel.

A toggle starts :func:`drivewidget.sync.keep_synced` (local folder, drive folder, interval)
and stops it with a final pass; the section shows when the job last synced, how many files
are pending and its last problem in words. Jobs outlive panels: running the cell again
shows the job that is already running (the registry has one job per pair of folders),
never a second one. On Colab, when the runtime's time left is short, it says when the last
pass was and offers "Sync now".
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .._env import current_dir
from ..controller import DriveController
from ..errors import DriveError, from_os_error
from ..sync import SyncJob, adopt_jobs, keep_synced
from ..text import display_name, format_duration, printable
from ..userpaths import names_the_drive
from .actions import Report, explain
from .tree import close_tree

if TYPE_CHECKING:
    from ..status.sample import StatusSample
    from .panel import DrivePanel

__all__ = ["DEFAULT_LOCAL", "SHORT_TIME_LEFT", "SyncView", "sync_section"]

DEFAULT_LOCAL = "/content/run" if os.path.isdir("/content") else "~/run"
SHORT_TIME_LEFT = 30 * 60.0
"""Seconds of Colab runtime left below which the section warns and offers "Sync now"."""
EVERY_RANGE = (5, 24 * 3600)
"""Seconds between passes the panel accepts (a value outside is refused in words, not clamped)."""


def sync_section(panel: DrivePanel) -> SyncView:
    """The factory of the "Keep in sync" section under More (see :mod:`.more`)."""
    view = SyncView(panel.controller, panel.message.show)
    panel.follow(view)
    return view


class SyncView(widgets.VBox):  # type: ignore[misc]
    """Start, watch and stop one keep-synced job of the panel's drive."""

    def __init__(self, controller: DriveController, report: Report, **kwargs: Any) -> None:
        self.controller = controller
        self._report = report
        self.job: SyncJob | None = None
        self._stopping = False
        self._create_asked = ""  # a missing local folder the user was asked about (click again: create)
        self._shown_paths: dict[
            str, str
        ] = {}  # text shown in a box -> the real path (names may not be UTF-8)
        self._warned_time_left = False
        self.local_box = widgets.Text(
            placeholder=f"Local folder your run writes (e.g. {DEFAULT_LOCAL})",
            layout=widgets.Layout(flex="1 1 auto", width="auto"),
        )
        self.drive_box = widgets.Text(
            placeholder="Drive folder (default: the working folder)",
            layout=widgets.Layout(flex="1 1 auto", width="auto"),
        )
        self.every_box = widgets.IntText(
            value=60, description="every (s)", layout=widgets.Layout(width="150px")
        )
        self.toggle = widgets.ToggleButton(
            value=False,
            description="Keep in sync",
            icon="refresh",
            tooltip="While your run writes the local folder, copy what changed to the drive at each interval "
            "(each file once it stops changing)",
            layout=widgets.Layout(width="auto"),
        )
        self.sync_now_button = widgets.Button(
            description="Sync now", icon="upload", layout=widgets.Layout(width="auto")
        )
        self.status = widgets.Label()
        self.warning = widgets.Label(layout=widgets.Layout(display="none"))
        self.toggle.observe(self._toggled, names="value")
        self.sync_now_button.on_click(lambda _: self.sync_now())
        super().__init__(
            [
                widgets.HBox([self.local_box, self.drive_box]),
                widgets.HBox([self.toggle, self.every_box, self.sync_now_button]),
                self.status,
                self.warning,
            ],
            **kwargs,
        )
        running = adopt_jobs(controller)  # the cell ran again: show (and hold) the running job
        if running:
            self._attach(running[-1])
        self._render()

    # -- actions -----------------------------------------------------------------------

    def start(self) -> SyncJob | None:
        """Start (or find the running) job for the folders in the boxes."""
        ctrl = self.controller
        typed = self.local_box.value.strip()
        if not typed:
            self._report(f"Type the local folder your run writes (for example {DEFAULT_LOCAL}).", "warning")
            return None
        local = os.path.expanduser(self._shown_paths.get(typed, typed))
        drive_folder = self.drive_box.value.strip()
        drive_folder = self._shown_paths.get(drive_folder, drive_folder) or self._default_drive_folder()
        if not drive_folder:
            self._report(
                "Choose a folder on the mounted drive (or type one) to keep in sync into.", "warning"
            )
            return None
        every, (low, high) = self.every_box.value, EVERY_RANGE
        if not low <= every <= high:
            self._report(
                f"'every' must be between {low} s and {format_duration(high)}; {every} s is not.", "warning"
            )
            return None
        created = self._is_missing_local(local)
        if created and self._create_asked != local:  # a typo must not quietly sync an empty folder
            self._create_asked = local
            self._report(
                f"{printable(local)} does not exist. Click Keep in sync again to create it and keep it in sync, "
                "or correct the path.",
                "warning",
            )
            return None
        self._create_asked = ""
        try:
            job = keep_synced(ctrl, local, drive_folder, every=float(every))
        except (DriveError, ValueError) as exc:
            self._report(explain(exc), "error")
            return None
        except OSError as exc:  # keep_synced wraps its own; a message, never a traceback
            self._report(explain(from_os_error(exc, doing="keep in sync", path=printable(local))), "error")
            return None
        self._attach(job)
        self._report(
            f"{f'Created {printable(job.local)}. ' if created else ''}"
            f"Keeping {printable(job.local)} synced to {printable(job.dest)} every {job.every:g} s.",
            "info",
        )
        self._warned_time_left = False
        return job

    def stop(self) -> None:
        """Stop the job after a final pass (on a worker thread: the kernel stays free)."""
        job = self.job
        if job is None or not job.running:
            return
        self._stopping = True
        self.status.value = "Final pass, then stopping..."

        def run() -> None:
            try:
                result = job.stop(flush=True)
            finally:
                self._stopping = False
            if result is not None:
                level = "success" if result.ok else "warning"
                self._report(f"Keep in sync stopped. Final pass: {result.summary()}", level)
            self._render()

        threading.Thread(target=run, name="drivewidget-keep-synced-stop", daemon=True).start()

    def sync_now(self) -> None:
        """One pass now, on a worker thread; its outcome goes to the panel's message."""
        job = self.job
        if job is None or not job.running:
            self._report("Nothing is kept in sync yet: start it with 'Keep in sync'.", "warning")
            return

        def run() -> None:
            try:
                result = job.sync_now()
            except Exception as exc:  # noqa: BLE001 - on a thread: a message, never a traceback
                self._report(explain(exc), "error")
                return
            self._report(f"Synced now: {result.summary()}", "success" if result.ok else "warning")

        threading.Thread(target=run, name="drivewidget-keep-synced-now", daemon=True).start()

    # -- live status ---------------------------------------------------------------------

    def update(self, sample: StatusSample, history: object = None) -> None:
        """Called with each live status sample: refresh 'synced N s ago', warn near Colab's end."""
        self._render()
        left = sample.runtime.colab_left if sample.runtime.colab else None
        short = left is not None and left < SHORT_TIME_LEFT
        job = self.job
        if not short or job is None:
            self.warning.layout.display = "none"
            return
        assert left is not None
        when = (
            f"the last pass was {format_duration(max(0.0, time.time() - job.last_synced))} ago"
            if job.last_synced is not None
            else "nothing has been synced yet"
        )
        text = (
            f"About {format_duration(left)} of this Colab runtime left: {when}"
            f"{f', {job.pending} file(s) pending' if job.pending else ''}. Click Sync now to copy everything now."
        )
        self.warning.value = text
        self.warning.layout.display = None
        if not self._warned_time_left:
            self._warned_time_left = True
            self._report(text, "warning")

    # -- internals ---------------------------------------------------------------------

    def _default_drive_folder(self) -> str:
        ctrl = self.controller
        return ctrl.cwd if ctrl.state == "mounted" and ctrl.cwd_on_drive else ""

    def _attach(self, job: SyncJob) -> None:
        if self.job is job:
            return
        self._detach()
        self.job = job
        job.observe(self._on_job, names=["state", "last_synced", "pending", "error"])
        self.local_box.value = self._show(job.local)
        self.drive_box.value = self._show(job.dest)
        self.every_box.value = round(job.every)
        self._render()

    def _is_missing_local(self, local: str) -> bool:
        """Whether ``local`` is a folder of this machine's disk that does not exist yet. A path
        on the drive (or any path while the drive is not known to answer) is never looked at
        here: that look could block on a hung drive, and keep_synced refuses it in words."""
        ctrl = self.controller
        if ctrl.state != "mounted" or not (os.path.isabs(local) or current_dir()):
            return False
        if names_the_drive(os.path.abspath(local), ctrl.mountpoint, ctrl.root):
            return False
        return not os.path.lexists(local)

    def _show(self, path: str) -> str:
        """``path`` as text a browser can receive (remembered, so the real path is used again)."""
        shown = display_name(path)
        if shown != path:
            self._shown_paths[shown] = path
        return shown

    def _detach(self) -> None:
        if self.job is not None:
            with contextlib.suppress(ValueError):
                self.job.unobserve(self._on_job, names=["state", "last_synced", "pending", "error"])

    def _on_job(self, change: dict[str, Any]) -> None:
        self._render()

    def _toggled(self, change: dict[str, Any]) -> None:
        running = self.job is not None and self.job.running
        if change["new"] and not running:
            if self.start() is None:
                self.toggle.value = False
        elif not change["new"] and running:
            self.stop()

    def _render(self) -> None:
        job = self.job
        running = job is not None and job.running
        if self.toggle.value != running and not self._stopping:
            self.toggle.value = running  # fires _toggled, which sees nothing to do
        self.toggle.icon = "check" if running else "refresh"
        self.local_box.disabled = self.drive_box.disabled = self.every_box.disabled = running
        self.sync_now_button.disabled = not running
        if job is None:
            self.status.value = (
                "Not running: start it to copy a local folder to the drive while your run writes it."
            )
        elif not self._stopping:
            self.status.value = job.status_text()

    def close(self) -> None:
        self._detach()
        for child in self.children:
            close_tree(child)
        super().close()
