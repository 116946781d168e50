"""Figures regenerated from stored run records: fronts per device and HV ratio vs budget."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from moohw.metrics import mean_ci
from moohw.runs import safe_name


def _panels(n: int) -> tuple[Figure, np.ndarray]:
    """A grid of up to three panels a row for ``n`` devices."""
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    return fig, axes


def _finish(fig: Figure, axes: np.ndarray, n: int, out: str | Path) -> Path:
    """Hide unused panels, add the legend, save as PNG and close."""
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def hv_vs_budget(results: pd.DataFrame, out: str | Path, metric: str = "hv_ratio") -> Path:
    """One panel per device: mean ``metric`` vs budget per algorithm, with 95% intervals."""
    devices = list(dict.fromkeys(results["device"]))
    n = len(devices)
    fig, axes = _panels(n)
    for ax, dev in zip(axes.ravel(), devices):
        sub = results[results["device"] == dev]
        for algo, g in sub.groupby("algo", sort=False):
            budgets = sorted(g["budget"].unique())
            stats = [mean_ci(g[g["budget"] == b][metric].dropna().to_numpy()) for b in budgets]
            m = np.array([s[0] for s in stats])
            lo = np.array([s[1] for s in stats])
            hi = np.array([s[2] for s in stats])
            ax.plot(budgets, m, marker="o", label=str(algo))
            ax.fill_between(budgets, lo, hi, alpha=0.2)
        if (
            "ceiling_hv_ratio" in sub
            and metric == "hv_ratio"
            and sub["ceiling_hv_ratio"].notna().any()
        ):
            ax.axhline(
                float(sub["ceiling_hv_ratio"].iloc[0]),
                color="grey",
                ls="--",
                lw=1,
                label="proxy ceiling",
            )
        ax.set_title(dev, fontsize=10)
        ax.set_xscale("log")
        ticks = sorted(sub["budget"].unique())
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("target measurements K")
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
    return _finish(fig, axes, n, out)


def fronts(run_root: str | Path, results: pd.DataFrame, out: str | Path) -> Path:
    """One panel per device: declared fronts of each algorithm (seed 0, largest budget).

    The x-axis is latency (ms); the y-axis is true accuracy when the runs were scored, else the
    proxy. The true front is drawn when ``true_fronts/<device>.csv`` exists.
    """
    root = Path(run_root)
    devices = list(dict.fromkeys(results["device"]))
    n = len(devices)
    fig, axes = _panels(n)
    for ax, dev in zip(axes.ravel(), devices):
        sub = results[results["device"] == dev]
        budget = int(sub["budget"].max())
        seed = int(sub["seed"].min())
        ylabel = "proxy"
        true = root / "true_fronts" / f"{safe_name(dev)}.csv"
        if true.is_file():
            tf = pd.read_csv(true)
            ax.step(
                tf["latency_ms"],
                tf["accuracy"],
                where="post",
                color="black",
                lw=1.2,
                label="true front",
            )
            ylabel = "accuracy (%)"
        for algo in dict.fromkeys(sub["algo"]):
            d = root / "runs" / f"{algo}__{safe_name(dev)}__{budget}__{seed}"
            f = d / "front.csv"
            if not f.is_file():
                continue
            fr = pd.read_csv(f)
            y = "accuracy" if ("accuracy" in fr and ylabel != "proxy") else "proxy"
            # Declared fronts are non-dominated in (proxy, latency), not in true accuracy: draw
            # markers only, a connecting line would suggest an order that does not exist.
            ax.plot(
                fr["latency_ms"], fr[y], ls="none", marker="o", ms=4, alpha=0.8, label=str(algo)
            )
        ax.set_title(f"{dev} (K={budget}, seed {seed})", fontsize=10)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    return _finish(fig, axes, n, out)


def plot_run_dir(run_root: str | Path) -> list[Path]:
    """Draw every figure for a ``moohw compare`` output folder; returns the PNG paths."""
    root = Path(run_root)
    res = root / "results.csv"
    if not res.is_file():
        raise FileNotFoundError(f"{res} not found; run `moohw compare --out {root}` first")
    df = pd.read_csv(res)
    if df.empty:
        raise ValueError(f"{res} has no rows")
    made = []
    if df["hv_ratio"].notna().any():
        made.append(hv_vs_budget(df, root / "hv_vs_budget.png"))
    made.append(fronts(root, df, root / "fronts.png"))
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
    fig, ax = plt.subplots(figsize=(0.32 * n + 3, 0.32 * n + 2.2))
    im = ax.imshow(Mo, vmin=min(0.0, float(np.nanmin(Mo))), vmax=1.0, cmap="viridis")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
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
                        fontsize=5,
                        color="white" if Mo[i, j] < 0.6 else "black",
                    )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="rank correlation")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return out


def predictor_curves(results: pd.DataFrame, out: str | Path, metric: str = "spearman_all") -> Path:
    """One panel per task: mean ``metric`` over test devices and seeds vs k, per method.

    Args:
        results: Rows of a task-suite run (columns ``task, method, k`` and ``metric``).
        out: PNG path.
    """
    tasks = list(dict.fromkeys(results["task"]))
    methods = sorted(results["method"].unique())
    colors = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
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
