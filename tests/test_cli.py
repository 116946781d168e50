import json

import pandas as pd
import pytest
from moohw.cli import app
from typer.testing import CliRunner

from moohw.proxies import DEFAULT_PROXY

runner = CliRunner()


def test_optimize_without_data_writes_records(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ../shared/data: must still work
    monkeypatch.delenv("MOOHW_DATA", raising=False)
    res = runner.invoke(
        app, ["optimize", "--device", "synthetic:0", "--budget", "20", "--seed", "1", "--out", "o"]
    )
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "o" / "run.json").read_text())
    assert rec["n_target_measurements"] == 20 and rec["algo"] == "controller"  # the default
    assert rec["proxy"] == DEFAULT_PROXY == "rankmix"
    assert rec["device"] == "synthetic:0" and "hv_ratio" not in rec
    ev = pd.read_csv(tmp_path / "o" / "evaluations.csv")
    assert list(ev.columns) == ["arch_str", "kind", "latency_ms", "proxy", "cost_s", "spread_ms"]
    assert (ev["kind"] == "target").sum() == 20
    fr = pd.read_csv(tmp_path / "o" / "front.csv")
    assert len(fr) == rec["n_front"] and set(fr["arch_str"]) <= set(ev["arch_str"])


def test_optimize_passes_algorithm_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["optimize", "--algo", "nsga2", "--device", "synthetic:0", "--budget", "12"]
    res = runner.invoke(app, [*args, "-o", "pop_size=6", "--out", "o"])
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "o" / "run.json").read_text())
    assert rec["options"]["pop_size"] == 6
    bad = runner.invoke(app, [*args, "-o", "pop_size", "--out", "o2"])
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output
    missing = runner.invoke(
        app, ["optimize", "--device", "synthetic:0", "-o", f"checkpoint={tmp_path}/none"]
    )
    assert missing.exit_code == 2 and "pretrain controller" in missing.output


