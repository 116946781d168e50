"""``incontext``: an in-context latency model that follows the probes and says how unsure it is.

For every feature family ``f`` of :mod:`moohw.predictors.runtime_features` (op counts, live work
vs dead work, per-edge position, op interactions, the work of a dead-code-eliminating runtime;
each with a constant launch cost) the target's
mean-normalised latency is modelled as a Gaussian process

    y(x) = phi_f(x) . w + g(x) + eps,   w ~ N(mu_f, gamma S_f),   g ~ GP(0, s2_g k_l),
    eps ~ N(0, s2_n),

i.e. a Bayesian linear model whose prior ``(mu_f, S_f)`` is learned from the knowledge devices
exactly as :class:`~moohw.predictors.bayes.BayesLinear` does (per-device least squares, mean and
shrunk covariance, widened along ``mu_f`` for the overall scale), plus a nonparametric residual
``g`` with a categorical (Hamming) kernel ``k_l(x, x') = exp(-mean_i [e_i != e'_i] / l)`` on the
ops a graph runtime keeps (dead edges mapped to ``none``). The residual lets the posterior follow
the probes where no linear family fits, instead of the prior.

Every (family, gamma, s2_n, s2_g, l) of a fixed grid is one model with the closed-form marginal
likelihood of the ``k`` probes; families get equal prior mass and each family's grid a uniform
hyper-prior, so the posterior weight of a model is proportional to its evidence. Predictions
average the models (Bayesian model averaging over the top components: 99.9% of the mass or
the 32 heaviest): the mean is the mixture mean and :meth:`InContext.predict_dist` gives the
mixture's standard deviation, from which :meth:`InContext.predict_interval` gives central intervals
(moment-matched normal). Everything is closed-form numpy (batched Cholesky over the grid);
the composite covariance (a knowledge-device prior over family weights plus a categorical
kernel) is not one of GPyTorch's kernels, and the grid is what keeps a fit at a few ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from moohw.errors import InputError
from moohw.predictors.base import Knowledge, LatencyPredictor, knowledge_key
from moohw.predictors.runtime_features import effective_ops, family_features, family_names
from moohw.rng import SeedLike
from moohw.spaces import SearchSpace


@dataclass(frozen=True)
class _Component:
    family: str
    gamma: float
    noise: float
    gp_var: float
    lengthscale: float
    weight: float
    v: np.ndarray  # (D,) posterior mean of the weights: mu + gamma S Phi^T alpha
    alpha: np.ndarray  # (k,) C^-1 r
    L: np.ndarray  # (k, k) Cholesky factor of C


def hamming(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Mean mismatch ``(len(A), len(B))`` between rows of op ids."""
    return (A[:, None, :] != B[None, :, :]).mean(axis=2)


