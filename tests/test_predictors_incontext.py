"""The in-context latency model (runtime features, evidence weighting, GP residual, intervals)
and the guard of ``auto`` against degenerate fits (issue 13 items 2 and 5)."""

from __future__ import annotations

import numpy as np
import pytest

from moohw.errors import InputError
from moohw.metrics import spearman
from moohw.predictors import PREDICTORS, DeviceData, InContext, LatencyPredictor
from moohw.predictors.runtime_features import family_features, nb201_live_edges
from moohw.predictors.select import AutoSelect
from moohw.spaces import FBNetSpace

# op ids: 0 none, 1 skip, 2 conv1x1, 3 conv3x3, 4 avgpool; edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2
COST = np.array([0.0, 0.05, 0.4, 1.2, 0.3])


def _graph_runtime(X: np.ndarray, launch: float = 2.0) -> np.ndarray:
    """A device that drops dead work: cost of live ops only, plus a launch cost."""
    live = nb201_live_edges(X)
    return launch + (COST[X] * live).sum(axis=1)


def _eager_runtime(X: np.ndarray, launch: float = 2.0) -> np.ndarray:
    """A device that runs every op, live or dead."""
    return launch + COST[X].sum(axis=1)


def test_live_edges_on_hand_checked_cells(nb201):
    cells = {
        # conv on 1<-0, but node 1 has no way to the output: dead
        "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|": [0, 0, 0, 1, 0, 0],
        # 3<-2 conv, but node 2 is never fed: dead; 1<-0 and 3<-1 form a path: live
        "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|": [
            1,
            0,
            0,
            0,
            1,
            0,
        ],
        # every path goes through 2<-1 and 3<-2
        "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|avg_pool_3x3~2|": [
            1,
            0,
            1,
            0,
            0,
            1,
        ],
        # no path at all: the zero cell
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|": [0, 0, 0, 0, 0, 0],
    }
    X = np.array([nb201.from_str(s) for s in cells]).reshape(len(cells), 6)
    np.testing.assert_array_equal(nb201_live_edges(X), np.array(list(cells.values()), bool))
    f = family_features(nb201, X)
    assert f["live"][3, -2] == 1.0  # zero-cell indicator
    assert f["live"][0, :4].tolist() == [1, 0, 0, 0]  # one live skip, the dead conv left out
    assert f["count"][0, :4].tolist() == [1, 0, 1, 0]  # eager: both ops


def test_all_families_on_every_space(nb201):
    fb = FBNetSpace()
    for space in (nb201, fb):
        X = space.sample(7, seed=1)
        for name, F in family_features(space, X).items():
            assert F.shape[0] == 7 and np.isfinite(F).all(), name
            np.testing.assert_array_equal(F[:, -1], 1.0)  # the launch-cost constant
    with pytest.raises(InputError, match="families"):
        InContext(nb201, families=("live", "nope"))


@pytest.mark.parametrize(
    "device, winners",
    [
        (_graph_runtime, ("live", "livedead", "edge", "interact")),
        (_eager_runtime, ("count", "livedead", "interact")),
    ],
    ids=["graph", "eager"],
)
def test_recovers_dead_work_structure(nb201, device, winners):
    X_all = nb201.enumerate()
    y_all = device(X_all)
    idx = np.random.default_rng(3).choice(len(X_all), 20, replace=False)
    p = InContext(nb201).fit({}, X_all[idx], y_all[idx])
    # The evidence puts (nearly) all mass on families that can express the device...
    assert sum(p.family_weights_[f] for f in winners) > 0.9
    pred = p.predict(X_all)
    assert spearman(pred, y_all) > 0.97
    # ... and an op-count model, blind to dead work, ranks a graph runtime clearly worse.
    if device is _graph_runtime:
        q = PREDICTORS.get("opcount")(nb201).fit({}, X_all[idx], y_all[idx])
        assert spearman(q.predict(X_all), y_all) < spearman(pred, y_all) - 0.05


