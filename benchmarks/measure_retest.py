"""Test-retest of a live device through the user's path: ``moohw measure`` twice, fresh stores.

Each pass is a separate ``moohw measure --device DEV --sample N --seed S`` process writing to its
own new store, so nothing is reused between passes. The script samples the 1-minute load average
every 10 s while the passes run and reports the Spearman / Kendall correlation between the passes
over the same cells, the median relative difference, the median spread and the throughput.

Usage::

    python benchmarks/measure_retest.py --device local:cpu --n 200 --seed 1 --out /tmp/retest
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr


def _moohw() -> list[str]:
    exe = shutil.which("moohw", path=str(Path(sys.executable).parent)) or shutil.which("moohw")
    return [exe] if exe else [sys.executable, "-m", "moohw"]


def one_pass(device: str, n: int, seed: int, out: Path, k: int) -> tuple[pd.DataFrame, float]:
    """Run pass ``k``; returns its CSV and wall seconds."""
    store, csv = out / f"pass{k}.sqlite", out / f"pass{k}.csv"
    for p in (store, csv):
        p.unlink(missing_ok=True)
    cmd = [*_moohw(), "measure", "--device", device, "--sample", str(n), "--seed", str(seed)]
    cmd += ["--store", str(store), "--out", str(csv)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return pd.read_csv(csv), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="local:cpu")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True, help="folder for stores, CSVs, JSON")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    loads: list[float] = []
    stop = threading.Event()

    def sample_load() -> None:
        while True:
            loads.append(os.getloadavg()[0])
            if stop.wait(10):
                return

    th = threading.Thread(target=sample_load, daemon=True)
    th.start()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    (a, wa), (b, wb) = (one_pass(args.device, args.n, args.seed, args.out, k) for k in (1, 2))
    stop.set()
    th.join()
    m = a.merge(b, on="arch_str", suffixes=("_1", "_2"))
    la, lb = m["latency_ms_1"].to_numpy(), m["latency_ms_2"].to_numpy()
    rel = np.abs(la - lb) / ((la + lb) / 2)
    res = {
        "device": args.device,
        "n": len(m),
        "seed": args.seed,
        "started_utc": started,
        "spearman": float(spearmanr(la, lb).statistic),
        "kendall": float(kendalltau(la, lb).statistic),
        "median_rel_diff": float(np.median(rel)),
        "p90_rel_diff": float(np.percentile(rel, 90)),
        "median_cv": float(np.median(np.r_[m["cv_1"], m["cv_2"]])),
        "median_spread_ms": float(np.median(np.r_[m["spread_ms_1"], m["spread_ms_2"]])),
        "latency_median_ms": float(np.median(la)),
        "wall_s": [round(wa, 1), round(wb, 1)],
        "cells_per_min": [round(60 * len(a) / wa, 1), round(60 * len(b) / wb, 1)],
        "load_1min": {
            "min": float(np.min(loads)),
            "median": float(np.median(loads)),
            "max": float(np.max(loads)),
        },
        "rounds_median": float(np.median(np.r_[m["n_attempts_1"], m["n_attempts_2"]])),
    }
    (args.out / "retest.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
