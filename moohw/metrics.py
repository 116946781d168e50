"""Scoring as DESIGN.md defines it: declared fronts, HV ratio, IGD+, ceilings, rank correlation.

All objectives are minimised: ``F = (-accuracy, latency_ms)``. The hypervolume reference point is
``(-p15(accuracy over the space), max latency over the space)``; IGD+ is computed on objectives
min-max normalised over the space. Indicators come from moocore and pymoo.

References: hypervolume (Zitzler & Thiele, "Multiobjective optimization using evolutionary
algorithms — a comparative case study", PPSN 1998); IGD+ (Ishibuchi, Masuda, Tanigaki & Nojima,
"Modified distance calculation in generational distance and inverted generational distance",
EMO 2015), pymoo's ``IGDPlus``.
"""

from __future__ import annotations

from dataclasses import dataclass

import moocore
import numpy as np
from pymoo.indicators.igd_plus import IGDPlus
from scipy import stats

from moohw.errors import InputError

#: Percentile of the space's true accuracy used for the reference point.
REF_ACCURACY_PERCENTILE = 15.0


def non_dominated(F: np.ndarray) -> np.ndarray:
    """``(n,)`` bool mask of the non-dominated rows of ``F`` ``(n, m)`` (minimisation).

    Exact duplicates are all kept (none dominates another).
    """
    F = np.asarray(F, dtype=np.float64)
    if F.ndim != 2:
        raise InputError(f"F must be 2-D (n, m), got shape {F.shape}")
    if len(F) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(moocore.is_nondominated(F, keep_weakly=True), dtype=bool)


def hypervolume(F: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume dominated by ``F`` ``(n, m)`` w.r.t. ``ref`` ``(m,)`` (minimisation).

    Points that do not strictly dominate ``ref`` contribute nothing.
    """
    F = np.asarray(F, dtype=np.float64).reshape(-1, len(ref))
    ref = np.asarray(ref, dtype=np.float64)
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    return float(moocore.hypervolume(F, ref=ref))


def reference_point(accuracy: np.ndarray, latency_ms: np.ndarray) -> np.ndarray:
    """DESIGN.md reference point ``(-p15(accuracy), max(latency_ms))`` over the whole space."""
    return np.array([-np.percentile(accuracy, REF_ACCURACY_PERCENTILE), float(np.max(latency_ms))])


def igd_plus(F: np.ndarray, front: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """IGD+ of ``F`` against ``front`` after min-max normalisation with bounds ``lo``, ``hi``."""
    scale = np.where(hi > lo, hi - lo, 1.0)
    Fn = (np.asarray(F, float) - lo) / scale
    Pn = (np.asarray(front, float) - lo) / scale
    if len(Fn) == 0:
        return float("inf")
    return float(IGDPlus(Pn)(Fn))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two ``(n,)`` vectors."""
    return float(stats.spearmanr(a, b).statistic)


def kendall(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b of two ``(n,)`` vectors."""
    return float(stats.kendalltau(a, b).statistic)


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a Student-t ``level`` interval ``(mean, low, high)``; NaN-free input."""
    v = np.asarray(values, dtype=np.float64)
    m = float(v.mean()) if len(v) else float("nan")
    if len(v) < 2:
        return m, m, m
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - half, m + half


@dataclass(frozen=True)
class FrontScore:
    """How good a declared front is, measured with true accuracy and true latency."""

    hv_ratio: float
    igd_plus: float
    n_declared: int


class Scorer:
    """Scores declared fronts against the true front over a finite candidate set.

    Args:
        accuracy: ``(N,)`` true accuracy (percent) of every candidate architecture.
        latency_ms: ``(N,)`` true latency of every candidate on the target device.
    """

    def __init__(self, accuracy: np.ndarray, latency_ms: np.ndarray) -> None:
        acc = np.asarray(accuracy, dtype=np.float64)
        lat = np.asarray(latency_ms, dtype=np.float64)
        if acc.shape != lat.shape or acc.ndim != 1 or len(acc) == 0:
            raise InputError(f"accuracy {acc.shape} and latency {lat.shape} must be equal (N,)")
        self.F_all = np.column_stack([-acc, lat])
        self.ref = reference_point(acc, lat)
        #: ``(N,)`` bool, the candidates on the true front.
        self.front_mask = non_dominated(self.F_all)
        self.true_front = self.F_all[self.front_mask]
        self.hv_true = hypervolume(self.true_front, self.ref)
        self.lo = self.F_all.min(axis=0)
        self.hi = self.F_all.max(axis=0)

    def score(self, accuracy: np.ndarray, latency_ms: np.ndarray) -> FrontScore:
        """Score a declared front given its members' true accuracy and true latency ``(k,)``."""
        F = np.column_stack([-np.asarray(accuracy, float), np.asarray(latency_ms, float)])
        return FrontScore(
            hv_ratio=hypervolume(F, self.ref) / self.hv_true,
            igd_plus=igd_plus(F, self.true_front, self.lo, self.hi),
            n_declared=len(F),
        )

    def proxy_ceiling(self, proxy: np.ndarray) -> FrontScore:
        """Score of the exhaustive proxy front: every candidate measured, front by proxy.

        Args:
            proxy: ``(N,)`` proxy scores aligned with the candidates (higher is better).
        """
        G = np.column_stack([-np.asarray(proxy, float), self.F_all[:, 1]])
        mask = non_dominated(G)
        return self.score(-self.F_all[mask, 0], self.F_all[mask, 1])


def monotonicity_matrix(
    latencies: dict[str, np.ndarray], method: str = "spearman"
) -> tuple[list[str], np.ndarray]:
    """Pairwise latency monotonicity (rank correlation) between devices.

    Lu et al. (SIGMETRICS 2022) call devices *monotone* when architectures rank alike on both;
    Pareto sets transfer between highly monotone devices.

    Args:
        latencies: Device name → ``(N,)`` latency over the same N architectures; NaN marks an
            architecture a device does not cover (pairs use their common coverage).
        method: ``spearman`` or ``kendall``.

    Returns:
        Device names and the symmetric ``(d, d)`` correlation matrix.
    """
    if method not in ("spearman", "kendall"):
        raise InputError(f"method must be spearman or kendall, got {method!r}")
    names = list(latencies)
    corr = spearman if method == "spearman" else kendall
    M = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = latencies[names[i]], latencies[names[j]]
            ok = np.isfinite(a) & np.isfinite(b)
            M[i, j] = M[j, i] = corr(a[ok], b[ok]) if ok.sum() > 2 else np.nan
    return names, M
