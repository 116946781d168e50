"""Multi-fidelity multi-objective Bayesian optimisation with MOMF (BoTorch).

Irshad, Karsch & Döpp, "Expected hypervolume improvement for simultaneous multi-objective and
multi-fidelity optimization" (arXiv:2112.13901, 2021), as ``botorch``'s ``MOMF``, over the
finite set of (architecture, fidelity) pairs (31,250 on NB201), evaluated exhaustively.

- **Fidelities.** Target: a paid measurement on the target device (the ledger's budget ``K``).
  Low: the latency of the same architecture on a *proxy device*, a knowledge device (never the
  target) chosen as in the one-proxy method (Lu et al., 2022): after ``n_init`` random target
  measurements, the knowledge device whose latency ranks those architectures most like the
  target (Spearman; ties broken by the Pearson correlation of log latency). A low-fidelity
  query costs ``cheap_cost`` target measurements (default 1/20) in the acquisition and the
  cheap-query rule below. Every knowledge-device lookup goes through
  ``problem.query_cheap("proxy_device", X, device)``, the ``n_init x |knowledge|`` probes that
  choose the proxy device included, and is booked like every method's: at the cost the device
  reports (its ``LatencyBatch.cost_s``), not at ``cheap_cost`` (``info["cheap_spent"]`` and
  ``info["probe_cost"]`` give the spend in the acquisition's target units).
- **Surrogate.** One GP over (architecture, fidelity): scaled additive Hamming kernel on the ops
  times a categorical kernel on the fidelity, outcome standardised per fidelity
  (:mod:`moohw.algorithms.bo_models`). The accuracy proxy is a deterministic model.
- **Acquisition.** MOMF: hypervolume improvement over (proxy, -latency in target ms, trust) per
  unit cost (1 or ``cheap_cost``), with the trust objective ``1`` at the target fidelity and
  ``rho`` at the low one (the GP's fitted cross-fidelity correlation, clipped to [0.05, 0.95])
  and reference ``0``: a cheap observation spans the slab ``[0, rho]`` of the trust axis, so it
  adds hypervolume (a trust equal to the reference would make every cheap query worthless).
  Every unmeasured pair is scored; pairs that cannot improve even ``SCREEN_SD`` posterior
  standard deviations faster than predicted get MOMF's value 0 without a second posterior call.
- **Cheap-query rule.** After the probes, low-fidelity queries may cost at most
  ``cheap_share`` times the target measurements made so far (default 0.5: at most 10 cheap
  queries per target measurement at 1:20), so their number is finite (at most
  ``cheap_share * K / cheap_cost``) and the rule never reads ``K``. The allowance after the
  ``n_init`` target measurements is spent at once on a uniformly random low-fidelity design
  (50 queries with the defaults: MOMF's own low-fidelity picks cluster on the predicted front
  and leave the GP blind elsewhere); later, when MOMF's best pair is a low-fidelity one, the
  ``cheap_batch`` best low-fidelity pairs are queried together before the model is updated,
  and the step that picks a target pair returns it for measurement. Only target measurements
  enter the ledger's declared front.

Like :class:`~moohw.algorithms.bo.BayesOpt` it never reads ``K`` (``budget_agnostic``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from botorch.acquisition.multi_objective.multi_fidelity import MOMF
from botorch.exceptions.warnings import NumericsWarning
from botorch.utils.multi_objective.box_decompositions import FastNondominatedPartitioning
from moohw.algorithms.base import check_knowledge
from moohw.algorithms.bo import BayesOpt
from moohw.algorithms.bo_models import (
    DTYPE,
    LOW,
    TARGET,
    acquisition_values,
    encode,
    list_sampler,
    model_list,
    posterior_z,
    table_model,
    trust_model,
)
from moohw.problems import HWNASProblem

from moohw.devices import Device
from moohw.errors import InputError
from moohw.metrics import spearman

TRUST_CLIP = (0.05, 0.95)


def choose_proxy_device(
    knowledge: Sequence[Device],
    X: np.ndarray,
    target_ms: np.ndarray,
    low_ms: Mapping[str, np.ndarray] | None = None,
) -> tuple[Device, dict[str, tuple[float, float]]]:
    """The knowledge device whose latency on ``X`` ranks them most like the target.

    Highest Spearman correlation; ties (frequent with a handful of probes) broken by the
    Pearson correlation of log latency, then by order.

    Args:
        knowledge: Candidate proxy devices.
        X: Probed architectures ``(n, n_var)``.
        target_ms: Their target latency ``(n,)`` in ms.
        low_ms: Their latency ``(n,)`` on each knowledge device, by name, when already read
            (a search reads them through its problem); ``None`` reads them here.

    Returns:
        The chosen device and ``{name: (spearman, pearson of log latency)}``.
    """
    ly = np.log(np.maximum(target_ms, 1e-9))
    corr: dict[str, tuple[float, float]] = {}
    for d in knowledge:
        lat = d.latency_ms(X) if low_ms is None else low_ms[d.name]
        lx = np.log(np.maximum(lat, 1e-9))
        ok = len(ly) > 2 and lx.std() > 0 and ly.std() > 0
        rho = spearman(lx, ly) if ok else -1.0
        r = float(np.corrcoef(lx, ly)[0, 1]) if ok else -1.0
        corr[d.name] = (rho if np.isfinite(rho) else -1.0, r if np.isfinite(r) else -1.0)
    best = max(knowledge, key=lambda d: corr[d.name])
    return best, corr


class MultiFidelityBO(BayesOpt):
    """MOMF over (architecture, fidelity) with a knowledge proxy device as the low fidelity.

    Args:
        knowledge: Knowledge devices (never the target) covering every candidate.
        cheap_cost: Cost of one low-fidelity query in target measurements (default 1/20).
        cheap_share: Cheap queries may cost at most this share of the target measurements
            made so far.
        cheap_batch: Low-fidelity queries taken together when MOMF prefers the low fidelity.
        trust_low: Trust objective of the low fidelity in (0, 1); ``None``: the GP's
            cross-fidelity correlation.
        n_init_low: Size of the random low-fidelity design after the probes (``None``: the
            whole cheap allowance at that point).
        proxy_device: Use this knowledge device as the low fidelity instead of choosing one
            from the probes (the probes are still made and recorded).
        weight_floor, fresh_fit: As :class:`~moohw.algorithms.bo.BayesOpt`, with the defaults
            MF-BO was measured with (no floor, warm starts only). Its GP sees ~50 random
            low-fidelity points from its first fit on, unlike single-fidelity BO's 5; whether
            the options change MF-BO's results has not been measured.
        n_init, mc_samples, refit_every, max_batch_size, ref_quantile, outcome: As
            :class:`~moohw.algorithms.bo.BayesOpt`.
    """

    multi_fidelity = True

    def __init__(
        self,
        knowledge: Sequence[Device],
        cheap_cost: float = 1 / 20,
        cheap_share: float = 0.5,
        cheap_batch: int = 10,
        trust_low: float | None = None,
        n_init_low: int | None = None,
        proxy_device: str | None = None,
        weight_floor: float = 0.0,
        fresh_fit: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(weight_floor=weight_floor, fresh_fit=fresh_fit, **kwargs)
        if not knowledge:
            raise InputError("mfbo needs at least one knowledge device")
        if not 0 < cheap_cost < 1:
            raise InputError(f"cheap_cost must be in (0, 1) target measurements, got {cheap_cost}")
        if not cheap_share >= 0:
            raise InputError(f"cheap_share must be >= 0, got {cheap_share}")
        if not isinstance(cheap_batch, int | np.integer) or cheap_batch < 1:
            raise InputError(f"cheap_batch must be an int >= 1, got {cheap_batch!r}")
        if n_init_low is not None and (
            not isinstance(n_init_low, int | np.integer) or n_init_low < 0
        ):
            raise InputError(f"n_init_low must be an int >= 0 or None, got {n_init_low!r}")
        if trust_low is not None and not 0 < trust_low < 1:
            raise InputError(f"trust_low must be in (0, 1), got {trust_low}")
        self.knowledge = list(knowledge)
        self.cheap_cost = float(cheap_cost)
        self.cheap_share = float(cheap_share)
        self.cheap_batch = int(cheap_batch)
        self.trust_low = trust_low
        self.n_init_low = n_init_low
        self.proxy_device_name = proxy_device
        self.proxy_device: Device | None = None
        self._low_rows: list[int] = []
        self._low_ms: list[float] = []
        self._cheap_spent = 0.0  # low-fidelity queries (capped), in target measurements
        self._probe_spent = 0.0  # proxy-device choice (one-off, outside the cap)

    def _setup(self, problem: HWNASProblem, **kwargs: Any) -> None:
        check_knowledge(problem, self.knowledge)
        super()._setup(problem, **kwargs)
        self.knowledge = [d for d in self.knowledge if d.covers(self.cand).all()]
        if not self.knowledge:
            raise InputError("no knowledge device covers every candidate architecture")
        usable = sorted(d.name for d in self.knowledge)
        if self.proxy_device_name is not None and self.proxy_device_name not in usable:
            raise InputError(
                f"proxy_device {self.proxy_device_name!r} is not a usable knowledge device; "
                f"known: {', '.join(usable)}"
            )
        self.low_choices = encode(self.cand, np.arange(len(self.cand)), LOW)

    def _lookup(self, device: Device, X: np.ndarray, capped: bool = True) -> np.ndarray:
        """Low-fidelity latency ``(n,)`` in ms, read and booked through the problem."""
        if capped:
            self._cheap_spent += self.cheap_cost * len(X)
        else:
            self._probe_spent += self.cheap_cost * len(X)
        return self.problem.query_cheap("proxy_device", X, device)

    def _initialize_advance(self, infills: Any = None, **kwargs: Any) -> None:
        super()._initialize_advance(infills, **kwargs)
        X, F = self.told()
        lat = F[:, 1]
        lows = {d.name: self._lookup(d, X, capped=False) for d in self.knowledge}  # the probes
        dev, corr = choose_proxy_device(self.knowledge, X, lat, lows)
        if self.proxy_device_name is not None:
            dev = next(d for d in self.knowledge if d.name == self.proxy_device_name)
        self.proxy_device = dev
        self._low_rows = self._rows(X).tolist()
        self._low_ms = lows[dev.name].tolist()
        # Initial low-fidelity design: the whole allowance, uniformly at random.
        n = self._affordable() if self.n_init_low is None else self.n_init_low
        if n > 0:
            Xl = self.sample_fresh(n)
            self._low_ms += self._lookup(dev, Xl).tolist()
            self._low_rows += self._rows(Xl).tolist()
        self.info = {
            "proxy_device": dev.name,
            "probe_spearman_pearson": corr,
            "probe_cost": self._probe_spent,
        }

    def _observations(self) -> tuple[torch.Tensor, np.ndarray]:
        tx, lat = super()._observations()
        if not self._low_rows:
            return tx, lat
        rows = np.array(self._low_rows, dtype=np.int64)
        lx = encode(self.cand[rows], rows, LOW)
        return torch.cat([tx, lx]), np.concatenate([lat, self._low_ms])

    def _affordable(self) -> int:
        """Cheap queries allowed now under the cheap-share rule."""
        cap = self.cheap_share * self.n_told
        return max(0, int(np.floor((cap - self._cheap_spent) / self.cheap_cost + 1e-9)))

    def _next(self) -> np.ndarray | None:
        problem: HWNASProblem = self.problem
        measured = self.is_told(self.cand)
        if measured.all():
            return None
        assert self.proxy_device is not None
        while True:
            self.update_model()
            n_cheap = self._affordable()
            low_free = ~measured
            low_free[np.array(self._low_rows, dtype=np.int64)] = False
            choices = self.target_choices[~measured]
            if n_cheap > 0 and low_free.any():
                choices = torch.cat([choices, self.low_choices[low_free]])
            values = self._momf_values(choices)
            best = int(torch.argmax(values))
            if values[best] <= 0:
                self._record()
                return self._fallback(~measured)
            if choices[best, -1].item() == TARGET:
                break
            low = ((choices[:, -1] == LOW) & (values > 0)).nonzero().squeeze(-1)
            order = low[torch.argsort(values[low], descending=True, stable=True)]
            rows = choices[order[: min(self.cheap_batch, n_cheap)], problem.n_var].long().numpy()
            self._low_ms += self._lookup(self.proxy_device, self.cand[rows]).tolist()
            self._low_rows += rows.tolist()
        self._record()
        row = int(choices[best, problem.n_var].item())
        return self.cand[row : row + 1]

    def _record(self) -> None:
        self.info.update(
            n_low_fidelity=len(self._low_rows),
            cheap_spent=self._cheap_spent,
            trust_low=self._trust(),
            n_gp_fits=self.gp.n_fits,
            n_gp_fit_failures=self.gp.n_fit_failures,
            n_fallback=self.n_fallback,
        )

    def _trust(self) -> float:
        if self.trust_low is not None:
            return self.trust_low
        return float(np.clip(self.gp.correlation, *TRUST_CLIP))

    def _momf_values(self, choices: torch.Tensor) -> torch.Tensor:
        """MOMF value ``(N,)`` of each (architecture, fidelity) row of ``choices``.

        Rows that cannot improve the hypervolume even optimistically (``_screen``) get 0, the
        value MOMF gives them, without a posterior call.
        """
        assert self.gp.model is not None
        mean, sd = posterior_z(self.gp.model, choices, self.max_batch_size)
        is_t = (choices[:, -1] == TARGET).numpy()
        obj = self._objective(mean[torch.as_tensor(is_t)])
        tx, _ = self._observations()
        Y = self._train_objectives(obj)
        Yn, obs_t = Y.numpy(), (tx[:, -1] == TARGET).numpy()
        keep = np.zeros(len(choices), dtype=bool)
        for sel, front in ((is_t, Yn[obs_t]), (~is_t, Yn)):  # a low pair vs every observation
            it = torch.as_tensor(sel)
            keep[sel] = self._screen(choices[it], obj, mean[it], sd[it], front)
        values = torch.zeros(len(choices), dtype=DTYPE)
        if not keep.any():
            return values
        trust = self._trust()
        Y = torch.cat([Y, torch.where(tx[:, -1:] == TARGET, 1.0, trust)], dim=-1)
        ref = torch.tensor([self.proxy_ref, -1.0, 0.0], dtype=DTYPE)
        cheap = self.cheap_cost
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumericsWarning)  # MOMF builds on (non-log) qEHVI
            acqf = MOMF(
                model_list(
                    table_model(self.proxy_t, self.problem.n_var), self.gp, trust_model(trust)
                ),
                ref_point=ref,
                # The annotation says NondominatedPartitioning; BoTorch's MOMF tutorial passes the
                # fast one, 5x quicker in 3-D here (1.5 s vs 7-8 s per step at 100 observations).
                partitioning=FastNondominatedPartitioning(ref_point=ref, Y=Y),  # type: ignore[arg-type]
                sampler=list_sampler(3, self.mc_samples, self.seed),
                objective=obj,
                cost_call=lambda X: torch.where(X[..., -1:] == TARGET, 1.0, cheap),
            )
        k = torch.as_tensor(keep)
        values[k] = acquisition_values(acqf, choices[k], self.max_batch_size)
        return values
