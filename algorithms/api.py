"""One entry point for every search method: the registry, running on a budget, ``search``.

Building problems from names, cached tables and scoring live in the experiment layer
(:mod:`moohw.problems.experiment`); ``score_run`` is re-exported here for compatibility.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from moohw.algorithms.base import BudgetTermination
from moohw.algorithms.catalog import IC_OPTIONS, AlgorithmInfo, Option, validate_options
from moohw.algorithms.nsga2 import BudgetedNSGA2, default_pop_size
from moohw.algorithms.oneproxy import CORRECTIONS as _CORRECTIONS
from moohw.algorithms.oneproxy import OneProxy
from moohw.algorithms.random import RandomSearch
from moohw.problems import HWNASProblem
from moohw.problems.experiment import attach_scores, build_problem, device_by_name, score_run
from pymoo.core.algorithm import Algorithm
from pymoo.optimize import minimize

from moohw.accuracy import DEFAULT_ACCURACY
from moohw.data import BenchmarkData
from moohw.devices import Device
from moohw.errors import BudgetError, InputError
from moohw.knowledge import check_no_leak, default_knowledge
from moohw.proxies import DEFAULT_PROXY
from moohw.recommend import capped_front
from moohw.registry import Registry
from moohw.runs import RunResult, declared_front

#: Factories ``(budget, **options) -> pymoo Algorithm``; each entry's ``info`` is an
#: :class:`~moohw.algorithms.catalog.AlgorithmInfo` (properties and typed options).
ALGORITHMS: Registry[Algorithm] = Registry("algorithm")

_KNOWLEDGE = Option(
    "knowledge",
    "list[str]",
    None,
    "knowledge devices, comma-separated (default: the task suite's train split, or synthetic)",
)
_BO_OPTIONS = (
    Option("n_init", "int", 5, "random architectures measured before the first GP fit", min=2),
    Option("mc_samples", "int", 16, "quasi-MC samples of the acquisition", min=1),
    Option("refit_every", "int", 5, "refit the GP hyperparameters every N measurements", min=1),
    Option("max_batch_size", "int", 2048, "candidates per acquisition batch", min=1),
    Option("ref_quantile", "float", 0.02, "HV reference point quantile", min=0.0, max=0.999),
    Option("outcome", "str", "ms", "latency outcome the GP models", choices=("log", "ms")),
)


def _gp_options(weight_floor: float, fresh_fit: bool) -> tuple[Option, ...]:
    return (
        Option(
            "weight_floor",
            "float",
            weight_floor,
            "uniform share of the kernel's ARD weight",
            min=0.0,
            max=0.999,
        ),
        Option("fresh_fit", "bool", fresh_fit, "also refit the GP from default hyperparameters"),
    )


@ALGORITHMS.register(
    "random",
    "random search: uniform sampling without replacement",
    info=AlgorithmInfo(
        options=(Option("batch_size", "int", 10, "architectures drawn per iteration", min=1),),
        budget_agnostic=True,
    ),
)
def _random(budget: int | None, **options: Any) -> Algorithm:
    return RandomSearch(**options)


@ALGORITHMS.register(
    "nsga2",
    "NSGA-II with categorical operators (pymoo)",
    info=AlgorithmInfo(
        options=(
            Option(
                "pop_size", "int", None, "population size (default: K // 25 in [6, 40])", min=2
            ),
            Option("n_offsprings", "int", None, "offspring per generation (pop_size // 2)", min=1),
            Option("prob_crossover", "float", 0.9, "uniform crossover probability", 0.0, 1.0),
            Option("prob_mutation_var", "float", None, "per-variable reset (1/n_var)", 0.0, 1.0),
        ),
    ),
)
def _nsga2(budget: int | None, **options: Any) -> Algorithm:
    if options.get("pop_size") is None:
        options["pop_size"] = default_pop_size(budget)
    if options.get("n_offsprings") is None:
        options["n_offsprings"] = max(2, options["pop_size"] // 2)
    return BudgetedNSGA2(**options)


@ALGORITHMS.register(
    "oneproxy",
    "one proxy device: reuse a knowledge device's Pareto set",
    info=AlgorithmInfo(
        options=(
            _KNOWLEDGE,
            Option(
                "n_probes", "int", None, "random target probes (default: K // 4 in [3, 10])", 1
            ),
            Option("threshold", "float", 0.9, "adapt when probe rho is below (> 1: always)", -1),
            Option("adapt", "bool", True, "allow AdaProxy adaptation"),
            Option("correction", "str", "choice", "AdaProxy correction", choices=_CORRECTIONS),
            Option("batch_size", "int", 10, "architectures measured per iteration", min=1),
            Option("pool", "bool", True, "pool the proxy devices tied on the probes"),
            Option("tie_tolerance", "float", None, "rho tolerance for ties", min=0.0),
            Option("min_trust", "int", 6, "adapt whenever fewer probes than this", min=0),
            Option("pool_below", "int", None, "pool tied devices below this many probes", min=0),
        ),
        needs_knowledge=True,
    ),
)
def _oneproxy(budget: int | None, **options: Any) -> Algorithm:
    return OneProxy(**options)


@ALGORITHMS.register(
    "bo",
    "BoTorch qLogEHVI, categorical-kernel latency GP, exhaustive",
    info=AlgorithmInfo(options=(*_BO_OPTIONS, *_gp_options(0.2, True)), budget_agnostic=True),
)
def _bo(budget: int | None, **options: Any) -> Algorithm:
    from moohw.algorithms.bo import BayesOpt  # imports BoTorch: only when used

    return BayesOpt(**options)


@ALGORITHMS.register(
    "mfbo",
    "multi-fidelity BO (BoTorch MOMF), a knowledge proxy device as low",
    info=AlgorithmInfo(
        options=(
            _KNOWLEDGE,
            Option("cheap_cost", "float", 0.05, "cost of a low-fidelity query, in target units"),
            Option("cheap_share", "float", 0.5, "low-fidelity spend per target measurement", 0),
            Option("cheap_batch", "int", 10, "low-fidelity queries per batch", min=1),
            Option("trust_low", "float", None, "trust in the low fidelity, in (0, 1)"),
            Option("n_init_low", "int", None, "initial low-fidelity queries", min=0),
            Option("proxy_device", "str", None, "knowledge device used as the low fidelity"),
            *_BO_OPTIONS,
            *_gp_options(0.0, False),
        ),
        budget_agnostic=True,
        needs_knowledge=True,
    ),
)
def _mfbo(budget: int | None, **options: Any) -> Algorithm:
    from moohw.algorithms.mfbo import MultiFidelityBO

    return MultiFidelityBO(**options)


_CHECKPOINT = Option("checkpoint", "str", None, "checkpoint folder (default: the shipped one)")


@ALGORITHMS.register(
    "controller",
    "moohw's controller: probe-conditioned policy pre-trained on synthetic devices",
    info=AlgorithmInfo(options=(_CHECKPOINT,), seed_independent=True, spaces=("nb201",)),
)
def _controller(budget: int | None, **options: Any) -> Algorithm:
    from moohw.algorithms.controller.search import ControllerSearch

    return ControllerSearch(**options)


@ALGORITHMS.register(
    "controller-ic",
    "controller with the incontext latency model and an exploration safeguard (issue 13)",
    info=AlgorithmInfo((_CHECKPOINT, *IC_OPTIONS), True, seed_independent=True, spaces=("nb201",)),
)
def _controller_ic(budget: int | None, **options: Any) -> Algorithm:
    from moohw.algorithms.controller.search import InContextControllerSearch

    return InContextControllerSearch(**options)


@ALGORITHMS.register(
    "controller-faithful",
    "Sim-is-More: PPO mutation controller pre-trained on synthetic devices",
    info=AlgorithmInfo(
        options=(
            _CHECKPOINT,
            Option("max_steps_per_probe", "int", 20, "policy steps before a random probe", min=1),
        ),
        spaces=("nb201",),
    ),
)
def _controller_faithful(budget: int | None, **options: Any) -> Algorithm:
    from moohw.algorithms.controller.search import FaithfulControllerSearch

    return FaithfulControllerSearch(**options)


_OPTUNA_OPTIONS = (
    Option("n_startup_trials", "int", 10, "random trials before the sampler's model", min=0),
    Option("max_asks", "int", 50, "trials asked per new architecture before a random one", 1),
)


def _optuna(sampler: str) -> Callable[..., Algorithm]:
    def make(budget: int | None, **options: Any) -> Algorithm:
        from moohw.algorithms.optuna_samplers import OptunaSearch  # needs the optuna extra

        return OptunaSearch(sampler=sampler, **options)

    return make


ALGORITHMS.register(
    "optuna-tpe",
    "Optuna's multi-objective TPE sampler (baseline; needs the optuna extra)",
    info=AlgorithmInfo(options=_OPTUNA_OPTIONS, budget_agnostic=True, requires=("optuna",)),
)(_optuna("tpe"))
ALGORITHMS.register(
    "optuna-gp",
    "Optuna's GP sampler, log-EHVI for two objectives (baseline; needs the optuna extra)",
    info=AlgorithmInfo(options=_OPTUNA_OPTIONS, budget_agnostic=True, requires=("optuna",)),
)(_optuna("gp"))


def available_algorithms() -> list[str]:
    """Registered algorithms whose optional packages are installed (what ``all`` means)."""
    return [a for a in ALGORITHMS.names() if algorithm_info(a).available]


def algorithm_info(algo: str) -> AlgorithmInfo:
    """The registered properties and options of ``algo``.

    Raises:
        UnknownNameError: for an unregistered name (lists the known ones).
    """
    info = ALGORITHMS.info(algo)
    return info if isinstance(info, AlgorithmInfo) else AlgorithmInfo()


def check_budget(budget: int | None, n_candidates: int | None) -> None:
    """Raise unless ``budget`` is ``None`` (unlimited) or in ``[1, n_candidates]``.

    Raises:
        BudgetError: naming the budget and, when too large, the number of candidates.
    """
    if budget is None:
        return
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1:
        raise BudgetError(f"budget must be an int >= 1 target measurements, got {budget!r}")
    if n_candidates is not None and budget > n_candidates:
        raise BudgetError(
            f"budget {budget} exceeds the {n_candidates} candidate architectures of this search"
        )


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
        raise InputError(f"seed must be a non-negative int, got {seed!r}")
    if problem.ledger.n_target_measurements:
        raise InputError("problem has already measured architectures; build a fresh one")
    info = algorithm_info(algo) if algo in ALGORITHMS else AlgorithmInfo()
    if not info.supports(problem.space.name):
        raise InputError(
            f"{algo} does not support space {problem.space.name}; it supports "
            + ", ".join(info.spaces)
        )
    opts = validate_options(algo, info, options or {}) if factory is None else dict(options or {})
    check_budget(problem.ledger.budget, problem.n_candidates)
    make = factory or ALGORITHMS.get(algo)
    if info.needs_knowledge:
        target = problem.device.name
        names = opts.get("knowledge") or default_knowledge(problem.space.name, data, target)
        devs = [
            n if isinstance(n, Device) else device_by_name(n, problem.space.name, data)
            for n in names
        ]
        check_no_leak(target, [d.name for d in devs])
        opts["knowledge"] = devs
    record_opts = {k: ([d.name for d in v] if k == "knowledge" else v) for k, v in opts.items()}
    budget = problem.ledger.budget
    algorithm = make(budget, **opts)
    t0 = time.perf_counter()
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
    decided = getattr(algorithm, "info", {})
    return RunResult(
        algo=algo,
        device=problem.device.name,
        space=problem.space.name,
        proxy=problem.proxy.name,
        seed=int(seed),
        budget=budget,
        X=X,
        F=F,
        front=declared_front(F),
        n_target_measurements=problem.ledger.n_target_measurements,
        n_reused=problem.ledger.n_reused,
        cheap_queries=dict(problem.ledger.cheap_queries),
        cheap_cost_s=dict(problem.ledger.cheap_cost_s),
        wall_time_s=wall,
        queries=tuple(problem.ledger.queries),
        options=record_opts,
        restricted_to=problem.n_candidates if problem.restricted else None,
        info=dict(decided) if isinstance(decided, dict) else {},
        measurements_taken=problem.ledger.n_taken,
        measurements_from_store=problem.ledger.n_from_store,
    )


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
    if algo not in ALGORITHMS:
        ALGORITHMS.get(algo)  # raises with the known names
    check_budget(budget, None)
    problem = build_problem(device, budget, space, proxy, data, dataset, max_latency_ms)
    problem.ledger.on_paid = progress
    result = run_algorithm(algo, problem, seed, options, data=data)
    cap = problem.max_latency_ms
    if cap is not None:  # the declared front is cut at the cap (issue 14)
        result = replace(result, front=capped_front(result.F, cap), max_latency_ms=cap)
    return attach_scores(result, problem.device, data, accuracy)


__all__ = [
    "ALGORITHMS",
    "algorithm_info",
    "available_algorithms",
    "check_budget",
    "run_algorithm",
    "score_run",
    "search",
]
