"""Summaries of comparison results: per-cell statistics and the best method per (device, K).

Pure tables over ``results.csv`` rows (``moohw.algorithms.grid``). Every number is a mean over
seeds with a 95% bootstrap interval (BCa, :func:`scipy.stats.bootstrap`): the interval is made
of resampled means, so it never leaves the range of the values (an HV ratio's stays in [0, 1]),
and none is given from fewer than :data:`MIN_SEEDS` seeds (DESIGN.md, "the budget and the
score"). A method whose value is the same on every seed is marked ``deterministic``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from moohw.errors import UnknownNameError

#: Fewest seeds an interval is computed from; below it ``ci_low``/``ci_high`` are NaN.
MIN_SEEDS = 3
#: How the intervals are computed (written to ``summary.csv``).
INTERVAL_METHOD = "bootstrap BCa 95%"


def bootstrap_interval(
    values: Sequence[float] | np.ndarray, level: float = 0.95, n_resamples: int = 2000
) -> tuple[float, float]:
    """A ``level`` bootstrap interval of the mean of ``values`` (BCa, seeded, reproducible).

    Args:
        values: ``(n,)`` finite values (one per seed).
        level: Confidence level.
        n_resamples: Bootstrap resamples.

    Returns:
        ``(low, high)``: NaN for fewer than :data:`MIN_SEEDS` values; ``(v, v)`` when every value
        is ``v``. Both ends lie within ``[min(values), max(values)]``.
    """
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    if len(v) < MIN_SEEDS:
        return float("nan"), float("nan")
    if np.ptp(v) == 0:
        return float(v[0]), float(v[0])
    lo = hi = float("nan")
    for method in ("BCa", "percentile"):  # BCa is undefined on some degenerate resamples
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.bootstrap(
                (v,),
                np.mean,
                confidence_level=level,
                n_resamples=n_resamples,
                method=method,
                random_state=np.random.default_rng(0),
            )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if np.isfinite(lo) and np.isfinite(hi):
            break
    return max(lo, float(v.min())), min(hi, float(v.max()))


def mean_interval(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """``(mean, low, high)`` with :func:`bootstrap_interval` (NaN interval below 3 values)."""
    v = np.asarray(values, dtype=np.float64)
    m = float(v.mean()) if len(v) else float("nan")
    return (m, *bootstrap_interval(v))


def _cheap_kinds(g: pd.DataFrame) -> dict[str, float]:
    """Mean cheap queries per kind over a group's ``cheap_by_kind`` JSON cells."""
    if "cheap_by_kind" not in g.columns:
        return {}
    per: list[dict[str, float]] = []
    for cell in g["cheap_by_kind"]:
        if isinstance(cell, str) and cell:
            per.append({str(k): float(v) for k, v in json.loads(cell).items()})
        elif isinstance(cell, dict):
            per.append({str(k): float(v) for k, v in cell.items()})
    kinds = sorted({k for d in per for k in d})
    return {k: float(np.mean([d.get(k, 0.0) for d in per])) for k in kinds}


