"""The controller's in-context latency model and its expected hypervolume improvement.

The model is a Bayesian linear regression on NB201 cell features (per-edge one-hot, and the same
one-hot restricted to edges connected to the output, so devices that skip disconnected ops are
representable). Its Gaussian prior over *mean-normalised* weights is meta-learned from synthetic
devices (:class:`LatencyPrior.from_latencies`); at deployment it conditions on the probes taken so
far in closed form — no gradient step, no weight update. The device's overall scale is estimated
from the probes by least squares against the prior mean, the prior strength and noise level by
marginal likelihood on a small grid.

:func:`ehvi_2d` is the exact expected hypervolume improvement of a candidate whose first
objective (the accuracy proxy) is known and whose second (latency) is Gaussian, over a 2-D front:
``sum_k w_k E[max(0, h_k - L)]`` over the steps of the front's attainment curve (the exact 2-D
EHVI of Emmerich, Deutz & Klinkenberg, "Hypervolume-based expected improvement: monotonicity
properties and exact computation", CEC 2011, specialised to one Gaussian objective). The
conjugate Bayesian linear model is textbook (Bishop, *Pattern Recognition and Machine Learning*,
§3.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from moohw.devices.prior import alive_edges
from moohw.predictors.features import one_hot
from moohw.spaces import SearchSpace

_SQRT_2PI = float(np.sqrt(2 * np.pi))


def cell_features(space: SearchSpace, X: np.ndarray) -> np.ndarray:
    """``(n, 61)`` features: per-edge one-hot, one-hot on alive edges only, intercept."""
    oh = one_hot(space, X)
    alive = np.repeat(alive_edges(np.asarray(X)), int(space.n_choices[0]), axis=1)
    return np.column_stack([oh, oh * alive, np.ones(len(oh))])


@dataclass(frozen=True)
class LatencyPrior:
    """Gaussian prior over the mean-normalised weights of :func:`cell_features`.

    Attributes:
        mu: Prior mean ``(D,)``.
        cov: Prior covariance ``(D, D)``.
    """

    mu: np.ndarray
    cov: np.ndarray

    @classmethod
    def from_latencies(
        cls,
        Phi: np.ndarray,
        latencies: Sequence[np.ndarray],
        delta: float = 0.1,
        sigma_a: float = 0.3,
    ) -> LatencyPrior:
        """Fit the prior on whole-space latencies of (synthetic) devices.

        Args:
            Phi: Features of the architectures the latencies are given for.
            latencies: One latency vector (ms) per device.
            delta: Diagonal shrinkage (fraction of the mean weight variance).
            sigma_a: Prior std of a device's overall scale around the mean model.
        """
        if len(latencies) < 2:
            raise ValueError("the latency prior needs at least two devices")
        Y = np.column_stack([y / max(float(np.mean(y)), 1e-12) for y in latencies])
        W = np.linalg.lstsq(Phi, Y, rcond=None)[0].T
        mu = W.mean(axis=0)
        S = np.cov(W, rowvar=False)
        D = len(mu)
        scale = max(float(np.trace(S)) / D, float(np.mean(mu**2)), 1e-12)
        S = S + delta * scale * np.eye(D) + sigma_a**2 * np.outer(mu, mu)
        return cls(mu=mu, cov=S)


class InContextLatency:
    """Posterior latency (mean and std, ms) over fixed candidates given the probes so far.

    Args:
        prior: The meta-learned weight prior.
        Phi: Candidate features ``(n, D)``.
        gammas: Candidate prior-covariance multipliers (marginal likelihood picks one).
        noises: Candidate noise variances of the normalised latency.
    """

    def __init__(
        self,
        prior: LatencyPrior,
        Phi: np.ndarray,
        gammas: Sequence[float] = (0.3, 1.0, 3.0),
        noises: Sequence[float] = (1e-4, 1e-3, 1e-2),
    ) -> None:
        self.prior = prior
        self.Phi = Phi
        self.gammas = tuple(gammas)
        self.noises = tuple(noises)
        self.A = Phi @ prior.cov  # (n, D)
        self.diag0 = np.einsum("nd,nd->n", self.A, Phi)
        self.mean0 = Phi @ prior.mu

    def posterior(self, idx: np.ndarray, y_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and std (ms) of every candidate given latencies of candidates ``idx``.

        With no probes the mean is the prior mean in normalised units (the scale is unknown).
        """
        idx = np.asarray(idx, dtype=np.int64)
        y = np.asarray(y_ms, dtype=float)
        if len(idx) == 0:
            return self.mean0.copy(), np.sqrt(np.maximum(self.diag0, 1e-12))
        m0 = self.mean0[idx]
        scale = float(y @ m0 / max(float(m0 @ m0), 1e-12))
        scale = scale if scale > 0 else max(float(y.mean()), 1e-12)
        r = y / scale - m0
        Phim = self.Phi[idx]
        B = self.A @ Phim.T  # (n, k) = Phi S Phim^T
        K0 = B[idx]
        best: tuple[float, float, float, np.ndarray] | None = None
        eye = np.eye(len(idx))
        for g in self.gammas:
            for s2 in self.noises:
                K = g * K0 + s2 * eye
                try:
                    L = np.linalg.cholesky(K)
                except np.linalg.LinAlgError:
                    continue
                a = np.linalg.solve(L, r)
                ll = -0.5 * float(a @ a) - float(np.log(np.diag(L)).sum())
                if best is None or ll > best[0]:
                    best = (ll, g, s2, L)
        if best is None:  # pragma: no cover - K is positive definite for any s2 > 0
            raise np.linalg.LinAlgError("no positive-definite kernel on the grid")
        _, g, s2, L = best
        Linv_B = np.linalg.solve(L, B.T)  # (k, n)
        mean = self.mean0 + g * (Linv_B.T @ np.linalg.solve(L, r))
        var = g * self.diag0 - g * g * np.einsum("kn,kn->n", Linv_B, Linv_B) + s2
        return scale * mean, scale * np.sqrt(np.maximum(var, 1e-12))


