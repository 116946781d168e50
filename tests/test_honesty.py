"""Numbers and records that cannot mislead (issue 17): intervals, verdicts, resume keys, logs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from moohw.algorithms.grid import make_cells, run_grid
from moohw.cli import app
from moohw.cli.common import LogProgress
from typer.testing import CliRunner

from moohw.atomic import TornRecordError, write_json
from moohw.summary import best_methods, bootstrap_interval, summarize

runner = CliRunner()


def _rows(values: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"algo": a, "device": "d", "budget": 10, "seed": s, "hv_ratio": v}
            for a, vals in values.items()
            for s, v in enumerate(vals)
        ]
    )


def test_interval_from_two_seeds_is_not_given():
    # regression: 2 seeds printed 0.743 [-0.690, 2.177] (a t-interval of an HV ratio)
    s = summarize(_rows({"a": [0.2, 0.99]})).iloc[0]
    assert np.isnan(s["ci_low"]) and np.isnan(s["ci_high"]) and "fewer than 3" in s["interval"]


def test_bootstrap_interval_stays_within_the_values():
    rng = np.random.default_rng(1)
    for n in (3, 5, 10):
        v = rng.uniform(0, 1, n) ** 4  # skewed, near 0
        lo, hi = bootstrap_interval(v)
        assert v.min() <= lo <= v.mean() <= hi <= v.max()
    assert bootstrap_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)


def test_best_says_tied_when_intervals_overlap_and_marks_deterministic():
    summ = summarize(
        _rows({"a": [0.80, 0.84, 0.82, 0.81], "b": [0.79, 0.83, 0.80, 0.82], "c": [0.5] * 4})
    )
    assert summ.set_index("algo").loc["c", "deterministic"]
    assert not summ.set_index("algo").loc["a", "deterministic"]
    best = best_methods(summ).iloc[0]
    assert best["verdict"] == "tied" and best["tied_with"] == "b" and best["best"] == "a"
    clear = best_methods(summarize(_rows({"a": [0.9, 0.91, 0.92], "b": [0.5, 0.51, 0.52]})))
    assert clear.iloc[0]["verdict"] == "wins" and clear.iloc[0]["tied_with"] == ""
    few = best_methods(summarize(_rows({"a": [0.9, 0.91], "b": [0.5, 0.51]})))
    assert few.iloc[0]["verdict"].startswith("no interval")


def test_resume_refuses_another_proxy_and_names_a_torn_record(tmp_path):
    cells = make_cells(["random"], ["synthetic:0"], [5], [0])
    df = run_grid(cells, tmp_path, proxy="params")
    assert len(df) == 1 and json.loads(df.iloc[0]["cheap_by_kind"]) == {"proxy": 5}
    row = tmp_path / "runs" / cells[0].slug / "row.json"
    assert json.loads(row.read_text())["key"]["proxy"] == "params"
    # regression: another --proxy reused every old row and exited 0
    with pytest.raises(ValueError, match="proxy: 'params' → 'flops'"):
        run_grid(cells, tmp_path, proxy="flops")
    assert len(run_grid(cells, tmp_path, proxy="params")) == 1  # same key: resumed
    row.write_text(row.read_text()[:20])
    with pytest.raises(TornRecordError, match=r"row\.json is not valid JSON"):
        run_grid(cells, tmp_path, proxy="params")


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    f = tmp_path / "r.json"
    write_json(f, {"a": 1})
    with pytest.raises(TypeError):
        write_json(f, {"a": object()}, default=None)
    assert json.loads(f.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left


def test_duplicates_in_list_options_run_once(tmp_path, monkeypatch):
    # regression: --devices a,a / --algos r,r / --budgets 10,10 doubled the rows
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOOHW_DATA", "")
    args = ["compare", "--algos", "random,random", "--devices", "synthetic:0,synthetic:0"]
    res = runner.invoke(app, [*args, "--budgets", "5,5", "--seeds", "1", "--out", "c"])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(tmp_path / "c" / "results.csv")) == 1
    assert "more than once" in res.output


def test_log_progress_prints_timed_lines(capsys):
    from rich.console import Console

    con = Console(file=None, stderr=True, force_terminal=False, width=200)
    with LogProgress(every=1e-9, console=con) as p:
        t = p.add_task("runs", total=4)
        p.advance(t)
        p.update(t, completed=4)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert lines[0].startswith("runs: 1/4 (25%)") and "left" in lines[0]
    assert lines[-1].startswith("runs: 4/4 (100%)") and "finished" in lines[-1]


def test_run_json_records_data_folder(tmp_path, monkeypatch, data):
    monkeypatch.chdir(tmp_path)
    args = ["optimize", "--algo", "random", "--device", "synthetic:0", "--budget", "5"]
    res = runner.invoke(app, [*args, "--data", str(data.root), "--out", "o"])
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "o" / "run.json").read_text())
    assert rec["data"] == str(data.root) and rec["data_manifest_sha256"] == data.manifest_digest()


def test_data_check_command(tmp_path):
    import hashlib

    (tmp_path / "nb201").mkdir()
    (tmp_path / "nb201" / "archs.csv").write_text("index,arch_str\n")
    h = hashlib.sha256(b"index,arch_str\n").hexdigest()
    (tmp_path / "MANIFEST.tsv").write_text(f"path\tbytes\tsha256\nnb201/archs.csv\t15\t{h}\n")
    res = runner.invoke(app, ["data", "check", str(tmp_path)])
    assert res.exit_code == 1, res.output  # accuracy, HELP, ... tables are missing
    assert "verified" in res.output and "missing" in res.output
    bad = runner.invoke(app, ["data", "check", str(tmp_path / "nowhere")])
    assert bad.exit_code == 2 and "nowhere does not exist" in bad.output
