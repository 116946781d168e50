"""The HW-NAS pymoo problem: minimise ``(-proxy, latency_ms)`` over a search space on a device."""

from __future__ import annotations

from typing import Any

import numpy as np
from pymoo.core.problem import Problem

from moohw.devices import Device
from moohw.errors import BudgetError, InputError
from moohw.metrics import non_dominated, reference_point
from moohw.predictors.base import LatencyPredictor
from moohw.proxies import AccuracyProxy
from moohw.rng import SeedLike, as_generator
from moohw.runs import Ledger
from moohw.spaces import SearchSpace

#: The kinds of cheap query a search makes, each booked by one rule (:meth:`query_cheap`).
CHEAP_KINDS = ("proxy", "proxy_device", "predictor")


class HWNASProblem(Problem):
    """Two objectives ``F = (-proxy score, latency in ms)``, both minimised.

    Every latency goes through a :class:`~moohw.runs.Ledger`, which pays for each architecture at
    most once and enforces the budget. When the device covers only part of the space (e.g.
    HW-NAS-Bench edgegpu), the problem is restricted to the covered architectures.

    Args:
        space: Search space.
        device: Target device.
        proxy: Accuracy proxy (higher is better).
        budget: Maximum number of target measurements (``None`` = unlimited).
        max_latency_ms: Optional latency cap, given to pymoo as one inequality constraint
            ``G = latency_ms - max_latency_ms <= 0`` (``None``: unconstrained).
    """

    def __init__(
        self,
        space: SearchSpace,
        device: Device,
        proxy: AccuracyProxy,
        budget: int | None = None,
        max_latency_ms: float | None = None,
    ) -> None:
        if device.space != space or proxy.space != space:
            raise InputError(
                f"space mismatch: problem {space.name}, device {device.space.name}, "
                f"proxy {proxy.space.name}"
            )
        super().__init__(
            n_var=space.n_var,
            n_obj=2,
            xl=np.zeros(space.n_var),
            xu=(space.n_choices - 1).astype(float),
            vtype=int,
            n_ieq_constr=0 if max_latency_ms is None else 1,
        )
        self.max_latency_ms = max_latency_ms
        self.space = space
        self.device = device
        self.proxy = proxy
        cov = device.coverage()
        n_cand = space.size if cov is None else len(cov)
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1
        ):
            raise BudgetError(f"budget must be an int >= 1 target measurements, got {budget!r}")
        if budget is not None and budget > n_cand:
            raise BudgetError(
                f"budget {budget} exceeds the {n_cand} candidate architectures on {device.name}"
            )
        self.ledger = Ledger(space, device, budget)
        self._candidates: np.ndarray | None = cov
        if cov is None and not space.enumerable:
            self._candidates = None

    @property
    def restricted(self) -> bool:
        """Whether the device covers only part of the space."""
        return self.device.coverage() is not None

    def candidates(self) -> np.ndarray:
        """All architectures the search may propose ``(N, n_var)``.

        Raises:
            ValueError: if the space is too large to list and the device covers all of it.
        """
        if self._candidates is None:
            self._candidates = self.space.enumerate()
        return self._candidates

    @property
    def n_candidates(self) -> int:
        """Number of architectures the search may propose."""
        cov = self.device.coverage()
        return self.space.size if cov is None else len(cov)

    def allowed(self, X: np.ndarray) -> np.ndarray:
        """``(n,)`` bool: architectures the device covers."""
        return self.device.covers(X)

    def sample(
        self, n: int, seed: SeedLike = None, exclude: np.ndarray | None = None
    ) -> np.ndarray:
        """Up to ``n`` distinct allowed architectures not yet measured (nor in ``exclude``)."""
        rng = as_generator(seed)
        if self.device.coverage() is not None or self.space.enumerable:
            cand = self.candidates()
            ok = ~self.ledger.is_measured(cand)
            if exclude is not None and len(exclude):
                ex = set(self.space.keys(exclude))
                ok &= np.array([k not in ex for k in self.space.keys(cand)], dtype=bool)
            pool = np.flatnonzero(ok)
            take = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
            return cand[pool[take]]
        X = self.space.sample(n + len(self.ledger.measured()[0]) + 16, rng)
        ok = ~self.ledger.is_measured(X)
        return X[ok][:n]

    def query_cheap(
        self,
        kind: str,
        X: np.ndarray,
        source: Device | LatencyPredictor | None = None,
    ) -> np.ndarray:
        """Answer a cheap query on ``X`` ``(n, n_var)`` and book it: the one path for them all.

        The booking rule (the same for every method): each architecture asked is one query of
        ``kind``, booked at the cost its source reports for it, in seconds.

        - ``proxy``: the problem's accuracy proxy (``source`` is ``None``); returns the scores
          ``(n,)``; each costs ``proxy.cost_s``.
        - ``proxy_device``: latency in ms ``(n,)`` read on another device ``source`` (a
          knowledge device, never the target); each costs what its
          :class:`~moohw.devices.LatencyBatch` says (a table: its nominal ``cost_s``).
        - ``predictor``: latency in ms ``(n,)`` predicted by a fitted ``source``; each costs
          ``source.cost_s``.

        Raises:
            InputError: for an unknown kind, a missing or wrong source, or the target device
                as a proxy device.
        """
        if kind not in CHEAP_KINDS:
            raise InputError(f"unknown cheap query kind {kind!r}; known: {', '.join(CHEAP_KINDS)}")
        X = self.space.validate(X)
        if kind == "proxy":
            if source is not None:
                raise InputError("a proxy query reads the problem's own proxy; pass no source")
            values = self.proxy.score(X)
            cost = np.full(len(X), float(self.proxy.cost_s))
        elif kind == "proxy_device":
            if not isinstance(source, Device) or source.name == self.device.name:
                raise InputError(
                    f"a proxy_device query needs a device other than the target, got {source!r}"
                )
            batch = source.query(X)
            values, cost = np.asarray(batch.latency_ms), np.asarray(batch.cost_s)
        else:
            if not isinstance(source, LatencyPredictor):
                raise InputError(f"a predictor query needs a fitted predictor, got {source!r}")
            values = source.predict(X)
            cost = np.full(len(X), float(source.cost_s))
        self.ledger.book_cheap(kind, cost)
        return np.array(values, dtype=np.float64)

    def _evaluate(self, x: np.ndarray, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        X = np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64)
        score = self.query_cheap("proxy", X)
        lat = self.ledger.measure(X, proxy=score)
        out["F"] = np.column_stack([-score, lat])
        if self.max_latency_ms is not None:
            out["G"] = (lat - self.max_latency_ms)[:, None]

    def exact_objectives(self) -> tuple[np.ndarray, np.ndarray]:
        """Candidates ``(N, n_var)`` and their objectives ``(N, 2)``, read outside the budget.

        Only for devices whose latency is free to read (tables, synthetic devices).
        """
        if not self.device.exact:
            raise InputError(f"device {self.device.name} is measured; its exact front is unknown")
        X = self.candidates()
        return X, np.column_stack([-self.proxy.score(X), self.device.latency_ms(X)])

    def _calc_pareto_front(self, *args: Any, **kwargs: Any) -> np.ndarray:
        # pymoo's hook behind ``problem.pareto_front()``: the exact front ``(k, 2)``.
        return self.exact_front()[1]

    def ref_point(self) -> np.ndarray:
        """The hypervolume reference point ``(2,)`` of this problem's objectives.

        :func:`moohw.metrics.reference_point` (the one definition, DESIGN.md) applied to the
        proxy score and latency in ms over every candidate: ``(-p15(proxy), max latency_ms)``.
        Only for devices whose latency is free to read.
        """
        _, F = self.exact_objectives()
        return reference_point(-F[:, 0], F[:, 1])

    def exact_front(self) -> tuple[np.ndarray, np.ndarray]:
        """The exact Pareto set and front ``(X, F)`` under (proxy, latency), by enumeration."""
        X, F = self.exact_objectives()
        mask = non_dominated(F)
        order = np.argsort(F[mask, 1], kind="stable")
        return X[mask][order], F[mask][order]