def test_intervals_cover_at_a_sane_rate(nb201):
    X_all = nb201.enumerate()
    rng = np.random.default_rng(5)
    # a graph runtime plus an interaction the linear families only partly express, with noise
    y_true = _graph_runtime(X_all) * (1 + 0.05 * np.sin(X_all.sum(axis=1)))
    y_obs = y_true * np.exp(rng.normal(0, 0.03, len(X_all)))
    rates = []
    for s in range(3):
        idx = np.random.default_rng(s).choice(len(X_all), 20, replace=False)
        held = np.setdiff1d(np.arange(len(X_all)), idx)[::5]  # 3,121 unmeasured cells
        p = InContext(nb201).fit({}, X_all[idx], y_obs[idx])
        lo, hi = p.predict_interval(X_all[held], 0.8)
        assert (hi > lo).all()
        rates.append(np.mean((y_obs[held] >= lo) & (y_obs[held] <= hi)))
    # calibrated would be 0.8; neither overconfident nor vacuous
    assert 0.6 <= np.mean(rates) <= 0.97, rates
    lo50, hi50 = p.predict_interval(X_all[held], 0.5)
    assert (hi50 - lo50 < hi - lo).all()
    with pytest.raises(InputError, match="level"):
        p.predict_interval(X_all[:3], 1.5)


def test_posterior_follows_the_probes_not_the_prior(nb201):
    # Knowledge devices that rank cells like an eager runtime; the target is a graph runtime.
    X_all = nb201.enumerate()
    Xk = nb201.sample(400, seed=2)
    kn = {f"k{i}": DeviceData(Xk, (1 + 0.1 * i) * _eager_runtime(Xk)) for i in range(4)}
    y = _graph_runtime(X_all)
    rhos = []
    for k in (5, 40):
        idx = np.random.default_rng(k).choice(len(X_all), k, replace=False)
        rhos.append(spearman(InContext(nb201).fit(kn, X_all[idx], y[idx]).predict(X_all), y))
    assert rhos[1] > 0.97 and rhos[1] >= rhos[0] - 0.01, rhos


class _Constant(LatencyPredictor):
    """A degenerate model: the mean of the samples everywhere."""

    name = "constant"

    def _fit(self, knowledge, X, y_ms, seed):  # type: ignore[no-untyped-def]
        self.c_ = float(np.mean(y_ms))

    def _predict(self, X):  # type: ignore[no-untyped-def]
        return np.full(len(X), self.c_)


class _Lookup(LatencyPredictor):
    """Memorises the samples; elsewhere a hash of the cell (ranks the space at random)."""

    name = "lookup"

    def _fit(self, knowledge, X, y_ms, seed):  # type: ignore[no-untyped-def]
        self.m_ = dict(zip(self.space.keys(X), y_ms.tolist()))
        self.c_ = float(np.mean(y_ms))

    def _predict(self, X):  # type: ignore[no-untyped-def]
        r = (X * np.array([7, 11, 13, 17, 19, 23])).sum(axis=1) % 10 / 10 + 0.5
        return np.array([self.m_.get(k, self.c_ * v) for k, v in zip(self.space.keys(X), r)])


def test_auto_guard_refuses_degenerate_candidates(nb201):
    X_all = nb201.enumerate()
    y = _eager_runtime(X_all)
    idx = np.random.default_rng(0).choice(len(X_all), 12, replace=False)
    # A constant model is refused even when it is the only candidate: fall back to op counts.
    p = AutoSelect(nb201, candidates=[_Constant(nb201)]).fit({}, X_all[idx], y[idx])
    assert p.choice_ == "opcount" and "constant" in p.refused_["constant"]
    assert spearman(p.predict(X_all), y) > 0.95
    # Without the guard it would have been used, and collapsed.
    q = AutoSelect(nb201, candidates=[_Constant(nb201)], guard=False).fit({}, X_all[idx], y[idx])
    assert q.choice_ == "constant" and np.ptp(q.predict(X_all)) == 0
    # A model that only memorises the probes loses to the op-count baseline.
    r = AutoSelect(nb201, candidates=[_Lookup(nb201), "bayes-linear"]).fit({}, X_all[idx], y[idx])
    assert r.choice_ == "bayes-linear" or "lookup" in r.refused_
    assert r.choice_ != "lookup"


