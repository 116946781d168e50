"""Linear latency models: op-count and per-edge non-negative least squares, and AdaProxy.

NB201 latency is close to additive in its ops (PAPERS.md §6: a 5-parameter op-count fit reaches a
median Spearman of 0.98 over 27 devices), so these are the baselines deep predictors must beat.
AdaProxy follows Lu et al., "One Proxy Device Is Enough for Hardware-Aware NAS" (SIGMETRICS 2022):
a proxy device's per-feature linear model ``w_p`` is adapted to the target by a shared scale ``a``,
a per-feature correction ``b`` and an intercept ``c``, minimising
``mean((X_t (w_p * (a + b)) + c - y_t)^2) + lam * ||b||^2`` with ``lam`` chosen by leave-one-out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import nnls

from moohw.errors import InputError, UnknownNameError
from moohw.predictors.base import Knowledge, KnowledgeLookup, LatencyPredictor
from moohw.predictors.features import one_hot, op_counts
from moohw.rng import SeedLike
from moohw.spaces import SearchSpace


def fit_nnls(Phi: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Non-negative weights ``(D,)`` and a free intercept ``c`` for ``y ≈ Phi @ w + c``.

    ``Phi`` is ``(k, D)`` features, ``y`` is ``(k,)`` (ms when fitting latency).
    """
    # The intercept may be negative: split it into two non-negative columns.
    A = np.column_stack([Phi, np.ones(len(Phi)), -np.ones(len(Phi))])
    sol, _ = nnls(A, y, maxiter=50 * A.shape[1])
    return sol[:-2], float(sol[-2] - sol[-1])


