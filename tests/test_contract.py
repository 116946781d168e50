"""The pymoo contract over the registry: every algorithm learns from the population it is told.

Each registered algorithm runs twice on the same problem and seed: through ``minimize`` (the
problem measures, the ledger books) and through a plain pymoo ask/tell loop in which the caller
measures outside the problem (as when driving a real device by hand) and tells the evaluated
population back. The runs must be the same architectures in the same order, and the second
problem's ledger must have measured nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
from moohw.algorithms import ALGORITHMS, run_algorithm
from moohw.algorithms.api import algorithm_info
from moohw.algorithms.base import BudgetTermination
from moohw.problems import HWNASProblem
from moohw.problems.hwnas import CHEAP_KINDS
from pymoo.core.population import Population

from moohw.devices import Device, get_device
from moohw.errors import BudgetError, MoohwError, OptionError
from moohw.knowledge import default_knowledge
from moohw.predictors import LatencyPredictor
from moohw.proxies import AccuracyProxy, get_proxy

#: GP methods fit a model per step and the PPO walker takes ~20 s: their contract runs in the
#: slow tier.
SLOW = {"bo", "mfbo", "optuna-gp", "controller-faithful"}
BUDGET = 12


def _params(names):
    out = []
    for a in names:
        marks = [pytest.mark.slow] if a in SLOW else []
        if not algorithm_info(a).available:  # an extra that is not installed (optuna)
            marks.append(pytest.mark.skip(reason=f"{a} needs {algorithm_info(a).requires}"))
        out.append(pytest.param(a, marks=marks, id=a))
    return out


def _problem(space, budget=BUDGET, device="synthetic:1"):
    return HWNASProblem(space, get_device(device, space), get_proxy("params", space), budget)


def _ask_tell(algo, space, seed, budget=BUDGET):
    """Drive ``algo`` with pymoo's ask/tell, measuring outside the problem."""
    problem = _problem(space, budget)
    opts = {}
    if algorithm_info(algo).needs_knowledge:
        names = default_knowledge(space.name, None, problem.device.name)
        opts["knowledge"] = [get_device(n, space) for n in names]
    algorithm = ALGORITHMS.get(algo)(budget, **opts)
    algorithm.setup(problem, termination=BudgetTermination(), seed=seed)
    device, proxy = get_device("synthetic:1", space), get_proxy("params", space)
    measured = []
    for _ in range(10 * budget):
        if not algorithm.has_next():
            break
        pop = algorithm.ask()
        if pop is None or len(pop) == 0:
            algorithm.tell(infills=Population.empty())
            continue
        X = np.rint(pop.get("X")).astype(np.int64)
        pop.set("F", np.column_stack([-proxy.score(X), device.latency_ms(X)]))
        measured.extend(X)
        algorithm.tell(infills=pop)
    assert problem.ledger.n_target_measurements == 0  # nothing went through the problem
    return np.array(measured)


@pytest.mark.parametrize("algo", _params(ALGORITHMS.names()))
def test_ask_tell_outside_the_problem_equals_minimize(algo, nb201):
    r = run_algorithm(algo, _problem(nb201), seed=5)
    X = _ask_tell(algo, nb201, seed=5)
    assert r.X.shape == (BUDGET, 6) and X.shape == (BUDGET, 6)
    assert np.array_equal(X, r.X)  # same architectures, same order
    assert len({x.tobytes() for x in X}) == BUDGET  # each paid once


def test_registry_metadata_is_declared_for_every_algorithm():
    for algo in ALGORITHMS.names():
        info = algorithm_info(algo)
        assert info is ALGORITHMS.info(algo)  # declared at registration, not defaulted
        names = [o.name for o in info.options]
        assert len(names) == len(set(names))
        assert info.needs_knowledge == ("knowledge" in names)
    assert algorithm_info("random").budget_agnostic
    assert algorithm_info("controller").seed_independent
    assert not algorithm_info("nsga2").seed_independent
    assert algorithm_info("oneproxy").needs_knowledge
    assert not algorithm_info("controller").supports("fbnet")


def _available(names):
    return [
        pytest.param(
            a,
            id=a,
            marks=[] if algorithm_info(a).available else [pytest.mark.skip(reason="extra")],
        )
        for a in names
    ]


@pytest.mark.parametrize("algo", _available(ALGORITHMS.names()))
def test_registered_options_match_the_constructor(algo, nb201):
    # The typed options must be exactly what the algorithm's constructor takes (no drift when a
    # parameter is added to a class but not to its registry entry).
    import inspect

    opts = {}
    if algorithm_info(algo).needs_knowledge:
        opts["knowledge"] = [get_device("synthetic:2", nb201)]
    algorithm = ALGORITHMS.get(algo)(10, **opts)
    params = set()
    for cls in type(algorithm).__mro__:
        if cls.__module__.startswith("moohw.algorithms") and "__init__" in vars(cls):
            sig = inspect.signature(cls.__init__)
            params |= {
                n
                for n, p in sig.parameters.items()
                if (n != "self" and p.kind == p.KEYWORD_ONLY)
                or (n != "self" and p.kind == p.POSITIONAL_OR_KEYWORD)
            }
    params -= {"sampler"}  # fixed by the registry entry (optuna-tpe / optuna-gp)
    assert {o.name for o in algorithm_info(algo).options} == params


