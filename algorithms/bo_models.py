"""BoTorch surrogates for Bayesian optimisation over a finite set of architectures.

Every tensor the models and acquisition functions see has the layout ``(..., n_var + 2)``,
float64: columns ``0 .. n_var - 1`` are op ids (categorical, never ordinal), column ``n_var`` is
the row of the candidate in ``problem.candidates()`` (read only by the deterministic proxy
model), column ``n_var + 1`` the fidelity (``1`` target, ``0`` low fidelity).

- Latency: :class:`LatencyGP`, a ``SingleTaskGP`` on latency (ms, or log ms) standardised per
  fidelity, with the kernel ``s * HammingKernel(ops, ARD) [* CategoricalKernel(fidelity)]``: the
  fidelity factor is a two-task kernel whose cross-fidelity correlation is ``exp(-1 / l_fid)``.
- Accuracy proxy: known and cheap, so a ``GenericDeterministicModel`` reading a table by
  candidate row, combined with the GP in a ``ModelList``.
- :class:`TargetLatencyObjective` maps the GP's standardised outcome back to milliseconds on
  the *target's* scale (for either fidelity), so hypervolumes are computed in the units the run
  is scored in.

The Hamming (overlap) kernel on categorical inputs follows Ru, Alvi, Nguyen, Osborne & Roberts,
"Bayesian optimisation over multiple continuous and categorical inputs" (CoCaBO, ICML 2020) and
Oh et al., "Combinatorial Bayesian optimization using the graph cartesian product" (COMBO,
NeurIPS 2019); the two-task fidelity kernel is the intrinsic coregionalisation model (Bonilla,
Chai & Williams, "Multi-task Gaussian process prediction", NeurIPS 2007).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.multi_objective.objective import MCMultiOutputObjective
from botorch.models import ModelList, SingleTaskGP
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.kernels.categorical import CategoricalKernel
from botorch.sampling import ListSampler, MCSampler, SobolQMCNormalSampler
from botorch.sampling.index_sampler import IndexSampler
from gpytorch import settings as gpt_settings
from gpytorch.constraints import Positive
from gpytorch.kernels import Kernel, ScaleKernel
from torch import Tensor

DTYPE = torch.float64
TARGET, LOW = 1.0, 0.0
#: Log latency is floored at this fraction of the fidelity's median observation: HELP's raspi4
#: and pixel3 report ~0.01 ms for the ~300 cells whose output is disconnected, which would
#: otherwise sit 6 standard deviations away and dominate the fit.
FLOOR = 0.05
OUTCOMES = ("log", "ms")
#: Candidates that would still be dominated with a latency this many posterior standard
#: deviations below the mean get acquisition value 0 without evaluating it: their MC
#: improvement is zero unless a quasi-MC draw lies beyond 4 sd (probability 6e-5 per draw).
SCREEN_SD = 4.0


def encode(X: np.ndarray, rows: np.ndarray, fidelity: float | np.ndarray) -> Tensor:
    """``(n, n_var + 2)`` model inputs for architectures ``X`` ``(n, n_var)`` at ``fidelity``.

    Args:
        X: Op ids ``(n, n_var)``.
        rows: Candidate rows ``(n,)`` (indices into ``problem.candidates()``).
        fidelity: ``1.0`` (target) or ``0.0`` (low fidelity), scalar or ``(n,)``.
    """
    fid = np.broadcast_to(np.asarray(fidelity, dtype=np.float64), (len(X),))
    out = np.column_stack([np.asarray(X, np.float64), np.asarray(rows, np.float64), fid])
    return torch.as_tensor(out, dtype=DTYPE)


class HammingKernel(Kernel):
    """Additive categorical (Hamming) kernel ``k(x, x') = sum_i w_i [x_i == x'_i]``, ``sum w = 1``.

    Op ids are compared for equality only (never as ordinal values); the ARD weights ``w``
    say how much each variable matters. The function class is every sum of per-(variable,
    choice) effects, the shape of NB201 latency (a per-edge op cost), so it generalises from
    a few dozen observations where a product kernel needs many more.

    Args:
        n_choices: Number of choices of each variable ``(n_var,)`` (only its length is used:
            equality needs no codebook).
        floor: Share of the total weight spread uniformly over the variables, in [0, 1): every
            weight is at least ``floor / n_var``. ``0`` lets a fit switch a variable off; on a
            handful of observations that happens to variables that do matter, and the softplus
            of a very negative raw weight has no gradient to switch it back on.
    """

    has_lengthscale = False

    def __init__(self, n_choices: Sequence[int], floor: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= floor < 1.0:
            raise ValueError(f"floor must be in [0, 1), got {floor}")
        self.floor = float(floor)
        raw = torch.zeros(*self.batch_shape, len(n_choices), dtype=DTYPE)
        self.register_parameter("raw_weight", torch.nn.Parameter(raw))
        self.register_constraint("raw_weight", Positive())

    @property
    def weight(self) -> Tensor:
        """Normalised ARD weights ``(..., n_var)`` (each at least ``floor / n_var``)."""
        w = self.raw_weight_constraint.transform(self.raw_weight)
        w = w / w.sum(-1, keepdim=True)
        return self.floor / w.shape[-1] + (1.0 - self.floor) * w if self.floor else w

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False, **params: Any) -> Tensor:
        w = self.weight
        if diag:
            return ((x1 == x2).to(w.dtype) * w.unsqueeze(-2)).sum(-1)
        eq = (x1.unsqueeze(-2) == x2.unsqueeze(-3)).to(w.dtype)
        return (eq * w[..., None, None, :]).sum(-1)


def latency_kernel(
    n_choices: Sequence[int], multi_fidelity: bool, weight_floor: float = 0.0
) -> Kernel:
    """Scaled Hamming kernel on the ops, times a categorical kernel on the fidelity column."""
    n_var = len(n_choices)
    ops: Kernel = HammingKernel(n_choices, weight_floor, active_dims=tuple(range(n_var)))
    if multi_fidelity:
        fid = CategoricalKernel(active_dims=(n_var + 1,))
        fid.lengthscale = 2.0  # cross-fidelity correlation exp(-1/2) = 0.61 before fitting
        ops = ops * fid
    return ScaleKernel(ops)


class LatencyGP:
    """Latency GP over (architecture, fidelity), refitted on a schedule, warm-started.

    Each fidelity's outcome (log latency floored at :data:`FLOOR` of its median, or latency in
    ms) is standardised with its own observed mean and standard deviation (a proxy device is on
    another scale than the target), so the GP models ``z = (y - mean_f) / std_f``.

    Args:
        n_choices: Number of choices of each op variable ``(n_var,)``.
        multi_fidelity: Model a fidelity column (two tasks) or the target only.
        outcome: ``log`` (log latency) or ``ms`` (latency).
        weight_floor: :class:`HammingKernel` ``floor`` (share of the ARD weight spread
            uniformly; ``0``: none).
        fresh_fit: On a refit, also fit from the default hyper-parameters and keep whichever
            of the two fits (that one, the warm-started one) has the higher marginal
            likelihood. Warm starts alone lock in a degenerate early fit: on 5-7 single-
            fidelity observations the fit can put all ARD weight on one or two edges and then
            explain every new point as noise (outputscale 1e-8), for the rest of the run.
    """

    def __init__(
        self,
        n_choices: Sequence[int],
        multi_fidelity: bool,
        outcome: str = "ms",
        weight_floor: float = 0.0,
        fresh_fit: bool = False,
    ) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        if not 0.0 <= weight_floor < 1.0:
            raise ValueError(f"weight_floor must be in [0, 1), got {weight_floor}")
        self.n_choices = [int(c) for c in n_choices]
        self.multi_fidelity = multi_fidelity
        self.outcome = outcome
        self.weight_floor = float(weight_floor)
        self.fresh_fit = bool(fresh_fit)
        self.model: SingleTaskGP | None = None
        self.stats: dict[float, tuple[float, float, float]] = {}  # mean, std, floor_ms
        self.n_fits = 0
        self.n_fit_failures = 0

    def update(self, X: Tensor, latency_ms: np.ndarray, refit: bool) -> None:
        """Condition on all observations; fit hyper-parameters when ``refit``.

        Args:
            X: Encoded inputs ``(n, n_var + 2)``.
            latency_ms: Latency ``(n,)`` in ms at each row's fidelity.
            refit: Re-estimate hyper-parameters (L-BFGS from the previous values).
        """
        fid = X[:, -1].numpy()
        for f in np.unique(fid):
            lat = latency_ms[fid == f]
            floor = FLOOR * float(np.median(lat))
            y = self._transform(lat, floor)
            sd = float(y.std()) if len(y) > 1 else 1.0
            self.stats[float(f)] = (float(y.mean()), sd if sd > 1e-6 else 1.0, floor)
        ty = torch.as_tensor(self.z_of(latency_ms, fid), dtype=DTYPE)[:, None]
        model = self._new_model(X, ty)
        warm = self.model is not None
        if self.model is not None:  # warm start: previous hyper-parameters
            model.load_state_dict(self.model.state_dict(), strict=False)
        if refit or self.model is None:
            mll = self._fit(model)
            if self.fresh_fit and warm:
                fresh = self._new_model(X, ty)
                if self._fit(fresh) > mll:
                    model = fresh
        model.eval()
        self.model = model

    def _new_model(self, X: Tensor, ty: Tensor) -> SingleTaskGP:
        kernel = latency_kernel(self.n_choices, self.multi_fidelity, self.weight_floor)
        return SingleTaskGP(X, ty, covar_module=kernel)

    def _transform(self, latency_ms: np.ndarray, floor_ms: float) -> np.ndarray:
        if self.outcome == "log":
            return np.log(np.maximum(latency_ms, max(floor_ms, 1e-9)))
        return np.asarray(latency_ms, dtype=np.float64)

    def _fit(self, model: SingleTaskGP) -> float:
        """Fit ``model``'s hyper-parameters; returns its marginal log likelihood after."""
        from botorch.exceptions.errors import ModelFittingError
        from botorch.fit import fit_gpytorch_mll
        from gpytorch.mlls import ExactMarginalLogLikelihood

        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with warnings.catch_warnings(), torch.enable_grad():
            warnings.simplefilter("ignore")  # small-data optimisation warnings are expected
            try:  # one attempt from the current values: no random restarts, no global RNG
                fit_gpytorch_mll(mll, max_attempts=1)
            except ModelFittingError:
                self.n_fit_failures += 1  # keep the warm-started values
        self.n_fits += 1
        model.train()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x, y = model.train_inputs[0], model.train_targets
            value = float(mll(model(x), y).sum().item())
        return value if math.isfinite(value) else -math.inf

    @property
    def correlation(self) -> float:
        """Posterior cross-fidelity correlation ``exp(-1 / l_fid)`` (1.0 single-fidelity)."""
        if not self.multi_fidelity or self.model is None:
            return 1.0
        fid = self.model.covar_module.base_kernel.kernels[1]
        return float(math.exp(-1.0 / float(fid.lengthscale.item())))

    def target_ms(self, z: Tensor) -> Tensor:
        """Standardised outcome ``z`` (any shape) mapped to target milliseconds (at least 0).

        Returns a tensor of the same shape as ``z``.
        """
        mu, sd, _ = self.stats[TARGET]
        y = mu + sd * z
        return torch.exp(y) if self.outcome == "log" else y.clamp_min(0.0)

    def z_of(self, latency_ms: np.ndarray, fidelity: np.ndarray) -> np.ndarray:
        """Observed latency ``(n,)`` standardised with each row's fidelity statistics."""
        out = np.empty(len(latency_ms))
        for f in np.unique(fidelity):
            mu, sd, floor = self.stats[float(f)]
            sel = fidelity == f
            out[sel] = (self._transform(latency_ms[sel], floor) - mu) / sd
        return out


