"""Foundation benchmark: NSGA-II vs random search on the ND test devices, and speed figures.

Usage:
    python benchmarks/foundation.py [--data DIR] [--seeds 10] [--workers 2] [--out DIR]

Writes ``OUT/results.csv`` (one row per run), ``OUT/summary.csv`` and prints Markdown tables for
benchmarks/RESULTS.md: median and mean [95% CI] HV ratio per device and budget, whether NSGA-II
beats random on the median, the time to compute an exact NB201 front on a tabular device, and the
wall time of ``moohw optimize --algo nsga2 --budget 200``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from moohw.algorithms.grid import make_cells, run_grid, summarize, write_true_fronts
from moohw.problems import HWNASProblem

from moohw.data import open_data
from moohw.devices import get_device
from moohw.proxies import get_proxy
from moohw.spaces import NB201Space

ND_TEST = ["titan_rtx_256", "gold_6226", "fpga", "pixel2", "raspi4", "eyeriss"]


def exact_front_timing(data_root: Path, reps: int = 5) -> pd.DataFrame:
    """Seconds to compute the exact (proxy, latency) front of a tabular device over all 15,625
    cells (median of ``reps``), and the cold cost of loading its table in a fresh process."""
    space = NB201Space()
    rows = []
    for dev_name in ND_TEST:
        code = (
            "import time; t=time.perf_counter();"
            "from moohw.data import open_data; from moohw.devices import get_device;"
            "from moohw.spaces import NB201Space;"
            f"get_device('help:{dev_name}', NB201Space(), open_data('{data_root}'));"
            "print(time.perf_counter()-t)"
        )
        cold = float(
            subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True
            ).stdout
        )
        dev = get_device(f"help:{dev_name}", space, open_data(data_root))
        front = []
        for _ in range(reps):
            t1 = time.perf_counter()
            _, PF = HWNASProblem(space, dev, get_proxy("params", space)).exact_front()
            front.append(time.perf_counter() - t1)
        rows.append(
            {
                "device": f"help:{dev_name}",
                "front_size": len(PF),
                "cold_load_s": cold,
                "exact_front_s_median": float(np.median(front)),
            }
        )
    return pd.DataFrame(rows)


def cli_timing(data_root: Path, reps: int = 3) -> pd.DataFrame:
    """Wall seconds of the `moohw optimize --algo nsga2 --budget 200` process, end to end."""
    exe = shutil.which("moohw") or str(Path(sys.executable).parent / "moohw")
    rows = []
    for device in ("synthetic:0", "help:pixel2"):
        walls = []
        for r in range(reps):
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [
                    exe,
                    "optimize",
                    "--algo",
                    "nsga2",
                    "--budget",
                    "200",
                    "--seed",
                    str(r),
                    "--device",
                    device,
                    "--data",
                    str(data_root),
                    "--out",
                    tmp,
                ]
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                walls.append(time.perf_counter() - t0)
                rec = json.loads((Path(tmp) / "run.json").read_text())
                assert rec["n_target_measurements"] == 200
        rows.append(
            {
                "device": device,
                "wall_s_median": float(np.median(walls)),
                "wall_s_max": float(np.max(walls)),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budgets", default="50,100,200")
    ap.add_argument("--out", default="benchmarks/out/foundation")
    args = ap.parse_args()
    data = open_data(args.data)
    out = Path(args.out)
    devices = [f"help:{d}" for d in ND_TEST]
    budgets = [int(b) for b in args.budgets.split(",")]
    t0 = time.perf_counter()
    cells = make_cells(["random", "nsga2"], devices, budgets, list(range(args.seeds)))
    write_true_fronts(devices, out, "nb201", data)
    df = run_grid(cells, out, "nb201", "params", data, workers=args.workers)
    grid_s = time.perf_counter() - t0
    summ = summarize(df)
    summ.to_csv(out / "summary.csv", index=False)

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}; grid wall {grid_s:.0f} s with {args.workers} workers"
    )
    print(
        "\n| device | K | random median | NSGA-II median | random mean [95% CI] | "
        "NSGA-II mean [95% CI] | NSGA-II wins (median) |"
    )
    print("|---|---|---|---|---|---|---|")
    wins = 0
    for dev in devices:
        for k in budgets:
            s = summ[(summ.device == dev) & (summ.budget == k)].set_index("algo")
            r, n = s.loc["random"], s.loc["nsga2"]
            win = n.hv_ratio_median > r.hv_ratio_median
            wins += int(win)
            print(
                f"| {dev} | {k} | {r.hv_ratio_median:.3f} | {n.hv_ratio_median:.3f} | "
                f"{r.hv_ratio_mean:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] | "
                f"{n.hv_ratio_mean:.3f} [{n.ci_low:.3f}, {n.ci_high:.3f}] | "
                f"{'yes' if win else '**no**'} |"
            )
    print(
        f"\nNSGA-II beats random on the median in {wins} of {len(devices) * len(budgets)} cells."
    )
    ceil = df.groupby("device")["ceiling_hv_ratio"].first()
    print(
        "\nExhaustive params-proxy front (ceiling) HV ratio: "
        + ", ".join(f"{d}: {v:.3f}" for d, v in ceil.items())
    )

    ft = exact_front_timing(data.root)
    print(
        "\n| device | exact front over 15,625 cells (s) | front size | "
        "cold import + table load + sha256 (s) |\n|---|---|---|---|"
    )
    for _, r in ft.iterrows():
        print(
            f"| {r.device} | {r.exact_front_s_median:.4f} | {r.front_size} | {r.cold_load_s:.2f} |"
        )
    ct = cli_timing(data.root)
    print("\n| `moohw optimize --algo nsga2 --budget 200 --device` | median wall (s) | max (s) |")
    print("|---|---|---|")
    for _, r in ct.iterrows():
        print(f"| {r.device} | {r.wall_s_median:.2f} | {r.wall_s_max:.2f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
