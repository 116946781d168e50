"""The controller's in-context latency model: :class:`~moohw.predictors.incontext.InContext`
conditioned on the probes, with a knowledge prior shipped as data.

``InContext`` (runtime feature families — op counts, live vs dead work, per-edge position, op
interactions, each with a launch-cost constant — as evidence-weighted Bayesian linear models plus a
categorical GP residual) builds its per-family weight priors ``(mu_f, S_f)`` from knowledge
devices. A deployed controller must run with no data files and no network, so those priors are
fitted once and shipped in the checkpoint folder as a small ``.npz`` (:class:`FamilyPriors`):

- ``incontext_knowledge.npz``: fitted on the whole-space latencies of the ND train devices of the
  NASFLAT task suite (``python benchmarks/unseen_controller.py priors --data ../shared/data``);
- ``incontext_synthetic.npz``: fitted on synthetic devices only (:func:`synthetic_priors`: the
  :class:`~moohw.devices.prior.PriorDevice` generator with a data-free parameter set,
  :data:`DATA_FREE_PRIOR`) — no real latency is read, the Sim-is-More setting.

:class:`ProbeLatency` answers what the acquisition needs after every probe: the posterior mean and
standard deviation (ms) of every candidate's latency. Features of the candidates are computed once;
a refit costs one batched Cholesky over the hyper-parameter grid (closed form, no gradient step).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.linalg import solve_triangular

from moohw.devices.prior import PriorDevice, SyntheticPrior
from moohw.errors import InputError
from moohw.predictors.base import Knowledge, blas_single_thread
from moohw.predictors.incontext import InContext, hamming
from moohw.predictors.runtime_features import family_features
from moohw.rng import SeedLike, as_generator
from moohw.spaces import SearchSpace

#: ``prior=`` option value → file in the checkpoint folder.
PRIOR_FILES = {"knowledge": "incontext_knowledge.npz", "synthetic": "incontext_synthetic.npz"}

#: Synthetic-device parameters chosen without any data: the additive generator's per-op cost
#: means/stds of :mod:`moohw.devices.synthetic` (none, skip, conv1x1, conv3x3, avgpool; normalised
#: to sum to 1) and even odds for every structural family (pruning of dead work, launch-bound).
DATA_FREE_PRIOR = SyntheticPrior(
    op_mean=tuple(float(v) for v in np.array([0.0, 0.08, 0.55, 1.4, 0.35]) / 2.38),
    op_std=tuple(float(v) for v in np.array([0.0, 0.06, 0.30, 0.70, 0.25]) / 2.38),
    p_prune=0.5,
    p_launch=0.5,
    pos_sigma=0.3,
    noise_sigma=0.02,
    fitted_on=(),
)


@dataclass(frozen=True)
class FamilyPriors:
    """Per-family Gaussian priors over mean-normalised weights (see ``InContext.priors``).

    Attributes:
        priors: Family name → (mean ``(D,)``, covariance ``(D, D)``).
        meta: Provenance (JSON-serialisable): what the priors were fitted on.
    """

    priors: Mapping[str, tuple[np.ndarray, np.ndarray]]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        """Write an ``.npz`` of plain arrays (no pickles) plus a JSON string of ``meta``."""
        arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(dict(self.meta)))}
        for f, (mu, S) in self.priors.items():
            arrays[f"mu__{f}"], arrays[f"cov__{f}"] = mu, S
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | Path) -> FamilyPriors:
        """Read a file written by :meth:`save` (``allow_pickle=False``)."""
        p = Path(path)
        if not p.is_file():
            raise InputError(f"no in-context latency prior at {p}")
        with np.load(p, allow_pickle=False) as z:
            fams = sorted(k[4:] for k in z.files if k.startswith("mu__"))
            if not fams or "meta" not in z.files:
                raise InputError(f"malformed latency prior {p}: expected mu__*, cov__* and meta")
            priors = {f: (np.array(z[f"mu__{f}"]), np.array(z[f"cov__{f}"])) for f in fams}
            meta = json.loads(str(z["meta"]))
        return cls(priors, meta)


def fit_family_priors(
    space: SearchSpace,
    X: np.ndarray,
    latencies_ms: Mapping[str, np.ndarray],
    meta: Mapping[str, Any] | None = None,
    sigma_a: float = 0.3,
    delta: float = 0.3,
) -> FamilyPriors:
    """Per-family priors from devices measured on the same cells, as ``InContext.priors`` does:
    per-device least squares on mean-normalised latency, mean and covariance of the weights,
    diagonal shrinkage ``delta`` and a scale direction ``sigma_a * mu`` (``InContext``'s defaults).

    Args:
        space: Search space.
        X: ``(m, n_var)`` architectures every device was measured on.
        latencies_ms: Device name → ``(m,)`` latency in ms.
        meta: Provenance stored with the priors (default: the device names).
    """
    if len(latencies_ms) < 2:
        raise InputError(f"the latency prior needs at least two devices, got {len(latencies_ms)}")
    Y = np.column_stack([y / max(float(np.mean(y)), 1e-12) for y in latencies_ms.values()])
    F = family_features(space, X)
    out = {}
    for f, Phi in F.items():
        W = np.linalg.lstsq(Phi, Y, rcond=None)[0].T  # (devices, D)
        mu = W.mean(axis=0)
        S = np.cov(W, rowvar=False)
        D = len(mu)
        scale = max(float(np.trace(S)) / D, float(np.mean(mu**2)), 1e-12)
        out[f] = (mu, S + delta * scale * np.eye(D) + sigma_a**2 * np.outer(mu, mu))
    return FamilyPriors(out, dict(meta or {"fitted_on": sorted(latencies_ms)}))


def synthetic_priors(space: SearchSpace, n_devices: int = 200, seed: SeedLike = 0) -> FamilyPriors:
    """Priors fitted on ``n_devices`` data-free synthetic devices (whole space); reads no data.

    Args:
        space: The NB201 space.
        n_devices: Number of synthetic devices drawn from :data:`DATA_FREE_PRIOR`.
        seed: Seed or Generator for the devices.
    """
    if n_devices < 2:
        raise InputError(f"n_devices must be >= 2, got {n_devices}")
    rng = as_generator(seed)
    X = space.enumerate()
    lat = {}
    for i in range(n_devices):
        dev = PriorDevice(f"synthetic-free:{i}", space, DATA_FREE_PRIOR, seed=rng)
        lat[dev.name] = dev.latency_ms(X)
    meta = {
        "fitted_on": "synthetic",
        "n_devices": n_devices,
        "generator": "moohw.devices.prior.PriorDevice",
        "params": {k: v for k, v in json.loads(DATA_FREE_PRIOR.to_json()).items()},
    }
    return fit_family_priors(space, X, lat, meta)


class _ShippedInContext(InContext):
    """``InContext`` whose knowledge priors are given (shipped), not fitted from devices."""

    def __init__(self, space: SearchSpace, priors: FamilyPriors, **kwargs: Any) -> None:
        super().__init__(space, families=tuple(priors.priors), **kwargs)
        self._shipped = dict(priors.priors)

    def priors(self, knowledge: Knowledge) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return self._shipped

    def dist_on(
        self,
        F: Mapping[str, np.ndarray],
        FS: Mapping[str, np.ndarray],
        FSF: Mapping[str, np.ndarray],
        E: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mixture mean and variance ``(n,)`` (normalised units) of candidates, from their
        precomputed features ``F`` (family → ``(n, D)``), ``FS = F S_f``, ``FSF = diag(F S_f F^T)``
        and effective ops ``E`` ``(n, n_var)`` (the same algebra as ``InContext.predict_dist``)."""
        H = hamming(E, self.X_eff_)
        kern: dict[float, np.ndarray] = {}
        mean = np.zeros(len(E))
        second = np.zeros(len(E))
        for c in self.components_:
            Phi, Phi_t = F[c.family], self._Phi_train[c.family]
            if c.gp_var > 0:
                if c.lengthscale not in kern:
                    kern[c.lengthscale] = np.exp(-H / c.lengthscale)
                Ks = c.gp_var * kern[c.lengthscale]
            else:
                Ks = np.zeros_like(H)
            m = Phi @ c.v + Ks @ c.alpha
            Linv = solve_triangular(c.L, np.eye(len(c.L)), lower=True, check_finite=False)
            AT = (c.gamma * FS[c.family] @ Phi_t.T + Ks) @ Linv.T  # (n, k): (L^-1 k*^T)^T
            var = c.gamma * FSF[c.family] + c.gp_var + c.noise - (AT * AT).sum(axis=1)
            var = np.maximum(var, c.noise)
            mean += c.weight * m
            second += c.weight * (var + m * m)
        return mean, np.maximum(second - mean**2, 1e-12)


class ProbeLatency:
    """Posterior latency (mean and std, ms) of fixed candidates given the probes so far.

    Args:
        space: Search space (NB201).
        priors: The shipped per-family priors.
        X: Candidate architectures ``(n, n_var)``.
        max_components: Mixture components kept for prediction (speed; see ``InContext``).
    """

    def __init__(
        self, space: SearchSpace, priors: FamilyPriors, X: np.ndarray, max_components: int = 8
    ) -> None:
        self.model = _ShippedInContext(space, priors, max_components=max_components)
        self.X = np.asarray(X)
        self.F = family_features(space, self.X)
        self.E = self.model._effective(self.X)
        fams = tuple(priors.priors)
        self.FS = {f: self.F[f] @ priors.priors[f][1] for f in fams}
        self.FSF = {f: (self.FS[f] * self.F[f]).sum(axis=1) for f in fams}
        # Prior predictive (no probe yet): families equally weighted, scale unknown (normalised).
        means = np.array([self.F[f] @ priors.priors[f][0] for f in fams])
        vars_ = np.array([self.FSF[f] for f in fams])
        self._m0 = means.mean(axis=0)
        self._s0 = np.sqrt(np.maximum((vars_ + means**2).mean(axis=0) - self._m0**2, 1e-12))

    def posterior(
        self, idx: Sequence[int], y_ms: Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std ``(n,)`` of every candidate given latencies ``y_ms`` of candidates ``idx``.

        With no probe the prior predictive in normalised units (the device's scale is unknown).
        """
        ii = np.asarray(idx, dtype=np.int64)
        if len(ii) == 0:
            return self._m0.copy(), self._s0.copy()
        with blas_single_thread():  # small matrices: threads only contend on a loaded machine
            self.model.fit({}, self.X[ii], np.asarray(y_ms, dtype=float))
            m, v = self.model.dist_on(self.F, self.FS, self.FSF, self.E)
        return self.model.scale_ * m, self.model.scale_ * np.sqrt(v)