def summarize(
    df: pd.DataFrame,
    metric: str = "hv_ratio",
    extra: Sequence[str] = ("igd_plus", "cheap_queries", "wall_time_s"),
) -> pd.DataFrame:
    """Mean, median and 95% bootstrap interval of ``metric`` per (device, budget, algo).

    Args:
        df: ``results.csv`` rows.
        metric: The headline metric; ``ci_low``/``ci_high`` are its interval (NaN from fewer
            than :data:`MIN_SEEDS` seeds).
        extra: Other columns summarised by their mean and median (``<col>_mean``,
            ``<col>_median``) when present; non-finite values (IGD+ of an empty front) are
            left out of every statistic.

    Returns:
        One row per (device, budget, algo) in order of first appearance, with ``n_seeds``,
        ``interval`` (how ``ci_low``/``ci_high`` were made, or why there is none),
        ``deterministic`` (the same value on every seed, from two seeds up), ``scored_against``
        (when the rows say) and ``cheap_queries_by_kind`` (JSON, mean per kind).
    """
    others = [c for c in extra if c != metric and c in df.columns]
    out = []
    for (dev, bud, algo), g in df.groupby(["device", "budget", "algo"], sort=False):
        v = g[metric].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        m, lo, hi = mean_interval(v) if len(v) else (np.nan, np.nan, np.nan)
        row: dict[str, Any] = {
            "device": dev,
            "budget": bud,
            "algo": algo,
            "n_seeds": len(v),
            f"{metric}_mean": m,
            f"{metric}_median": float(np.median(v)) if len(v) else np.nan,
            "ci_low": lo,
            "ci_high": hi,
            "interval": (
                "not scored"
                if not len(v)
                else INTERVAL_METHOD
                if len(v) >= MIN_SEEDS
                else f"none (fewer than {MIN_SEEDS} seeds)"
            ),
            "deterministic": bool(len(v) >= 2 and np.ptp(v) == 0),
        }
        if "scored_against" in g.columns:
            row["scored_against"] = ";".join(
                sorted({str(s) for s in g["scored_against"] if isinstance(s, str) and s})
            )
        for c in others:
            w = pd.to_numeric(g[c], errors="coerce").to_numpy(dtype=float)
            w = w[np.isfinite(w)]
            row[f"{c}_mean"] = float(w.mean()) if len(w) else np.nan
            row[f"{c}_median"] = float(np.median(w)) if len(w) else np.nan
        kinds = _cheap_kinds(g)
        if kinds:
            row["cheap_queries_by_kind"] = json.dumps(kinds)
        out.append(row)
    return pd.DataFrame(out)


BEST_COLUMNS = [
    "device",
    "budget",
    "verdict",
    "best",
    "best_mean",
    "best_ci_low",
    "best_ci_high",
    "tied_with",
    "runner_up",
    "runner_up_mean",
    "margin",
    "intervals_overlap",
    "n_algos",
]


def _overlap(a: pd.Series, b: pd.Series) -> bool | None:
    """Whether two rows' intervals overlap; ``None`` when either has none."""
    vals = [a["ci_low"], a["ci_high"], b["ci_low"], b["ci_high"]]
    if not all(np.isfinite(float(x)) for x in vals):
        return None
    return bool(a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"])


def best_methods(
    summary: pd.DataFrame, metric: str = "hv_ratio", higher_is_better: bool = True
) -> pd.DataFrame:
    """The best algorithm per (device, budget) by mean ``metric``, and whether the win holds.

    Args:
        summary: Output of :func:`summarize` for ``metric`` (``ci_low``/``ci_high`` are its
            95% interval).
        metric: The metric summarised.
        higher_is_better: ``False`` for IGD+.

    Returns:
        One row per (device, budget) with the columns of :data:`BEST_COLUMNS`. ``verdict`` is
        ``wins`` when the best mean's interval overlaps no other method's, ``tied`` when it
        overlaps some (``tied_with`` names them, ``;``-separated: these seeds do not separate
        them), ``no interval`` when a compared method has fewer than :data:`MIN_SEEDS` seeds,
        and ``only method`` when one algorithm was scored. ``best`` is the highest mean either
        way; ``margin`` is the best mean minus the runner-up's (positive when the best is
        better, for either direction). Unscored cells are left out.
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
            "verdict": "only method",
            "best": b["algo"],
            "best_mean": b[col],
            "best_ci_low": b["ci_low"],
            "best_ci_high": b["ci_high"],
            "tied_with": "",
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
            overlaps = [_overlap(b, o) for _, o in g.iloc[1:].iterrows()]
            row["intervals_overlap"] = overlaps[0]
            if any(o is None for o in overlaps):
                row["verdict"] = f"no interval (fewer than {MIN_SEEDS} seeds)"
            else:
                tied = [
                    str(o["algo"]) for (_, o), ov in zip(g.iloc[1:].iterrows(), overlaps) if ov
                ]
                row["verdict"] = "tied" if tied else "wins"
                row["tied_with"] = ";".join(tied)
        rows.append(row)
    return pd.DataFrame(rows, columns=BEST_COLUMNS)
