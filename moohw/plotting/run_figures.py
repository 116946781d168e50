"""HV ratio vs budget, device monotonicity heatmaps, predictor curves, and every figure of a
``moohw compare`` folder at once (:func:`plot_run_dir`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from moohw.data import BenchmarkData
from moohw.errors import InputError
from moohw.plotting.front_figures import attainment, fronts
from moohw.plotting.layout import _METRIC_LABELS, _finish, _panels, algo_colors
from moohw.summary import MIN_SEEDS, mean_interval


def hv_vs_budget(results: pd.DataFrame, out: str | Path, metric: str = "hv_ratio") -> Path:
    """One panel per device: mean ``metric`` vs budget per algorithm, with 95% intervals.

    Intervals are bootstrap intervals of the mean (:func:`moohw.summary.mean_interval`): they
    stay within the values' range and are not drawn from fewer than 3 seeds. Every panel has
    the same y-axis, which always shows the proxy ceiling line.

    Args:
        results: ``results.csv`` rows (``algo, device, budget, seed`` and ``metric``).
        out: PNG path.
        metric: Column to draw (``hv_ratio``, ``igd_plus``).
    """
    devices = list(dict.fromkeys(results["device"]))
    colors = algo_colors(list(results["algo"].astype(str)))
    n = len(devices)
    fig, axes = _panels(n)
    seen: list[float] = []  # every drawn value: one y-range for all panels
    few_seeds = False
    for ax, dev in zip(axes.ravel(), devices):
        sub = results[results["device"] == dev]
        for algo, g in sub.groupby("algo", sort=True):
            budgets = sorted(g["budget"].unique())
            stats = []
            for b in budgets:
                v = g[g["budget"] == b][metric].to_numpy(dtype=float)
                stats.append(mean_interval(v[np.isfinite(v)]))
            m = np.array([s[0] for s in stats])
            lo = np.array([s[1] for s in stats])
            hi = np.array([s[2] for s in stats])
            few_seeds |= bool(np.isnan(lo).any() & np.isfinite(m).any())
            c = colors[str(algo)]
            ax.plot(budgets, m, marker="o", ms=4, label=str(algo), color=c)
            ax.fill_between(budgets, lo, hi, alpha=0.15, color=c, lw=0)
            seen += [x for x in (*m, *lo, *hi) if np.isfinite(x)]
        if (
            "ceiling_hv_ratio" in sub
            and metric == "hv_ratio"
            and sub["ceiling_hv_ratio"].notna().any()
        ):
            ceiling = float(sub["ceiling_hv_ratio"].dropna().iloc[0])
            seen.append(ceiling)
            ax.axhline(ceiling, color="grey", ls="--", lw=1, label="proxy ceiling (all measured)")
        ax.set_title(dev, fontsize=10)
        ticks = sorted(sub["budget"].unique())
        if min(ticks) > 0:
            ax.set_xscale("log")
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("target measurements K")
        ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
    if seen:
        lo_y, hi_y = min(seen), max(seen)
        pad = 0.06 * max(hi_y - lo_y, 0.02)
        if metric == "hv_ratio":  # a ratio in [0, 1]: never frame outside it
            lo_y, hi_y = max(0.0, lo_y - pad), min(1.0, hi_y + pad)
        else:
            lo_y, hi_y = lo_y - pad, hi_y + pad
        for ax in axes.ravel()[:n]:
            ax.set_ylim(lo_y, hi_y)
    name = _METRIC_LABELS.get(metric, metric)
    note = f"; no interval from fewer than {MIN_SEEDS} seeds" if few_seeds else ""
    title = f"{name} vs target measurements K (mean, 95% bootstrap CI{note}; same y-axis)"
    return _finish(fig, axes, n, out, title=title)


def _run_space(root: Path) -> str:
    """The search space of a compare folder's runs (read from any ``run.json``)."""
    for f in sorted((root / "runs").glob("*/run.json")):
        return str(json.loads(f.read_text())["space"])
    return "nb201"


