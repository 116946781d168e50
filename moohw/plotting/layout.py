"""Shared figure plumbing: panel grids, one legend per figure, colours, latency axes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

_METRIC_LABELS = {"hv_ratio": "HV ratio", "igd_plus": "IGD+"}


def algo_colors(algos: Sequence[str]) -> dict[str, Any]:
    """One stable colour per algorithm (sorted names), shared by every panel and figure."""
    cmap = matplotlib.colormaps["tab10"]
    return {a: cmap(i % 10) for i, a in enumerate(sorted(set(algos)))}


def _panels(n: int, width: float = 4.2, height: float = 3.3) -> tuple[Figure, np.ndarray]:
    """A grid of up to three panels a row for ``n`` devices (constrained layout)."""
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    # A bare Figure, not pyplot: no global backend switch, nothing left open, safe in workers
    # and notebooks (whose inline backend stays untouched).
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def _finish(fig: Figure, axes: np.ndarray, n: int, out: str | Path, title: str = "") -> Path:
    """Add one legend for the whole figure, save as PNG and close.

    The legend gathers every panel's labels (a device may lack an algorithm's run) and sits in
    the first unused panel, or below the panels when all are used, so it never hides data.
    """
    handles: dict[str, Any] = {}
    for ax in axes.ravel()[:n]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    spare = axes.ravel()[n:]
    for ax in spare:
        ax.axis("off")
    if handles and len(spare):
        spare[0].legend(
            list(handles.values()), list(handles.keys()), loc="center", fontsize=9, frameon=False
        )
    elif handles:
        width = fig.get_size_inches()[0]
        fig.legend(
            list(handles.values()),
            list(handles.keys()),
            loc="outside lower center",
            ncol=max(1, min(len(handles), int(width // 1.7))),
            fontsize=8,
            frameon=False,
        )
    if title:
        fig.suptitle(title, fontsize=11)
    out = Path(out)
    fig.savefig(out, dpi=120)
    return out


def _same_scale(axes: np.ndarray, n: int) -> None:
    """One latency scale kind (log if any panel is) and one y-range across the ``n`` panels."""
    used = list(axes.ravel()[:n])
    if not used:
        return
    if any(ax.get_xscale() == "log" for ax in used):
        for ax in used:
            if ax.get_xscale() != "log":
                lo, hi = ax.get_xlim()
                _log_latency_axis(ax)
                ax.set_xlim(max(lo, 1e-3), hi)
    ys = [ax.get_ylim() for ax in used]
    lo, hi = min(y[0] for y in ys), max(y[1] for y in ys)
    for ax in used:
        ax.set_ylim(lo, hi)


def _log_latency_axis(ax: Axes) -> None:
    """Log latency axis with plain-number ticks at 1-2-5 steps (no overlapping 10^x labels)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    ax.xaxis.set_minor_formatter(NullFormatter())
