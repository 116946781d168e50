"""The comparison grid: anytime (prefix) scoring, summaries, the best-method table, backends."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from moohw.algorithms import search
from moohw.algorithms.anytime import PaidSnapshot, is_budget_agnostic, prefix_runs, snapshot_at
from moohw.algorithms.api import available_algorithms
from moohw.algorithms.grid import RESULT_COLUMNS, make_cells, plan_units, run_grid

from moohw.spaces import get_space
from moohw.summary import best_methods, summarize

# Columns that legitimately differ between a prefix row and a separate run's row.
TIMING = ["wall_time_s", "scored_from_budget"]


def _same_runs(a, b, cells):
    """Rows equal except timing, and every run directory's records identical."""
    cols = [c for c in RESULT_COLUMNS if c not in TIMING]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    for c in cells:
        for f in ("evaluations.csv", "front.csv"):
            fa = (a.attrs["out"] / "runs" / c.slug / f).read_text()
            assert fa == (b.attrs["out"] / "runs" / c.slug / f).read_text(), (c, f)
        ra, rb = (
            json.loads((x.attrs["out"] / "runs" / c.slug / "run.json").read_text()) for x in (a, b)
        )
        for r in (ra, rb):
            del r["wall_time_s"], r["info"]
        assert ra == rb


def _grid(cells, out, **kw):
    df = run_grid(cells, out, **kw)
    df.attrs["out"] = out
    return df


def test_random_prefix_rows_equal_separate_runs(tmp_path):
    # Budgets that are not multiples of random's batch of 10 included: the prefix property must
    # hold for any K, not only at batch boundaries.
    cells = make_cells(["random"], ["synthetic:1"], [1, 7, 10, 25, 40], [0, 3])
    units = plan_units(cells)
    assert len(units) == 2 and all(u.anytime and len(u.cells) == 5 for u in units)
    anytime = _grid(cells, tmp_path / "a")
    separate = _grid(cells, tmp_path / "s", anytime=False)
    _same_runs(anytime, separate, cells)
    assert (anytime["scored_from_budget"] == 40).all()
    assert (separate["scored_from_budget"] == separate["budget"]).all()
    assert (anytime["n_target_measurements"] == anytime["budget"]).all()
    assert (anytime["cheap_queries"] == anytime["budget"]).all()  # one proxy query per arch
    # a prefix's wall time is the time to its K-th measurement: it grows with K
    for _, g in anytime.groupby("seed"):
        assert g.sort_values("budget")["wall_time_s"].is_monotonic_increasing
    rec = json.loads((tmp_path / "a" / "runs" / cells[2].slug / "run.json").read_text())
    assert rec["budget"] == 7 and rec["info"]["prefix_of_budget"] == 40


def test_random_prefix_scores_equal_separate_runs(tmp_path, data):
    cells = make_cells(["random"], ["help:fpga", "hwnasbench:edgegpu"], [10, 20, 50], [0, 1])
    anytime = _grid(cells, tmp_path / "a", data=data)
    separate = _grid(cells, tmp_path / "s", data=data, anytime=False)
    _same_runs(anytime, separate, cells)
    assert anytime["hv_ratio"].between(0.3, 1).all() and anytime["igd_plus"].ge(0).all()
    # (HV need not grow with K: a new proxy-dominating measurement can evict a truly better one
    # from the declared front; measured 0.856 -> 0.622 on edgegpu, seed 0, K 10 -> 20)


@pytest.mark.parametrize("algo", [a for a in available_algorithms() if is_budget_agnostic(a)])
def test_budget_agnostic_claim_holds(algo):
    # Contract for every algorithm declaring budget_agnostic = True: with the same seed, the run
    # at a smaller budget measures exactly the first K architectures of the larger run.
    # (budgets kept small: BO refits a GP per measurement; 7 > its 5 initial random points)
    small = search(algo, "synthetic:2", budget=7, seed=5)
    large = search(algo, "synthetic:2", budget=11, seed=5)
    assert np.array_equal(small.X, large.X[:7])
    runs = prefix_runs(algo, "synthetic:2", [7, 11], seed=5)
    assert np.array_equal(runs[7].X, small.X) and np.array_equal(runs[7].front, small.front)
    assert np.array_equal(runs[11].X, large.X)
    assert runs[7].cheap_queries == small.cheap_queries


def test_budget_dependent_algorithms_run_separately():
    assert is_budget_agnostic("random") and not is_budget_agnostic("nsga2")
    assert not is_budget_agnostic("oneproxy")  # needs knowledge devices to build: safe default
    cells = make_cells(["nsga2", "random"], ["synthetic:0"], [10, 20], [0])
    units = plan_units(cells)
    assert sorted((u.cells[0].algo, len(u.cells), u.anytime) for u in units) == [
        ("nsga2", 1, False),
        ("nsga2", 1, False),
        ("random", 2, True),
    ]
    with pytest.raises(ValueError, match="not budget-agnostic"):
        prefix_runs("nsga2", "synthetic:0", [10, 20])


def test_snapshot_interpolates_inside_a_batch():
    snaps = [
        PaidSnapshot(10, 1.0, {"proxy": 10}, {"proxy": 1.0}, 10, 0),
        PaidSnapshot(20, 3.0, {"proxy": 20, "predictor": 100}, {"proxy": 2.0}, 12, 8),
    ]
    s = snapshot_at(snaps, 15)
    assert s.cheap_queries == {"predictor": 50, "proxy": 15} and s.elapsed_s == 2.0
    assert s.n_taken + s.n_from_store == 15
    assert snapshot_at(snaps, 10) is snaps[0] and snapshot_at(snaps, 0).cheap_queries == {}