@pytest.mark.parametrize(
    ("algo", "options", "match"),
    [
        ("nsga2", {"pop_size": "abc"}, "pop_size of nsga2 must be pop_size: int"),
        ("nsga2", {"pop_size": "1"}, r"2 <= x"),
        ("mfbo", {"cheap_share": "abc"}, "cheap_share of mfbo must be"),
        ("oneproxy", {"threshold": "abc"}, "threshold of oneproxy must be"),
        ("oneproxy", {"correction": "bogus"}, r"in \{choice, feature\}"),
        ("random", {"foo": "bar"}, "unknown option 'foo' for random; valid options: batch_size"),
        ("random", {"pop_size": "3"}, "unknown option 'pop_size' for random"),
        ("oneproxy", {"adapt": "maybe"}, "adapt of oneproxy must be adapt: bool"),
    ],
)
def test_bad_options_are_one_line_errors_listing_what_is_valid(algo, options, match, nb201):
    with pytest.raises(OptionError, match=match) as e:
        run_algorithm(algo, _problem(nb201), 0, options)
    assert "\n" not in str(e.value) and isinstance(e.value, MoohwError)


def test_options_parse_from_strings(nb201):
    r = run_algorithm("nsga2", _problem(nb201), 0, {"pop_size": "6", "prob_crossover": "0.5"})
    assert r.options == {"pop_size": 6, "prob_crossover": 0.5}
    r = run_algorithm(
        "oneproxy",
        _problem(nb201),
        0,
        {"knowledge": "synthetic:2,synthetic:3", "adapt": "false", "n_probes": "4"},
    )
    assert r.options["knowledge"] == ["synthetic:2", "synthetic:3"]
    assert r.options["adapt"] is False and r.options["n_probes"] == 4
    assert r.info["proxy_device"] in {"synthetic:2", "synthetic:3"}


@pytest.mark.parametrize("budget", [0, -3, 15626])
def test_budget_outside_one_to_candidates_is_an_error(budget, nb201):
    with pytest.raises(BudgetError, match="15625 candidate" if budget > 0 else ">= 1"):
        _problem(nb201, budget)


def test_faithful_training_leaves_global_state_alone():
    # Regression (issue 15): SB3's PPO(seed=) seeded random/np.random/torch globally and
    # torch.set_num_threads(1) was never restored.
    pytest.importorskip("stable_baselines3")
    import random

    import torch
    from moohw.algorithms.controller import load_prior
    from moohw.algorithms.controller.faithful import train_faithful

    random.seed(123)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    expect_py, expect_t = random.random(), torch.rand(1)
    random.seed(123)
    torch.manual_seed(123)
    train_faithful(load_prior(), steps=64, seed=7)
    assert random.random() == expect_py and torch.equal(torch.rand(1), expect_t)
    assert torch.get_num_threads() == threads


class _CountingDevice(Device):
    """A device that counts every architecture read on it, at a stated cost per read."""

    def __init__(self, inner: Device, cost_s: float) -> None:
        super().__init__(inner.name, inner.space)
        self.inner, self.cost_s, self.exact, self.n_read = inner, cost_s, inner.exact, 0

    def _latency_ms(self, X: np.ndarray) -> np.ndarray:
        self.n_read += len(X)
        return self.inner.latency_ms(X)


class _CountingProxy(AccuracyProxy):
    name = "counting-params"
    cost_s = 0.003

    def __init__(self, space) -> None:
        super().__init__(space)
        self.inner, self.n_scored = get_proxy("params", space), 0

    def _score(self, X: np.ndarray) -> np.ndarray:
        self.n_scored += len(X)
        return self.inner.score(X)


@pytest.mark.parametrize("algo", _params(ALGORITHMS.names()))
def test_cheap_cost_means_the_same_for_every_method(algo, nb201):
    # Issue 15 item 2: every proxy score, proxy-device read and prediction a search makes is
    # booked through problem.query_cheap at the cost its source reports, whatever the method.
    # Before, oneproxy booked its proxy-device reads at 0 s and its probe look-ups not at all,
    # and mfbo booked at cheap_cost x the target's cost (0.05 s here): both fail below.
    target = _CountingDevice(get_device("synthetic:1", nb201), cost_s=1.0)
    proxy = _CountingProxy(nb201)
    problem = HWNASProblem(nb201, target, proxy, BUDGET)
    knowledge = [
        _CountingDevice(get_device(n, nb201), cost_s=0.25)
        for n in default_knowledge("nb201", None, target.name)
    ]
    opts = {"knowledge": knowledge} if algorithm_info(algo).needs_knowledge else {}
    r = run_algorithm(algo, problem, seed=3, options=opts)
    assert set(r.cheap_queries) <= set(CHEAP_KINDS) and set(r.cheap_cost_s) == set(r.cheap_queries)
    reads = sum(d.n_read for d in knowledge)
    assert r.cheap_queries.get("proxy_device", 0) == reads
    assert r.cheap_cost_s.get("proxy_device", 0.0) == pytest.approx(0.25 * reads)
    # run_algorithm scores the measured set once more to write F: a record, not a query.
    n_proxy = proxy.n_scored - len(r.X)
    assert r.cheap_queries["proxy"] == n_proxy > 0
    assert r.cheap_cost_s["proxy"] == pytest.approx(0.003 * n_proxy)
    n_pred = r.cheap_queries.get("predictor", 0)
    assert r.cheap_cost_s.get("predictor", 0.0) == n_pred * LatencyPredictor.cost_s
    # What results.csv reports (grid rows): the sum of the bookings by that one rule.
    total = 0.25 * reads + 0.003 * n_proxy + n_pred * LatencyPredictor.cost_s
    assert sum(r.cheap_cost_s.values()) == pytest.approx(total)
    # Target measurements are booked from the device's batch: each paid once at its cost.
    assert target.n_read == r.n_target_measurements == BUDGET
    paid = [q for q in r.queries if q.kind == "target"]
    assert len(paid) == BUDGET and all(q.cost_s == 1.0 and q.spread_ms == 0.0 for q in paid)
    if algo in ("oneproxy", "mfbo"):
        assert reads > 0  # the knowledge devices were read, and every read was booked
