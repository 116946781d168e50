"""Bad input to every command: no traceback, exit status 2, one line naming the value (issue 17).

Each case is a command line a user could type. The error line must name the offending value
and say what is valid; nothing may have been written when the command refuses its input. The
cases run in-process (typer's CliRunner) on synthetic devices, so the default tier stays fast;
those that need the benchmark data skip without it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from moohw.cli import app
from typer.testing import CliRunner

from moohw.devices.synthetic import SyntheticDevice
from moohw.spaces import NB201Space

runner = CliRunner()


@pytest.fixture()
def tables(tmp_path: Path) -> Path:
    """User tables: a good one (55 rows), one with NaN, one with duplicates, one with zeros."""
    sp = NB201Space()
    X = sp.sample(55, np.random.default_rng(0))
    lat = SyntheticDevice("synthetic:0", sp, 0).latency_ms(X)
    strs = list(sp.to_str(X))
    pd.DataFrame({"arch_str": strs, "latency_ms": lat}).to_csv(tmp_path / "ok.csv", index=False)
    nan = lat.copy()
    nan[:19] = np.nan
    pd.DataFrame({"arch_str": strs, "latency_ms": nan}).to_csv(tmp_path / "nan.csv", index=False)
    pd.DataFrame(
        {"arch_str": strs + strs[:10], "latency_ms": np.concatenate([lat, 2 * lat[:10]])}
    ).to_csv(tmp_path / "dup.csv", index=False)
    zero = lat.copy()
    zero[3] = 0.0
    pd.DataFrame({"arch_str": strs, "latency_ms": zero}).to_csv(tmp_path / "zero.csv", index=False)
    (tmp_path / "file.txt").write_text("not a folder\n")
    (tmp_path / "adir").mkdir()
    return tmp_path


OPT = ["optimize", "--algo", "random", "--device", "synthetic:0", "--budget", "5"]
CMP = [
    "compare",
    "--algos",
    "random",
    "--devices",
    "synthetic:0",
    "--budgets",
    "5",
    "--seeds",
    "1",
]
PEV = ["predictor", "eval", "--task", "ND", "--methods", "opcount", "--seeds", "1"]
SUR = ["surrogate", "build", "--device", "synthetic:0"]
PRX = ["proxies", "compute", "--proxies", "naswot"]
MEA = ["measure", "--device", "local:cpu"]
MON = ["monotonicity", "--devices", "synthetic:0,synthetic:1"]

# (id, argv with {t} for the tables folder, regex the error line must match, needs data)
CASES: list[tuple[str, list[str], str, bool]] = [
    # optimize
    ("opt-budget-0", [*OPT[:-1], "0", "--out", "{t}/o"], r"--budget must be >= 1.*got 0", False),
    ("opt-budget-neg", [*OPT[:-1], "-5", "--out", "{t}/o"], r"--budget.*>= 1.*-5", False),
    ("opt-budget-huge", [*OPT[:-1], "20000", "--out", "{t}/o"], r"20000.*15,625", False),
    (
        "opt-budget-over-table",
        [*OPT[:3], "--device", "csv:{t}/ok.csv", "--budget", "60", "--out", "{t}/o"],
        r"60.*55 candidate",
        False,
    ),
    ("opt-seed-neg", [*OPT, "--seed", "-1", "--out", "{t}/o"], r"--seed.*-1", False),
    ("opt-algo", ["optimize", "--algo", "nosuch", "--out", "{t}/o"], r"nosuch.*random", False),
    (
        "opt-device-kind",
        [*OPT[:3], "--device", "nosuch:1", "--out", "{t}/o"],
        r"nosuch.*synthetic",
        False,
    ),
    (
        "opt-device-noarg",
        [*OPT[:3], "--device", "synthetic", "--out", "{t}/o"],
        r"'synthetic'.*kind:argument",
        False,
    ),
    (
        "opt-synthetic-seed",
        [*OPT[:3], "--device", "synthetic:abc", "--out", "{t}/o"],
        r"integer.*'abc'",
        False,
    ),
    (
        "opt-csv-dir",
        [*OPT[:3], "--device", "csv:{t}/adir", "--out", "{t}/o"],
        r"adir is a directory",
        False,
    ),
    (
        "opt-csv-missing",
        [*OPT[:3], "--device", "csv:{t}/none.csv", "--out", "{t}/o"],
        r"none\.csv does not exist",
        False,
    ),
    (
        "opt-csv-nan",
        [*OPT[:3], "--device", "csv:{t}/nan.csv", "--out", "{t}/o"],
        r"nan\.csv.*NaN.*19 of 55 rows.*lines 2, 3",
        False,
    ),
    (
        "opt-csv-dup",
        [*OPT[:3], "--device", "csv:{t}/dup.csv", "--out", "{t}/o"],
        r"dup\.csv: 10 rows repeat.*lines 2 and 57",
        False,
    ),
    (
        "opt-csv-zero",
        [*OPT[:3], "--device", "csv:{t}/zero.csv", "--out", "{t}/o"],
        r"zero\.csv.*non-positive.*line.* 5",
        False,
    ),
    (
        "opt-csv-column",
        [*OPT[:3], "--device", "csv:{t}/ok.csv:nosuch", "--out", "{t}/o"],
        r"'nosuch'.*latency_ms",
        False,
    ),
    ("opt-space", [*OPT, "--space", "nosuch", "--out", "{t}/o"], r"nosuch.*nb201", False),
    (
        "opt-space-fbnet",
        [*OPT, "--space", "fbnet", "--out", "{t}/o"],
        r"fbnet.*search.*predictors",
        False,
    ),
    ("opt-proxy", [*OPT, "--proxy", "nosuch", "--out", "{t}/o"], r"nosuch.*naswot", False),
    (
        "opt-option-form",
        [*OPT, "-o", "pop_size", "--out", "{t}/o"],
        r"KEY=VALUE.*'pop_size'",
        False,
    ),
    (
        "opt-data-missing",
        [*OPT, "--data", "{t}/nowhere", "--out", "{t}/o"],
        r"nowhere does not exist",
        False,
    ),
    (
        "opt-data-file",
        [*OPT, "--data", "{t}/file.txt", "--out", "{t}/o"],
        r"file\.txt is a file, not a folder",
        False,
    ),
    (
        "opt-data-empty",
        [*OPT, "--data", "{t}/adir", "--out", "{t}/o"],
        r"adir is a folder without MANIFEST",
        False,
    ),
    ("opt-out-file", [*OPT, "--out", "{t}/file.txt"], r"file\.txt is a file, not a folder", False),
    ("opt-out-under-file", [*OPT, "--out", "{t}/file.txt/o"], r"file\.txt is a file", False),
    # compare
    (
        "cmp-budgets-0",
        [*CMP[:-4], "--budgets", "0,10", "--seeds", "1", "--out", "{t}/c"],
        r"--budgets.*>= 1.*got 0",
        False,
    ),
    (
        "cmp-budgets-neg",
        [*CMP[:-4], "--budgets", "-1", "--seeds", "1", "--out", "{t}/c"],
        r"--budgets.*-1",
        False,
    ),
    (
        "cmp-budgets-text",
        [*CMP[:-4], "--budgets", "10,abc", "--seeds", "1", "--out", "{t}/c"],
        r"'10,abc'.*int",
        False,
    ),
    (
        "cmp-budgets-huge",
        [*CMP[:-4], "--budgets", "10,20000", "--seeds", "1", "--out", "{t}/c"],
        r"20000.*15,625",
        False,
    ),
    ("cmp-seeds-0", [*CMP[:-2], "--seeds", "0", "--out", "{t}/c"], r"--seeds.*>= 1.*0", False),
    ("cmp-workers-0", [*CMP, "--workers", "0", "--out", "{t}/c"], r"--workers.*>= 1.*0", False),
    (
        "cmp-algos",
        [*CMP[:1], "--algos", "random,nosuch", *CMP[3:], "--out", "{t}/c"],
        r"nosuch.*nsga2",
        False,
    ),
    (
        "cmp-devices",
        [*CMP[:3], "--devices", "synthetic:x", *CMP[5:], "--out", "{t}/c"],
        r"integer.*'x'",
        False,
    ),
    ("cmp-backend", [*CMP, "--backend", "nosuch", "--out", "{t}/c"], r"nosuch.*local.*ray", False),
    ("cmp-out-file", [*CMP, "--out", "{t}/file.txt"], r"file\.txt is a file, not a folder", False),
    ("cmp-proxy", [*CMP, "--proxy", "nosuch", "--out", "{t}/c"], r"nosuch", False),
    # plot
    ("plot-missing", ["plot", "{t}/nowhere"], r"nowhere.*results\.csv", False),
    ("plot-file", ["plot", "{t}/file.txt"], r"file\.txt", False),
    ("plot-budget-0", ["plot", "{t}/adir", "--budget", "0"], r"--budget must be >= 1.*0", False),
    # measure
    (
        "measure-device",
        ["measure", "--device", "nosuch:1", "--sample", "2", "--out", "{t}/m.csv"],
        r"nosuch:1.*local:cpu",
        False,
    ),
    (
        "measure-sample-0",
        [*MEA, "--sample", "0", "--out", "{t}/m.csv"],
        r"--sample.*>= 1.*0",
        False,
    ),
    ("measure-out-dir", [*MEA, "--sample", "2", "--out", "{t}/adir"], r"adir is a folder", False),
    ("measure-both", [*MEA, "--out", "{t}/m.csv"], r"--archs.*--sample", False),
    # monotonicity
    (
        "mono-method",
        [*MON, "--method", "nosuch", "--out", "{t}/mo"],
        r"nosuch.*spearman.*kendall",
        False,
    ),
    (
        "mono-one-device",
        ["monotonicity", "--devices", "synthetic:0", "--out", "{t}/mo"],
        r"at least two devices",
        False,
    ),
    (
        "mono-probes",
        [*MON, "--target", "synthetic:2", "--probes", "-1", "--out", "{t}/mo"],
        r"--probes.*>= 0.*-1",
        False,
    ),
    ("mono-out-file", [*MON, "--out", "{t}/file.txt"], r"file\.txt is a file", False),
    (
        "mono-device",
        ["monotonicity", "--devices", "synthetic:0,nosuch:1", "--out", "{t}/mo"],
        r"nosuch",
        False,
    ),
    # predictor eval
    ("pev-samples-text", [*PEV, "--samples", "abc"], r"--samples.*'abc'", False),
    ("pev-samples-0", [*PEV, "--samples", "0"], r"--samples.*positive.*'0'", False),
    ("pev-seeds-0", [*PEV, "--seeds", "0"], r"--seeds.*>= 1.*0", False),
    ("pev-methods", [*PEV[:4], "--methods", "nosuch"], r"nosuch", False),
    ("pev-sampler", [*PEV, "--sampler", "nosuch"], r"nosuch.*random", False),
    ("pev-out-file", [*PEV, "--out", "{t}/file.txt"], r"file\.txt is a file, not a folder", False),
    ("pev-task", [*PEV[:2], "--task", "nosuch", *PEV[4:]], r"nosuch.*ND", True),
    ("pev-samples-huge", [*PEV, "--samples", "100000"], r"100000.*15,625", True),
    # surrogate build
    (
        "sur-device",
        ["surrogate", "build", "--device", "nosuch:1", "--out", "{t}/s"],
        r"nosuch",
        False,
    ),
    ("sur-srcc", [*SUR, "--target-srcc", "2", "--out", "{t}/s"], r"--target-srcc.*2", False),
    ("sur-start", [*SUR, "--start", "0", "--out", "{t}/s"], r"--start.*0", False),
    ("sur-out-file", [*SUR, "--out", "{t}/file.txt"], r"file\.txt is a file, not a folder", False),
    ("sur-space", [*SUR, "--space", "nosuch", "--out", "{t}/s"], r"nosuch.*nb201", False),
    # proxies compute
    (
        "prx-name",
        ["proxies", "compute", "--proxies", "nosuch", "--out", "{t}/p.npz"],
        r"nosuch",
        False,
    ),
    (
        "prx-dataset",
        [*PRX, "--dataset", "nosuch", "--out", "{t}/p.npz"],
        r"nosuch.*cifar10",
        False,
    ),
    ("prx-workers", [*PRX, "--workers", "-1", "--out", "{t}/p.npz"], r"--workers.*>= 0", False),
    ("prx-space", [*PRX, "--space", "fbnet", "--out", "{t}/p.npz"], r"nb201.*'fbnet'", False),
    ("prx-limit", [*PRX, "--limit", "0", "--out", "{t}/p.npz"], r"--limit.*> 0", False),
]

CORE_CASES: list[tuple[str, list[str], str, bool]] = [
    (
        "opt-nsga2-pop-abc",
        [
            "optimize",
            "--algo",
            "nsga2",
            "--device",
            "synthetic:0",
            "--budget",
            "5",
            "-o",
            "pop_size=abc",
            "--out",
            "{t}/o",
        ],
        r"pop_size.*'abc'",
        False,
    ),
    ("opt-unknown-option", [*OPT, "-o", "foo=bar", "--out", "{t}/o"], r"foo.*valid", False),
    (
        "opt-mfbo-share-abc",
        [
            "optimize",
            "--algo",
            "mfbo",
            "--device",
            "synthetic:0",
            "--budget",
            "5",
            "-o",
            "cheap_share=abc",
            "--out",
            "{t}/o",
        ],
        r"cheap_share.*'abc'",
        False,
    ),
]


def _check(args: list[str], pattern: str, t: Path) -> None:
    argv = [a.replace("{t}", str(t)) for a in args]
    res = runner.invoke(app, argv)
    out = res.output
    assert res.exit_code == 2, (argv, res.exit_code, out)
    assert "Traceback" not in out, (argv, out)
    assert res.exception is None or isinstance(res.exception, SystemExit), (argv, out)
    err_lines = [ln for ln in out.splitlines() if ln.startswith("error:")]
    if err_lines:  # moohw's own errors: exactly one line
        assert len(err_lines) == 1, out
        line = err_lines[0]
    else:  # typer's usage errors (a bad type for an option) come in a panel
        line = " ".join(out.split())
    line = line.replace("\\", "/")
    # every fragment of the pattern (split on .*) must be on the line, in any order
    assert all(re.search(p, line) for p in pattern.split(".*")), (argv, pattern, line)


@pytest.mark.parametrize(
    ("args", "pattern", "needs_data"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_line_exit_2(args, pattern, needs_data, tables, monkeypatch, request):
    if needs_data:
        monkeypatch.setenv("MOOHW_DATA", str(request.getfixturevalue("data").root))
    else:  # no data: the input checks come before any data is needed
        monkeypatch.setenv("MOOHW_DATA", "")
    monkeypatch.chdir(tables)
    monkeypatch.setenv("MOOHW_STORE", str(tables / "store.sqlite"))
    _check(args, pattern, tables)
    assert not (tables / "o").exists() and not (tables / "c").exists()  # refused before work


@pytest.mark.parametrize(
    ("args", "pattern", "needs_data"), [c[1:] for c in CORE_CASES], ids=[c[0] for c in CORE_CASES]
)
def test_bad_algorithm_options(args, pattern, needs_data, tables, monkeypatch):
    monkeypatch.chdir(tables)
    monkeypatch.setenv("MOOHW_DATA", "")
    _check(args, pattern, tables)


def test_enough_cases():
    assert len(CASES) + len(CORE_CASES) >= 40
    commands = {
        c[1][0] if c[1][0] not in ("predictor", "surrogate", "proxies") else " ".join(c[1][:2])
        for c in CASES
    }
    assert commands >= {
        "optimize",
        "compare",
        "plot",
        "measure",
        "monotonicity",
        "predictor eval",
        "surrogate build",
        "proxies compute",
    }