def test_resume_adds_only_new_budgets(tmp_path):
    out = tmp_path / "g"
    first = run_grid(make_cells(["random", "nsga2"], ["synthetic:0"], [10, 20], [0]), out)
    stamp = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/row.json")}
    cells = make_cells(["random", "nsga2"], ["synthetic:0"], [10, 20, 30], [0])
    done: list[dict] = []
    both = run_grid(cells, out, on_done=done.append)
    assert {p: p.stat().st_mtime_ns for p in stamp} == stamp  # finished cells not rerun
    assert len(both) == 6 and len(done) == 6
    old = both[both["budget"] < 30].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, first, check_dtype=False)
    fresh = run_grid(make_cells(["random"], ["synthetic:0"], [30], [0]), tmp_path / "f")
    new = both[(both["budget"] == 30) & (both["algo"] == "random")]
    assert new["n_front"].item() == fresh["n_front"].item()


def _summary_rows():
    rows = []
    for algo, vals in {
        "a": [0.80, 0.82, 0.81],
        "b": [0.70, 0.90, 0.80],
        "c": [0.5, 0.5, 0.5],
    }.items():
        for s, v in enumerate(vals):
            rows.append({"algo": algo, "device": "d", "budget": 10, "seed": s, "hv_ratio": v})
            rows[-1]["igd_plus"] = np.inf if algo == "c" and s == 0 else 1 - v
    return pd.DataFrame(rows)


def test_summarize_and_best_method_table():
    summ = summarize(_summary_rows())
    a = summ.set_index("algo").loc["a"]
    assert a["hv_ratio_mean"] == pytest.approx(0.81) and a["n_seeds"] == 3
    assert a["ci_low"] < 0.81 < a["ci_high"]
    # IGD+ of an empty front (inf) is left out of its mean
    assert summ.set_index("algo").loc["c", "igd_plus_mean"] == pytest.approx(0.5)
    best = best_methods(summ)
    assert len(best) == 1
    b = best.iloc[0]
    assert (b["best"], b["runner_up"]) == ("a", "b")
    assert b["margin"] == pytest.approx(0.81 - 0.80) and b["intervals_overlap"]
    # with one seed per algorithm intervals are points: distinct means never overlap
    one = summarize(_summary_rows().query("seed == 0"))
    assert not best_methods(one).iloc[0]["intervals_overlap"]
    low = best_methods(summarize(_summary_rows(), "igd_plus"), "igd_plus", higher_is_better=False)
    assert low.iloc[0]["best"] == "a" and low.iloc[0]["margin"] > 0


def test_best_method_without_runner_up_or_scores():
    df = _summary_rows().query("algo == 'a'")
    best = best_methods(summarize(df))
    assert best.iloc[0]["best"] == "a" and best.iloc[0]["runner_up"] is None
    assert np.isnan(best.iloc[0]["margin"])
    unscored = _summary_rows().assign(hv_ratio=np.nan)
    assert best_methods(summarize(unscored)).empty


@pytest.mark.ray
def test_ray_backend_matches_local(tmp_path):
    ray = pytest.importorskip("ray")
    cells = make_cells(["random", "nsga2"], ["synthetic:0", "synthetic:3"], [10, 20], [0, 1])
    local = _grid(cells, tmp_path / "l", workers=1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = _grid(cells, tmp_path / "r", backend="ray")
    finally:
        ray.shutdown()
    cols = [c for c in RESULT_COLUMNS if c != "wall_time_s"]
    pd.testing.assert_frame_equal(local[cols], remote[cols])
    _same_runs(local, remote, cells)


def test_seed_independent_method_runs_once_per_device_and_budget(tmp_path):
    # The controller's run does not depend on the seed (registry metadata): one run per
    # (device, K), its row copied to every seed and marked; the copies equal real runs.
    from moohw.algorithms.grid import seed_independent_savings

    cells = make_cells(["controller", "random"], ["synthetic:1"], [5], [0, 1, 2])
    units = plan_units(cells)
    ctrl = [u for u in units if u.cells[0].algo == "controller"]
    assert len(ctrl) == 1 and ctrl[0].same_run and len(ctrl[0].cells) == 3
    df = _grid(cells, tmp_path / "g")
    c = df[df.algo == "controller"]
    assert c["seed_independent"].all() and not df[df.algo == "random"]["seed_independent"].any()
    assert sorted(c.seed) == [0, 1, 2] and c["n_front"].nunique() == 1
    real = search("controller", "synthetic:1", 5, seed=2)
    copied = pd.read_csv(tmp_path / "g" / "runs" / cells[2].slug / "front.csv")
    assert copied["arch_str"].tolist() == get_space("nb201").to_str(real.front_X)
    n, secs = seed_independent_savings(df)
    assert n == 2 and secs == pytest.approx(2 * float(c["wall_time_s"].iloc[0]))
    separate = _grid(cells, tmp_path / "s", once_per_seed=False)
    cols = ["n_target_measurements", "n_front", "cheap_queries"]
    a = df[df.algo == "controller"].sort_values("seed")[cols].to_numpy()
    b = separate[separate.algo == "controller"].sort_values("seed")[cols].to_numpy()
    assert np.array_equal(a, b)
