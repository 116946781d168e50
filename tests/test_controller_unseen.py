"""The controller on unseen hardware (issue 13 item 4): shipped in-context priors, the
synthetic-only prior, and the exploration safeguard."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from moohw.algorithms import search
from moohw.algorithms.controller import SHIPPED
from moohw.algorithms.controller.latmodel import (
    PRIOR_FILES,
    FamilyPriors,
    ProbeLatency,
    fit_family_priors,
    synthetic_priors,
)

from moohw.devices import get_device
from moohw.errors import InputError
from moohw.metrics import Scorer, spearman
from moohw.proxies import get_proxy
from moohw.runs import declared_front
from moohw.spaces import NB201Space

SPACE = NB201Space()
#: ND test devices and edgegpu: never knowledge.
_NOT_KNOWLEDGE = ("titan_rtx", "gold_6226", "fpga", "pixel2", "raspi4", "eyeriss", "edgegpu")


def test_shipped_priors_load_without_data_and_name_what_they_were_fitted_on() -> None:
    kn = FamilyPriors.load(SHIPPED / PRIOR_FILES["knowledge"])
    syn = FamilyPriors.load(SHIPPED / PRIOR_FILES["synthetic"])
    for p in (kn, syn):
        assert set(p.priors) == {"count", "live", "livedead", "edge", "interact"}
        for mu, S in p.priors.values():
            assert S.shape == (len(mu), len(mu))
            assert np.all(np.linalg.eigvalsh(S) > 0)  # a proper prior
    names = kn.meta["fitted_on"]
    assert len(names) == 9 and all(n.startswith("help:") for n in names)
    assert not any(t in n for n in names for t in _NOT_KNOWLEDGE)
    assert syn.meta["fitted_on"] == "synthetic" and syn.meta["params"]["fitted_on"] == []


def test_prior_files_round_trip_and_refuse_garbage(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = FamilyPriors.load(SHIPPED / PRIOR_FILES["knowledge"])
    p.save(tmp_path / "p.npz")
    q = FamilyPriors.load(tmp_path / "p.npz")
    assert q.meta == p.meta
    for f in p.priors:
        np.testing.assert_array_equal(p.priors[f][1], q.priors[f][1])
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(Exception):
        FamilyPriors.load(tmp_path / "bad.npz")
    with pytest.raises(InputError, match="no in-context latency prior"):
        FamilyPriors.load(tmp_path / "missing.npz")


def test_synthetic_prior_is_fitted_without_reading_any_data(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import moohw.data

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("the synthetic-only prior must not read benchmark data")

    monkeypatch.setattr(moohw.data, "open_data", refuse)
    monkeypatch.setattr(moohw.data.BenchmarkData, "__init__", refuse)
    monkeypatch.setattr(pd, "read_csv", refuse)
    p = synthetic_priors(SPACE, n_devices=8, seed=1)
    assert p.meta["fitted_on"] == "synthetic" and p.meta["n_devices"] == 8
    # It is a usable prior: ranking a fresh synthetic device from 10 probes.
    X = SPACE.sample(3000, np.random.default_rng(2))
    y = get_device("synthetic:7", SPACE).latency_ms(X)
    idx = np.random.default_rng(0).choice(len(X), 10, replace=False)
    mean, std = ProbeLatency(SPACE, p, X).posterior(idx, y[idx])
    assert spearman(mean, y) > 0.9 and np.all(std > 0)


def _table(tmp_path, n: int = 800):  # type: ignore[no-untyped-def]
    """A user's CSV table of ``n`` cells of synthetic:4 and its scorer (proxy as accuracy)."""
    X = SPACE.sample(n, np.random.default_rng(0))
    lat = get_device("synthetic:4", SPACE).latency_ms(X)
    f = tmp_path / "lat.csv"
    pd.DataFrame({"arch_str": SPACE.to_str(X), "ms": lat}).to_csv(f, index=False)
    return f, X, lat


def _wrong_prior(tmp_path):  # type: ignore[no-untyped-def]
    """A confident prior that gets the op costs backwards (fast where the target is slow)."""
    X = SPACE.sample(2000, np.random.default_rng(1))
    lat = {}
    for s in range(6):
        y = get_device(f"synthetic:{100 + s}", SPACE).latency_ms(X)
        lat[f"s{s}"] = y.max() + y.min() - y  # reversed ranking, still positive
    p = fit_family_priors(SPACE, X, lat)
    tight = FamilyPriors({f: (mu, 0.01 * S) for f, (mu, S) in p.priors.items()}, {"wrong": 1})
    path = tmp_path / "wrong.npz"
    tight.save(path)
    return path


def _hv(r, keys: dict[str, int], scorer: Scorer, proxy: np.ndarray, lat: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    front = declared_front(r.F)
    i = [keys[k] for k in SPACE.keys(r.X[front])] if len(front) else []
    return float(scorer.score(proxy[i], lat[i]).hv_ratio)


def test_safeguard_more_budget_never_hurts_with_a_wrong_prior(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f, X, lat = _table(tmp_path)
    proxy = get_proxy("tuned", SPACE).score(X)
    scorer = Scorer(proxy, lat)
    keys = {k: i for i, k in enumerate(SPACE.keys(X))}
    opts = {"prior": str(_wrong_prior(tmp_path))}
    runs = {K: search("controller-ic", f"csv:{f}:ms", budget=K, options=opts) for K in (10, 20)}
    hv = {K: _hv(r, keys, scorer, proxy, lat) for K, r in runs.items()}
    assert hv[20] >= hv[10]
    # Anytime: the K = 10 run is the first 10 probes of the K = 20 run.
    np.testing.assert_array_equal(runs[10].X, runs[20].X[:10])
    assert runs[20].info["explored"]  # the safeguard spent probes
    # and the wrong prior is not worse than the median random search at K = 20
    rnd = [search("random", f"csv:{f}:ms", 20, seed=s) for s in range(5)]
    med = float(np.median([_hv(r, keys, scorer, proxy, lat) for r in rnd]))
    assert hv[20] >= med


def test_controller_options_are_validated() -> None:
    with pytest.raises(InputError, match="knowledge, synthetic"):
        search("controller-ic", "synthetic:0", budget=3, options={"prior": "nope"})
    with pytest.raises(InputError, match="explore_every"):
        search("controller-ic", "synthetic:0", budget=3, options={"explore_every": -1})


def test_synthetic_only_controller_runs_with_no_data() -> None:
    r = search("controller-ic", "synthetic:2", budget=6, options={"prior": "synthetic"})
    assert r.n_target_measurements == 6
    assert r.info["prior_file"].endswith(PRIOR_FILES["synthetic"])
    assert json.dumps(r.info["prior_fitted_on"]) == '"synthetic"'


@pytest.mark.slow
def test_shipped_synthetic_prior_is_reproducible_from_the_generator() -> None:
    shipped = FamilyPriors.load(SHIPPED / PRIOR_FILES["synthetic"])
    again = synthetic_priors(SPACE, n_devices=shipped.meta["n_devices"], seed=0)
    for f in shipped.priors:
        np.testing.assert_allclose(again.priors[f][0], shipped.priors[f][0], rtol=1e-10)