def attainment_steps(front: np.ndarray, ref: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints and heights of a 2-D (minimised) front's attainment curve up to ``ref``.

    Returns ``edges (m+1,)`` and ``heights (m,)``: on ``[edges[k], edges[k+1])`` the dominated
    region starts at height ``heights[k]``; left of ``edges[0]`` nothing is dominated.
    """
    r1, r2 = ref
    P = np.asarray(front, float).reshape(-1, 2)
    P = P[(P[:, 0] < r1) & (P[:, 1] < r2)]
    if len(P) == 0:
        return np.array([r1, r1]), np.array([r2])
    P = P[np.lexsort((P[:, 1], P[:, 0]))]
    best = np.minimum.accumulate(P[:, 1])
    keep = np.r_[True, best[1:] < best[:-1]]
    xs, hs = P[keep, 0], best[keep]
    return np.r_[xs, r1], hs


def _segments(
    f1: np.ndarray, front: np.ndarray, ref: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Width ``(n, m+1)`` of each attainment segment right of each ``f1``, and its height.

    Segments: ``[-inf, edges[0])`` at height ``ref[1]`` (nothing dominated), then the front's.
    """
    edges, heights = attainment_steps(front, ref)
    lefts = np.r_[-np.inf, edges[:-1]]
    x = np.asarray(f1, float)[:, None]
    width = np.clip(edges[None, :] - np.maximum(x, lefts[None, :]), 0.0, None)
    return width, np.r_[ref[1], heights]


def ehvi_2d(
    f1: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    front: np.ndarray,
    ref: tuple[float, float],
) -> np.ndarray:
    """Exact EHVI of candidates with known ``f1`` and ``f2 ~ N(mean, std)`` (both minimised).

    ``f1``, ``mean``, ``std`` are ``(N,)`` (``f2`` in the front's latency units, e.g. ms);
    ``front`` is ``(m, 2)``; returns ``(N,)`` in objective-area units.
    """
    width, hs = _segments(f1, front, ref)
    m = np.asarray(mean, float)[:, None]
    s = np.maximum(np.asarray(std, float), 1e-12)[:, None]
    z = (hs[None, :] - m) / s
    gain = (hs[None, :] - m) * ndtr(z) + s * np.exp(-0.5 * z * z) / _SQRT_2PI
    return np.asarray((width * gain).sum(axis=1))


def hvi_2d(
    f1: np.ndarray, f2: np.ndarray, front: np.ndarray, ref: tuple[float, float]
) -> np.ndarray:
    """Exact hypervolume improvement of points ``(f1, f2)`` over a 2-D front (minimised).

    ``f1``, ``f2`` are ``(N,)``, ``front`` is ``(m, 2)``; returns ``(N,)``.
    """
    width, hs = _segments(f1, front, ref)
    gain = np.clip(hs[None, :] - np.asarray(f2, float)[:, None], 0.0, None)
    return np.asarray((width * gain).sum(axis=1))
