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


def test_query_cheap_books_by_kind_at_the_source_cost(nb201):
    from moohw.errors import InputError
    from moohw.predictors import OpCountNNLS

    p = make(nb201, budget=5)
    X = nb201.sample(4, seed=1)
    assert np.array_equal(p.query_cheap("proxy", X), p.proxy.score(X))
    other = get_device("synthetic:9", nb201)
    other.cost_s = 0.5
    assert np.array_equal(p.query_cheap("proxy_device", X, other), other.latency_ms(X))
    model = OpCountNNLS(nb201).fit({}, X, other.latency_ms(X))
    model.cost_s = 0.01
    assert p.query_cheap("predictor", X, model).shape == (4,)
    assert p.ledger.cheap_queries == {"proxy": 4, "proxy_device": 4, "predictor": 4}
    assert p.ledger.cheap_cost_s["proxy_device"] == pytest.approx(2.0)
    assert p.ledger.cheap_cost_s["predictor"] == pytest.approx(0.04)
    with pytest.raises(InputError, match="known: proxy, proxy_device, predictor"):
        p.query_cheap("oracle", X)
    with pytest.raises(InputError, match="other than the target"):
        p.query_cheap("proxy_device", X, p.device)
    assert p.ledger.n_target_measurements == 0  # cheap queries never spend the budget


def test_ledger_keeps_the_spread_and_the_batch_cost(nb201):
    from moohw.devices import Device, LatencyBatch

    class Noisy(Device):
        # A live-like device: its nominal cost_s moves after every query (as a LocalDevice's
        # running mean does); the ledger books what the batch said, not the moving attribute.
        def _latency_ms(self, X):
            return np.arange(1.0, len(X) + 1)

        def _query(self, X):
            n = len(X)
            self.cost_s += 10.0
            return LatencyBatch(
                np.arange(1.0, n + 1),
                np.full(n, 0.2),
                np.full(n, 3.0),
                "target",
                np.arange(n) == 0,
            )

    p = HWNASProblem(nb201, Noisy("noisy", nb201), get_proxy("params", nb201), 3)
    p.evaluate(nb201.sample(3, seed=0).astype(float))
    paid = [q for q in p.ledger.queries if q.kind == "target"]
    assert [q.cost_s for q in paid] == [3.0, 3.0, 3.0]
    assert np.array_equal(p.ledger.measured_spread_ms(), [0.2, 0.2, 0.2])
    assert (p.ledger.n_taken, p.ledger.n_from_store) == (2, 1)
