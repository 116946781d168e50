"""From a declared front to an answer: latency caps, degenerate cells, the knee, named picks.

A run ends with a declared front of measured architectures, non-dominated under (proxy score,
measured latency). A user wants one network: the best one under a latency target, or when there
is no target, the knee of the front (the member farthest from the chord joining the front's two
ends, in objectives min-max normalised over the front: Das, "On characterizing the 'knee' of the
Pareto curve", Structural Optimization 1999).

The fastest members of an NB201 front are often *degenerate* cells: no path from the cell's
input to its output goes through a convolution (only skips and pools), or no path at all (the
cell outputs zeros). They are fast because they compute almost nothing and are rarely what a user
wants; picks skip them unless every candidate is degenerate, and tables flag them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from moohw.errors import InputError
from moohw.metrics import non_dominated
from moohw.spaces.nb201 import NB201_EDGES

#: Named picks of ``moohw export --pick``; ``under:MS`` takes a latency in ms.
PICKS: tuple[str, ...] = ("front", "fastest", "most-accurate", "knee", "under:MS")

_CONV_OPS = frozenset({2, 3})  # nor_conv_1x1, nor_conv_3x3
_NONE_OP = 0


def check_max_latency(max_latency_ms: float | None) -> float | None:
    """Validate a latency cap: ``None`` (no cap) or a finite number of ms > 0.

    Raises:
        ValueError: naming the bad value.
    """
    if max_latency_ms is None:
        return None
    v = float(max_latency_ms)
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"--max-latency must be a number of ms > 0, got {max_latency_ms!r}")
    return v


def capped_front(F: np.ndarray, max_latency_ms: float | None = None) -> np.ndarray:
    """Declared front under a latency cap: row indices, sorted by latency.

    Args:
        F: ``(m, 2)`` measured objectives ``(-proxy, latency_ms)``.
        max_latency_ms: Rows measured above it are excluded before the non-dominated filter
            (``None``: no cap).

    Returns:
        ``(k,)`` indices into ``F`` of the non-dominated rows among those within the cap.
    """
    F = np.asarray(F, dtype=np.float64).reshape(-1, 2)
    ok = np.ones(len(F), dtype=bool)
    cap = check_max_latency(max_latency_ms)
    if cap is not None:
        ok = F[:, 1] <= cap
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return idx
    idx = idx[non_dominated(F[idx])]
    return idx[np.argsort(F[idx, 1], kind="stable")]


def nb201_cell_kind(X: np.ndarray) -> list[str]:
    """Classify NB201 cells ``(n, 6)`` by the paths from the cell input (node 0) to node 3.

    Returns:
        Per row: ``"conv"`` (some input→output path goes through a convolution), ``"no-conv"``
        (paths exist, but all of them are skips and pools) or ``"disconnected"`` (every path
        crosses a ``none`` edge: the cell outputs zeros).
    """
    X = np.asarray(X, dtype=np.int64).reshape(-1, len(NB201_EDGES))
    out = []
    for row in X:
        # reach[j] = (node j reachable from node 0, reachable through at least one conv)
        reach = [(True, False), (False, False), (False, False), (False, False)]
        for (src, dst), op in zip(NB201_EDGES, row.tolist(), strict=True):
            if op == _NONE_OP or not reach[src][0]:
                continue
            via_conv = reach[src][1] or op in _CONV_OPS
            reach[dst] = (True, reach[dst][1] or via_conv)
        ok, conv = reach[3]
        out.append("conv" if conv else ("no-conv" if ok else "disconnected"))
    return out


def degenerate(X: np.ndarray) -> np.ndarray:
    """``(n,)`` bool: NB201 cells with no convolution on any input→output path."""
    return np.array([k != "conv" for k in nb201_cell_kind(X)], dtype=bool)


def knee_index(F: np.ndarray) -> int:
    """Index of the knee of a 2-D front ``(k, 2)`` (both objectives minimised).

    Objectives are min-max normalised over the front, which puts its two ends at ``(1, 0)`` and
    ``(0, 1)``; the knee is the point farthest from the chord between them on the ideal side,
    i.e. the smallest sum of normalised objectives (ties: the faster). Dominated rows, if any,
    take part as given.

    Raises:
        ValueError: for an empty front.
    """
    F = np.asarray(F, dtype=np.float64).reshape(-1, 2)
    if len(F) == 0:
        raise InputError("the front is empty: no knee")
    span = F.max(axis=0) - F.min(axis=0)
    Z = (F - F.min(axis=0)) / np.where(span > 0, span, 1.0)
    total = Z.sum(axis=1)
    best = np.flatnonzero(np.isclose(total, total.min(), rtol=0.0, atol=1e-12))
    return int(best[np.argmin(F[best, 1])])


@dataclass(frozen=True)
class PickRule:
    """A parsed ``--pick``: ``kind`` in :data:`PICKS` (``under`` with ``max_latency_ms``)."""

    kind: str
    max_latency_ms: float | None = None

    @property
    def label(self) -> str:
        """Human form, e.g. ``under 5 ms``."""
        if self.kind == "under":
            return f"under {self.max_latency_ms:g} ms"
        return self.kind


def parse_pick(text: str) -> PickRule:
    """``front``, ``fastest``, ``most-accurate``, ``knee`` or ``under:MS`` → :class:`PickRule`.

    Raises:
        ValueError: naming the valid picks.
    """
    t = text.strip().lower()
    if t.startswith("under:"):
        ms = t.partition(":")[2]
        try:
            cap = check_max_latency(float(ms))
        except ValueError:
            raise InputError(f"--pick under:MS needs a latency in ms > 0, got {text!r}") from None
        return PickRule("under", cap)
    if t in PICKS and t != "under:MS":
        return PickRule(t)
    raise InputError(f"unknown pick {text!r}; valid: {', '.join(PICKS)}")


def quality_column(front: pd.DataFrame) -> str:
    """``accuracy`` when every row of ``front`` has a benchmark accuracy, else ``proxy``."""
    has = "accuracy" in front and len(front) and front["accuracy"].notna().all()
    return "accuracy" if has else "proxy"


def _usable(front: pd.DataFrame) -> pd.DataFrame:
    """Rows that are not degenerate, or all rows when every one is."""
    if "degenerate" not in front:
        return front
    keep = front[~front["degenerate"].astype(bool)]
    return keep if len(keep) else front


def pick(front: pd.DataFrame, rule: PickRule | str) -> pd.DataFrame:
    """The rows of a declared front that a rule picks.

    Args:
        front: One row per front member with columns ``arch_str``, ``proxy``, ``latency_ms``,
            optionally ``degenerate`` (bool) and ``accuracy`` (percent; NaN when unknown).
        rule: A :class:`PickRule` or its text (see :func:`parse_pick`).

    Returns:
        The picked rows (``front``: all of them, sorted by latency; otherwise one row).
        ``fastest``, ``knee``, ``most-accurate`` and ``under`` skip degenerate cells unless all
        are degenerate; ``most-accurate`` and ``under`` rank by benchmark accuracy when every
        member has one, else by the proxy score.

    Raises:
        ValueError: for an empty front, or when no member is under the ``under`` target (the
            message gives the fastest latency on the front).
    """
    r = parse_pick(rule) if isinstance(rule, str) else rule
    if len(front) == 0:
        raise InputError("the declared front is empty: nothing to pick")
    front = front.sort_values("latency_ms", kind="stable")
    if r.kind == "front":
        return front
    cand = _usable(front)
    if r.kind == "fastest":
        return cand.iloc[[int(np.argmin(cand["latency_ms"].to_numpy()))]]
    if r.kind == "knee":
        F = np.column_stack([-cand["proxy"].to_numpy(float), cand["latency_ms"].to_numpy(float)])
        return cand.iloc[[knee_index(F)]]
    if r.kind == "under":
        assert r.max_latency_ms is not None
        cand = cand[cand["latency_ms"] <= r.max_latency_ms]
        if not len(cand):
            raise InputError(
                f"no network on the front is under {r.max_latency_ms:g} ms; the fastest "
                f"measures {front['latency_ms'].min():.4g} ms"
            )
    col = quality_column(cand)
    return cand.iloc[[int(np.argmax(cand[col].to_numpy(float)))]]


def recommend(
    front: pd.DataFrame, max_latency_ms: float | None = None
) -> tuple[PickRule, pd.Series]:
    """The one network to use: the best under the target, or the knee without one.

    Returns:
        The rule applied and the recommended row.
    """
    rule = PickRule("knee") if max_latency_ms is None else PickRule("under", max_latency_ms)
    return rule, pick(front, rule).iloc[0]


def short_arch(ops: Sequence[int]) -> str:
    """A 6-character code of an NB201 cell, one character per edge in string order.

    ``-`` none, ``s`` skip, ``1`` conv 1x1, ``3`` conv 3x3, ``p`` avg pool 3x3; edges grouped by
    target node: ``3|s3|-1p`` is ``|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|none~0|...``.
    """
    c = "-s13p"
    s = "".join(c[int(o)] for o in ops)
    return f"{s[0]}|{s[1:3]}|{s[3:6]}"