def test_pretrain_controller_cli(tmp_path):
    res = runner.invoke(
        app, ["pretrain", "controller", "--steps", "2", "--seed", "1", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "default.pt").is_file() and (tmp_path / "prior.json").is_file()
    bad = runner.invoke(app, ["pretrain", "controller", "--variant", "x", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "variant" in bad.output


def test_optimize_default_measures_this_cpu_and_resumes(tmp_path, monkeypatch):
    # The README's main command: real CPU measurement, stored, and a rerun measures nothing.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOOHW_STORE", str(tmp_path / "unused.sqlite"))  # restored afterwards
    args = ["optimize", "--budget", "3", "--store", str(tmp_path / "m.sqlite"), "--out", "o"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "o" / "run.json").read_text())
    assert rec["device"] == "local:cpu" and rec["measurements_taken"] == 3
    lat = pd.read_csv(tmp_path / "o" / "evaluations.csv")["latency_ms"]
    assert (lat > 0).all()
    res2 = runner.invoke(app, args)
    rec2 = json.loads((tmp_path / "o" / "run.json").read_text())
    assert res2.exit_code == 0 and rec2["measurements_taken"] == 0
    assert rec2["measurements_from_store"] == 3


def test_optimize_tabular_is_scored(tmp_path, data):
    out = tmp_path / "o"
    res = runner.invoke(
        app,
        [
            "optimize",
            "--device",
            "hwnasbench:edgegpu",
            "--budget",
            "30",
            "--data",
            str(data.root),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "run.json").read_text())
    assert 0 < rec["hv_ratio"] <= 1 and rec["igd_plus"] >= 0 and 0 < rec["ceiling_hv_ratio"] <= 1
    assert 12_000 < rec["restricted_to_covered"] < 15_625


@pytest.mark.parametrize(
    "args,msg",
    [
        (["optimize", "--algo", "nope"], "unknown algorithm 'nope'"),
        (["optimize", "--device", "gpu:9"], "unknown device kind 'gpu'"),
        (["optimize", "--space", "darts"], "unknown space 'darts'"),
        (["optimize", "--budget", "-1"], "--budget must be >= 1"),
        (["optimize", "--budget", "0"], "--budget must be >= 1"),
        (["optimize", "--device", "synthetic:1", "--budget", "20000"], "more than the 15,625"),
        (["optimize", "--algo", "nsga2", "-o", "pop_size=abc"], "pop_size of nsga2 must be"),
        (["optimize", "--algo", "random", "-o", "foo=bar"], "valid options: batch_size"),
        (["optimize", "--algo", "mfbo", "-o", "cheap_share=abc"], "cheap_share of mfbo"),
        (["optimize", "--algo", "oneproxy", "-o", "threshold=abc"], "threshold of oneproxy"),
        (["optimize", "--proxy", "vibes"], "unknown proxy 'vibes'"),
        (["optimize", "--device", "csv:missing.csv"], "does not exist"),
        (["compare", "--budgets", "10,x"], "expected int"),
    ],
)
def test_bad_input_one_line_exit_2(args, msg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert msg in res.output and "Traceback" not in res.output


def test_unreadable_csv_device(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_bytes(b"\x00\xff\xfe garbage")
    res = runner.invoke(app, ["optimize", "--device", "csv:bad.csv"])
    assert res.exit_code == 2 and "error:" in res.output


def test_compare_then_plot(tmp_path, data):
    out = tmp_path / "cmp"
    args = [
        "compare",
        "--algos",
        "random,nsga2",
        "--devices",
        "help:fpga,synthetic:2",
        "--budgets",
        "10,20",
        "--seeds",
        "2",
        "--data",
        str(data.root),
        "--out",
        str(out),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 2 * 2 * 2 * 2
    for col in (
        "algo",
        "device",
        "budget",
        "seed",
        "hv_ratio",
        "igd_plus",
        "n_target_measurements",
        "wall_time_s",
    ):
        assert col in df.columns
    assert (df["n_target_measurements"] == df["budget"]).all()
    assert pd.read_csv(out / "summary.csv").shape[0] == 2 * 2 * 2
    mtime = (out / "results.csv").stat().st_mtime_ns
    res2 = runner.invoke(app, args)  # resumable: nothing reruns, same rows
    assert res2.exit_code == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), df)
    assert (out / "results.csv").stat().st_mtime_ns >= mtime
    res3 = runner.invoke(app, ["plot", str(out)])
    assert res3.exit_code == 0, res3.output
    for png in ("hv_vs_budget.png", "fronts.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_missing_dir_is_clean_error(tmp_path):
    res = runner.invoke(app, ["plot", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "results.csv" in res.output


def test_listing_commands(data):
    res = runner.invoke(app, ["devices", "--data", str(data.root)])
    assert res.exit_code == 0 and "help:pixel3" in res.output
    assert "nsga2" in runner.invoke(app, ["algorithms"]).output
    assert "15,625" in runner.invoke(app, ["spaces"]).output


def test_library_bug_is_one_line_exit_1_and_debug_shows_it(monkeypatch, tmp_path):
    # Regression (issue 15): a bare KeyError from library code used to print as a "user error"
    # (exit 2). Only moohw's own errors are user errors now.
    import moohw.algorithms as algos

    def broken(*args, **kwargs):
        raise KeyError("internal table lookup")

    monkeypatch.setattr(algos, "search", broken)
    monkeypatch.chdir(tmp_path)
    args = ["optimize", "--device", "synthetic:1", "--budget", "5"]
    res = runner.invoke(app, args)
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "rerun with --debug for the traceback" in lines[0]
    assert "KeyError" in lines[0] and "Traceback" not in res.output
    dbg = runner.invoke(app, ["--debug", *args])
    assert dbg.exit_code == 1 and isinstance(dbg.exception, KeyError)


def test_algorithms_lists_typed_options():
    res = runner.invoke(app, ["algorithms"], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    assert "pop_size: int = None" in res.output and "knowledge: list[str]" in res.output
    assert "seed-independent" in res.output
