"""Widgets that draw status samples: resource bars, the GPU bars, GPU details, runtime facts.

They only format a :class:`~drivewidget.status.sample.StatusSample`; sampling happens in
:mod:`drivewidget.status`. Bars are real bars (a filled track whose colour turns amber, then
red, near full) with their numbers beside them and the details in a tooltip. An unchanged
value sends no comm message (traitlets notifies only on change), so views simply assign.
"""

from __future__ import annotations

import html
import re

import ipywidgets as widgets

from ..status.gpu import GpuHistory, GpuReading, sparkline
from ..status.sample import GPU_LOST_TEXT, StatusSample, gpu_parts
from ..text import format_bytes, format_duration

WARN_AT = 0.80
"""A bar turns amber from this fraction on..."""
FULL_AT = 0.95
"""...and red from this one: the next allocation may fail."""
GPU_HELP_URL = "https://colab.research.google.com/notebooks/gpu.ipynb"
"""Colab's own page on getting and using a GPU (Runtime > Change runtime type)."""


def bar(label: str, fraction: float | None, value: str, tooltip: str) -> str:
    """One labelled bar as HTML: ``label [track] value``, the track hidden from screen readers
    (the value says the same in words)."""
    if fraction is None:
        track = ""
    else:
        level = " dw-full" if fraction >= FULL_AT else (" dw-warn" if fraction >= WARN_AT else "")
        width = max(0.0, min(1.0, fraction)) * 100
        track = (
            f"<span class='dw-track' aria-hidden='true'><span class='dw-fill{level}' "
            f"style='width:{width:.0f}%'></span></span>"
        )
    return (
        f"<span class='dw-bar' title='{html.escape(tooltip, quote=True)}'>"
        f"<span>{html.escape(label)}</span>{track}<span>{html.escape(value)}</span></span>"
    )


def _usage_bar(label: str, usage: object, what: str) -> str:
    used, total = getattr(usage, "used", None), getattr(usage, "total", None)
    if used is None or total is None:
        note = getattr(usage, "note", "") or "unknown"
        return bar(label, None, note, f"{what}: {note}")
    fraction = used / total if total else None
    percent = f" ({fraction:.0%})" if fraction is not None else ""
    where = getattr(usage, "path", "")
    tip = f"{what}: {format_bytes(used)} of {format_bytes(total)} used{percent}" + (
        f", {where}" if where else ""
    )
    free = getattr(usage, "free", None)
    if free is not None:
        tip += f"; {format_bytes(free)} free"
    return bar(label, fraction, used_of(used, total), tip)


def used_of(used: int, total: int) -> str:
    """``1.1 / 23.6 GiB``: the used amount's unit is dropped only when it is the total's;
    otherwise both keep theirs (``991.1 MiB / 23.5 GiB``, never ``991.1 / 23.5 GiB``)."""
    shown, of = format_bytes(used), format_bytes(total)
    number, _, unit = shown.partition(" ")
    return f"{number} / {of}" if of.endswith(f" {unit}") else f"{shown} / {of}"


class _HtmlView(widgets.HTML):  # type: ignore[misc]
    """An HTML widget readable as plain text."""

    @property
    def text(self) -> str:
        """The content as plain text (tests, logs)."""
        return html.unescape(re.sub(r"<[^>]+>", " ", str(self.value)))


class StatusView(_HtmlView):
    """System RAM and the VM's disk as bars (and the drive's space when it is known)."""

    def update(self, sample: StatusSample) -> None:
        bars = [
            _usage_bar("RAM", sample.ram, "System RAM"),
            _usage_bar(
                "Disk",
                sample.disk,
                "This machine's disk" + (" (lost when the VM resets)" if sample.runtime.colab else ""),
            ),
        ]
        if sample.state == "mounted" and sample.drive_disk.known:
            bars.append(_usage_bar("Drive", sample.drive_disk, "Space on the drive"))
        self.value = f"<div class='dw-bars'>{''.join(bars)}</div>"