def devices_monotonicity(
    names: Sequence[str], out: str | Path, space: str = "nb201", data: BenchmarkData | None = None
) -> Path | None:
    """Heatmap of the Spearman latency monotonicity of those ``names`` that have tables.

    Devices measured live (or whose tables are not found) are left out; ``None`` when fewer
    than two remain.
    """
    from moohw.devices import get_device
    from moohw.metrics import monotonicity_matrix
    from moohw.monotonicity import collect_latencies
    from moohw.spaces import get_space

    sp = get_space(space)
    usable = []
    for name in dict.fromkeys(names):
        try:
            dev = get_device(name, sp, data)
        except (KeyError, ValueError, FileNotFoundError):
            continue
        if dev.exact:
            usable.append(name)
    if len(usable) < 2:
        return None
    _, lat = collect_latencies(sp, usable, data)
    labels, M = monotonicity_matrix(lat, "spearman")
    return monotonicity_heatmap(labels, M, out, title=f"Spearman latency monotonicity ({space})")


def plot_run_dir(
    run_root: str | Path, data: BenchmarkData | None = None, budget: int | None = None
) -> list[Path]:
    """Draw every figure for a ``moohw compare`` output folder; returns the PNG paths.

    ``hv_vs_budget.png`` (when scored), ``fronts.png``, ``attainment.png`` and, when at least
    two compared devices have latency tables, ``monotonicity.png``.

    Args:
        run_root: The folder.
        data: Benchmark data for the monotonicity heatmap of benchmark devices.
        budget: The budget K of the fronts and attainment surfaces (default: the largest).
    """
    root = Path(run_root)
    res = root / "results.csv"
    if not res.is_file():
        raise FileNotFoundError(f"{res} not found; run `moohw compare --out {root}` first")
    df = pd.read_csv(res)
    if df.empty:
        raise InputError(f"{res} has no rows")
    made = []
    if df["hv_ratio"].notna().any():
        made.append(hv_vs_budget(df, root / "hv_vs_budget.png"))
    made.append(fronts(root, df, root / "fronts.png", budget=budget))
    made.append(attainment(root, df, root / "attainment.png", budget=budget))
    mono = devices_monotonicity(
        list(dict.fromkeys(df["device"])), root / "monotonicity.png", _run_space(root), data
    )
    if mono is not None:
        made.append(mono)
    return made


def monotonicity_heatmap(
    names: list[str], M: np.ndarray, out: str | Path, title: str = "latency monotonicity"
) -> Path:
    """Clustered heatmap of a device × device rank-correlation matrix (average linkage)."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    D = 1.0 - np.nan_to_num(M, nan=0.0)
    np.fill_diagonal(D, 0.0)
    D = (D + D.T) / 2
    order = leaves_list(linkage(squareform(D, checks=False), method="average"))
    Mo = M[np.ix_(order, order)]
    labels = [names[i] for i in order]
    n = len(names)
    cell_in = 0.45 if n <= 8 else 0.32
    text_pt = 8 if n <= 8 else (6 if n <= 16 else 5)
    fig = Figure(figsize=(cell_in * n + 3.2, cell_in * n + 2.2), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(Mo, vmin=min(0.0, float(np.nanmin(Mo))), vmax=1.0, cmap="viridis")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8 if n <= 16 else 7)
    ax.set_yticks(range(n), labels, fontsize=8 if n <= 16 else 7)
    if n <= 30:
        for i in range(n):
            for j in range(n):
                if np.isfinite(Mo[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{Mo[i, j]:.2f}".lstrip("0"),
                        ha="center",
                        va="center",
                        fontsize=text_pt,
                        color="white" if Mo[i, j] < 0.6 else "black",
                    )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="rank correlation")
    ax.set_title(title, fontsize=10)
    out = Path(out)
    fig.savefig(out, dpi=130, bbox_inches="tight")  # long device names never clipped
    return out


def predictor_curves(results: pd.DataFrame, out: str | Path, metric: str = "spearman_all") -> Path:
    """One panel per task: mean ``metric`` over test devices and seeds vs k, per method.

    Args:
        results: Rows of a task-suite run (columns ``task, method, k`` and ``metric``).
        out: PNG path.
    """
    tasks = list(dict.fromkeys(results["task"]))
    methods = sorted(results["method"].unique())
    colors = {m: matplotlib.colormaps["tab10"](i % 10) for i, m in enumerate(methods)}
    n = len(tasks)
    fig, axes = _panels(n)
    for ax, task in zip(axes.ravel(), tasks):
        sub = results[results["task"] == task]
        for method, g in sub.groupby("method", sort=True):
            m = g.groupby("k")[metric].mean()
            ax.plot(m.index, m.to_numpy(), marker="o", label=str(method), color=colors[method])
        ks = sorted(sub["k"].unique())
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_title(task, fontsize=10)
        ax.set_xlabel("target samples k")
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
    return _finish(fig, axes, n, out)
