"""Summaries of comparison results: per-cell statistics and the best method per (device, K).

Pure tables over ``results.csv`` rows (``moohw.algorithms.grid``); every number is a mean over
seeds with a Student-t 95% interval (DESIGN.md, "the budget and the score").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from moohw.errors import UnknownNameError
from moohw.metrics import mean_ci


def summarize(
    df: pd.DataFrame,
    metric: str = "hv_ratio",
    extra: Sequence[str] = ("igd_plus", "cheap_queries", "wall_time_s"),
) -> pd.DataFrame:
    """Mean, median and 95% t-interval of ``metric`` per (device, budget, algo).

    Args:
        df: ``results.csv`` rows.
        metric: The headline metric; ``ci_low``/``ci_high`` are its interval.
        extra: Other columns summarised by their mean and median (``<col>_mean``,
            ``<col>_median``) when present; non-finite values (IGD+ of an empty front) are
            left out of every statistic.

    Returns:
        One row per (device, budget, algo) in order of first appearance, with ``n_seeds``.
    """
    others = [c for c in extra if c != metric and c in df.columns]
    out = []
    for (dev, bud, algo), g in df.groupby(["device", "budget", "algo"], sort=False):
        v = g[metric].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        m, lo, hi = mean_ci(v) if len(v) else (np.nan, np.nan, np.nan)
        row: dict[str, Any] = {
            "device": dev,
            "budget": bud,
            "algo": algo,
            "n_seeds": len(v),
            f"{metric}_mean": m,
            f"{metric}_median": float(np.median(v)) if len(v) else np.nan,
            "ci_low": lo,
            "ci_high": hi,
        }
        for c in others:
            w = pd.to_numeric(g[c], errors="coerce").to_numpy(dtype=float)
            w = w[np.isfinite(w)]
            row[f"{c}_mean"] = float(w.mean()) if len(w) else np.nan
            row[f"{c}_median"] = float(np.median(w)) if len(w) else np.nan
        out.append(row)
    return pd.DataFrame(out)


BEST_COLUMNS = [
    "device",
    "budget",
    "best",
    "best_mean",
    "best_ci_low",
    "best_ci_high",
    "runner_up",
    "runner_up_mean",
    "margin",
    "intervals_overlap",
    "n_algos",
]


def best_methods(
    summary: pd.DataFrame, metric: str = "hv_ratio", higher_is_better: bool = True
) -> pd.DataFrame:
    """The best algorithm per (device, budget) by mean ``metric``, and how clear the win is.

    Args:
        summary: Output of :func:`summarize` for ``metric`` (``ci_low``/``ci_high`` are its
            95% interval).
        metric: The metric summarised.
        higher_is_better: ``False`` for IGD+.

    Returns:
        One row per (device, budget) with the columns of :data:`BEST_COLUMNS`: ``margin`` is
        the best mean minus the runner-up's (positive when the best is better, for either
        direction), and ``intervals_overlap`` whether their 95% intervals overlap (a win whose
        intervals overlap is not established by these seeds). Cells with one scored algorithm
        have no runner-up (NaN margin); unscored cells are left out.
    """
    col = f"{metric}_mean"
    if col not in summary.columns:
        raise UnknownNameError(
            f"summary has no {col!r} column; summarize it with metric={metric!r}"
        )
    rows = []
    for (dev, bud), g in summary.groupby(["device", "budget"], sort=False):
        g = g[np.isfinite(g[col].to_numpy(dtype=float))]
        if g.empty:
            continue
        g = g.sort_values(col, ascending=not higher_is_better, kind="stable")
        b = g.iloc[0]
        row: dict[str, Any] = {
            "device": dev,
            "budget": bud,
            "best": b["algo"],
            "best_mean": b[col],
            "best_ci_low": b["ci_low"],
            "best_ci_high": b["ci_high"],
            "runner_up": None,
            "runner_up_mean": np.nan,
            "margin": np.nan,
            "intervals_overlap": None,
            "n_algos": len(g),
        }
        if len(g) > 1:
            r = g.iloc[1]
            sign = 1.0 if higher_is_better else -1.0
            row["runner_up"] = r["algo"]
            row["runner_up_mean"] = r[col]
            row["margin"] = sign * (b[col] - r[col])
            row["intervals_overlap"] = bool(
                b["ci_low"] <= r["ci_high"] and r["ci_low"] <= b["ci_high"]
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=BEST_COLUMNS)