class TargetLatencyObjective(MCMultiOutputObjective):
    """Objectives to maximise from model outputs ``(proxy, z [, trust])``.

    Output ``(..., m)``: the proxy (normalised), ``-latency / scale`` with latency in target
    milliseconds, and the trust objective unchanged when present.

    Args:
        gp: The latency GP (its target statistics map ``z`` to milliseconds).
        scale_ms: Reference latency in ms (maps to the reference point's ``-1``).
    """

    def __init__(self, gp: LatencyGP, scale_ms: float) -> None:
        super().__init__()
        self.gp = gp
        self.scale_ms = scale_ms

    def forward(self, samples: Tensor, X: Tensor | None = None) -> Tensor:
        lat = -self.gp.target_ms(samples[..., 1:2]) / self.scale_ms
        return torch.cat([samples[..., :1], lat, samples[..., 2:]], dim=-1)


def table_model(values: Tensor, n_var: int) -> GenericDeterministicModel:
    """Deterministic model returning ``values[candidate row]`` ``(..., q, 1)``."""
    return GenericDeterministicModel(lambda X: values[X[..., n_var].long()].unsqueeze(-1))


def trust_model(low: float) -> GenericDeterministicModel:
    """MOMF's trust objective: ``1`` at the target fidelity, ``low`` (> 0) at the low one."""
    return GenericDeterministicModel(lambda X: torch.where(X[..., -1:] == TARGET, 1.0, low))


