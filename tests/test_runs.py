"""Run records: frozen results, and ``RunResult.load`` reading back what ``write_run`` wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest
from moohw.algorithms import run_algorithm, search
from moohw.problems import HWNASProblem

from moohw.devices import get_device
from moohw.proxies import get_proxy
from moohw.runs import RunResult, write_run


def test_load_round_trips_a_written_run(tmp_path, nb201):
    r = search("nsga2", "synthetic:2", 15, seed=1)
    write_run(r, nb201, tmp_path / "run")
    back = RunResult.load(tmp_path / "run")
    assert np.array_equal(back.X, r.X) and np.allclose(back.F, r.F)
    assert np.array_equal(back.front, r.front)
    for f in ("algo", "device", "space", "proxy", "seed", "budget", "n_target_measurements"):
        assert getattr(back, f) == getattr(r, f), f
    assert back.n_reused == r.n_reused and back.cheap_queries == r.cheap_queries
    assert back.queries == r.queries and back.options == r.options and back.info == r.info


def test_unlimited_budget_is_null_and_old_minus_one_reads_as_none(tmp_path, nb201):
    p = HWNASProblem(nb201, get_device("synthetic:1", nb201), get_proxy("params", nb201), None)
    r = run_algorithm("random", p, 0)  # unlimited: random's first batch, then it stops
    write_run(r, nb201, tmp_path / "u")
    assert json.loads((tmp_path / "u" / "run.json").read_text())["budget"] is None
    assert RunResult.load(tmp_path / "u").budget is None
    rec = json.loads((tmp_path / "u" / "run.json").read_text())
    rec["budget"] = -1  # records written by 0.1
    (tmp_path / "u" / "run.json").write_text(json.dumps(rec))
    assert RunResult.load(tmp_path / "u").budget is None


def test_result_is_frozen(nb201):
    r = search("random", "synthetic:1", 5, seed=0)
    with pytest.raises(ValueError, match="read-only"):
        r.X[0, 0] = 1
    with pytest.raises(AttributeError):
        r.queries.append(None)  # type: ignore[attr-defined]


def test_load_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"has no run\.json"):
        RunResult.load(tmp_path)
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(ValueError, match="not a moohw run record"):
        RunResult.load(tmp_path)