class _NNLS(LatencyPredictor):
    def _features(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _fit(self, knowledge: Knowledge, X: np.ndarray, y_ms: np.ndarray, seed: SeedLike) -> None:
        self.w_, self.c_ = fit_nnls(self._features(X), y_ms)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self._features(X) @ self.w_ + self.c_


class OpCountNNLS(_NNLS):
    """``latency ≈ c + Σ_op w_op · count(op)``, ``w ≥ 0``: one weight per op (target only)."""

    name = "opcount"

    def _features(self, X: np.ndarray) -> np.ndarray:
        return op_counts(self.space, X)


class PerEdgeNNLS(_NNLS):
    """``latency ≈ c + Σ_edge w_edge,op``, ``w ≥ 0``: one weight per (variable, choice)."""

    name = "peredge"

    def _features(self, X: np.ndarray) -> np.ndarray:
        return one_hot(self.space, X)


def proxy_weights(space: SearchSpace, X: np.ndarray, y_ms: np.ndarray) -> np.ndarray:
    """The proxy device's per-feature linear model ``w_p`` ``(D,)`` (one-hot, least squares).

    ``X`` is ``(k, n_var)`` choice ids and ``y_ms`` ``(k,)`` latency in milliseconds.
    """
    Phi = np.column_stack([one_hot(space, X), np.ones(len(X))])
    w, *_ = np.linalg.lstsq(Phi, y_ms, rcond=None)
    return w[:-1]


def _ada_solve(Z: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Ridge (on ``b`` only) for ``y ≈ a·Σ_j Z_j + Z @ b + c``; returns ``[a, b..., c]``."""
    n, d = Z.shape
    A = np.column_stack([Z.sum(axis=1), Z, np.ones(n)])
    pen = np.zeros(d + 2)
    pen[1 : d + 1] = np.sqrt(lam * n)  # mean squared error + lam * ||b||^2
    A_aug = np.vstack([A, np.diag(pen)[1 : d + 1]])
    y_aug = np.r_[y, np.zeros(d)]
    sol, *_ = np.linalg.lstsq(A_aug, y_aug, rcond=None)
    return sol


class AdaProxy(LatencyPredictor):
    """Adapt a proxy device's linear latency model to the target (Lu et al., 2022).

    Args:
        space: Search space.
        proxy: Name of the knowledge device to adapt; ``None`` picks the knowledge device with
            the highest Spearman correlation to the target on the target samples.
        lams: Candidate ridge strengths for ``b``, chosen by leave-one-out on the target samples.
    """

    name = "adaproxy"

    def __init__(
        self,
        space: SearchSpace,
        proxy: str | None = None,
        lams: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0),
        correction: str = "feature",
    ) -> None:
        super().__init__(space)
        if correction not in ("feature", "choice"):
            raise InputError(f"correction must be 'feature' or 'choice', got {correction!r}")
        self.proxy = proxy
        self.lams = tuple(lams)
        self._w_cache: dict[tuple[str, int, int], np.ndarray] = {}
        self._lookup = KnowledgeLookup(space)
        self.correction = correction

    def _fit(self, knowledge: Knowledge, X: np.ndarray, y_ms: np.ndarray, seed: SeedLike) -> None:
        if not knowledge:
            raise InputError("AdaProxy needs at least one knowledge device")
        name = self.proxy or pick_proxy(self.space, knowledge, X, y_ms, self._lookup)
        if name not in knowledge:
            raise UnknownNameError(f"proxy device {name!r} not in knowledge: {sorted(knowledge)}")
        d = knowledge[name]
        self.proxy_ = name
        key = (name, len(d.X), hash((d.X.tobytes(), d.latency_ms.tobytes())))
        if key not in self._w_cache:  # the proxy's full-table fit is the expensive part
            self._w_cache[key] = proxy_weights(self.space, d.X, d.latency_ms)
        self.w_p_ = self._w_cache[key]
        # Work in units of the target's latency spread so that lam means the same on a 0.01 ms
        # accelerator and a 100 ms phone (the paper's lam is tied to its device's units).
        self.unit_ = float(np.std(y_ms)) or 1.0
        Z = self._design(X)
        self.lam_ = self._choose_lam(Z, y_ms / self.unit_)
        self.sol_ = _ada_solve(Z, y_ms / self.unit_, self.lam_)

    def _choose_lam(self, Z: np.ndarray, y: np.ndarray) -> float:
        if len(y) < 3:
            return max(self.lams)
        # Closed-form leave-one-out residuals of the ridge smoother: r_i / (1 - H_ii).
        n, d = Z.shape
        A = np.column_stack([Z.sum(axis=1), Z, np.ones(n)])
        AtA, Aty = A.T @ A, A.T @ y
        errs = []
        for lam in self.lams:
            pen = np.zeros(d + 2)
            pen[1 : d + 1] = lam * n
            M = np.linalg.pinv(AtA + np.diag(pen))
            r = y - A @ (M @ Aty)
            h = np.einsum("ij,jk,ik->i", A, M, A)
            errs.append(float(np.sum((r / np.maximum(1.0 - h, 1e-9)) ** 2)))
        return float(self.lams[int(np.argmin(errs))])

    @staticmethod
    def _apply(Z: np.ndarray, sol: np.ndarray) -> np.ndarray:
        return sol[0] * Z.sum(axis=1) + Z @ sol[1:-1] + sol[-1]

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self._apply(self._design(X), self.sol_) * self.unit_

    def _design(self, X: np.ndarray) -> np.ndarray:
        """Proxy-weighted features; with ``correction='choice'`` one column per choice id.

        Pooling the per-feature correction over variables that share a choice (an op on any
        edge) leaves 5 corrections instead of 30 on NB201, which a handful of samples can fit.
        """
        Z = one_hot(self.space, X) * self.w_p_[None, :] / self.unit_
        if self.correction == "feature":
            return Z
        choice = np.concatenate([np.arange(k) for k in self.space.n_choices])
        return np.stack([Z[:, choice == c].sum(axis=1) for c in range(choice.max() + 1)], 1)


def pick_proxy(
    space: SearchSpace,
    knowledge: Knowledge,
    X: np.ndarray,
    y_ms: np.ndarray,
    lookup: KnowledgeLookup | None = None,
) -> str:
    """The knowledge device whose latency ranks the target samples best (Spearman).

    ``X`` is ``(k, n_var)`` choice ids, ``y_ms`` ``(k,)`` measured latency in milliseconds.

    Knowledge devices that do not cover every sample are skipped. Pass a ``lookup`` to reuse
    its cached per-device maps across calls.
    """
    from moohw.metrics import spearman

    best, best_rho = None, -np.inf
    lat_at = (lookup or KnowledgeLookup(space)).at(knowledge, X)
    for name in knowledge:
        if name not in lat_at:
            continue
        rho = spearman(lat_at[name], y_ms) if len(y_ms) > 2 else 0.0
        if np.isfinite(rho) and rho > best_rho:
            best, best_rho = name, rho
    if best is None:
        raise InputError("no knowledge device covers the target samples")
    return best
