"""Controller benchmark: the pre-trained controllers against random, NSGA-II and one-proxy.

Usage:
    python benchmarks/controller.py [--data DIR] [--seeds 10] [--workers 2] [--out DIR]

Devices: the ND test split plus ``hwnasbench:edgegpu``; budgets K = 10, 20; proxy ``tuned`` for
every method; knowledge devices = the ND train split (the shipped checkpoints' prior was fitted on
them; one-proxy reuses them). Also reported: the default policy before pre-training (greedy
expected-hypervolume improvement with the same in-context model: the ablation that shows what the
REINFORCE pre-training adds), and the deployment overhead (wall time of a K = 10 run on a tabular
device, where a measurement is a table lookup, cold = first run in a fresh process).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from moohw.algorithms import search
from moohw.algorithms.controller.policy import ScoringPolicy
from moohw.algorithms.grid import make_cells, run_grid, summarize

from moohw.data import open_data
from moohw.knowledge import task_split
from moohw.metrics import mean_ci

ALGOS = ["controller", "controller-faithful", "random", "nsga2", "oneproxy"]
GREEDY = "controller (untrained: greedy EHVI)"


def shipped_checkpoint_copy(
    folder: Path, prior: tuple[np.ndarray, np.ndarray] | None = None, trained: bool = False
) -> Path:
    """A copy of the shipped checkpoint: untrained policy (greedy EHVI) unless ``trained``.

    ``prior`` replaces the in-context latency prior's ``(mu, cov)``; ``None`` keeps the shipped.
    """
    import json
    import shutil

    from moohw.algorithms.controller.checkpoint import SHIPPED

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED / "prior.json", folder / "prior.json")
    blob = torch.load(SHIPPED / "default.pt", map_location="cpu", weights_only=True)
    if not trained:
        blob["policy"] = ScoringPolicy(hidden=int(blob["hidden"])).state_dict()
    if prior is not None:
        blob["mu"], blob["cov"] = (torch.as_tensor(a) for a in prior)
    torch.save(blob, folder / "default.pt")
    meta = json.loads((SHIPPED / "default.json").read_text())
    if not trained:
        meta["config"] = {"iterations": 0, "note": "untrained policy = greedy EHVI"}
    if prior is not None:
        meta["note"] = "replaced in-context latency prior"
    (folder / "default.json").write_text(json.dumps(meta, indent=2))
    return folder


def overhead(device: str, data: str | None) -> dict[str, float]:
    """Seconds of whole ``search`` calls with K = 10 (unscored) in a fresh process.

    ``cold`` is the first call (proxy table, checkpoint and model set-up included), ``warm`` the
    median of the next five; on a tabular or synthetic device a measurement is a lookup, so this
    is the controller's overhead.
    """
    code = (
        "import sys, time; from moohw.algorithms import search; from moohw.data import open_data;"
        "d = open_data(sys.argv[2]) if sys.argv[2] != '-' else None; t = [];"
        "exec('for s in range(6):\\n t0 = time.perf_counter()\\n"
        " search(\\'controller\\', sys.argv[1], 10, seed=s, data=d, accuracy=None)\\n"
        " t.append(time.perf_counter() - t0)');"
        "print(*t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, device, data or "-"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    ).stdout.split()
    t = [float(v) for v in out]
    return {"cold_s": t[0], "warm_median_s": float(np.median(t[1:]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budgets", default="10,20")
    ap.add_argument("--out", default="benchmarks/out/controller")
    args = ap.parse_args()
    data = open_data(args.data)
    devices = [f"help:{d}" for d in task_split(data, "nb201", "ND")["test"]]
    devices.append("hwnasbench:edgegpu")
    budgets = [int(b) for b in args.budgets.split(",")]
    seeds = list(range(args.seeds))
    t0 = time.perf_counter()
    df = run_grid(
        make_cells(ALGOS, devices, budgets, seeds),
        args.out,
        proxy="tuned",
        data=data,
        workers=args.workers,
    )
    grid_s = time.perf_counter() - t0
    # The ablation: the same controller with the untrained (greedy) policy.
    gdir = shipped_checkpoint_copy(Path(args.out) / "greedy_checkpoint")
    rows = []
    for dev in devices:
        for k in budgets:
            for s in seeds:
                r = search(
                    "controller",
                    dev,
                    k,
                    seed=s,
                    proxy="tuned",
                    data=data,
                    options={"checkpoint": str(gdir)},
                )
                rows.append({"algo": GREEDY, "device": dev, "budget": k, "seed": s, **r.scores})
    df = pd.concat([df, pd.DataFrame(rows)], ignore_index=True)
    df.to_csv(Path(args.out) / "results_with_ablation.csv", index=False)
    summ = summarize(df)
    print(f"\n## Controller benchmark ({time.strftime('%Y-%m-%d')})\n")
    print(
        f"`python benchmarks/controller.py --seeds {args.seeds} --workers {args.workers}`; "
        f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}; proxy tuned; "
        f"knowledge = ND train; grid wall {grid_s / 60:.1f} min.\n"
    )
    algos = [*ALGOS, GREEDY]
    print("Median HV ratio (mean [95% interval]) over seeds:\n")
    print("| device | K | " + " | ".join(algos) + " | ceiling |")
    print("|---" * (len(algos) + 3) + "|")
    for dev in devices:
        for k in budgets:
            cells = []
            for a in algos:
                g = df[(df.device == dev) & (df.budget == k) & (df.algo == a)]["hv_ratio"]
                v = g.to_numpy(float)
                m, lo, hi = mean_ci(v)
                cells.append(f"{np.median(v):.3f} ({m:.3f} [{lo:.3f}, {hi:.3f}])")
            ceil = df[(df.device == dev) & (df.algo == "random")]["ceiling_hv_ratio"].iloc[0]
            print(f"| {dev} | {k} | " + " | ".join(cells) + f" | {ceil:.3f} |")
    med = summ.pivot_table(index=["device", "budget"], columns="algo", values="hv_ratio_median")
    print("\nTargets:\n")
    for k, target in ((10, 0.85), (20, 0.90)):
        if k not in budgets:
            continue
        m = med.xs(k, level="budget")
        ok = (m["controller"] >= target).sum()
        print(f"- K={k}: controller median ≥ {target} on {ok} of {len(m)} devices")
        others = m[["random", "nsga2", "oneproxy"]].max(axis=1)
        print(f"  above random, NSGA-II and one-proxy on {(m['controller'] > others).sum()}")
        print(
            f"  default above faithful on "
            f"{(m['controller'] > m['controller-faithful']).sum()} of {len(m)}"
        )
    for dev in ("synthetic:0", "help:pixel2"):
        oh = overhead(dev, str(data.root))
        print(
            f"\nDeployment overhead, whole `search` call with K = 10 on {dev} (measurements are "
            f"lookups): first call {oh['cold_s']:.2f} s, then median {oh['warm_median_s']:.3f} s."
        )


if __name__ == "__main__":
    main()
