"""Every case of issue 17 that a command line can reproduce: exit code and last line, to JSON.

Usage::

    python benchmarks/cli_cases.py OUT.json [--only NAME,NAME] [--data DIR]

Each case runs ``python -m moohw.cli ...`` in a fresh temporary folder (so ``../shared/data`` is
never found by accident) with tiny budgets and synthetic devices; cases that need the benchmark
data get ``--data``/``MOOHW_DATA`` explicitly and are skipped without it. A case records the exit
code, the last non-empty line of stderr and of stdout, the wall time and, where the issue's
complaint is about a file's content (doubled rows, an interval, a record field), a ``finding``
read from the files the command wrote. ``benchmarks/RESULTS.md`` ("Inputs and honesty (issue
17)") tabulates the before and after files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (ROOT / ".." / "shared" / "data").resolve()


@dataclass
class Case:
    name: str
    issue: str  # the complaint in issue 17, shortly
    argv: list[str] | Callable[[Path], list[str]]
    setup: Callable[[Path], None] | None = None
    finding: Callable[[Path, subprocess.CompletedProcess[str]], Any] | None = None
    data: bool = False  # needs the benchmark data (MOOHW_DATA set)
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 120.0
    custom: Callable[[Path, dict[str, str]], dict[str, Any]] | None = None


def _last(text: str) -> str:
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            [sys.executable, "-m", "moohw.cli", *argv],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        return {
            "rc": "timeout",
            "stderr_last": _last(
                (e.stderr or b"").decode() if isinstance(e.stderr, bytes) else ""
            ),
            "stdout_last": _last(
                (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else ""
            ),
            "wall_s": round(time.perf_counter() - t0, 1),
            "traceback": False,
            "proc": None,
        }
    return {
        "rc": p.returncode,
        "stderr_last": _last(p.stderr),
        "stdout_last": _last(p.stdout),
        "wall_s": round(time.perf_counter() - t0, 1),
        "traceback": "Traceback (most recent call last)" in p.stderr,
        "stderr_lines": len([ln for ln in p.stderr.splitlines() if ln.strip()]),
        "proc": p,
    }


# ----------------------------------------------------------------------------- helpers


def _csv_nan(tmp: Path) -> None:
    from moohw.devices.synthetic import SyntheticDevice
    from moohw.spaces import NB201Space

    sp = NB201Space()
    X = sp.sample(55, np.random.default_rng(0))
    lat = SyntheticDevice("synthetic:0", sp, 0).latency_ms(X)
    lat[:19] = np.nan
    pd.DataFrame({"arch_str": sp.to_str(X), "latency_ms": lat}).to_csv(
        tmp / "nan.csv", index=False
    )


def _csv_dup(tmp: Path) -> None:
    from moohw.devices.synthetic import SyntheticDevice
    from moohw.spaces import NB201Space

    sp = NB201Space()
    X = sp.sample(55, np.random.default_rng(0))
    lat = SyntheticDevice("synthetic:0", sp, 0).latency_ms(X)
    strs = list(sp.to_str(X))
    # 10 conflicting duplicates: same architecture, another latency (65 rows, 55 unique)
    strs += strs[:10]
    lat = np.concatenate([lat, lat[:10] * 2])
    pd.DataFrame({"arch_str": strs, "latency_ms": lat}).to_csv(tmp / "dup.csv", index=False)


def _csv_ok(tmp: Path) -> None:
    from moohw.devices.synthetic import SyntheticDevice
    from moohw.spaces import NB201Space

    sp = NB201Space()
    X = sp.sample(55, np.random.default_rng(0))
    lat = SyntheticDevice("synthetic:0", sp, 0).latency_ms(X)
    pd.DataFrame({"arch_str": sp.to_str(X), "latency_ms": lat}).to_csv(tmp / "ok.csv", index=False)


def _restricted(tmp: Path, p: subprocess.CompletedProcess[str]) -> Any:
    f = tmp / "o" / "run.json"
    return json.loads(f.read_text()).get("restricted_to_covered") if f.is_file() else None


def _rows(tmp: Path, p: subprocess.CompletedProcess[str]) -> Any:
    f = tmp / "c" / "results.csv"
    return f"{len(pd.read_csv(f))} rows in results.csv" if f.is_file() else None


def _runjson(key: str) -> Callable[[Path, subprocess.CompletedProcess[str]], Any]:
    def get(tmp: Path, p: subprocess.CompletedProcess[str]) -> Any:
        f = tmp / "o" / "run.json"
        if not f.is_file():
            return None
        rec = json.loads(f.read_text())
        return {k: rec.get(k, "<absent>") for k in key.split(",")}

    return get


def _summary_ci(tmp: Path, p: subprocess.CompletedProcess[str]) -> Any:
    f = tmp / "c" / "summary.csv"
    if not f.is_file():
        return None
    s = pd.read_csv(f)
    cols = [c for c in ("algo", "n_seeds", "hv_ratio_mean", "ci_low", "ci_high") if c in s]
    return s[cols].round(3).to_dict("records")


def _best(tmp: Path, p: subprocess.CompletedProcess[str]) -> Any:
    f = tmp / "c" / "best.csv"
    if not f.is_file():
        return None
    b = pd.read_csv(f)
    cols = [c for c in ("best", "runner_up", "intervals_overlap", "verdict") if c in b]
    return b[cols].to_dict("records")


def _compare_dir(tmp: Path, env: dict[str, str], budgets: str = "10,20", seeds: str = "2") -> None:
    r = _run(
        [
            "compare",
            "--algos",
            "random",
            "--devices",
            "synthetic:0",
            "--budgets",
            budgets,
            "--seeds",
            seeds,
            "--out",
            "c",
        ],
        tmp,
        env,
        300,
    )
    if r["rc"] != 0:
        raise RuntimeError(f"setup compare failed: {r['stderr_last']}")


def _corrupt_data(tmp: Path, src: Path) -> Path:
    d = tmp / "data"
    d.mkdir()
    for p in src.iterdir():
        (d / p.name).symlink_to(p)
    (d / "nb201").unlink()
    (d / "nb201").mkdir()
    for p in (src / "nb201").iterdir():
        (d / "nb201" / p.name).symlink_to(p)
    (d / "nb201" / "latency_hwnasbench.csv").unlink()
    (d / "nb201" / "latency_hwnasbench.csv").write_text("index,edgegpu_latency_ms\n0,1.0\n")
    return d


def _crafted_checkpoint(tmp: Path) -> None:
    import torch

    class Boom:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {tmp / 'PWNED'}",))

    (tmp / "ck").mkdir()
    torch.save({"x": Boom()}, tmp / "ck" / "default.pt")


def _pwned(tmp: Path, p: subprocess.CompletedProcess[str]) -> Any:
    return "code ran (PWNED file created)" if (tmp / "PWNED").exists() else "nothing ran"


def _kill_compare(tmp: Path, env: dict[str, str]) -> dict[str, Any]:
    """Start `compare --workers 2`, SIGTERM it once workers run, count surviving workers."""
    argv = [
        sys.executable,
        "-m",
        "moohw.cli",
        "compare",
        "--algos",
        "nsga2",
        "--devices",
        "synthetic:0,synthetic:1",
        "--budgets",
        "200",
        "--seeds",
        "4",
        "--workers",
        "2",
        "--out",
        "c",
    ]
    p = subprocess.Popen(argv, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kids: set[int] = set()
    t0 = time.time()
    while time.time() - t0 < 40 and len(kids) < 2:
        time.sleep(1)
        kids |= _descendants(p.pid)
    time.sleep(2)
    kids |= _descendants(p.pid)
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    time.sleep(3)
    alive = [k for k in kids if _alive(k)]
    for k in alive:  # clean up the orphans this script caused
        try:
            os.kill(k, signal.SIGKILL)
        except ProcessLookupError:
            pass
    err = p.stderr.read().decode() if p.stderr else ""
    return {
        "rc": p.returncode,
        "stderr_last": _last(err),
        "stdout_last": "",
        "traceback": "Traceback (most recent call last)" in err,
        "finding": f"{len(alive)} of {len(kids)} child processes alive 3 s after SIGTERM",
    }


def _descendants(pid: int) -> set[int]:
    out: set[int] = set()
    todo = [pid]
    while todo:
        q = todo.pop()
        for task in Path(f"/proc/{q}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for k in kids:
                if int(k) not in out:
                    out.add(int(k))
                    todo.append(int(k))
    return out


def _alive(pid: int) -> bool:
    try:
        st = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return st != "Z"


def _resume_other_proxy(tmp: Path, env: dict[str, str]) -> dict[str, Any]:
    _compare_dir(tmp, env, budgets="10", seeds="2")
    r = _run(
        [
            "compare",
            "--algos",
            "random",
            "--devices",
            "synthetic:0",
            "--budgets",
            "10",
            "--seeds",
            "2",
            "--proxy",
            "params",
            "--out",
            "c",
        ],
        tmp,
        env,
        300,
    )
    res = pd.read_csv(tmp / "c" / "results.csv") if (tmp / "c" / "results.csv").is_file() else None
    r["finding"] = None if res is None else f"proxies in results.csv: {sorted(set(res['proxy']))}"
    return r


def _torn_row(tmp: Path, env: dict[str, str]) -> dict[str, Any]:
    _compare_dir(tmp, env, budgets="10", seeds="2")
    rows = sorted((tmp / "c" / "runs").glob("*/row.json"))
    rows[0].write_text(rows[0].read_text()[:25])
    argv = ["compare", "--algos", "random", "--devices", "synthetic:0", "--budgets", "10"]
    return _run([*argv, "--seeds", "2", "--out", "c"], tmp, env, 300)


def _progress_in_logs(tmp: Path, env: dict[str, str]) -> dict[str, Any]:
    e = dict(env, MOOHW_PROGRESS_EVERY="0.5")
    argv = ["optimize", "--algo", "random", "--device", "synthetic:0", "--budget", "300"]
    r = _run([*argv, "--proxy", "naswot", "--out", "o"], tmp, e, 300)
    r["finding"] = f"{r.get('stderr_lines', 0)} stderr lines (stdout is a pipe)"
    return r


# ----------------------------------------------------------------------------- the cases

OPT = ["optimize", "--device", "synthetic:0", "--budget", "5", "--out", "o"]


def cases(data_dir: Path | None) -> list[Case]:
    d = str(data_dir) if data_dir else ""
    return [
        # --- tracebacks
        Case("opt_nsga2_pop_abc", "traceback", [*OPT, "--algo", "nsga2", "-o", "pop_size=abc"]),
        Case("opt_mfbo_share_abc", "traceback", [*OPT, "--algo", "mfbo", "-o", "cheap_share=abc"]),
        Case(
            "opt_oneproxy_thr_abc",
            "traceback",
            [*OPT, "--algo", "oneproxy", "-o", "threshold=abc"],
        ),
        # --- accepted silently
        Case(
            "opt_budget_0",
            "accepted silently",
            [*OPT[:-4], "--budget", "0", "--algo", "random", "--out", "o"],
        ),
        Case(
            "opt_budget_neg",
            "negative budget",
            [*OPT[:-4], "--budget", "-3", "--algo", "random", "--out", "o"],
        ),
        Case(
            "opt_budget_20000",
            "accepted silently, runs for minutes",
            [
                "optimize",
                "--algo",
                "random",
                "--device",
                "synthetic:0",
                "--budget",
                "20000",
                "--proxy",
                "params",
                "--out",
                "o",
            ],
            timeout=150,
        ),
        Case(
            "opt_budget_20000_controller",
            "controller ran 11 min and wrote nothing",
            ["optimize", "--device", "synthetic:0", "--budget", "20000", "--out", "o"],
            timeout=60,
        ),
        Case(
            "opt_csv_budget_over_covered",
            "budget above the covered candidates",
            lambda t: [
                "optimize",
                "--algo",
                "random",
                "--device",
                f"csv:{t / 'ok.csv'}",
                "--budget",
                "60",
                "--out",
                "o",
            ],
            setup=_csv_ok,
            finding=_restricted,
        ),
        Case(
            "opt_csv_nan",
            "NaN rows dropped without a word",
            lambda t: [
                "optimize",
                "--algo",
                "random",
                "--device",
                f"csv:{t / 'nan.csv'}",
                "--budget",
                "5",
                "--out",
                "o",
            ],
            setup=_csv_nan,
            finding=_restricted,
        ),
        Case(
            "opt_csv_conflicting_dups",
            "last duplicate wins, 65 covered reported for 55",
            lambda t: [
                "optimize",
                "--algo",
                "random",
                "--device",
                f"csv:{t / 'dup.csv'}",
                "--budget",
                "5",
                "--out",
                "o",
            ],
            setup=_csv_dup,
            finding=_restricted,
        ),
        Case("opt_unknown_option", "ignored", [*OPT, "--algo", "nsga2", "-o", "foo=bar"]),
        Case("opt_random_pop_size", "ignored", [*OPT, "--algo", "random", "-o", "pop_size=3"]),
        Case(
            "compare_budgets_0_10",
            "accepted silently",
            [
                "compare",
                "--algos",
                "random",
                "--devices",
                "synthetic:0",
                "--budgets",
                "0,10",
                "--seeds",
                "1",
                "--out",
                "c",
            ],
            finding=_rows,
        ),
        Case(
            "opt_accuracy_nosuch_nodata",
            "accepted silently",
            [*OPT, "--algo", "random", "--accuracy", "nosuch"],
        ),
        Case(
            "opt_accuracy_nosuch_data",
            "with data",
            [*OPT, "--algo", "random", "--accuracy", "nosuch", "--data", d],
            data=True,
        ),
        # --- wrong or unhelpful messages
        Case(
            "opt_knowledge_list",
            "read one character at a time",
            [*OPT, "--algo", "oneproxy", "-o", "knowledge=synthetic:1,synthetic:3"],
            finding=_runjson("options"),
        ),
        Case(
            "opt_data_nonexistent",
            "says 'has no MANIFEST.tsv'",
            [*OPT, "--algo", "random", "--data", "/nonexistent"],
        ),
        Case(
            "opt_csv_directory",
            "says 'does not exist'",
            lambda t: [*OPT, "--algo", "random", "--device", f"csv:{t}"],
        ),
        Case(
            "plot_budget_33",
            "prints [np.int64(20), ...]",
            ["plot", "c", "--budget", "33"],
            setup=None,
            custom=None,
        ),
        Case(
            "devices_corrupt_file",
            "aborts instead of listing what works",
            lambda t: ["devices", "--data", str(t / "data")],
            data=True,
        ),
        Case(
            "devices_ray_hint",
            "Rich ate [ray]",
            ["devices"],
        ),
        Case(
            "store_export_no_fp",
            "needs an undocumented --fingerprint",
            ["store", "export", "--out", "x.csv"],
        ),
        # --- numbers that mislead
        Case(
            "compare_2_seeds_interval",
            "interval from 2 seeds outside [0,1]",
            [
                "compare",
                "--algos",
                "random,nsga2",
                "--devices",
                "help:fpga",
                "--budgets",
                "10",
                "--seeds",
                "2",
                "--data",
                d,
                "--out",
                "c",
            ],
            finding=_summary_ci,
            data=True,
        ),
        Case(
            "compare_best_overlap",
            "best.csv names a winner when intervals overlap",
            [
                "compare",
                "--algos",
                "random,nsga2",
                "--devices",
                "help:fpga",
                "--budgets",
                "10",
                "--seeds",
                "3",
                "--data",
                d,
                "--out",
                "c",
            ],
            finding=_best,
            data=True,
        ),
        Case(
            "opt_predicted_scored",
            "predicted:DIR hv_ratio scored against predictions",
            lambda t: [
                "optimize",
                "--algo",
                "random",
                "--device",
                f"predicted:{t / 's'}",
                "--budget",
                "10",
                "--data",
                d,
                "--out",
                "o",
            ],
            finding=_runjson("hv_ratio,scored_against"),
            data=True,
        ),
        Case(
            "opt_oneproxy_cheap",
            "cheap_queries mixes kinds",
            [
                "optimize",
                "--algo",
                "oneproxy",
                "--device",
                "synthetic:0",
                "--budget",
                "10",
                "--out",
                "o",
            ],
            finding=_runjson("cheap_queries"),
        ),
        # --- proxies and data
        Case(
            "opt_space_fbnet",
            "every FBNet search fails",
            [
                "optimize",
                "--algo",
                "random",
                "--space",
                "fbnet",
                "--device",
                "synthetic:0",
                "--budget",
                "5",
                "--out",
                "o",
            ],
        ),
        Case("spaces_listing", "fbnet offered without saying search fails", ["spaces"]),
        Case(
            "progress_in_logs", "nothing printed when not a terminal", [], custom=_progress_in_logs
        ),
        Case(
            "opt_crafted_checkpoint",
            "checkpoint runs arbitrary code",
            lambda t: [*OPT, "-o", f"checkpoint={t / 'ck'}"],
            setup=_crafted_checkpoint,
            finding=_pwned,
        ),
        Case(
            "opt_malformed_checkpoint",
            "malformed checkpoint traceback",
            lambda t: [*OPT, "-o", f"checkpoint={t / 'bad'}"],
            setup=lambda t: (
                (t / "bad").mkdir(),
                (t / "bad" / "default.pt").write_text("garbage"),
            ),
        ),
        # --- resumes and records
        Case("compare_rerun_other_proxy", "reuses old rows", [], custom=_resume_other_proxy),
        Case("compare_torn_row_json", "error names no file", [], custom=_torn_row),
        Case("compare_kill_workers", "orphaned workers", [], custom=_kill_compare, timeout=120),
        Case(
            "compare_dup_devices",
            "doubles rows",
            [
                "compare",
                "--algos",
                "random",
                "--devices",
                "synthetic:0,synthetic:0",
                "--budgets",
                "10",
                "--seeds",
                "1",
                "--out",
                "c",
            ],
            finding=_rows,
        ),
        Case(
            "compare_dup_algos",
            "doubles rows",
            [
                "compare",
                "--algos",
                "random,random",
                "--devices",
                "synthetic:0",
                "--budgets",
                "10",
                "--seeds",
                "1",
                "--out",
                "c",
            ],
            finding=_rows,
        ),
        Case(
            "compare_dup_budgets",
            "doubles rows",
            [
                "compare",
                "--algos",
                "random",
                "--devices",
                "synthetic:0",
                "--budgets",
                "10,10",
                "--seeds",
                "1",
                "--out",
                "c",
            ],
            finding=_rows,
        ),
        Case(
            "opt_moohw_data_empty",
            "says 'set MOOHW_DATA' or falls back",
            [*OPT, "--algo", "random", "--device", "help:pixel3"],
            setup=lambda t: (t / "empty").mkdir(),
            env={"MOOHW_DATA": "__TMP__/empty"},
        ),
        Case(
            "opt_runjson_data",
            "run.json does not record the data folder",
            [*OPT, "--algo", "random", "--data", d],
            finding=_runjson("data,data_manifest_sha256"),
            data=True,
        ),
        Case(
            "opt_out_is_file",
            "--out at a file",
            [*OPT[:-1], "f.txt", "--algo", "random"],
            setup=lambda t: (t / "f.txt").write_text("x"),
        ),
        Case(
            "compare_out_is_file",
            "--out at a file",
            [
                "compare",
                "--algos",
                "random",
                "--devices",
                "synthetic:0",
                "--budgets",
                "5",
                "--seeds",
                "1",
                "--out",
                "f.txt",
            ],
            setup=lambda t: (t / "f.txt").write_text("x"),
        ),
        Case(
            "measure_out_is_dir",
            "IsADirectoryError after the work",
            [
                "measure",
                "--device",
                "local:cpu",
                "--sample",
                "2",
                "--store",
                "m.sqlite",
                "--out",
                "d",
            ],
            setup=lambda t: (t / "d").mkdir(),
        ),
        Case(
            "predictor_eval_out_is_file",
            "FileExistsError after the work",
            [
                "predictor",
                "eval",
                "--task",
                "ND",
                "--samples",
                "5",
                "--methods",
                "opcount",
                "--seeds",
                "1",
                "--devices",
                "pixel2",
                "--out",
                "f.txt",
                "--data",
                d,
            ],
            setup=lambda t: (t / "f.txt").write_text("x"),
            data=True,
        ),
        Case(
            "predictor_eval_samples_huge",
            "traceback",
            [
                "predictor",
                "eval",
                "--task",
                "ND",
                "--samples",
                "100000",
                "--methods",
                "opcount",
                "--seeds",
                "1",
                "--data",
                d,
            ],
            data=True,
        ),
    ]


def _predicted_setup(tmp: Path, env: dict[str, str], data: str) -> None:
    r = _run(
        [
            "surrogate",
            "build",
            "--device",
            "help:pixel3",
            "--out",
            "s",
            "--max-samples",
            "20",
            "--n-val",
            "20",
            "--model",
            "opcount",
            "--data",
            data,
        ],
        tmp,
        env,
        300,
    )
    if r["rc"] != 0:
        raise RuntimeError(f"surrogate build failed: {r['stderr_last']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--only", default="")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--table", type=Path, help="print the markdown table of BEFORE.json vs OUT")
    a = ap.parse_args()
    if a.table:
        after = json.loads(a.out.read_text())
        print(markdown_table(json.loads(a.table.read_text()), after))
        return
    data_dir = a.data if (a.data / "MANIFEST.tsv").is_file() else None
    only = {s for s in a.only.split(",") if s}
    results: dict[str, Any] = {}
    if a.out.is_file() and only:
        results = json.loads(a.out.read_text())
    base_env = {k: v for k, v in os.environ.items() if k not in ("MOOHW_DATA", "MOOHW_STORE")}
    base_env.update(COLUMNS="200", NO_COLOR="1", PYTHONUNBUFFERED="1")
    for c in cases(data_dir):
        if only and c.name not in only:
            continue
        if c.data and data_dir is None:
            results[c.name] = {"issue": c.issue, "skipped": "no benchmark data"}
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f"cli_{c.name}_"))
        env = dict(base_env)
        env["MOOHW_STORE"] = str(tmp / "store.sqlite")
        for k, v in c.env.items():
            env[k] = v.replace("__TMP__", str(tmp))
        try:
            if c.name == "devices_corrupt_file":
                _corrupt_data(tmp, data_dir)  # type: ignore[arg-type]
            if c.name == "plot_budget_33":
                _compare_dir(tmp, env)
            if c.name == "opt_predicted_scored":
                _predicted_setup(tmp, env, str(data_dir))
            if c.setup:
                c.setup(tmp)
            if c.custom:
                r = c.custom(tmp, env)
            else:
                argv = c.argv(tmp) if callable(c.argv) else c.argv
                r = _run(argv, tmp, env, c.timeout)
                if c.finding and r.get("proc") is not None:
                    r["finding"] = c.finding(tmp, r["proc"])
        except Exception as e:  # a setup that fails is a result too
            r = {
                "rc": "setup failed",
                "stderr_last": f"{type(e).__name__}: {e}",
                "stdout_last": "",
            }
        r.pop("proc", None)
        r["issue"] = c.issue
        results[c.name] = r
        print(f"{c.name:32s} rc={r['rc']!s:8s} {r.get('stderr_last', '')[:110]}", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
        a.out.write_text(json.dumps(results, indent=1, default=str) + "\n")


def markdown_table(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The before → after table of RESULTS.md ("Inputs and honesty (issue 17)")."""

    def cell(r: dict[str, Any] | None) -> str:
        if r is None:
            return "(not run)"
        if "skipped" in r:
            return f"skipped: {r['skipped']}"
        line = r.get("stderr_last") or r.get("stdout_last") or ""
        if len(line) > 140:
            line = line[:137] + "…"
        text = f"**{r.get('rc')}** {line}".replace("|", "\\|").replace("\n", " ")
        if r.get("finding") not in (None, ""):
            f = (
                json.dumps(r["finding"], default=str)
                if not isinstance(r["finding"], str)
                else r["finding"]
            )
            text += f" — *{f[:160]}*".replace("|", "\\|")
        return text

    rows = [
        "| case | issue 17 says | before (exit, last line) | after (exit, last line) |",
        "|---|---|---|---|",
    ]
    for name in dict.fromkeys([*before, *after]):
        issue = (after.get(name) or before.get(name) or {}).get("issue", "")
        rows.append(f"| `{name}` | {issue} | {cell(before.get(name))} | {cell(after.get(name))} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    main()
