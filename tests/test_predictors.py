"""Latency predictors, samplers, the task suite and the surrogate workflow."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from moohw.devices import get_device
from moohw.devices.base import TabularDevice
from moohw.metrics import spearman
from moohw.predictors import PREDICTORS, AdaProxy, BayesLinear, DeviceData, one_hot
from moohw.predictors.samplers import SAMPLERS, sample
from moohw.predictors.surrogate import build_surrogate, plot_curve, write_result
from moohw.predictors.tasks import (
    COLUMNS,
    LatencyTask,
    TaskTables,
    evaluate_task,
    score,
    summarise,
)
from moohw.spaces import FBNetSpace, NB201Space

# Shrunk so the contract suite stays fast while every model still really trains.
SMALL = {"nasflat-gnn": {"pretrain_steps": 15, "finetune_steps": 5, "batch": 16}}


def _knowledge(space, n=300, devices=(1, 2, 3)):
    X = space.sample(n, seed=123)
    return {
        f"synthetic:{s}": DeviceData(X, get_device(f"synthetic:{s}", space).latency_ms(X))
        for s in devices
    }


def _make(name, space):
    return PREDICTORS.get(name)(space, **SMALL.get(name, {}))


@pytest.mark.parametrize("space", [NB201Space(), FBNetSpace()], ids=["nb201", "fbnet"])
@pytest.mark.parametrize("name", PREDICTORS.names())
def test_predictor_contract(name, space):
    kn = _knowledge(space)
    target = get_device("synthetic:9", space)
    X = kn["synthetic:1"].X[:8].copy()
    y = target.latency_ms(X)
    Xq = space.sample(40, seed=7)
    X0, y0, Xq0 = X.copy(), y.copy(), Xq.copy()
    p = _make(name, space)
    with pytest.raises(RuntimeError, match="fit"):
        p.predict(Xq)
    out = p.fit(kn, X, y, seed=0).predict(Xq)
    assert out.shape == (40,) and out.dtype == np.float64 and np.isfinite(out).all()
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(Xq, Xq0)
    again = _make(name, space).fit(kn, X, y, seed=0).predict(Xq)
    np.testing.assert_allclose(out, again, rtol=1e-6)
    with pytest.raises(ValueError):
        p.fit(kn, X, y[:-1])


def test_nonnegative_linear_models_recover_additive_devices(nb201):
    # Per-edge additive device with op-dependent costs that differ per edge.
    rng = np.random.default_rng(0)
    w = rng.uniform(0.1, 2.0, size=30)
    X_all = nb201.enumerate()
    y_all = one_hot(nb201, X_all) @ w + 0.5
    idx = rng.choice(len(X_all), 60, replace=False)
    p = PREDICTORS.get("peredge")(nb201).fit({}, X_all[idx], y_all[idx])
    assert spearman(p.predict(X_all), y_all) > 0.99
    # Op-count additive (the synthetic device): 10 samples are enough for 5 op weights.
    dev = get_device("synthetic:4", nb201)
    y_syn = dev.latency_ms(X_all)
    q = PREDICTORS.get("opcount")(nb201).fit({}, X_all[idx[:10]], y_syn[idx[:10]])
    assert spearman(q.predict(X_all), y_syn) > 0.99


def test_adaproxy_and_bayes_recover_a_scaled_proxy(nb201):
    X_all = nb201.enumerate()
    proxy = get_device("synthetic:5", nb201).latency_ms(X_all)
    kn = {"proxy": DeviceData(X_all, proxy), **_knowledge(nb201)}
    target = 2.5 * proxy + 0.3
    idx = np.random.default_rng(1).choice(len(X_all), 10, replace=False)
    # Measured: AdaProxy rho 1.000 / MAPE 0.0%; bayes-linear rho 0.99x / MAPE ~2% (its prior is
    # the mean of all four knowledge devices, not the proxy alone).
    for p, tol in ((AdaProxy(nb201), 0.01), (BayesLinear(nb201), 0.05)):
        pred = p.fit(kn, X_all[idx], target[idx]).predict(X_all)
        assert spearman(pred, target) > 0.99
        assert np.mean(np.abs(pred - target) / target) < tol
    assert AdaProxy(nb201).fit(kn, X_all[idx], target[idx]).proxy_ == "proxy"


def test_auto_chooses_by_leave_one_out(nb201):
    kn = _knowledge(nb201)
    X = kn["synthetic:1"].X[:12]  # covered by the knowledge devices, so adaproxy can run
    y = get_device("synthetic:8", nb201).latency_ms(X)
    p = PREDICTORS.get("auto")(nb201).fit(kn, X, y, seed=0)
    kept = {c: e for c, e in p.loo_.items() if c not in p.refused_}
    assert p.choice_ == min(kept, key=kept.get)
    assert set(p.loo_) == {
        "opcount",
        "peredge",
        "bayes-linear",
        "bayes-opcount",
        "adaproxy",
    }
    # Without knowledge devices adaproxy cannot be fitted and is skipped.
    assert "adaproxy" not in PREDICTORS.get("auto")(nb201).fit({}, X, y).loo_


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("k", [1, 5, 20])
def test_samplers_return_k_distinct_valid_indices(name, k, nb201):
    C = nb201.sample(500, seed=0)
    ref = np.arange(500, dtype=float)
    a = sample(name, nb201, C, k, seed=3, reference_latency=ref)
    assert a.shape == (k,) and a.dtype == np.int64
    assert len(set(a.tolist())) == k and a.min() >= 0 and a.max() < 500
    np.testing.assert_array_equal(a, sample(name, nb201, C, k, seed=3, reference_latency=ref))


def test_balanced_sampler_covers_the_reference_range(nb201):
    C = nb201.sample(1000, seed=0)
    ref = np.random.default_rng(0).random(1000)
    a = sample("balanced", nb201, C, 10, seed=0, reference_latency=ref)
    ranks = np.argsort(np.argsort(ref))[a]
    assert sorted(ranks // 100) == list(range(10))  # one per decile


def test_sampler_errors(nb201):
    C = nb201.sample(10, seed=0)
    with pytest.raises(KeyError, match="balanced"):
        sample("nope", nb201, C, 2)
    with pytest.raises(ValueError, match="k must"):
        sample("random", nb201, C, 11)
    with pytest.raises(ValueError, match="reference_latency"):
        sample("balanced", nb201, C, 2, reference_latency=np.ones(3))


def test_score_known_answers():
    y = np.arange(1.0, 101.0)
    s = score(y, y.copy(), np.array([0, 1]), accuracy=np.arange(100.0))
    assert s["spearman_all"] == pytest.approx(1.0) and s["mape"] == 0.0
    assert s["precision_top10"] == 1.0 and s["pareto_precision"] == 1.0
    r = score(y, y[::-1].copy(), np.array([0]))
    assert r["spearman_all"] == pytest.approx(-1.0) and r["precision_top10"] == 0.0
    assert np.isnan(r["pareto_precision"])


def test_task_suite_smoke_on_a_tiny_synthetic_task(nb201):
    X = nb201.sample(400, seed=0)
    lat = {f"s{i}": get_device(f"synthetic:{i}", nb201).latency_ms(X) for i in range(5)}
    task = LatencyTask("tiny", "nb201", ("s0", "s1", "s2"), ("s3", "s4"))
    tables = TaskTables(nb201, X, lat, None)
    seen = []
    rows = evaluate_task(
        task, tables, ["opcount", "bayes-linear"], ks=(10,), seeds=(0, 1), on_result=seen.append
    )
    assert len(rows) == len(seen) == 2 * 2 * 2
    assert all(set(r) == set(COLUMNS) for r in rows)
    # Synthetic devices are additive; measured min 0.885 (bayes-linear, s4, seed 1), else >= 0.99
    assert all(r["spearman_all"] > 0.8 for r in rows)
    summ = summarise(rows)
    assert len(summ) == 2 and set(summ["k"]) == {10}
    with pytest.raises(KeyError, match="known"):
        evaluate_task(task, tables, ["nope"])


def test_task_files_are_read(data):
    from moohw.predictors.tasks import load_anchors, load_tables, load_tasks

    tasks = load_tasks(data)
    assert {"ND", "FD", "F1", "F2", "F3", "F4", "FA"} <= set(tasks)
    fd = load_tables(tasks["FD"], data)
    assert fd.X.shape == (5000, 22) and fd.accuracy is None
    assert set(fd.latency_ms) == set(tasks["FD"].train) | set(tasks["FD"].test)
    assert "ND" in load_anchors(data).columns


def test_surrogate_reaches_target_on_an_additive_device(nb201, tmp_path):
    dev = get_device("synthetic:2", nb201)
    res = build_surrogate(dev, target_srcc=0.95, start=8, step=8, n_val=30, seed=0)
    assert res.reached and res.curve[-1].val_spearman >= 0.95
    assert res.curve[-1].n_measured == len(res.y_train_ms) + 30
    paths = write_result(res, tmp_path, nb201.sample(20, seed=1))
    plot_curve(res, tmp_path / "curve.png", 0.95)
    assert all(p.is_file() for p in paths) and (tmp_path / "curve.png").stat().st_size > 0
    # The predictions table is itself a device.
    again = get_device(f"csv:{tmp_path / 'predictions.csv'}", nb201)
    assert again.coverage().shape == (20, 6)


def test_surrogate_grows_until_plateau_or_budget(nb201):
    X = nb201.enumerate()
    rng = np.random.default_rng(0)
    noisy = TabularDevice("noisy", nb201, X, rng.lognormal(0.0, 1.0, len(X)))  # unlearnable
    res = build_surrogate(noisy, start=5, step=5, max_samples=40, n_val=20, seed=0)
    assert res.stop_reason in ("plateau", "max_samples") and not res.reached
    ns = [p.n_train for p in res.curve]
    assert ns == sorted(ns) and ns[-1] <= 40
    with pytest.raises(ValueError, match="target_srcc"):
        build_surrogate(noisy, target_srcc=1.5)


def test_cli_subapps(tmp_path):
    from moohw.cli.predictors import predictor_app, surrogate_app

    runner = CliRunner()
    r = runner.invoke(predictor_app, ["list"])
    assert r.exit_code == 0 and "nasflat-gnn" in r.output
    r = runner.invoke(predictor_app, ["eval", "--methods", "nope", "--data", str(tmp_path)])
    assert r.exit_code == 2 and "unknown predictor" in r.output
    r = runner.invoke(predictor_app, ["eval", "--samples", "x"])
    assert r.exit_code == 2 and "--samples" in r.output
    out = tmp_path / "sur"
    r = runner.invoke(
        surrogate_app, ["build", "--device", "synthetic:1", "--out", str(out), "--n-val", "20"]
    )
    assert r.exit_code == 0, r.output
    for f in ("curve.csv", "measured.csv", "predictions.csv", "curve.png", "summary.json"):
        assert (out / f).is_file()
    r = runner.invoke(surrogate_app, ["build", "--device", "bogus:1", "--out", str(out)])
    assert r.exit_code == 2


def test_cli_eval_small(tmp_path, data):
    from moohw.cli.predictors import predictor_app

    r = CliRunner().invoke(
        predictor_app,
        [
            "eval",
            "--task",
            "FD",
            "--samples",
            "5",
            "--methods",
            "opcount",
            "--seeds",
            "1",
            "--devices",
            "fpga",
            "--out",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 0, r.output
    import pandas as pd

    df = pd.read_csv(tmp_path / "results.csv")
    assert len(df) == 1 and {"spearman_all", "spearman_heldout", "kendall", "mape"} <= set(df)
    r = CliRunner().invoke(predictor_app, ["eval", "--task", "N1"])
    assert r.exit_code == 2 and "available" in r.output
