"""Issue 14: the latency cap, the recommendation, `moohw export` and `moohw report`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from moohw.algorithms import search
from moohw.cli import app
from typer.testing import CliRunner

from moohw.metrics import non_dominated
from moohw.recommend import (
    PickRule,
    capped_front,
    check_max_latency,
    knee_index,
    nb201_cell_kind,
    parse_pick,
    pick,
    recommend,
)

runner = CliRunner()


@pytest.fixture(autouse=True)
def _export_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOOHW_EXPORT_CACHE", str(tmp_path / "export_cache"))


def _paths_oracle(row: tuple[int, ...]) -> str:
    """Cell kind by listing the four input→output paths of the NB201 cell explicitly."""
    e01, e02, e12, e03, e13, e23 = row
    paths = [(e03,), (e01, e13), (e02, e23), (e01, e12, e23)]
    live = [p for p in paths if 0 not in p]
    if not live:
        return "disconnected"
    return "conv" if any(op in (2, 3) for p in live for op in p) else "no-conv"


def test_cell_kind_matches_explicit_paths_on_the_whole_space(nb201):
    X = nb201.enumerate()
    got = nb201_cell_kind(X)
    want = [_paths_oracle(tuple(r)) for r in X.tolist()]
    assert got == want
    counts = pd.Series(got).value_counts()
    assert set(counts.index) == {"conv", "no-conv", "disconnected"}
    s = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"  # conv off every path
    assert nb201_cell_kind(nb201.from_str([s])) == ["no-conv"]


def test_capped_front_is_the_nondominated_set_under_the_cap():
    rng = np.random.default_rng(0)
    F = np.column_stack([-rng.random(200), rng.random(200) * 10])
    for cap in (None, 2.5, 7.0):
        idx = capped_front(F, cap)
        ok = np.ones(len(F), bool) if cap is None else F[:, 1] <= cap
        want = np.flatnonzero(ok)[non_dominated(F[ok])]
        assert sorted(idx) == sorted(want)
        assert np.all(np.diff(F[idx, 1]) >= 0)  # sorted by latency
    assert len(capped_front(F, 1e-9)) == 0


@pytest.mark.parametrize("bad", [0, -1.5, float("nan"), float("inf")])
def test_max_latency_must_be_positive(bad):
    with pytest.raises(ValueError, match="--max-latency must be a number of ms > 0"):
        check_max_latency(bad)


def test_knee_is_the_bend_and_ignores_units():
    # a staircase with an obvious bend at (−0.9, 2): big proxy gain for little latency before it
    F = np.array([[-0.1, 1.0], [-0.9, 2.0], [-0.95, 6.0], [-1.0, 10.0]])
    assert knee_index(F) == 1
    assert knee_index(F * np.array([100.0, 0.001])) == 1  # min-max normalised: units do not matter
    assert knee_index(F[:1]) == 0
    assert knee_index(np.array([[-1.0, 2.0], [0.0, 1.0]])) == 1  # two ends tie: the faster
    with pytest.raises(ValueError, match="empty"):
        knee_index(np.zeros((0, 2)))


def _front() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "arch_str": list("abcde"),
            "proxy": [0.1, 0.5, 0.8, 0.9, 1.0],
            "latency_ms": [1.0, 2.0, 3.0, 8.0, 20.0],
            "degenerate": [True, False, False, False, False],
            "accuracy": [10.0, 80.0, 91.0, 90.0, 93.0],
        }
    )


def test_picks_skip_degenerate_cells_and_rank_by_accuracy_when_known():
    f = _front()
    assert pick(f, "fastest")["arch_str"].tolist() == ["b"]  # "a" is degenerate
    assert pick(f, "most-accurate")["arch_str"].tolist() == ["e"]
    assert pick(f, "under:8.5")["arch_str"].tolist() == ["c"]  # accuracy 91 beats 90
    assert pick(f.drop(columns="accuracy"), "under:8.5")["arch_str"].tolist() == ["d"]  # proxy
    assert pick(f, "front")["arch_str"].tolist() == list("abcde")
    assert pick(f, "knee")["arch_str"].tolist() == ["c"]
    with pytest.raises(ValueError, match=r"no network on the front is under 0\.5 ms.*1 ms"):
        pick(f, "under:0.5")
    only_bad = f.assign(degenerate=True)
    assert pick(only_bad, "fastest")["arch_str"].tolist() == ["a"]  # all degenerate: keep them
    rule, row = recommend(f, 2.5)
    assert rule == PickRule("under", 2.5) and row["arch_str"] == "b"
    assert recommend(f)[0].kind == "knee"


@pytest.mark.parametrize("bad", ["best", "under:", "under:-1", "under:x"])
def test_bad_pick_is_one_clear_error(bad):
    with pytest.raises(ValueError, match="pick"):
        parse_pick(bad)


def test_search_cuts_the_declared_front_at_the_cap():
    free = search("random", "synthetic:0", budget=40, seed=3)
    cap = float(np.median(free.F[:, 1]))
    r = search("random", "synthetic:0", budget=40, seed=3, max_latency_ms=cap)
    np.testing.assert_array_equal(r.F, free.F)  # random search ignores the constraint
    assert r.max_latency_ms == cap and len(r.front) > 0
    assert np.all(r.front_F[:, 1] <= cap)
    assert sorted(r.front) == sorted(capped_front(r.F, cap))
    with pytest.raises(ValueError, match="> 0"):
        search("random", "synthetic:0", budget=5, max_latency_ms=0.0)


def test_nsga2_spends_more_of_its_budget_under_the_cap():
    # The cap reaches NSGA-II as a pymoo inequality constraint (feasible parents first).
    ref = search("random", "synthetic:0", budget=120, seed=0)
    cap = float(np.quantile(ref.F[:, 1], 0.1))
    share = {True: [], False: []}
    for seed in range(3):
        for capped in (True, False):
            r = search("nsga2", "synthetic:0", 120, seed, max_latency_ms=cap if capped else None)
            share[capped].append(float(np.mean(r.F[:, 1] <= cap)))
    # measured: 0.48 vs 0.25 of the measured networks under the cap (median of 3 seeds)
    assert np.median(share[True]) > np.median(share[False]) + 0.15


def _optimize(tmp_path, *extra):
    args = ["optimize", "--algo", "random", "--device", "synthetic:0", "--budget", "30"]
    return runner.invoke(app, [*args, "--out", str(tmp_path / "run"), *extra])


def test_optimize_prints_a_recommendation_and_writes_delivery_files(tmp_path, monkeypatch):
    monkeypatch.delenv("MOOHW_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    res = _optimize(tmp_path, "--max-latency", "1e9")
    assert res.exit_code == 0, res.output
    free = pd.read_csv(tmp_path / "run" / "measured.csv")
    cap = float(free["latency_ms"].median())
    res = _optimize(tmp_path, "--max-latency", str(cap))
    assert res.exit_code == 0, res.output
    assert f"recommended network (under {cap:g} ms)" in res.output
    assert "moohw export" in res.output and "degenerate" in res.output  # the table's caption
    run = tmp_path / "run"
    rec = json.loads((run / "run.json").read_text())
    assert rec["max_latency_ms"] == cap
    front = pd.read_csv(run / "front.csv")
    assert len(front) == rec["n_front"] and (front["latency_ms"] <= cap).all()
    assert list(front.columns[:3]) == ["arch_str", "proxy", "latency_ms"]
    measured = pd.read_csv(run / "measured.csv")
    assert len(measured) == 30 and measured["on_front"].sum() == len(front)
    best = pick(front, PickRule("under", cap)).iloc[0]["arch_str"]
    assert best in res.output
    bad = _optimize(tmp_path, "--max-latency", "-3")
    assert bad.exit_code == 2 and "--max-latency must be a number of ms > 0" in bad.output


def test_report_writes_a_png_and_a_page(tmp_path, monkeypatch):
    monkeypatch.delenv("MOOHW_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert _optimize(tmp_path).exit_code == 0
    res = runner.invoke(app, ["report", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    png = (tmp_path / "run" / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    md = (tmp_path / "run" / "report.md").read_text()
    front = pd.read_csv(tmp_path / "run" / "front.csv")
    knee = pick(front, "knee").iloc[0]["arch_str"]
    assert md.index("## Use this network") < md.index("## What was measured")
    assert f"`{knee}`" in md and "synthetic:0" in md and "moohw export" in md
    assert md.count("\n| ") == len(front) + 1  # header + one line per front member
    missing = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_export_torchscript_card_rebuilds_the_same_network(tmp_path, monkeypatch):
    import torch

    monkeypatch.delenv("MOOHW_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert _optimize(tmp_path).exit_code == 0
    out = tmp_path / "exp"
    res = runner.invoke(app, ["export", str(tmp_path / "run"), "--out", str(out)])  # the knee
    assert res.exit_code == 0, res.output
    front = pd.read_csv(tmp_path / "run" / "front.csv")
    (card_path,) = out.glob("*.json")
    card = json.loads(card_path.read_text())
    assert card["arch_str"] == pick(front, "knee").iloc[0]["arch_str"] and card["pick"] == "knee"
    assert card["check"]["max_abs_diff"] < 1e-5
    assert "not re-measured" in card["check"]["latency"]
    assert card["proxy"]["name"] == "rankmix" and card["device"]["name"] == "synthetic:0"
    scope: dict = {}
    exec(card["rebuild"], scope)  # the card's own recipe
    net = scope["net"].eval()
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    loaded = torch.jit.load(str(out / card["file"])).eval()
    with torch.no_grad():
        assert torch.allclose(net(x), loaded(x), atol=1e-5)
    bad = runner.invoke(app, ["export", str(tmp_path / "run"), "--format", "tflite"])
    assert bad.exit_code == 2 and "onnx, torchscript" in bad.output


def test_export_onnx_names_the_extra_when_missing(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "onnxruntime" else real(n, *a)
    )
    res = runner.invoke(app, ["export", str(tmp_path), "--format", "onnx"])
    assert res.exit_code == 2 and "runtimes extra" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_export_onnx_matches_pytorch(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    monkeypatch.delenv("MOOHW_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert _optimize(tmp_path).exit_code == 0
    res = runner.invoke(
        app, ["export", str(tmp_path / "run"), "--format", "onnx", "--out", str(tmp_path / "e")]
    )
    assert res.exit_code == 0, res.output
    (card_path,) = (tmp_path / "e").glob("*.json")
    card = json.loads(card_path.read_text())
    assert card["format"] == "onnx" and card["check"]["max_abs_diff"] < 1e-4


@pytest.mark.slow  # ~10 s idle, 40 s on the loaded 2-core machine
def test_export_on_local_cpu_remeasures_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = str(tmp_path / "m.sqlite")
    dev = "local:cpu?warmup=2&repeats=7"
    args = ["optimize", "--algo", "random", "--device", dev, "--budget", "3", "--store", store]
    res = runner.invoke(app, [*args, "--out", "run"])
    assert res.exit_code == 0, res.output
    measured = pd.read_csv(tmp_path / "run" / "measured.csv")
    assert measured["spread_ms"].notna().all()  # read back from the store
    device = json.loads((tmp_path / "run" / "device.json").read_text())
    assert device["kind"] == "live" and len(device["fingerprint"]) == 16
    res = runner.invoke(app, ["export", "run", "--pick", "fastest", "--store", store])
    assert res.exit_code == 0, res.output
    (card_path,) = (tmp_path / "run" / "export").glob("*.json")
    lat = json.loads(card_path.read_text())["check"]["latency"]
    stored = float(measured.loc[measured["on_front"], "latency_ms"].min())
    assert isinstance(lat, dict) and lat["latency_ms"] > 0
    assert 0.3 < lat["latency_ms"] / stored < 3.0  # the same network on the same CPU
    assert lat["agrees"] == (abs(lat["difference_ms"]) <= lat["tolerance_ms"])


def test_front_csv_carries_accuracy_and_official_index(tmp_path, data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["optimize", "--algo", "random", "--device", "help:pixel2", "--budget", "15"]
    res = runner.invoke(app, [*args, "--data", str(data.root), "--out", "run"])
    assert res.exit_code == 0, res.output
    front = pd.read_csv(tmp_path / "run" / "front.csv")
    acc = pd.read_csv(data.root / "nb201" / "accuracy.csv").set_index("index")
    archs = pd.read_csv(data.root / "nb201" / "archs.csv").set_index("index")["arch_str"]
    for _, r in front.iterrows():
        assert archs[int(r["bench_index"])] == r["arch_str"]
        assert r["accuracy"] == pytest.approx(acc.loc[int(r["bench_index"]), "cifar10_test_200ep"])
    assert "benchmark accuracy" in res.output and "NB201 index" in res.output


@pytest.mark.parametrize(
    "device, fmt",
    [
        ("local:onnxruntime?opt=basic", "onnx"),
        ("local:openvino", "onnx"),
        ("local:cpu", "torchscript"),
        ("help:pixel3", "torchscript"),
        (None, "torchscript"),
    ],
)
def test_next_command_suggests_the_runtime_format(device, fmt):
    from moohw.rundir import export_format

    assert export_format(device) == fmt
