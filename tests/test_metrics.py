import itertools

import numpy as np
import pytest

from moohw.metrics import Scorer, hypervolume, igd_plus, mean_ci, non_dominated, reference_point


def test_hypervolume_staircase_closed_form():
    # Points (1,3), (2,2), (3,1) w.r.t. ref (4,4): 3 + 2 + 1 = 6 unit squares (closed form).
    F = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    assert hypervolume(F, np.array([4.0, 4.0])) == pytest.approx(6.0)
    # A dominated point and one beyond the reference add nothing.
    G = np.vstack([F, [[3.5, 3.5], [5.0, 0.5]]])
    assert hypervolume(G, np.array([4.0, 4.0])) == pytest.approx(6.0)
    assert hypervolume(np.zeros((0, 2)), np.array([1.0, 1.0])) == 0.0


def test_non_dominated_matches_brute_force():
    rng = np.random.default_rng(0)
    F = rng.integers(0, 6, size=(60, 2)).astype(float)  # many ties
    brute = np.array(
        [
            not any((F[j] <= F[i]).all() and (F[j] < F[i]).any() for j in range(60))
            for i in range(60)
        ]
    )
    assert np.array_equal(non_dominated(F), brute)


def test_reference_point_and_scorer_true_front_is_one():
    rng = np.random.default_rng(1)
    acc = rng.uniform(50, 95, 500)
    lat = rng.uniform(1, 10, 500)
    ref = reference_point(acc, lat)
    assert ref[0] == pytest.approx(-np.percentile(acc, 15)) and ref[1] == lat.max()
    sc = Scorer(acc, lat)
    front = non_dominated(np.column_stack([-acc, lat]))
    s = sc.score(acc[front], lat[front])
    assert s.hv_ratio == pytest.approx(1.0) and s.igd_plus == pytest.approx(0.0)
    worse = sc.score(acc[~front][:5], lat[~front][:5])
    assert worse.hv_ratio < 1.0 and worse.igd_plus > 0.0
    # The exhaustive front of the true accuracy itself is the ceiling 1.0.
    assert sc.proxy_ceiling(acc).hv_ratio == pytest.approx(1.0)


def test_igd_plus_hand_computed():
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    F = np.array([[1.0, 1.0]])  # d+ to each front point = 1
    assert igd_plus(F, front, np.zeros(2), np.ones(2)) == pytest.approx(1.0)


def test_mean_ci_contains_mean_and_narrows():
    rng = np.random.default_rng(2)
    small = mean_ci(rng.normal(0, 1, 5))
    big = mean_ci(rng.normal(0, 1, 500))
    assert small[1] < small[0] < small[2]
    assert (big[2] - big[1]) < (small[2] - small[1])


@pytest.mark.parametrize("pts", list(itertools.permutations([[1, 3], [2, 2], [3, 1]])))
def test_hypervolume_order_invariant(pts):
    assert hypervolume(np.array(pts, float), np.array([4.0, 4.0])) == pytest.approx(6.0)
