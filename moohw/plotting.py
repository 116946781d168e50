"""Figures regenerated from stored run records (DESIGN.md: a plot is never the only copy).

For a ``moohw compare`` folder: declared fronts per device with the true front, HV ratio vs the
budget K with 95% intervals, median attainment surfaces over seeds (the empirical attainment
function of López-Ibáñez, Paquete and Stützle, computed by moocore), and the latency
monotonicity of the compared devices. Also the predictor curves of the latency task suite.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import moocore
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from moohw.data import BenchmarkData
from moohw.errors import InputError
from moohw.runs import safe_name
from moohw.summary import MIN_SEEDS, mean_interval

_METRIC_LABELS = {"hv_ratio": "HV ratio", "igd_plus": "IGD+"}

#: The percentile of the median attainment surface (attained by at least half of the runs).
MEDIAN = 50.0


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


def _front(root: Path, algo: str, device: str, budget: int, seed: int) -> pd.DataFrame | None:
    f = root / "runs" / f"{algo}__{safe_name(device)}__{budget}__{seed}" / "front.csv"
    if not f.is_file():
        return None
    df = pd.read_csv(f)
    return df if len(df) else None


def _true_front(root: Path, ax: Axes, device: str) -> pd.DataFrame | None:
    """Draw ``true_fronts/<device>.csv`` as a black staircase and return it (if it exists)."""
    true = root / "true_fronts" / f"{safe_name(device)}.csv"
    if not true.is_file():
        return None
    tf = pd.read_csv(true).sort_values("latency_ms")
    x, y = tf["latency_ms"].to_numpy(), tf["accuracy"].to_numpy()
    ref = _reference(root, device)
    if ref is not None and len(x):  # the front holds its best accuracy up to the max latency
        x, y = np.append(x, max(ref[1], float(x[-1]))), np.append(y, y[-1])
    ax.step(x, y, where="post", color="black", lw=1.2, label="true front")
    return tf


def _reference(root: Path, device: str) -> tuple[float, float] | None:
    """The HV reference point ``(accuracy, latency_ms)`` written by ``write_true_fronts``."""
    f = root / "true_fronts" / f"{safe_name(device)}.ref.json"
    if not f.is_file():
        return None
    ref = json.loads(f.read_text())
    return float(ref["accuracy"]), float(ref["latency_ms"])


def _accuracy_label(root: Path, devices: Sequence[str]) -> str:
    """The y-label of scored fronts: the accuracy column the runs were scored with."""
    for dev in devices:
        f = root / "true_fronts" / f"{safe_name(dev)}.ref.json"
        if f.is_file():
            col = json.loads(f.read_text()).get("column")
            if col:
                return f"true accuracy (%)\n{col}"
    return "true accuracy (%)"


def _proxy_front(root: Path, ax: Axes, device: str) -> pd.DataFrame | None:
    """Draw ``true_fronts/<device>.proxy.csv`` (exact front in proxy and latency), if present."""
    f = root / "true_fronts" / f"{safe_name(device)}.proxy.csv"
    if not f.is_file():
        return None
    pf = pd.read_csv(f).sort_values("latency_ms")
    if pf.empty:
        return None
    ax.step(
        pf["latency_ms"], pf["proxy"], where="post", color="black", lw=1.2, label="exact front"
    )
    return pf


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


def _frame(ax: Axes, root: Path, device: str, xs: list[np.ndarray], ys: list[np.ndarray]) -> bool:
    """Frame a front panel on the HV reference box (``true_fronts/<device>.ref.json``).

    Architectures less accurate than the reference point add nothing to the hypervolume (NB201's
    ~10%-accuracy cells would otherwise squash every front into a line): the y-axis starts at
    the reference accuracy. Latency goes on a log axis when the framed points span more than a
    factor of 8. Returns whether a reference box was found.
    """
    ref = _reference(root, device)
    if ref is None:
        return False
    y0 = ref[0]
    x = np.concatenate([np.asarray(v, float) for v in xs]) if xs else np.zeros(0)
    y = np.concatenate([np.asarray(v, float) for v in ys]) if ys else np.zeros(0)
    keep = y >= y0
    if keep.any():
        top = float(y[keep].max())
        ax.set_ylim(y0, top + 0.04 * max(top - y0, 1e-9))
        lo, hi = float(x[keep].min()), float(x[keep].max())
        if lo > 0 and hi / lo > 8:
            _log_latency_axis(ax)
            pad = (hi / lo) ** 0.04
            ax.set_xlim(lo / pad, hi * pad)
        else:
            ax.set_xlim(lo - 0.04 * (hi - lo), hi + 0.04 * (hi - lo))
    return True


def _budget_for(sub: pd.DataFrame, budget: int | None) -> int:
    if budget is None:
        return int(sub["budget"].max())
    have = sorted(int(b) for b in sub["budget"].unique())
    if budget not in have:
        raise InputError(
            f"--budget {budget}: no runs with that budget; budgets here: "
            + ", ".join(map(str, have))
        )
    return int(budget)


def fronts(
    run_root: str | Path,
    results: pd.DataFrame,
    out: str | Path,
    budget: int | None = None,
    seed: int | None = None,
) -> Path:
    """One panel per device: declared fronts of each algorithm for one seed and budget.

    The x-axis is latency (ms); the y-axis is true accuracy when the runs were scored, else the
    proxy. The true front is drawn when ``true_fronts/<device>.csv`` exists.

    Args:
        run_root: A ``moohw compare`` folder.
        results: Its ``results.csv`` rows.
        out: PNG path.
        budget: The budget K to draw (default: the largest).
        seed: The seed to draw (default: the smallest).
    """
    root = Path(run_root)
    devices = list(dict.fromkeys(results["device"]))
    colors = algo_colors(list(results["algo"].astype(str)))
    n = len(devices)
    fig, axes = _panels(n)
    for ax, dev in zip(axes.ravel(), devices):
        sub = results[results["device"] == dev]
        k = _budget_for(sub, budget)
        s = int(sub["seed"].min()) if seed is None else seed
        tf = _true_front(root, ax, dev)
        scored = tf is not None
        y = "accuracy" if scored else "proxy"
        xs = [] if tf is None else [tf["latency_ms"].to_numpy()]
        ys = [] if tf is None else [tf["accuracy"].to_numpy()]
        pf = None if scored else _proxy_front(root, ax, dev)
        if pf is not None:
            xs, ys = [pf["latency_ms"].to_numpy()], [pf["proxy"].to_numpy()]
        for algo in sorted(set(sub["algo"].astype(str))):
            fr = _front(root, algo, dev, k, s)
            if fr is None or y not in fr:
                continue
            xs.append(fr["latency_ms"].to_numpy())
            ys.append(fr[y].to_numpy())
            # Declared fronts are non-dominated in (proxy, latency), not in true accuracy: draw
            # markers only, a connecting line would suggest an order that does not exist.
            ax.plot(
                fr["latency_ms"],
                fr[y],
                ls="none",
                marker="o",
                ms=4,
                alpha=0.75,
                label=algo,
                color=colors[algo],
            )
        if scored:
            _frame(ax, root, dev, xs, ys)
        ax.set_title(f"{dev}", fontsize=10)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel(_accuracy_label(root, [dev]) if scored else _proxy_label(root))
        ax.grid(alpha=0.3)
    _same_scale(axes, n)
    ks = sorted({_budget_for(results[results["device"] == d], budget) for d in devices})
    s0 = int(results["seed"].min()) if seed is None else seed
    note = "; latency ranges differ per device" if n > 1 else ""
    return _finish(
        fig, axes, n, out, title=f"declared fronts, K={'/'.join(map(str, ks))}, seed {s0}{note}"
    )


def _proxy_label(root: Path) -> str:
    """The y-label of unscored fronts: the proxy the runs used."""
    for f in sorted((root / "runs").glob("*/run.json")):
        return f"proxy score ({json.loads(f.read_text()).get('proxy', '?')})"
    return "proxy score"


def median_attainment(fronts: Sequence[np.ndarray], percentile: float = MEDIAN) -> np.ndarray:
    """The ``percentile`` attainment surface of a set of fronts (minimisation).

    Args:
        fronts: One ``(k_i, 2)`` array of objective vectors per run (e.g. ``(latency_ms,
            -accuracy)``); empty runs count as attaining nothing.
        percentile: 50 for the median surface: the points attained by at least half the runs.

    Returns:
        ``(m, 2)`` points of the surface sorted by the first objective (empty when fewer than
        ``percentile`` % of the runs attain anything).
    """
    n = len(fronts)
    if n == 0:
        raise InputError("need at least one front")
    kept = [np.asarray(f, float).reshape(-1, 2) for f in fronts if len(f)]
    if len(kept) < np.ceil(n * percentile / 100.0 - 1e-9) or not kept:
        return np.zeros((0, 2))
    P = np.vstack(kept)
    sets = np.concatenate([np.full(len(f), i + 1) for i, f in enumerate(kept)])
    # Runs with empty fronts are absent from moocore's input: rescale the level so that the
    # surface is still the one attained by `percentile` % of *all* runs.
    level = min(100.0, percentile * n / len(kept))
    E = moocore.eaf(P, sets, percentiles=[level])[:, :2]
    return E[np.argsort(E[:, 0], kind="stable")]


def attainment(
    run_root: str | Path,
    results: pd.DataFrame,
    out: str | Path,
    budget: int | None = None,
    percentile: float = MEDIAN,
) -> Path:
    """One panel per device: each algorithm's median attainment surface over seeds.

    A point (latency, accuracy) lies on an algorithm's median surface when at least half of
    its runs declared an architecture at least as fast and as accurate. Objectives are true
    accuracy and latency when the runs were scored, else the proxy.

    Args:
        run_root: A ``moohw compare`` folder.
        results: Its ``results.csv`` rows.
        out: PNG path.
        budget: The budget K to draw (default: the largest).
        percentile: Attainment level (50: median).
    """
    root = Path(run_root)
    devices = list(dict.fromkeys(results["device"]))
    colors = algo_colors(list(results["algo"].astype(str)))
    n = len(devices)
    fig, axes = _panels(n)
    n_seeds = 0
    for ax, dev in zip(axes.ravel(), devices):
        sub = results[results["device"] == dev]
        k = _budget_for(sub, budget)
        tf = _true_front(root, ax, dev)
        scored = tf is not None
        y = "accuracy" if scored else "proxy"
        px = [] if tf is None else [tf["latency_ms"].to_numpy()]
        py = [] if tf is None else [tf["accuracy"].to_numpy()]
        pf = None if scored else _proxy_front(root, ax, dev)
        if pf is not None:
            px, py = [pf["latency_ms"].to_numpy()], [pf["proxy"].to_numpy()]
        for algo in sorted(set(sub["algo"].astype(str))):
            seeds = sorted(sub[(sub["algo"] == algo) & (sub["budget"] == k)]["seed"].astype(int))
            runs = [_front(root, algo, dev, k, s) for s in seeds]
            if not runs or any(r is not None and y not in r for r in runs):
                continue
            n_seeds = max(n_seeds, len(runs))
            F = [
                np.zeros((0, 2))
                if r is None
                else np.column_stack([r["latency_ms"].to_numpy(), -r[y].to_numpy()])
                for r in runs
            ]
            E = median_attainment(F, percentile)
            if len(E) == 0:
                continue
            xmax = max(float(f[:, 0].max()) for f in F if len(f))
            xs = np.append(E[:, 0], max(xmax, float(E[-1, 0])))
            ys = np.append(-E[:, 1], -E[-1, 1])
            ax.step(xs, ys, where="post", color=colors[algo], lw=1.6, label=algo)
            px.append(xs)
            py.append(ys)
        if scored:
            _frame(ax, root, dev, px, py)
        ax.set_title(f"{dev}", fontsize=10)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel(_accuracy_label(root, [dev]) if scored else _proxy_label(root))
        ax.grid(alpha=0.3)
    _same_scale(axes, n)
    ks = sorted({_budget_for(results[results["device"] == d], budget) for d in devices})
    title = (
        f"{'median' if percentile == MEDIAN else f'{percentile:g}%'} attainment surfaces over "
        f"{n_seeds} seeds, K={'/'.join(map(str, ks))}"
    )
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
