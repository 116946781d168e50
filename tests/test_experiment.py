"""The experiment layer (moohw.problems.experiment): problems from names, cached tables, scores."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from moohw.algorithms import search
from moohw.problems import HWNASProblem
from moohw.problems.experiment import (
    accuracy_by_name,
    attach_scores,
    build_problem,
    device_by_name,
    reference_point,
    score_run,
    scorer,
    write_true_fronts,
)

from moohw.errors import BudgetError, UnknownNameError

ROOT = Path(__file__).resolve().parents[1]


def test_build_problem_from_names():
    p = build_problem("synthetic:3", budget=7, proxy="params", max_latency_ms=5.0)
    assert isinstance(p, HWNASProblem) and p.ledger.budget == 7 and p.max_latency_ms == 5.0
    assert p.device.name == "synthetic:3" and p.proxy.name == "params"
    assert p.device is device_by_name("synthetic:3", "nb201", None)  # tables read once
    with pytest.raises(UnknownNameError, match="synthetic"):
        build_problem("nosuch:1", budget=5)
    with pytest.raises(BudgetError, match="budget"):
        build_problem("synthetic:3", budget=0)


def test_unscorable_runs_stay_unscored():
    r = search("random", "synthetic:3", 5, seed=0, proxy="params")
    assert r.scores == {}  # no benchmark accuracy for a synthetic device without data
    assert attach_scores(r, device_by_name("synthetic:3", "nb201", None), None) is r


def test_scores_and_true_fronts_share_one_reference_point(data, tmp_path):
    dev = device_by_name("help:pixel2", "nb201", data)
    acc = accuracy_by_name("nb201", data, "cifar10_test_200ep")
    s, ceiling = scorer(dev, acc, "params")
    X = dev.space.enumerate()
    assert np.array_equal(s.ref, reference_point(acc(X), dev.latency_ms(X)))
    write_true_fronts(["help:pixel2"], tmp_path, data=data, accuracy="cifar10_test_200ep")
    ref = json.loads((tmp_path / "true_fronts" / "help_pixel2.ref.json").read_text())
    assert (ref["accuracy"], ref["latency_ms"]) == (-s.ref[0], s.ref[1])
    front = pd.read_csv(tmp_path / "true_fronts" / "help_pixel2.csv")
    assert len(front) == len(s.true_front)
    # The true front scores itself to 1; a search run is scored on the same scorer.
    r = search("random", "help:pixel2", 10, seed=1, proxy="params", data=data)
    assert r.scores == score_run(r, dev, acc)
    assert 0 < r.scores["hv_ratio"] < 1 and r.scores["ceiling_hv_ratio"] == ceiling


def test_no_private_names_imported_across_modules():
    # Issue 15 item 4: anytime and grid imported api's private helpers; what they share is
    # public now (the experiment layer).
    bad = []
    for folder in ("algorithms", "problems", "benchmarks"):
        for f in (ROOT / folder).rglob("*.py"):
            for n in ast.walk(ast.parse(f.read_text())):
                if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("moohw"):
                    bad += [f"{f.name}: {a.name}" for a in n.names if a.name.startswith("_")]
    assert not bad, bad
