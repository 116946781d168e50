import numpy as np
import pytest
from moohw.problems import HWNASProblem

from moohw.devices import get_device
from moohw.metrics import non_dominated
from moohw.proxies import get_proxy
from moohw.runs import BudgetExceededError


def make(space, device="synthetic:0", budget=None, data=None):
    return HWNASProblem(space, get_device(device, space, data), get_proxy("params", space), budget)


def test_evaluate_gives_2d_F_and_pays_each_arch_once(nb201):
    p = make(nb201, budget=10)
    X = nb201.sample(4, seed=0)
    F = p.evaluate(np.vstack([X, X[:2]]), return_values_of=["F"])
    assert F.shape == (6, 2)
    assert np.allclose(F[:, 0], -p.proxy.score(np.vstack([X, X[:2]])))
    assert p.ledger.n_target_measurements == 4 and p.ledger.n_reused == 2
    p.evaluate(X, return_values_of=["F"])
    assert p.ledger.n_target_measurements == 4 and p.ledger.remaining == 6
    kinds = [q.kind for q in p.ledger.queries]
    assert kinds.count("target") == 4 and kinds.count("cached") == 6
    assert p.ledger.cheap_queries["proxy"] == 10


def test_budget_is_never_exceeded(nb201):
    p = make(nb201, budget=3)
    p.evaluate(nb201.sample(3, seed=0), return_values_of=["F"])
    with pytest.raises(BudgetExceededError, match="0 left of 3"):
        p.evaluate(nb201.sample(5, seed=1)[-1:], return_values_of=["F"])
    assert p.ledger.n_target_measurements == 3


def test_exact_front_matches_brute_force(nb201):
    p = make(nb201, "synthetic:3")
    X, F = p.exact_objectives()
    assert X.shape == (15_625, 6) and F.shape == (15_625, 2)
    _, PF = p.exact_front()
    assert np.all(np.diff(PF[:, 1]) >= 0)
    assert non_dominated(PF).all()
    # Every space point is weakly dominated by some front point.
    dominated = (PF[None, :, :] <= F[:, None, :]).all(axis=2).any(axis=1)
    assert dominated.all()
    assert p.ledger.n_target_measurements == 0  # reading the exact front costs no budget


def test_partial_device_restricts_problem(nb201, data):
    p = make(nb201, "hwnasbench:edgegpu", budget=50, data=data)
    assert p.restricted and p.n_candidates == len(p.candidates()) < nb201.size
    S = p.sample(50, seed=0)
    assert p.allowed(S).all() and len({r.tobytes() for r in S}) == 50


def test_space_mismatch_raises(nb201, fbnet):
    with pytest.raises(ValueError, match="space mismatch"):
        HWNASProblem(nb201, get_device("synthetic:0", fbnet), get_proxy("params", nb201))


def test_problem_carries_its_front_and_reference_point(nb201):
    from moohw.problems import HWNASProblem

    from moohw.devices import get_device
    from moohw.metrics import hypervolume, reference_point
    from moohw.proxies import get_proxy

    p = HWNASProblem(nb201, get_device("synthetic:1", nb201), get_proxy("params", nb201), 10)
    PF = p.pareto_front()  # pymoo's hook, the exact front
    # pymoo may reorder and drop duplicate points: compare the sets of points
    assert PF.shape[1] == 2
    assert np.array_equal(np.unique(PF, axis=0), np.unique(p.exact_front()[1], axis=0))
    _, F = p.exact_objectives()
    ref = p.ref_point()
    assert np.array_equal(ref, reference_point(-F[:, 0], F[:, 1]))
    assert ref[1] == F[:, 1].max() and hypervolume(PF, ref) > 0
