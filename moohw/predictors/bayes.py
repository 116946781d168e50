"""A Bayesian linear latency model whose prior is learned from the knowledge devices.

Each knowledge device ``d`` gets a (minimum-norm) least-squares linear model ``w_d`` on the
features — by default the per-variable one-hot encoding *and* the op counts, plus an intercept —
normalised by its mean latency. The op-count columns give the prior a few cheap directions
(a per-op cost shared by all layers) along which a target unlike the knowledge devices can move;
measured on F3 (phones → GPUs), k = 20: ρ 0.41 with one-hot features alone, 0.63 with both.
The prior over the target's normalised weights is Gaussian with the mean ``mu`` and (shrunk)
covariance ``S`` of those ``w_d``, widened along ``mu`` by a scale uncertainty:
``Sigma0 = S + delta * tr(S)/D * I + sigma_a^2 * mu mu^T`` (a target whose weights are a rescaled
``mu`` costs little). The target's ``k`` latencies are divided by their mean and the posterior is
the closed-form Gaussian one; the prior strength ``gamma`` and the noise variance are chosen by
maximising the marginal likelihood on a grid.
PAPERS.md §6 measured that such a model, with leave-one-out model choice, is competitive with
NASFLAT (Akhauri & Abdelfattah, MLSys 2024) on the FBNet tasks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from moohw.predictors.base import Knowledge, LatencyPredictor, knowledge_key
from moohw.predictors.features import one_hot, op_counts
from moohw.rng import SeedLike
from moohw.spaces import SearchSpace


class BayesLinear(LatencyPredictor):
    """Gaussian-prior linear model; prior from knowledge devices, posterior on target samples.

    Args:
        space: Search space.
        features: ``"onehot"`` (per edge / per layer), ``"opcount"`` or ``"both"``.
        sigma_a: Prior std of the target's overall scale relative to the knowledge mean model.
        delta: Diagonal shrinkage of the knowledge covariance (fraction of its mean variance).
        gammas: Candidate prior-covariance multipliers (chosen by marginal likelihood).
        noises: Candidate noise variances of the mean-normalised latency.
    """

    name = "bayes-linear"

    def __init__(
        self,
        space: SearchSpace,
        features: str = "both",
        sigma_a: float = 0.3,
        delta: float = 0.3,
        gammas: Sequence[float] = (0.1, 0.3, 1.0, 3.0, 10.0),
        noises: Sequence[float] = (1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
    ) -> None:
        super().__init__(space)
        if features not in ("onehot", "opcount", "both"):
            raise ValueError(f"features must be 'onehot', 'opcount' or 'both', got {features!r}")
        self.features = features
        self.sigma_a = float(sigma_a)
        self.delta = float(delta)
        self.gammas = tuple(gammas)
        self.noises = tuple(noises)
        self._prior_cache: tuple[object, np.ndarray, np.ndarray] | None = None

    def _phi(self, X: np.ndarray) -> np.ndarray:
        parts = []
        if self.features in ("onehot", "both"):
            parts.append(one_hot(self.space, X))
        if self.features in ("opcount", "both"):
            parts.append(op_counts(self.space, X))
        return np.column_stack([*parts, np.ones(len(X))])

    def prior(self, knowledge: Knowledge) -> tuple[np.ndarray, np.ndarray]:
        """Prior mean ``(D,)`` and covariance ``(D, D)`` of the normalised weights (cached)."""
        key = knowledge_key(knowledge)
        if self._prior_cache is not None and self._prior_cache[0] == key:
            return self._prior_cache[1], self._prior_cache[2]
        D = self._phi(self.space.validate(np.zeros((1, self.space.n_var), int))).shape[1]
        W = []
        for d in knowledge.values():
            w, *_ = np.linalg.lstsq(self._phi(d.X), d.latency_ms, rcond=None)
            W.append(w / max(float(np.mean(d.latency_ms)), 1e-12))
        if not W:
            mu, S = np.zeros(D), np.eye(D)
        else:
            Wa = np.array(W)
            mu = Wa.mean(axis=0)
            S = np.cov(Wa, rowvar=False) if len(Wa) > 1 else np.zeros((D, D))
            scale = max(float(np.trace(S)) / D, float(np.mean(mu**2)), 1e-12)
            S = S + self.delta * scale * np.eye(D) + self.sigma_a**2 * np.outer(mu, mu)
        self._prior_cache = (key, mu, S)
        return mu, S

    def _fit(self, knowledge: Knowledge, X: np.ndarray, y_ms: np.ndarray, seed: SeedLike) -> None:
        mu, S = self.prior(knowledge)
        self.scale_ = max(float(np.mean(y_ms)), 1e-12)
        y = y_ms / self.scale_
        Phi = self._phi(X)
        r = y - Phi @ mu
        K0 = Phi @ S @ Phi.T
        best = (-np.inf, 1.0, 1.0)
        for g in self.gammas:
            for s2 in self.noises:
                K = g * K0 + s2 * np.eye(len(y))
                sign, logdet = np.linalg.slogdet(K)
                if sign <= 0:
                    continue
                ll = -0.5 * (r @ np.linalg.solve(K, r) + logdet)
                if ll > best[0]:
                    best = (ll, g, s2)
        _, self.gamma_, self.noise_ = best
        K = self.gamma_ * K0 + self.noise_ * np.eye(len(y))
        self.w_ = mu + self.gamma_ * S @ Phi.T @ np.linalg.solve(K, r)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.scale_ * (self._phi(X) @ self.w_)


class BayesOpCount(BayesLinear):
    """:class:`BayesLinear` on op counts only: ``max_choices + 1`` weights, so ``k`` samples can
    move it far from a prior that does not fit the target (measured F3, k = 20: ρ 0.88 against
    0.63 for the default features)."""

    name = "bayes-opcount"

    def __init__(self, space: SearchSpace, **kwargs: object) -> None:
        kwargs.setdefault("features", "opcount")
        super().__init__(space, **kwargs)  # type: ignore[arg-type]
