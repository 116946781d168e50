"""Tie-aware proxy-device choice (moohw.predictors.proxydevice) and its use in oneproxy."""

from __future__ import annotations

import numpy as np
import pytest
from moohw.algorithms.api import search

from moohw.predictors.proxydevice import (
    choose_proxy,
    needs_adaptation,
    pooled_latency,
    tie_tolerance,
)


def test_tolerance_shrinks_with_probes() -> None:
    assert tie_tolerance(3) == 0.5
    assert tie_tolerance(5) == pytest.approx(0.25)
    assert tie_tolerance(11) == pytest.approx(0.1)


def test_devices_tied_on_three_probes_are_pooled_whatever_their_order() -> None:
    y = np.array([1.0, 2.0, 3.0])
    lat = {
        "a": np.array([1.0, 5.0, 9.0]),  # rho 1
        "b": np.array([2.0, 3.0, 4.0]),  # rho 1
        "c": np.array([3.0, 2.0, 1.0]),  # rho -1
    }
    c1 = choose_proxy(lat, y)
    c2 = choose_proxy(dict(reversed(list(lat.items()))), y)
    assert c1.names == c2.names == ("a", "b")
    assert c1.name == "pool(a,b)"
    assert c1.rho == pytest.approx(1.0)
    assert c1.rhos["c"] == pytest.approx(-1.0)


def test_a_clear_winner_is_not_pooled() -> None:
    rng = np.random.default_rng(0)
    y = rng.uniform(1, 10, 12)
    lat = {"good": y * 2 + 0.01 * rng.normal(size=12), "noise": rng.uniform(1, 10, 12)}
    c = choose_proxy(lat, y)
    assert c.names == ("good",)
    assert c.rho > 0.95


def test_pooled_latency_is_a_geometric_mean_of_normalised_latency() -> None:
    lat = {"a": np.array([1.0, 2.0, 4.0]), "b": np.array([10.0, 40.0, 40.0])}
    p = pooled_latency(lat, ("a", "b"))
    a = lat["a"] / lat["a"].mean()
    b = lat["b"] / lat["b"].mean()
    np.testing.assert_allclose(p, np.sqrt(a * b))
    np.testing.assert_allclose(pooled_latency(lat, ("a",)), a)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="no knowledge device"):
        choose_proxy({}, np.ones(3))
    with pytest.raises(ValueError, match="2 probe latencies for 3 probes"):
        choose_proxy({"a": np.ones(2)}, np.ones(3))


def test_few_probes_always_adapt() -> None:
    y = np.array([1.0, 2.0, 3.0])
    c = choose_proxy({"a": y.copy()}, y)
    assert c.rho == pytest.approx(1.0)
    assert needs_adaptation(c, 3, threshold=0.9)  # rho 1 on 3 probes certifies nothing
    assert not needs_adaptation(c, 8, threshold=0.9)
    assert not needs_adaptation(c, 2, threshold=0.9)  # AdaProxy needs 3 probes


def test_oneproxy_pools_the_devices_tied_on_its_probes() -> None:
    opts = {"knowledge": [f"synthetic:{s}" for s in (11, 12, 13, 14, 15)], "n_probes": 3}
    r = search("oneproxy", "synthetic:3", 12, seed=1, options=opts, accuracy=None)
    rhos = r.info["probe_spearman_all"]
    assert set(rhos) == set(opts["knowledge"])
    best = max(rhos.values())
    tied = sorted(n for n in rhos if rhos[n] >= best - tie_tolerance(3))
    assert sorted(r.info["proxy_devices_pooled"]) == tied
    assert r.info["adapted"]  # 3 probes are too few to trust, whatever their rho
    assert len(r.X) == 12

    paper = search(
        "oneproxy",
        "synthetic:3",
        12,
        seed=1,
        options={**opts, "pool": False, "min_trust": 0},
        accuracy=None,
    )
    first = next(n for n in opts["knowledge"] if paper.info["probe_spearman_all"][n] == best)
    assert paper.info["proxy_devices_pooled"] == [first]
