"""Anytime (prefix) scoring: one run of a budget-agnostic algorithm serves every smaller budget.

An algorithm whose choices never depend on its budget K declares ``budget_agnostic = True`` on
its class (random search; BO that proposes one point at a time). With the same seed it measures
the same first K architectures whatever budget it is given, so a comparison over budgets
{10, 20, 50, 100} runs it once at K = 100 and scores the first 10, 20 and 50 measurements as the
runs at those budgets: the same measured set, declared front, HV ratio and IGD+, with the cheap
queries and wall time spent until the K-th target measurement was paid.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from moohw.algorithms.api import algorithm_info, run_algorithm
from moohw.problems.experiment import attach_scores, build_problem

from moohw.accuracy import DEFAULT_ACCURACY
from moohw.data import BenchmarkData
from moohw.errors import InputError
from moohw.proxies import DEFAULT_PROXY
from moohw.runs import Ledger, RunResult, declared_front


def is_budget_agnostic(algo: str, budget: int | None = None) -> bool:
    """Whether the registry entry of ``algo`` declares it budget-agnostic.

    ``budget`` is accepted for backward compatibility and ignored: the property is registry
    metadata (:class:`~moohw.algorithms.catalog.AlgorithmInfo`), not something to probe.

    Raises:
        UnknownNameError: for an unregistered name (lists the known ones).
    """
    return algorithm_info(algo).budget_agnostic


@dataclass(frozen=True)
class PaidSnapshot:
    """The ledger's counters right after a payment of target measurements."""

    n_paid: int
    elapsed_s: float
    cheap_queries: dict[str, int]
    cheap_cost_s: dict[str, float]
    n_taken: int
    n_from_store: int


_ZERO = PaidSnapshot(0, 0.0, {}, {}, 0, 0)


def paid_snapshot(ledger: Ledger, t0: float) -> PaidSnapshot:
    return PaidSnapshot(
        ledger.n_target_measurements,
        time.perf_counter() - t0,
        dict(ledger.cheap_queries),
        dict(ledger.cheap_cost_s),
        ledger.n_taken,
        ledger.n_from_store,
    )


def _between(prev: PaidSnapshot, cur: PaidSnapshot, k: int) -> PaidSnapshot:
    """Counters at ``k`` paid, linear between two snapshots (``prev.n_paid < k < cur.n_paid``)."""
    w = (k - prev.n_paid) / (cur.n_paid - prev.n_paid)

    def mix(a: float, b: float) -> float:
        return a + w * (b - a)

    keys = sorted(set(prev.cheap_queries) | set(cur.cheap_queries))
    taken = round(mix(prev.n_taken, cur.n_taken))
    return PaidSnapshot(
        k,
        mix(prev.elapsed_s, cur.elapsed_s),
        {q: round(mix(prev.cheap_queries.get(q, 0), cur.cheap_queries.get(q, 0))) for q in keys},
        {q: mix(prev.cheap_cost_s.get(q, 0.0), cur.cheap_cost_s.get(q, 0.0)) for q in keys},
        taken,
        k - taken,
    )


def snapshot_at(snapshots: list[PaidSnapshot], k: int) -> PaidSnapshot:
    """The counters when the ``k``-th target measurement was paid.

    When ``k`` falls inside a batch paid at once, counters are interpolated linearly within the
    batch (exact for methods that make one cheap query per measured architecture).
    """
    if k == 0:  # a run with no budget never starts: nothing spent at all
        return _ZERO
    prev = _ZERO
    for s in snapshots:
        if s.n_paid == k:
            return s
        if s.n_paid > k:
            return _between(prev, s, k)
        prev = s
    return prev


def prefix(result: RunResult, snapshots: list[PaidSnapshot], k: int) -> RunResult:
    """The run ``result`` would have been with a budget of ``k`` target measurements (unscored).

    Args:
        result: A run of a budget-agnostic algorithm with budget >= ``k``.
        snapshots: The ledger's counters after each payment of that run.
        k: The smaller budget.

    Returns:
        The first ``min(k, measured)`` measurements, their declared front, the queries up to the
        ``k``-th target measurement, and the cheap queries and wall time spent until then;
        ``info["prefix_of_budget"]`` names the run it was cut from.
    """
    if k < 0 or (result.budget is not None and k > result.budget):
        raise InputError(f"prefix budget must be in [0, {result.budget}], got {k}")
    n = min(k, result.n_target_measurements)
    cut, paid = 0, 0
    for i, q in enumerate(result.queries):
        if paid == n:
            break
        if q.kind == "target":
            paid += 1
        cut = i + 1
    queries = list(result.queries[:cut])
    snap = snapshot_at(snapshots, n)
    F = result.F[:n]
    return replace(
        result,
        budget=k,
        X=result.X[:n],
        F=F,
        front=declared_front(F),
        n_target_measurements=n,
        n_reused=sum(q.kind != "target" for q in queries),
        cheap_queries=snap.cheap_queries,
        cheap_cost_s=snap.cheap_cost_s,
        wall_time_s=snap.elapsed_s,
        queries=tuple(queries),
        measurements_taken=None if result.measurements_taken is None else snap.n_taken,
        measurements_from_store=(
            None if result.measurements_from_store is None else snap.n_from_store
        ),
        info={**result.info, "prefix_of_budget": result.budget},
        scores={},
    )


def prefix_runs(
    algo: str,
    device: str,
    budgets: list[int],
    seed: int = 0,
    space: str = "nb201",
    proxy: str = DEFAULT_PROXY,
    data: BenchmarkData | None = None,
    accuracy: str | None = DEFAULT_ACCURACY,
    dataset: str = "cifar10",
) -> dict[int, RunResult]:
    """Run ``algo`` once at ``max(budgets)`` and return a scored run for every budget.

    Builds and scores exactly as :func:`moohw.algorithms.search` does; the run at the largest
    budget is returned as it ran, the smaller ones are its prefixes (:func:`prefix`).

    Raises:
        ValueError: if ``algo`` is not budget-agnostic or a budget is negative.
    """
    if not budgets or min(budgets) < 0:
        raise InputError(f"budgets must be non-negative and not empty, got {budgets}")
    kmax = max(budgets)
    if not is_budget_agnostic(algo, kmax):
        raise InputError(f"{algo} is not budget-agnostic: run each budget separately")
    problem = build_problem(device, kmax, space, proxy, data, dataset)
    snapshots: list[PaidSnapshot] = []
    t0 = time.perf_counter()
    problem.ledger.on_paid = lambda n: snapshots.append(paid_snapshot(problem.ledger, t0))
    full = run_algorithm(algo, problem, seed, data=data)
    return {
        k: attach_scores(
            full if k == kmax else prefix(full, snapshots, k), problem.device, data, accuracy
        )
        for k in sorted(set(budgets))
    }


__all__ = ["PaidSnapshot", "is_budget_agnostic", "prefix", "prefix_runs", "snapshot_at"]
