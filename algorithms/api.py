"""One entry point for every search method: build, run on a budget, score, record."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from typing import Any

import numpy as np
from moohw.algorithms.base import BudgetTermination
from moohw.algorithms.nsga2 import BudgetedNSGA2, default_pop_size
from moohw.algorithms.oneproxy import OneProxy
from moohw.algorithms.random import RandomSearch
from moohw.problems import HWNASProblem
from pymoo.core.algorithm import Algorithm
from pymoo.optimize import minimize

from moohw.accuracy import DEFAULT_ACCURACY, BenchmarkAccuracy
from moohw.data import BenchmarkData
from moohw.devices import Device, get_device, scoring_device
from moohw.knowledge import check_no_leak, default_knowledge
from moohw.metrics import Scorer
from moohw.proxies import DEFAULT_PROXY, get_proxy
from moohw.recommend import capped_front, check_max_latency
from moohw.registry import Registry
from moohw.runs import RunResult, declared_front
from moohw.spaces import get_space

#: Factories ``(budget, **options) -> pymoo Algorithm``.
ALGORITHMS: Registry[Algorithm] = Registry("algorithm")


@ALGORITHMS.register("random", "random search: uniform sampling without replacement")
def _random(budget: int | None, **options: Any) -> Algorithm:
    return RandomSearch(**options)


@ALGORITHMS.register("nsga2", "NSGA-II with categorical operators (pymoo)")
def _nsga2(budget: int | None, **options: Any) -> Algorithm:
    options.setdefault("pop_size", default_pop_size(budget))
    options.setdefault("n_offsprings", max(2, options["pop_size"] // 2))
    return BudgetedNSGA2(**options)


@ALGORITHMS.register("oneproxy", "one proxy device: reuse a knowledge device's Pareto set")
def _oneproxy(budget: int | None, **options: Any) -> Algorithm:
    return OneProxy(**options)


@ALGORITHMS.register("bo", "BoTorch qLogEHVI, categorical-kernel latency GP, exhaustive")
def _bo(budget: int | None, **options: Any) -> Algorithm:
    from moohw.algorithms.bo import BayesOpt  # imports BoTorch: only when used

    return BayesOpt(**options)


@ALGORITHMS.register("mfbo", "multi-fidelity BO (BoTorch MOMF), a knowledge proxy device as low")
def _mfbo(budget: int | None, **options: Any) -> Algorithm:
    from moohw.algorithms.mfbo import MultiFidelityBO

    return MultiFidelityBO(**options)


# MultiFidelityBO.budget_agnostic, declared here too: the factory cannot build it without its
# knowledge devices, so anytime scoring could not read the class attribute.
_mfbo.budget_agnostic = True  # type: ignore[attr-defined]


@ALGORITHMS.register(
    "controller", "moohw's controller: probe-conditioned policy pre-trained on synthetic devices"
)
def _controller(budget: int | None, **options: Any) -> Algorithm:
    from moohw.algorithms.controller.search import ControllerSearch

    return ControllerSearch(**options)


@ALGORITHMS.register(
    "controller-faithful", "Sim-is-More: PPO mutation controller pre-trained on synthetic devices"
)
def _controller_faithful(budget: int | None, **options: Any) -> Algorithm:
    from moohw.algorithms.controller.search import FaithfulControllerSearch

    return FaithfulControllerSearch(**options)


#: Algorithms whose ``knowledge`` option (knowledge devices) :func:`search` fills in.
NEEDS_KNOWLEDGE = frozenset({"mfbo", "oneproxy"})


def run_algorithm(
    algo: str,
    problem: HWNASProblem,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    factory: Callable[..., Algorithm] | None = None,
    data: BenchmarkData | None = None,
) -> RunResult:
    """Run a registered algorithm on ``problem`` until its budget is spent.

    Args:
        algo: Registered algorithm name (``moohw.algorithms.ALGORITHMS``).
        problem: A fresh problem; its ledger holds the budget.
        seed: Non-negative integer seed (threaded into pymoo's ``random_state``).
        options: Algorithm keyword options.
        factory: Use this factory instead of the registry's (for experiments).
        data: Benchmark data, used to build default knowledge devices (the ND/FD train split)
            for methods that learn from other devices; without it, synthetic knowledge devices.

    Returns:
        The run's measured set, declared front and accounting (2-D ``F``).
    """
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if problem.ledger.n_target_measurements:
        raise ValueError("problem has already measured architectures; build a fresh one")
    opts = dict(options or {})
    make = factory or ALGORITHMS.get(algo)
    if algo in NEEDS_KNOWLEDGE:
        target = problem.device.name
        names = opts.get("knowledge") or default_knowledge(problem.space.name, data, target)
        devs = [
            n if isinstance(n, Device) else _cached_device(n, problem.space.name, data)
            for n in names
        ]
        check_no_leak(target, [d.name for d in devs])
        opts["knowledge"] = devs
    record_opts = {k: ([d.name for d in v] if k == "knowledge" else v) for k, v in opts.items()}
    budget = problem.ledger.budget
    algorithm = make(budget, **opts)
    t0 = time.perf_counter()
    if budget is None or budget > 0:
        minimize(
            problem,
            algorithm,
            termination=BudgetTermination(),
            seed=int(seed),
            copy_algorithm=False,  # keep what the algorithm learned (info) and skip a deepcopy
        )
    wall = time.perf_counter() - t0
    X, lat = problem.ledger.measured()
    proxy = problem.proxy.score(X) if len(X) else np.zeros(0)
    F = np.column_stack([-proxy, lat]) if len(X) else np.zeros((0, 2))
    info = getattr(algorithm, "info", {})
    return RunResult(
        algo=algo,
        device=problem.device.name,
        space=problem.space.name,
        proxy=problem.proxy.name,
        seed=int(seed),
        budget=-1 if budget is None else budget,
        X=X,
        F=F,
        front=declared_front(F),
        n_target_measurements=problem.ledger.n_target_measurements,
        n_reused=problem.ledger.n_reused,
        cheap_queries=dict(problem.ledger.cheap_queries),
        cheap_cost_s=dict(problem.ledger.cheap_cost_s),
        wall_time_s=wall,
        queries=list(problem.ledger.queries),
        options=record_opts,
        restricted_to=problem.n_candidates if problem.restricted else None,
        info=dict(info) if isinstance(info, dict) else {},
        measurements_taken=problem.ledger.n_taken,
        measurements_from_store=problem.ledger.n_from_store,
    )


@lru_cache(maxsize=16)
def _scorer(device: Device, accuracy: BenchmarkAccuracy, proxy_name: str) -> tuple[Scorer, float]:
    # Cached per (device, accuracy, proxy) object: compare runs many seeds on one scorer.
    problem = HWNASProblem(device.space, device, get_proxy(proxy_name, device.space))
    X, F = problem.exact_objectives()
    scorer = Scorer(accuracy(X), F[:, 1])
    return scorer, scorer.proxy_ceiling(-F[:, 0]).hv_ratio


def score_run(result: RunResult, device: Device, accuracy: BenchmarkAccuracy) -> dict[str, float]:
    """``hv_ratio``, ``igd_plus`` and ``ceiling_hv_ratio`` of a run (exact devices only).

    The declared front is scored with true accuracy and the device's true latency, against the
    true front over the candidates the device covers (DESIGN.md, "the budget and the score").
    """
    if not device.exact:
        raise ValueError(f"device {device.name} has no exact latency table; cannot score")
    scorer, ceiling = _scorer(device, accuracy, result.proxy)
    fx = result.front_X
    s = scorer.score(accuracy(fx), device.latency_ms(fx))
    return {"hv_ratio": s.hv_ratio, "igd_plus": s.igd_plus, "ceiling_hv_ratio": ceiling}


LIVE_KINDS = ("local:", "ray:")


def _cached_device(name: str, space: str, data: BenchmarkData | None) -> Device:
    # Tables are cached (compare runs many seeds on one device); live devices are built fresh so
    # they pick up the current measurement store.
    if name.startswith(LIVE_KINDS):
        return get_device(name, get_space(space), data)
    return _cached_table_device(name, space, data)


@lru_cache(maxsize=32)
def _cached_table_device(name: str, space: str, data: BenchmarkData | None) -> Device:
    return get_device(name, get_space(space), data)


@lru_cache(maxsize=8)
def _cached_accuracy(space: str, data: BenchmarkData, column: str) -> BenchmarkAccuracy:
    return BenchmarkAccuracy(get_space(space), data, column)


def search(
    algo: str,
    device: str,
    budget: int,
    seed: int = 0,
    space: str = "nb201",
    proxy: str = DEFAULT_PROXY,
    data: BenchmarkData | None = None,
    accuracy: str | None = DEFAULT_ACCURACY,
    dataset: str = "cifar10",
    options: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    max_latency_ms: float | None = None,
) -> RunResult:
    """Build the problem from names, run ``algo`` on ``budget`` target measurements, and score it.

    ``max_latency_ms`` caps latency: the problem carries it as an inequality constraint (pymoo
    algorithms such as NSGA-II prefer feasible candidates) and the declared front keeps only
    architectures measured at or below it (:func:`moohw.recommend.capped_front`).

    Scores (``hv_ratio``, ``igd_plus``, ``ceiling_hv_ratio``) are attached when the device's
    latency is known for every candidate and the accuracy column is available.

    Example:
        >>> r = search("nsga2", "synthetic:0", budget=50, seed=1)
        >>> r.F.shape[1]
        2
    """
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    if algo not in ALGORITHMS:
        ALGORITHMS.get(algo)  # raises with the known names
    sp = get_space(space)
    dev = _cached_device(device, space, data)
    prox = get_proxy(proxy, sp, dataset)
    cap = check_max_latency(max_latency_ms)
    problem = HWNASProblem(sp, dev, prox, budget, max_latency_ms=cap)
    problem.ledger.on_paid = progress
    result = run_algorithm(algo, problem, seed, options, data=data)
    if cap is not None:  # the declared front is cut at the cap (issue 14)
        result = replace(result, front=capped_front(result.F, cap), max_latency_ms=cap)
    if accuracy and data is not None and dev.exact and space == "nb201":
        acc = _cached_accuracy(space, data, accuracy)
        sdev, against = scoring_device(dev, data)  # predicted:DIR → the measured device
        info = {**result.info, "scored_against": against}
        result = replace(result, scores=score_run(result, sdev, acc), info=info)
    return result