class _RightOnlyWhereProbed(LatencyPredictor):
    """Exact on cells with a 3x3 conv on edge 1<-0 (where all probes are), reversed elsewhere:
    a perfect leave-one-out score that extrapolates confidently wrong."""

    name = "overfit"

    def _fit(self, knowledge, X, y_ms, seed):  # type: ignore[no-untyped-def]
        pass

    def _predict(self, X):  # type: ignore[no-untyped-def]
        y = _eager_runtime(X)
        return np.where(X[:, 0] == 3, y, 20.0 - y)


def test_auto_guard_refuses_a_candidate_that_disagrees_with_a_good_baseline(nb201):
    X_all = nb201.enumerate()
    y = _eager_runtime(X_all) * np.exp(np.random.default_rng(2).normal(0, 0.01, len(X_all)))
    pool = np.flatnonzero(X_all[:, 0] == 3)
    idx = np.random.default_rng(1).choice(pool, 15, replace=False)
    p = AutoSelect(nb201, candidates=[_RightOnlyWhereProbed(nb201), "bayes-opcount"])
    p.fit({}, X_all[idx], y[idx])
    assert p.loo_["overfit"] < p.loo_["opcount"]  # it wins leave-one-out...
    assert "disagree" in p.refused_["overfit"]  # ... and is refused on its ranks
    assert p.choice_ != "overfit" and spearman(p.predict(X_all), y) > 0.9
    q = AutoSelect(nb201, candidates=[_RightOnlyWhereProbed(nb201)], guard=False)
    assert q.fit({}, X_all[idx], y[idx]).choice_ == "overfit"
    assert spearman(q.predict(X_all), y) < 0.5


class _ExactExceptWhere(LatencyPredictor):
    """The noise-free eager device, but -1 ms on cells where ``mask(X)`` holds."""

    name = "exact"

    def __init__(self, space, mask):  # type: ignore[no-untyped-def]
        super().__init__(space)
        self.mask = mask

    def _fit(self, knowledge, X, y_ms, seed):  # type: ignore[no-untyped-def]
        pass

    def _predict(self, X):  # type: ignore[no-untyped-def]
        return np.where(self.mask(X), -1.0, _eager_runtime(X))


def test_auto_guard_tolerates_a_few_nonpositive_predictions_pixel3_regression(nb201):
    # Refusing any non-positive prediction sent auto on pixel3 (k = 5) to a per-edge fit of
    # 31 weights on 5 samples (rho -0.06); a few cells near zero are no reason to refuse.
    X_all = nb201.enumerate()
    y = _eager_runtime(X_all) * np.exp(np.random.default_rng(4).normal(0, 0.02, len(X_all)))
    no_input = (X_all[:, 0] == 0) & (X_all[:, 1] == 0) & (X_all[:, 3] == 0)  # 0.8% of cells
    pool = np.flatnonzero(X_all[:, 0] != 0)
    idx = np.random.default_rng(3).choice(pool, 15, replace=False)

    def few(X):  # type: ignore[no-untyped-def]
        return (X[:, 0] == 0) & (X[:, 1] == 0) & (X[:, 3] == 0)

    def many(X):  # type: ignore[no-untyped-def]
        return X[:, 0] == 0  # 20% of cells

    assert 0 < no_input.mean() < 0.01
    p = AutoSelect(nb201, candidates=[_ExactExceptWhere(nb201, few)]).fit({}, X_all[idx], y[idx])
    assert p.choice_ == "exact" and not p.refused_
    q = AutoSelect(nb201, candidates=[_ExactExceptWhere(nb201, many)]).fit({}, X_all[idx], y[idx])
    assert q.choice_ == "opcount" and "non-positive" in q.refused_["exact"]
