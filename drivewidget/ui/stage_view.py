"""'Copy to local disk': stage the chosen drive folder to the VM's disk, with progress and Cancel.

Training straight from a Drive mount pays a cloud round trip per small file. This widget
starts :meth:`DriveController.start_stage` in the background (the kernel stays free), shows
files, bytes, rate and ETA as they change, and can cancel; nothing is left half-written.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..controller import DriveController
from ..errors import DriveError
from ..text import display_name
from ..transfer import Transfer, TransferProgress
from .actions import Report, explain
from .tree import close_tree

DEFAULT_DEST = "~/local"
"""Where staged folders go by default: ``~/local/<folder name>`` on the VM's own disk."""


class StageView(widgets.VBox):  # type: ignore[misc]
    """Copy the working folder of the drive to local disk, with a progress bar and Cancel."""

    def __init__(
        self,
        controller: DriveController,
        report: Report,
        choose: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """``choose``: opens the folder chooser (offered when the working folder is not on the drive)."""
        self.controller = controller
        self._report = report
        self.transfer: Transfer | None = None
        self.dest_box = widgets.Text(
            placeholder=f"Local folder (default {DEFAULT_DEST}/<folder name>)",
            layout=widgets.Layout(flex="1 1 auto", width="auto"),
        )
        self.copy_button = widgets.Button(
            description="Copy to local disk",
            icon="download",
            layout=widgets.Layout(width="auto"),
            tooltip="Copy the working folder from the drive to this machine's disk (fast for training)",
        )
        self.cancel_button = widgets.Button(
            description="Cancel copy", icon="stop", layout=widgets.Layout(width="auto")
        )
        self.bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, layout=widgets.Layout(width="auto"))
        self.label = widgets.Label()
        # Shown instead of the copy row while there is nothing to copy: why, and the way out.
        self.hint = widgets.HTML(layout=widgets.Layout(width="auto"))
        self.choose_button = widgets.Button(
            description="Change folder",
            icon="folder-open",
            tooltip="Choose the working folder on the drive",
            layout=widgets.Layout(width="auto", display="none"),
        )
        self._choose = choose
        if choose is not None:
            self.choose_button.on_click(lambda _: choose())
        self.hint_row = widgets.HBox(
            [self.hint, self.choose_button], layout=widgets.Layout(width="auto", align_items="center")
        )
        self.copy_row = widgets.HBox([self.copy_button, self.dest_box, self.cancel_button])
        self.copy_button.on_click(lambda _: self.start())
        self.cancel_button.on_click(lambda _: self.cancel())
        super().__init__([self.hint_row, self.copy_row, self.bar, self.label], **kwargs)
        controller.observe(self._render, names=["state", "cwd"])
        self._render()

    @property
    def running(self) -> bool:
        return self.transfer is not None and not self.transfer.done

    def default_dest(self) -> str:
        name = os.path.basename(self.controller.cwd.rstrip(os.sep)) or "drive"
        return os.path.join(os.path.expanduser(DEFAULT_DEST), name)

    def start(self) -> Transfer | None:
        """Stage the working folder (it must be on the mounted drive) to the chosen local folder."""
        ctrl = self.controller
        if self.running:
            self._report("A copy is already running: wait for it or click Cancel.", "warning")
            return None
        if ctrl.state != "mounted" or not ctrl.cwd_on_drive:
            self._report("Choose a folder on the mounted drive first; then copy it to local disk.", "warning")
            return None
        dest = os.path.expanduser(self.dest_box.value.strip()) or self.default_dest()
        try:
            self.transfer = ctrl.start_stage(ctrl.cwd, dest)
        except DriveError as exc:
            self._report(explain(exc), "error")
            return None
        self.transfer.on_progress(self._show)
        self.transfer.on_done(self._finished)
        self._render()
        return self.transfer

    def cancel(self) -> None:
        if self.running and self.transfer is not None:
            self.transfer.cancel()
            self.label.value = "Cancelling: finishing the files in flight..."

    def wait(self, timeout: float | None = 60) -> None:
        transfer = self.transfer
        if transfer is not None:
            with contextlib.suppress(DriveError):
                transfer.wait(timeout)

    def _show(self, progress: TransferProgress) -> None:
        self.bar.value = round(progress.fraction, 3)  # unchanged values send nothing
        self.label.value = progress.describe()

    def _finished(self, transfer: Transfer) -> None:
        self._show(transfer.progress)
        if transfer.error is not None:
            self._report(explain(transfer.error), "error")
        elif transfer.result is not None:
            result = transfer.result
            if result.ok and not result.cancelled:  # said once, here: "Done: 2/2 files ..."
                self.label.value = f"{self.label.value}. Into {display_name(str(result.dest))}."
            else:  # what went wrong, and what to do, is the panel's message
                self._report(f"{result.summary()} Into {display_name(str(result.dest))}.", "warning")
        self._render()

    def _render(self, change: dict[str, Any] | None = None) -> None:
        usable = self.controller.state == "mounted" and self.controller.cwd_on_drive
        if change is not None and not self.running and self.transfer is not None:
            self.transfer = None  # another folder or an unmount: the last copy's bar is history
            self.bar.value, self.label.value = 0.0, ""
        self.copy_button.disabled = self.running or not usable
        shown = usable or self.running
        self.copy_row.layout.display = None if shown else "none"  # only for a folder of the drive
        self.hint_row.layout.display = None if not shown else "none"
        mounted = self.controller.state == "mounted"
        self.hint.value = (
            "Choose a folder on the drive first."
            if mounted
            else "Mount the drive and choose a folder on it first."
        )
        offer = mounted and self._choose is not None
        self.choose_button.layout.display = None if offer else "none"
        progress = "" if self.transfer is not None else "none"  # no empty gap before a copy
        self.bar.layout.display = self.label.layout.display = progress
        self.cancel_button.disabled = not self.running
        self.cancel_button.layout.display = None if self.running else "none"
        self.dest_box.placeholder = f"Local folder (default {display_name(self.default_dest())})"

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.controller.unobserve(self._render, names=["state", "cwd"])
        for child in self.children:
            close_tree(child)
        super().close()
