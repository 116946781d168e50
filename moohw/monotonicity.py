"""Latency monotonicity across devices (Lu et al., "One Proxy Device Is Enough", SIGMETRICS 2022).

Two devices are monotone when they rank architectures alike (Spearman ρ over a common set of
architectures). A Pareto set found on a proxy device transfers to a target when ρ is high; the
proxy to reuse is the knowledge device that ranks a few target probes best.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from moohw.data import BenchmarkData
from moohw.devices import Device, get_device
from moohw.errors import InputError
from moohw.metrics import monotonicity_matrix, spearman
from moohw.spaces import SearchSpace


def collect_latencies(
    space: SearchSpace, names: Sequence[str], data: BenchmarkData | None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Latency of every device over the union of their covered architectures.

    Returns:
        The architectures ``(N, n_var)`` and device name → ``(N,)`` latency in ms, NaN where a
        device has no value. Devices must be exact (tables, synthetic).
    """
    devices = [get_device(n, space, data) for n in names]
    for d in devices:
        if not d.exact:
            raise InputError(f"device {d.name} is measured live; monotonicity needs tables")
    covs = [d.coverage() for d in devices]
    if space.enumerable:
        X = space.enumerate()
    else:  # e.g. FBNet: the union of the tables' architectures
        if any(c is None for c in covs):
            raise InputError(f"{space.name} is not enumerable: every device needs a table")
        rows = np.vstack([c for c in covs if c is not None])
        _, first = np.unique(rows, axis=0, return_index=True)
        X = rows[np.sort(first)]
    out: dict[str, np.ndarray] = {}
    for d in devices:
        lat = np.full(len(X), np.nan)
        ok = d.covers(X)
        lat[ok] = d.latency_ms(X[ok])
        out[d.name] = lat
    return X, out


def monotonicity(
    space: SearchSpace,
    names: Sequence[str],
    data: BenchmarkData | None,
    method: str = "spearman",
) -> tuple[list[str], np.ndarray]:
    """Device × device rank correlation over the space (common coverage per pair).

    Returns the device names that have latency in this space and their ``(d, d)`` symmetric
    correlation matrix (``method``: ``spearman`` or ``kendall``; NaN where two devices share
    fewer than 3 architectures).
    """
    _, lat = collect_latencies(space, names, data)
    return monotonicity_matrix(lat, method)


def recommend_proxy(
    target_latency_ms: np.ndarray, X: np.ndarray, knowledge: Sequence[Device]
) -> list[tuple[str, float]]:
    """Knowledge devices ranked by Spearman ρ with the target on architectures ``X``.

    Args:
        target_latency_ms: ``(n,)`` measured target latency of ``X`` (a few probes, or all).
        X: ``(n, n_var)`` architectures.
        knowledge: Candidate proxy devices (never the target).

    Returns:
        ``[(name, rho), ...]`` best first; devices not covering ``X`` are left out.
    """
    ranked = []
    for d in knowledge:
        if d.covers(X).all():
            rho = spearman(d.latency_ms(X), target_latency_ms)
            ranked.append((d.name, float(rho) if np.isfinite(rho) else -1.0))
    return sorted(ranked, key=lambda t: -t[1])