class InContext(LatencyPredictor):
    """Evidence-weighted Bayesian linear families with a GP residual (module docstring).

    Args:
        space: Search space.
        families: Feature families to use (default: all of the space's).
        sigma_a: Prior std of the target's overall scale relative to the knowledge mean model.
        delta: Diagonal shrinkage of the knowledge covariance (fraction of its mean variance).
        gammas: Prior-covariance multipliers of the grid.
        noises: Noise variances of the mean-normalised latency.
        gp_vars: Residual GP variances (mean-normalised latency; 0 = no residual).
        lengthscales: Residual kernel lengthscales (in units of the mean op mismatch).
        mass: Posterior mass kept for prediction (top components).
        max_components: At most this many components are kept (their weights renormalised).
    """

    name = "incontext"

    def __init__(
        self,
        space: SearchSpace,
        families: Sequence[str] | None = None,
        sigma_a: float = 0.3,
        delta: float = 0.3,
        gammas: Sequence[float] = (0.1, 0.3, 1.0, 3.0, 10.0),
        noises: Sequence[float] = (1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
        gp_vars: Sequence[float] = (0.0, 1e-3, 1e-2, 1e-1),
        lengthscales: Sequence[float] = (0.2, 1.0),
        mass: float = 0.999,
        max_components: int = 32,
    ) -> None:
        super().__init__(space)
        known = family_names(space)
        self.families = tuple(families) if families is not None else known
        bad = [f for f in self.families if f not in known]
        if bad or not self.families:
            raise InputError(f"unknown feature families {bad}; valid for this space: {known}")
        self.sigma_a, self.delta, self.mass = float(sigma_a), float(delta), float(mass)
        self.max_components = int(max_components)
        self.gammas, self.noises = tuple(gammas), tuple(noises)
        self.gp_vars, self.lengthscales = tuple(gp_vars), tuple(lengthscales)
        self._effective = effective_ops(space)
        self._prior_cache: tuple[object, dict[str, tuple[np.ndarray, np.ndarray]]] | None = None
        # the hyper-parameter grid, shared by every family: (gamma, noise, gp_var, lengthscale)
        grid = []
        for g in self.gammas:
            for s2 in self.noises:
                for v in self.gp_vars:
                    for ls in self.lengthscales if v > 0 else self.lengthscales[:1]:
                        grid.append((g, s2, v, ls))
        self._grid = np.array(grid, dtype=np.float64)

    def priors(self, knowledge: Knowledge) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Family → prior mean ``(D,)`` and covariance ``(D, D)`` of its normalised weights."""
        key = knowledge_key(knowledge)
        if self._prior_cache is not None and self._prior_cache[0] == key:
            return self._prior_cache[1]
        per_dev = [
            (
                family_features(self.space, d.X),
                d.latency_ms / max(float(np.mean(d.latency_ms)), 1e-12),
            )
            for d in knowledge.values()
        ]
        zero = family_features(self.space, np.zeros((1, self.space.n_var), int))
        out = {}
        for f in self.families:
            D = zero[f].shape[1]
            if not per_dev:
                out[f] = (np.zeros(D), np.eye(D))
                continue
            W = np.array([np.linalg.lstsq(F[f], y, rcond=None)[0] for F, y in per_dev])
            mu = W.mean(axis=0)
            S = np.cov(W, rowvar=False) if len(W) > 1 else np.zeros((D, D))
            scale = max(float(np.trace(S)) / D, float(np.mean(mu**2)), 1e-12)
            S = S + self.delta * scale * np.eye(D) + self.sigma_a**2 * np.outer(mu, mu)
            out[f] = (mu, S)
        self._prior_cache = (key, out)
        return out

    def _fit(self, knowledge: Knowledge, X: np.ndarray, y_ms: np.ndarray, seed: SeedLike) -> None:
        priors = self.priors(knowledge)
        k = len(y_ms)
        if k < 1:
            raise InputError("incontext needs at least one target sample")
        self.scale_ = max(float(np.mean(y_ms)), 1e-12)
        y = y_ms / self.scale_
        F = family_features(self.space, X)
        self.X_eff_ = self._effective(X)
        H = hamming(self.X_eff_, self.X_eff_)
        g, s2, gv, ls = (self._grid[:, i][:, None, None] for i in range(4))
        kern = gv * np.exp(-H[None] / ls) + s2 * np.eye(k)[None]  # (G, k, k)
        cands = []
        for f in self.families:
            mu, S = priors[f]
            Phi = F[f]
            r = y - Phi @ mu
            C = g * (Phi @ S @ Phi.T)[None] + kern
            L = np.linalg.cholesky(C)
            alpha = np.linalg.solve(C, r[None, :, None])[..., 0]  # (G, k)
            logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
            ll = -0.5 * ((alpha * r[None]).sum(axis=1) + logdet + k * np.log(2 * np.pi))
            for i in range(len(self._grid)):
                cands.append((float(ll[i]), f, i, L[i], alpha[i]))
        lls = np.array([c[0] for c in cands])
        w = np.exp(lls - lls.max())
        w /= w.sum()
        fam = np.array([c[1] for c in cands])
        self.family_weights_ = {f: float(w[fam == f].sum()) for f in self.families}
        order = np.argsort(-w, kind="stable")
        n_keep = int(np.searchsorted(np.cumsum(w[order]), self.mass) + 1)
        keep = order[: min(n_keep, self.max_components)]
        wk = w[keep] / w[keep].sum()
        self.components_: list[_Component] = []
        for wi, ci in zip(wk, keep):
            _, f, i, L, alpha = cands[ci]
            gi, s2i, gvi, lsi = (float(t) for t in self._grid[i])
            mu, S = priors[f]
            v = mu + gi * S @ (F[f].T @ alpha)
            self.components_.append(_Component(f, gi, s2i, gvi, lsi, float(wi), v, alpha, L))
        self.log_evidence_ = float(lls.max() + np.log(np.exp(lls - lls.max()).mean()))
        self._priors = priors
        self._Phi_train = F

    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and standard deviation ``(n,)``, ``(n,)`` in ms (mixture moments;
        the std includes the measurement noise)."""
        if not self._fitted:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        X = self.space.validate(X)
        mean = np.zeros(len(X))
        second = np.zeros(len(X))
        for a in range(0, len(X), 4096):
            m, v = self._dist_chunk(X[a : a + 4096])
            mean[a : a + 4096], second[a : a + 4096] = m, v
        var = np.maximum(second - mean**2, 1e-12)
        return self.scale_ * mean, self.scale_ * np.sqrt(var)

    def _dist_chunk(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        F = family_features(self.space, X)
        H = hamming(self._effective(X), self.X_eff_)  # (n, k)
        mean = np.zeros(len(X))
        second = np.zeros(len(X))
        for c in self.components_:
            Phi, Phi_t = F[c.family], self._Phi_train[c.family]
            S = self._priors[c.family][1]
            PS = Phi @ S
            Ks = c.gp_var * np.exp(-H / c.lengthscale) if c.gp_var > 0 else np.zeros_like(H)
            m = Phi @ c.v + Ks @ c.alpha
            kstar = c.gamma * PS @ Phi_t.T + Ks  # (n, k)
            A = np.linalg.solve(c.L, kstar.T)  # (k, n)
            var = c.gamma * (PS * Phi).sum(axis=1) + c.gp_var + c.noise - (A * A).sum(axis=0)
            var = np.maximum(var, c.noise)
            mean += c.weight * m
            second += c.weight * (var + m * m)
        return mean, second

    def predict_interval(self, X: np.ndarray, level: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
        """Central ``level`` predictive interval ``(lo, hi)``, each ``(n,)`` in ms."""
        if not 0 < level < 1:
            raise InputError(f"level must be in (0, 1), got {level}")
        m, s = self.predict_dist(X)
        z = float(norm.ppf(0.5 + level / 2))
        return m - z * s, m + z * s

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_dist(X)[0]
