"""Declared fronts and median attainment surfaces of a ``moohw compare`` folder, per device.

The attainment surfaces are the empirical attainment function of López-Ibáñez, Paquete and
Stützle, computed by moocore.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import moocore
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from moohw.errors import InputError
from moohw.plotting.layout import (
    _finish,
    _log_latency_axis,
    _panels,
    _same_scale,
    algo_colors,
)
from moohw.runs import safe_name

#: The percentile of the median attainment surface (attained by at least half of the runs).
MEDIAN = 50.0


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


def _exact_front(
    root: Path, ax: Axes, device: str
) -> tuple[str, list[np.ndarray], list[np.ndarray]]:
    """Draw the panel's exact front: the true front when scored, else the proxy's own front.

    Returns:
        The objective column the runs are drawn in (``accuracy`` or ``proxy``) and the drawn
        front's latencies and values as the first entries of the x / y lists ``_frame`` fits.
    """
    tf = _true_front(root, ax, device)
    if tf is not None:
        return "accuracy", [tf["latency_ms"].to_numpy()], [tf["accuracy"].to_numpy()]
    pf = _proxy_front(root, ax, device)
    if pf is not None:
        return "proxy", [pf["latency_ms"].to_numpy()], [pf["proxy"].to_numpy()]
    return "proxy", [], []


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
        y, xs, ys = _exact_front(root, ax, dev)
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
        if y == "accuracy":
            _frame(ax, root, dev, xs, ys)
        ax.set_title(f"{dev}", fontsize=10)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel(_accuracy_label(root, [dev]) if y == "accuracy" else _proxy_label(root))
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
        y, px, py = _exact_front(root, ax, dev)
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
        if y == "accuracy":
            _frame(ax, root, dev, px, py)
        ax.set_title(f"{dev}", fontsize=10)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel(_accuracy_label(root, [dev]) if y == "accuracy" else _proxy_label(root))
        ax.grid(alpha=0.3)
    _same_scale(axes, n)
    ks = sorted({_budget_for(results[results["device"] == d], budget) for d in devices})
    title = (
        f"{'median' if percentile == MEDIAN else f'{percentile:g}%'} attainment surfaces over "
        f"{n_seeds} seeds, K={'/'.join(map(str, ks))}"
    )
    return _finish(fig, axes, n, out, title=title)