def model_list(
    proxy: GenericDeterministicModel, gp: LatencyGP, *extra: GenericDeterministicModel
) -> ModelList:
    """``ModelList(proxy, latency GP, *extra)``: outputs ``(proxy, z, *extra)``."""
    assert gp.model is not None
    return ModelList(proxy, gp.model, *extra)


def list_sampler(n_models: int, mc_samples: int, seed: int) -> MCSampler:
    """A seeded sampler for ``model_list``: quasi-MC for the GP, index for deterministic ones."""
    shape = torch.Size([mc_samples])
    parts: list[MCSampler] = [IndexSampler(shape, seed=seed)]
    parts.append(SobolQMCNormalSampler(shape, seed=seed))
    parts += [IndexSampler(shape, seed=seed) for _ in range(n_models - 2)]
    return ListSampler(*parts)


def acquisition_values(
    acqf: AcquisitionFunction, choices: Tensor, max_batch_size: int = 2048
) -> Tensor:
    """Acquisition value ``(N,)`` of each row of ``choices`` ``(N, d)`` with ``q = 1``.

    The same exhaustive evaluation as ``botorch.optim.optimize_acqf_discrete`` (batches of
    ``max_batch_size`` t-batches, each a one-point posterior: never one joint posterior over
    all rows), returning every value rather than the argmax.
    """
    with torch.no_grad(), gpt_settings.fast_pred_var():
        parts = [acqf(c.unsqueeze(-2)) for c in choices.split(max_batch_size)]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=DTYPE)


