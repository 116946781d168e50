"""Figures of a comparison: attainment surfaces against a brute-force oracle, `moohw plot`."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from moohw.cli import app
from typer.testing import CliRunner

from moohw.metrics import non_dominated
from moohw.plotting import _frame, median_attainment

PNG = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


def _attainment_oracle(fronts, level):
    """Points attained by at least ``level`` runs, by brute force (minimisation, 2-D).

    The region attained by a set of runs together is the union of the componentwise maxima of
    one point from each; the surface is the non-dominated set of all such maxima.
    """
    pts = []
    for runs in itertools.combinations(fronts, level):
        for combo in itertools.product(*runs):
            pts.append(np.max(np.array(combo), axis=0))
    P = np.unique(np.array(pts), axis=0)
    P = P[non_dominated(P)]
    return P[np.argsort(P[:, 0], kind="stable")]


@pytest.mark.parametrize("n_runs", [1, 2, 3, 4, 5])
def test_median_attainment_matches_brute_force(n_runs):
    rng = np.random.default_rng(n_runs)
    fronts = []
    for _ in range(n_runs):
        F = rng.integers(0, 12, size=(rng.integers(1, 6), 2)).astype(float)
        fronts.append(np.unique(F[non_dominated(F)], axis=0))
    level = int(np.ceil(n_runs / 2))
    got = median_attainment(fronts)
    want = _attainment_oracle(fronts, level)
    assert np.array_equal(np.unique(got, axis=0), np.unique(want, axis=0))


def test_median_attainment_counts_empty_runs():
    a = np.array([[1.0, 3.0], [3.0, 1.0]])
    empty = np.zeros((0, 2))
    # 2 of 4 runs attain a: the median (>= 2 of 4) is a itself
    assert np.array_equal(median_attainment([a, a, empty, empty]), a)
    # 1 of 3 runs: less than half attain anything
    assert median_attainment([a, empty, empty]).shape == (0, 2)


def test_frame_starts_at_the_reference_accuracy(tmp_path):
    (tmp_path / "true_fronts").mkdir()
    ref = {"accuracy": 85.0, "latency_ms": 80.0}
    (tmp_path / "true_fronts" / "help_raspi4.ref.json").write_text(json.dumps(ref))
    ax = Figure().subplots()
    lat = np.array([0.5, 3.0, 20.0, 70.0])
    acc = np.array([10.0, 86.0, 92.0, 94.0])  # the 10% cell is below the reference point
    ax.plot(lat, acc)
    assert _frame(ax, tmp_path, "help:raspi4", [lat], [acc])
    assert ax.get_ylim()[0] == 85.0 and ax.get_ylim()[1] > 94.0
    assert ax.get_xscale() == "log" and ax.get_xlim()[0] > 0.5  # spread 70/3 > 8
    ax = Figure().subplots()
    assert not _frame(ax, tmp_path, "help:fpga", [lat], [acc])  # no reference: untouched
    assert ax.get_xscale() == "linear"


def _compare(out, devices, extra=()):
    args = ["compare", "--algos", "random,nsga2", "--devices", devices, "--budgets", "10,20"]
    args += ["--seeds", "3", "--out", str(out), *extra]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return res


def test_plot_without_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MOOHW_DATA", raising=False)
    out = tmp_path / "cmp"
    _compare(out, "synthetic:0,synthetic:5")
    assert not (out / "best.csv").read_text().strip().split("\n")[1:]  # unscored: no winner
    res = runner.invoke(app, ["plot", str(out)])
    assert res.exit_code == 0, res.output
    # unscored: no HV figure; fronts and attainment in proxy space; synthetic devices are
    # exact, so their monotonicity needs no data
    for png in ("fronts.png", "attainment.png", "monotonicity.png"):
        assert (out / png).read_bytes()[:8] == PNG
    assert not (out / "hv_vs_budget.png").exists()
    bad = runner.invoke(app, ["plot", str(out), "--budget", "15"])
    assert (
        bad.exit_code == 2
        and "--budget 15: no runs with that budget; budgets here: 10, 20" in bad.output
    )


def test_compare_writes_best_table_and_plot_draws_everything(tmp_path, data):
    out = tmp_path / "cmp"
    res = _compare(out, "help:fpga,help:pixel2", ["--data", str(data.root), "--proxy", "tuned"])
    assert "best method per device and K" in res.output
    df = pd.read_csv(out / "results.csv")
    assert set(df["proxy"]) == {"tuned"} and len(df) == 2 * 2 * 2 * 3
    assert df["cheap_cost_s"].ge(0).all() and df["igd_plus"].ge(0).all()
    summ = pd.read_csv(out / "summary.csv")
    best = pd.read_csv(out / "best.csv")
    assert len(best) == 4
    for _, b in best.iterrows():
        cell = summ[(summ.device == b.device) & (summ.budget == b.budget)]
        assert b.best_mean == cell.hv_ratio_mean.max()
        assert b.margin == pytest.approx(b.best_mean - cell.hv_ratio_mean.min())
    ref = json.loads((out / "true_fronts" / "help_fpga.ref.json").read_text())
    # the DESIGN.md reference point: 15th percentile of CIFAR-10 accuracy over the whole space
    acc = data.table("nb201/accuracy.csv")["cifar10_test_200ep"]
    assert len(acc) == 15_625
    assert ref["accuracy"] == pytest.approx(np.percentile(acc, 15)) and ref["latency_ms"] > 0
    res = runner.invoke(app, ["plot", str(out), "--budget", "10", "--data", str(data.root)])
    assert res.exit_code == 0, res.output
    for png in ("hv_vs_budget.png", "fronts.png", "attainment.png", "monotonicity.png"):
        assert (out / png).read_bytes()[:8] == PNG
