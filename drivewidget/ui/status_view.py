"""Widgets that render status samples: drive, disk, RAM, runtime, and GPUs with sparklines.

They only format a :class:`~drivewidget.status.sample.StatusSample`; sampling happens in
:mod:`drivewidget.status`. An unchanged value sends no comm message (traitlets notifies only
on change).
"""

from __future__ import annotations

import html
import re

import ipywidgets as widgets

from ..status.gpu import GpuHistory, GpuReading, sparkline
from ..status.sample import GPU_LOST_TEXT, StatusSample, format_bytes, format_duration, gpu_parts

_MUTED = "color:#77767b"


def _row(label: str, value: str) -> str:
    label_style = f"{_MUTED};padding-right:1em;white-space:nowrap;vertical-align:top"
    return f"<tr><td style='{label_style}'>{html.escape(label)}</td><td>{value}</td></tr>"


def _bar(fraction: float | None) -> str:
    if fraction is None:
        return ""
    blocks = round(max(0.0, min(1.0, fraction)) * 10)
    return f" <code>{'█' * blocks}{'░' * (10 - blocks)}</code>"


def _usage(usage: object) -> str:
    used, total = getattr(usage, "used", None), getattr(usage, "total", None)
    if used is None or total is None:
        return html.escape(getattr(usage, "note", "") or "unknown")
    return f"{format_bytes(used)} of {format_bytes(total)}{_bar(used / total if total else None)}"


class _HtmlView(widgets.HTML):  # type: ignore[misc]
    """An HTML widget readable as plain text.

    Rewriting an unchanged value sends nothing: traitlets notifies (and ipywidgets syncs)
    only on change, so views simply assign.
    """

    @property
    def text(self) -> str:
        """The content as plain text (tests, logs)."""
        return html.unescape(re.sub(r"<[^>]+>", " ", str(self.value)))


class StatusView(_HtmlView):
    """Mount state, working directory, drive and VM disk, RAM, runtime age, backend."""

    def update(self, sample: StatusSample) -> None:
        where = "on the drive" if sample.cwd_on_drive else "on the VM disk (lost at reset)"
        runtime = sample.runtime
        age = f"VM up {format_duration(runtime.vm_age)}, kernel up {format_duration(runtime.kernel_age)}"
        if runtime.colab and runtime.colab_left is not None:
            age += (
                f"; at most {format_duration(runtime.colab_left)} left of Colab's "
                f"{format_duration(runtime.colab_max)}"
            )
        rows = [
            _row("Drive", html.escape(sample.state_text)),
            _row("Working dir", f"<code>{html.escape(sample.cwd)}</code> ({where})"),
            _row("Drive space", _usage(sample.drive_disk)),
            _row("VM disk", _usage(sample.disk)),
            _row("RAM", _usage(sample.ram)),
            _row("Runtime", html.escape(age)),
            _row("Backend", html.escape(sample.backend)),
        ]
        self.value = f"<table style='font-size:90%;line-height:1.4'>{''.join(rows)}</table>"


class GpuView(_HtmlView):
    """Each GPU's name, utilisation, memory, temperature, power, this kernel's memory, history."""

    def update(self, sample: StatusSample, history: GpuHistory | None = None) -> None:
        if not sample.gpus:
            message = sample.gpu.message or "No GPU"
            value = f"<div style='{_MUTED}'>{html.escape(message)}</div>"
        else:
            value = (
                "<table style='font-size:90%;line-height:1.4'>"
                + "".join(self._gpu_row(gpu, history) for gpu in sample.gpus)
                + "</table>"
            )
        self.value = value

    @staticmethod
    def _gpu_row(gpu: GpuReading, history: GpuHistory | None) -> str:
        name = html.escape(f"GPU {gpu.index}: {gpu.name}")
        if gpu.lost:
            return _row(name, html.escape(GPU_LOST_TEXT))
        parts = [html.escape(part) for part in gpu_parts(gpu)]
        if history is not None:
            util = sparkline(history.utilization(gpu.index), width=30)
            mem = sparkline(history.memory(gpu.index), width=30)
            parts.append(f"<code title='utilisation'>{util}</code> <code title='memory'>{mem}</code>")
        return _row(name, " · ".join(parts))
