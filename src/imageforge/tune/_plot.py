"""The plot of a tune run (matplotlib, Agg: no display needed): CPU cores and memory
working set over time, one line per run, with the chosen recommendation's request and
limit drawn on each; PNG or SVG by the file's suffix, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from imageforge.errors import InvalidArgument
from imageforge.runtime import cpu_cores
from imageforge.tune._quantity import MIB, millicores
from imageforge.tune._tune import TuneReport

__all__ = ["write_plot"]

_FORMATS = {".png": "png", ".svg": "svg"}


def write_plot(report: TuneReport, path: Path) -> None:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidArgument(f"--plot {path}: give a .png or .svg file")
    # imported here: matplotlib costs every imageforge command (help lists tune) ~0.5 s
    from matplotlib.figure import Figure  # a Figure alone draws with Agg, no display

    rec = report.recommendation
    fig = Figure(figsize=(9, 6), layout="constrained")
    cpu_ax, mem_ax = fig.subplots(2, 1, sharex=True)
    for i, m in enumerate(report.runs, 1):
        points = cpu_cores(m.samples)
        cpu_ax.plot([t for t, _ in points], [c * 1000 for _, c in points], label=f"run {i}")
        mem = [(s.at, s.stats.memory_working_set) for s in m.samples]
        mem_ax.plot(
            [t for t, v in mem if v is not None],
            [v / MIB for _, v in mem if v is not None],
            label=f"run {i} working set",
        )
        for ax in (cpu_ax, mem_ax):
            ax.axvspan(m.window[0], m.window[1], alpha=0.06, color="green")
    for ax, request, limit, scale in (
        (cpu_ax, rec.cpu_request, rec.cpu_limit, "cpu"),
        (mem_ax, rec.memory_request, rec.memory_limit, "memory"),
    ):
        for value, style, label in ((request, "--", "request"), (limit, ":", "limit")):
            if value is None:
                continue
            y = millicores(value) if scale == "cpu" else value / MIB
            ax.axhline(
                y,
                linestyle=style,
                color="red" if label == "limit" else "orange",
                label=f"{rec.strategy} {label}",
            )
        ax.legend(loc="upper left", fontsize="small")
        ax.grid(alpha=0.3)
    cpu_ax.set_ylabel("CPU (millicores)")
    mem_ax.set_ylabel("memory (MiB)")
    mem_ax.set_xlabel("seconds since the container started (shaded: measured window)")
    cpu_ax.set_title(f"imageforge tune {report.image}")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format=fmt)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