def posterior_z(
    model: SingleTaskGP, choices: Tensor, max_batch_size: int = 2048
) -> tuple[Tensor, Tensor]:
    """Posterior mean and standard deviation ``(N,)`` of ``z`` at each row of ``choices``.

    Batched one-point posteriors; variances through LOVE (``fast_pred_var``): the exact
    per-point solves took 66 s for 31,250 points at 550 observations, LOVE 3.3 s, with the
    same variances to 1e-15 (measured on NB201).
    """
    means, sds = [], []
    with torch.no_grad(), gpt_settings.fast_pred_var():
        for c in choices.split(max_batch_size):
            post = model.posterior(c.unsqueeze(-2))
            means.append(post.mean.reshape(-1))
            sds.append(post.variance.clamp_min(0.0).sqrt().reshape(-1))
    if not means:
        return torch.zeros(0, dtype=DTYPE), torch.zeros(0, dtype=DTYPE)
    return torch.cat(means), torch.cat(sds)


def dominated(points: np.ndarray, front: np.ndarray) -> np.ndarray:
    """``(N,)`` bool: rows of ``points`` ``(N, 2)`` weakly dominated by a row of ``front``.

    Both objectives are maximised.
    """
    out = np.zeros(len(points), dtype=bool)
    if len(front) == 0 or len(points) == 0:
        return out
    order = np.argsort(-front[:, 0], kind="stable")
    best = np.maximum.accumulate(front[order, 1])  # best second objective among proxy >= p
    n = np.searchsorted(-front[order, 0], -points[:, 0], side="right")
    has = n > 0
    out[has] = best[n[has] - 1] >= points[has, 1]
    return out


def normalised(values: np.ndarray) -> np.ndarray:
    """Min-max normalisation of ``(N,)`` values to [0, 1] (constant maps to 0); same shape."""
    lo, hi = float(np.min(values)), float(np.max(values))
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values, dtype=np.float64)


__all__: Sequence[str] = (
    "SCREEN_SD",
    "HammingKernel",
    "LatencyGP",
    "TargetLatencyObjective",
    "acquisition_values",
    "dominated",
    "encode",
    "latency_kernel",
    "list_sampler",
    "model_list",
    "posterior_z",
    "table_model",
    "trust_model",
)
