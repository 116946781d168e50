"""One proxy device: reuse a knowledge device's Pareto set on the target, adapting when needed.

Lu et al., "One Proxy Device Is Enough for Hardware-Aware NAS" (SIGMETRICS 2022): latency
rankings are often monotone across devices, so the Pareto set found on a proxy device can be
measured on a new target with no new search; when monotonicity is weak, an AdaProxy-adapted
linear model of the proxy restores the ranking.

Budget use (DESIGN.md): the first ``n_probes`` target measurements are random architectures that
choose the proxy among *knowledge* devices only (highest Spearman ρ between the probes' measured
latency and the device's latency). The proxy's (accuracy proxy, latency) Pareto layers over the
whole space are cheap queries. Every read of a knowledge device (the probe look-ups on each of
them, then the chosen devices over the space), every AdaProxy prediction and every proxy score goes
through ``problem.query_cheap``, booked at the cost its source reports. The remaining budget
measures those layers in order, each spread evenly along its front. When the probes show ρ below
``threshold``, the proxy's latency is replaced by AdaProxy's prediction fitted on the probes before
ranking. moohw pools AdaProxy's per-feature correction over edges by default
(``correction="choice"``): on the 41 weakly monotone ND pairs with 10 target samples it lifts
whole-space Spearman from 0.775 to 0.941 on average, where the paper's per-feature correction
reaches only 0.787 (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from moohw.algorithms.base import ArchiveAlgorithm, check_knowledge
from moohw.problems import HWNASProblem
from pymoo.core.population import Population
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from moohw.devices import Device
from moohw.errors import InputError
from moohw.predictors import AdaProxy, DeviceData
from moohw.predictors.proxydevice import (
    ProxyChoice,
    choose_proxy,
    needs_adaptation,
    pooled_latency,
    tie_tolerance,
)


def default_probes(budget: int | None) -> int:
    """Probe count for a budget: a quarter of it within [3, 10]."""
    return 10 if budget is None else int(np.clip(budget // 4, 3, 10))


def spread(order_key: np.ndarray, n: int) -> np.ndarray:
    """Indices of ``n`` points spread evenly along a front sorted by ``order_key`` (ends kept)."""
    idx = np.argsort(order_key, kind="stable")
    if n >= len(idx):
        return idx
    pick = np.unique(np.round(np.linspace(0, len(idx) - 1, n)).astype(int))
    return idx[pick]


#: AdaProxy corrections (see :class:`~moohw.predictors.linear.AdaProxy`).
CORRECTIONS = ("choice", "feature")


class OneProxy(ArchiveAlgorithm):
    """Reuse a knowledge device's Pareto set on the target (pymoo Algorithm).

    Args:
        knowledge: Knowledge devices (never the target) covering every candidate.
        n_probes: Random target probes used to choose the proxy (``None``: ``K // 4`` in [3, 10]).
        threshold: Adapt the proxy with AdaProxy when the probes' Spearman ρ is below it.
        adapt: Allow adaptation at all.
        correction: AdaProxy's correction: ``choice`` (moohw's default: one correction per op,
            pooled over edges; 5 parameters on NB201) or ``feature`` (the paper's: one per
            (edge, op) feature, 30 parameters, which 10 samples cannot fit).
        batch_size: Architectures measured per iteration after the probes.
        pool: Pool the devices tied at the top on the probes (moohw's default; see
            :mod:`moohw.predictors.proxydevice`); ``False`` takes the first device with the best
            ρ in the order given, as the paper's arg-max does.
        tie_tolerance: ρ tolerance for ties (``None``: ``min(0.5, 1 / (k - 1))`` for ``k``
            probes when ``k < pool_below``, else exact ties only).
        pool_below: Pool tied devices only with fewer probes than this (``None``: ``min_trust``);
            with 10 probes the single best device did better on the knowledge devices.
        min_trust: Adapt whenever fewer probes than this were measured (their ρ cannot certify
            monotonicity); ``0`` trusts ρ alone, as the paper does.
    """

    def __init__(
        self,
        knowledge: Sequence[Device],
        n_probes: int | None = None,
        threshold: float = 0.9,
        adapt: bool = True,
        correction: str = "choice",
        batch_size: int = 10,
        pool: bool = True,
        tie_tolerance: float | None = None,
        min_trust: int = 6,
        pool_below: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not knowledge:
            raise InputError("oneproxy needs at least one knowledge device")
        self.knowledge = list(knowledge)
        self.n_probes = n_probes
        self.threshold = threshold
        self.adapt = adapt
        self.correction = correction
        self.batch_size = batch_size
        self.pool = bool(pool)
        self.tie_tolerance = tie_tolerance
        self.min_trust = int(min_trust)
        self.pool_below = self.min_trust if pool_below is None else int(pool_below)
        self.info: dict[str, Any] = {}
        self._queue = np.zeros((0, 0), dtype=np.int64)

    def _setup(self, problem: HWNASProblem, **kwargs: Any) -> None:
        super()._setup(problem, **kwargs)
        check_knowledge(problem, self.knowledge)
        self._planned = False

    def _propose(self) -> Population:
        rem = self.remaining
        if not self._planned:  # the probes: random target measurements to choose the proxy
            n = default_probes(self.budget) if self.n_probes is None else self.n_probes
            n = n if rem is None else min(n, rem)
            return Population.new(X=self.sample_fresh(n))
        n = self.batch_size if rem is None else min(self.batch_size, rem)
        X, self._queue = self._queue[:n], self._queue[n:]
        if len(X) < n:  # the proxy's layers ran out: fill with random unmeasured candidates
            extra = self.sample_fresh(n - len(X), exclude=X)
            X = np.vstack([X, extra]) if len(extra) else X
        return Population.new(X=X)

    def _learn(self, X: np.ndarray, F: np.ndarray) -> None:
        if not self._planned:
            self._planned = True
            self._plan()

    def _plan(self) -> None:
        problem: HWNASProblem = self.problem
        Xp, Fp = self.told()
        yp = Fp[:, 1]
        cand = problem.candidates()
        usable = [d for d in self.knowledge if d.covers(cand).all()]
        if not usable:
            raise InputError("no knowledge device covers every candidate architecture")
        by_name = {d.name: d for d in usable}
        probe_lat = {d.name: problem.query_cheap("proxy_device", Xp, d) for d in usable}
        tol = self.tie_tolerance
        if tol is None:
            tol = tie_tolerance(len(yp)) if len(yp) < self.pool_below else 0.0
        choice = choose_proxy(probe_lat, yp, tol if self.pool else 0.0)
        if not self.pool:  # the paper's arg-max: the first listed device among the best
            lead = max(usable, key=lambda d: choice.rhos[d.name]).name
            choice = ProxyChoice((lead,), choice.rhos, choice.rhos[lead], 0.0)
        lat_by = {n: problem.query_cheap("proxy_device", cand, by_name[n]) for n in choice.names}
        lat = (
            pooled_latency(lat_by, choice.names) if len(choice.names) > 1 else lat_by[choice.name]
        )
        adapted = bool(
            self.adapt and needs_adaptation(choice, len(yp), self.threshold, self.min_trust)
        )
        if adapted:
            model = AdaProxy(problem.space, proxy=choice.name, correction=self.correction)
            model.fit({choice.name: DeviceData(cand, lat)}, Xp, yp)
            lat = problem.query_cheap("predictor", cand, model)
        score = problem.query_cheap("proxy", cand)
        F = np.column_stack([-score, lat])
        measured = self.is_told(cand)
        rem = self.remaining
        budget_left = len(cand) if rem is None else rem
        queue: list[np.ndarray] = []
        for layer in NonDominatedSorting().do(F[~measured]):
            if budget_left <= 0:
                break
            idx = np.flatnonzero(~measured)[layer]
            # One architecture per distinct objective vector first; clones only if budget allows.
            _, first = np.unique(F[idx], axis=0, return_index=True)
            distinct = idx[np.sort(first)]
            take = distinct[spread(F[distinct, 1], budget_left)]
            queue.append(cand[take])
            budget_left -= len(take)
        self._queue = np.vstack(queue) if queue else np.zeros((0, problem.n_var), np.int64)
        self.info = {
            "proxy_device": choice.name,
            "proxy_devices_pooled": list(choice.names),
            "probe_spearman": choice.rho,
            "probe_spearman_all": dict(choice.rhos),
            "adapted": adapted,
        }