class GpuView(_HtmlView):
    """Each GPU's memory and utilisation as bars, or "No GPU" and how to get one."""

    def update(self, sample: StatusSample, history: GpuHistory | None = None) -> None:
        if not sample.gpus:
            reason = sample.gpu.message or "No GPU"
            link = ""
            if sample.runtime.colab:
                link = (
                    f" — <a href='{GPU_HELP_URL}' target='_blank' rel='noopener noreferrer'"
                    " title='In Colab: Runtime &gt; Change runtime type &gt; choose a GPU'>how to get one</a>"
                )
            value = f"<span class='dw-bar' title='{html.escape(reason, quote=True)}'>No GPU{link}</span>"
        else:
            value = "".join(self._gpu_bars(gpu) for gpu in sample.gpus)
        self.value = f"<div class='dw-bars'>{value}</div>"

    @staticmethod
    def _gpu_bars(gpu: GpuReading) -> str:
        label = "GPU" if gpu.index == 0 else f"GPU {gpu.index}"
        name = f"GPU {gpu.index}: {gpu.name}"
        if gpu.lost:
            return bar(label, None, "lost", f"{name}: {GPU_LOST_TEXT}")
        details = f"{name}: " + ", ".join(gpu_parts(gpu))
        if gpu.memory_used is not None and gpu.memory_total:
            memory = bar(
                f"{label} RAM",
                gpu.memory_fraction,
                used_of(gpu.memory_used, gpu.memory_total),
                details,
            )
        else:
            memory = bar(f"{label} RAM", None, "N/A", details)
        util = gpu.utilization
        busy = bar(
            f"{label} use",
            None if util is None else util / 100,
            "N/A" if util is None else f"{util:.0f}%",
            details,
        )
        return memory + busy


class GpuDetails(_HtmlView):
    """Per GPU, in a labelled table: model, temperature, power, this kernel's memory, history."""

    def update(self, sample: StatusSample, history: GpuHistory | None = None) -> None:
        if not sample.gpus:
            self.value = f"<div>{html.escape(sample.gpu.message or 'No GPU')}</div>"
            return
        rows = []
        for gpu in sample.gpus:
            rows.append(f"<tr><th scope='row'>GPU {gpu.index}</th><td>{html.escape(gpu.name)}</td></tr>")
            if gpu.lost:
                rows.append(f"<tr><th scope='row'>State</th><td>{html.escape(GPU_LOST_TEXT)}</td></tr>")
                continue
            facts = {
                "Temperature": "N/A" if gpu.temperature is None else f"{gpu.temperature:.0f} °C",
                "Power": _power(gpu),
                "This kernel": "N/A" if gpu.process_memory is None else format_bytes(gpu.process_memory),
            }
            if history is not None:
                util = sparkline(history.utilization(gpu.index), width=30).rstrip() or "—"
                mem = sparkline(history.memory(gpu.index), width=30).rstrip() or "—"
                facts["Use, last minute"] = f"<code>{util}</code>"
                facts["Memory, last minute"] = f"<code>{mem}</code>"
            for key, text in facts.items():
                shown = text if text.startswith("<code>") else html.escape(text)
                rows.append(f"<tr><th scope='row'>{html.escape(key)}</th><td>{shown}</td></tr>")
        self.value = f"<table class='dw-table'>{''.join(rows)}</table>"


def _power(gpu: GpuReading) -> str:
    if gpu.power_draw is None:
        return "N/A"
    limit = f" of {gpu.power_limit:.0f} W" if gpu.power_limit is not None else ""
    return f"{gpu.power_draw:.0f} W{limit}"


class AboutView(_HtmlView):
    """The backend, where the drive is mounted and browsed, and how old the runtime is."""

    def update(self, sample: StatusSample, history: GpuHistory | None = None) -> None:
        runtime = sample.runtime
        age = f"VM up {format_duration(runtime.vm_age)}, kernel up {format_duration(runtime.kernel_age)}"
        if runtime.colab and runtime.colab_left is not None:
            age += f"; at most {format_duration(runtime.colab_left)} left of Colab's {format_duration(runtime.colab_max)}"
        facts = {
            "Backend": sample.backend,
            "Mountpoint": sample.mountpoint,
            "Drive folder": sample.root,
            "Runtime": age,
        }
        rows = "".join(
            f"<tr><th scope='row'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in facts.items()
        )
        self.value = f"<table class='dw-table'>{rows}</table>"
