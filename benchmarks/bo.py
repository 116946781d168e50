"""BO and MF-BO benchmark (issue 7): one BO step's wall time, and HV ratio on the ND test devices.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/bo.py [--data DIR] [--seeds 10] [--workers 2] [--out DIR]

1. Step timing: one ``mfbo`` step at 100 observations (20 target + 80 low fidelity on
   help:pixel2, proxy device help:silver_4210r): GP hyper-parameter fit + MOMF over all
   31,250 (architecture, fidelity) pairs; and one ``bo`` step at 100 target observations (fit +
   qLogEHVI over the 15,525 unmeasured cells). Median of ``--reps``.
2. The grid, ``proxy="tuned"`` for every method, knowledge = ND train split, through
   ``run_grid``: ``nsga2`` runs at every K; ``random``, ``bo`` and ``mfbo`` are
   ``budget_agnostic`` (they never read K), so each runs once at the largest K and is scored on
   the prefixes of its target measurements (``moohw.algorithms.anytime``) - the same
   measurements a run with budget K makes
   (``tests/test_bo.py::test_deterministic_and_prefix_of_longer_runs``).

Writes ``OUT/results.csv`` (one row per (algo, device, K, seed)), ``OUT/summary.csv`` and
prints Markdown tables for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from moohw.algorithms.bo import BayesOpt
from moohw.algorithms.bo_models import LOW, TARGET
from moohw.algorithms.grid import Cell, make_cells, run_grid, summarize
from moohw.algorithms.mfbo import MultiFidelityBO
from moohw.problems import HWNASProblem
from moohw.problems.experiment import device_by_name

from moohw.data import open_data
from moohw.knowledge import task_split
from moohw.predictors.base import torch_single_thread
from moohw.proxies import get_proxy
from moohw.runs import versions
from moohw.spaces import NB201Space

ALGOS = ("random", "nsga2", "bo", "mfbo")


def _ready(algo: BayesOpt, problem: HWNASProblem, n_target: int, seed: int) -> None:
    """Set ``algo`` up on ``problem`` and pay ``n_target`` random target measurements."""
    algo.setup(problem, seed=seed)
    X = problem.sample(n_target, np.random.default_rng(seed))
    problem.evaluate(X)


def step_timing(data, reps: int = 3) -> pd.DataFrame:
    """Seconds of one BO step (fit + acquisition over every candidate) at 100 observations."""
    space = NB201Space()
    target = device_by_name("help:pixel2", "nb201", data)
    proxy_dev = device_by_name("help:silver_4210r", "nb201", data)
    rows = []
    for rep in range(reps):
        p = HWNASProblem(space, target, get_proxy("tuned", space), budget=200)
        mf = MultiFidelityBO(knowledge=[proxy_dev])
        _ready(mf, p, 20, rep)
        mf.proxy_device = proxy_dev
        low = p.sample(80, np.random.default_rng(100 + rep))
        mf._low_rows = mf._rows(low).tolist()
        mf._low_ms = proxy_dev.latency_ms(low).tolist()
        choices = torch.cat([mf.target_choices, mf.low_choices])
        t0 = time.perf_counter()
        mf._updates, mf._n_fitted = 0, 0  # force a hyper-parameter fit
        mf.update_model()
        t1 = time.perf_counter()
        values = mf._momf_values(choices)
        t2 = time.perf_counter()
        assert values.shape == (2 * space.size,) and choices[:, -1].eq(LOW).sum() == space.size
        rows.append({"algo": "mfbo", "fit_s": t1 - t0, "acq_s": t2 - t1, "step_s": t2 - t0})

        p = HWNASProblem(space, target, get_proxy("tuned", space), budget=200)
        bo = BayesOpt()
        _ready(bo, p, 100, rep)
        t0 = time.perf_counter()
        bo._updates, bo._n_fitted = 0, 0
        X = bo._next()
        t1 = time.perf_counter()
        assert X is not None and len(X) == 1 and bo.target_choices[0, -1] == TARGET
        rows.append({"algo": "bo", "fit_s": np.nan, "acq_s": np.nan, "step_s": t1 - t0})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budgets", default="10,20,50")
    ap.add_argument("--reps", type=int, default=3, help="step-timing repeats (0: skip)")
    ap.add_argument("--algos", default=",".join(ALGOS), help="comma-separated subset of the grid")
    ap.add_argument("--devices", default=None, help="comma-separated (default: ND test split)")
    ap.add_argument("--out", default="benchmarks/out/bo")
    args = ap.parse_args()
    data = open_data(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budgets = [int(b) for b in args.budgets.split(",")]
    seeds = list(range(args.seeds))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; date {time.strftime('%F %T')}; "
        f"load: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}"
    )
    print("versions:", ", ".join(f"{k} {v}" for k, v in versions().items()))

    algos = [a for a in args.algos.split(",") if a]
    if unknown := sorted(set(algos) - set(ALGOS)):
        raise SystemExit(f"--algos: unknown {unknown}; valid: {', '.join(ALGOS)}")
    print("\n### One BO step at 100 observations\n")
    with torch_single_thread():
        t = step_timing(data, args.reps) if args.reps > 0 else pd.DataFrame(columns=["algo"])
    print("| algo | step (fit + acquisition) s, median | fit s | acquisition s | candidates |")
    print("|---|---|---|---|---|")
    for algo, g in t.groupby("algo", sort=False):
        n = "31,250 (arch x fidelity)" if algo == "mfbo" else "15,525 (unmeasured archs)"
        print(
            f"| {algo} | {g.step_s.median():.2f} (max {g.step_s.max():.2f}) | "
            f"{g.fit_s.median():.2f} | {g.acq_s.median():.2f} | {n} |"
        )

    split = task_split(data, "nb201", "ND")
    devices = [f"help:{d}" for d in (args.devices or ",".join(split["test"])).split(",")]
    cells = make_cells(algos, devices, budgets, seeds)
    t0 = time.perf_counter()
    res = run_grid(cells, out, "nb201", "tuned", data, workers=args.workers)
    grid_s = time.perf_counter() - t0
    summ = summarize(res)
    summ.to_csv(out / "summary.csv", index=False)
    kmax = max(budgets)
    full = res[res.budget == kmax].groupby("algo").wall_time_s.median()
    print(
        f"\n### HV ratio, proxy `tuned` (grid of {len(cells)} cells in {grid_s:.0f} s with "
        f"{args.workers} workers; seeds 0-{args.seeds - 1}; bo, mfbo and random are "
        f"budget-agnostic: one run at K={kmax} per (device, seed), scored on its prefixes; "
        "median wall per run at K="
        + str(kmax)
        + ": "
        + ", ".join(f"{a} {full[a]:.1f} s" for a in algos)
        + ")\n"
    )
    has_mf, has_bo = "mfbo" in algos, {"bo", "random"} <= set(algos)
    print(
        "| device | K | "
        + " | ".join(algos)
        + " | ceiling |"
        + (" mfbo best? |" if has_mf else "")
        + (" bo >= random? |" if has_bo else "")
    )
    print("|---|---|" + "---|" * (len(algos) + 1 + has_mf + has_bo))
    wins, ok90, bo_ok = 0, [], 0
    for dev in devices:
        for k in budgets:
            s = summ[(summ.device == dev) & (summ.budget == k)].set_index("algo")
            med = s["hv_ratio_median"]
            win = has_mf and med["mfbo"] > max(med[a] for a in algos if a != "mfbo")
            wins += int(win)
            if has_mf and k == 20:
                ok90.append(med["mfbo"] >= 0.90)
            bo_win = has_bo and med["bo"] >= med["random"]
            bo_ok += int(bo_win)
            cell = [
                f"{med[a]:.3f} ({s.loc[a, 'hv_ratio_mean']:.3f} [{s.loc[a, 'ci_low']:.3f}, "
                f"{s.loc[a, 'ci_high']:.3f}])"
                for a in algos
            ]
            ceil = res[res.device == dev].ceiling_hv_ratio.iloc[0]
            print(
                f"| {dev.removeprefix('help:')} | {k} | "
                + " | ".join(cell)
                + f" | {ceil:.3f} |"
                + (f" {'yes' if win else '**no**'} |" if has_mf else "")
                + (f" {'yes' if bo_win else '**no**'} |" if has_bo else "")
            )
    n_cells = len(devices) * len(budgets)
    if has_bo:
        print(f"\nbo median >= random median in {bo_ok} of {n_cells} cells.")
    if not has_mf:
        return
    print(
        f"\nMedian (mean [95% CI]); mfbo best on the median in {wins} of "
        f"{len(devices) * len(budgets)} cells; mfbo median >= 0.90 at K=20 on {sum(ok90)} of "
        f"{len(ok90)} devices."
    )
    recs = [
        json.loads((out / "runs" / Cell("mfbo", d, kmax, s).slug / "run.json").read_text())
        for d in devices
        for s in seeds
    ]
    n_cheap = [r["cheap_queries"].get("proxy_device", 0) for r in recs]
    devs = pd.Series([r["info"]["proxy_device"] for r in recs]).value_counts()
    print(
        f"\nmfbo at K={kmax}: proxy-device queries per run median {np.median(n_cheap):.0f} "
        f"(max {np.max(n_cheap)}); proxy devices chosen: "
        + ", ".join(f"{d.removeprefix('help:')} x{n}" for d, n in devs.items())
    )


if __name__ == "__main__":
    main()
