"""Coverage of real devices by synthetic devices from the prior fitted on knowledge devices.

Usage:
    python benchmarks/synthetic.py [--data DIR] [--n 100] [--task ND] [--validation T.csv.gz ...]

The prior is fitted on the task's *train* devices only. For every real NB201 device (27 HELP
columns, HW-NAS-Bench edgegpu and edgetpu on their covered cells) it reports the best Spearman ρ
among ``n`` sampled synthetic devices, and compares the spread of pairwise ρ among synthetic
devices with that among the real ones, for the fitted prior and for the v1 ``synthetic:SEED``
devices.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from moohw.data import open_data
from moohw.devices import get_device
from moohw.devices.prior import PriorDevice, fit_prior
from moohw.knowledge import task_split
from moohw.metrics import spearman
from moohw.predictors import DeviceData
from moohw.spaces import NB201Space


def pairwise(lat: list[np.ndarray], m: int = 40) -> np.ndarray:
    out = []
    for i in range(min(m, len(lat))):
        for j in range(i + 1, min(m, len(lat))):
            ok = np.isfinite(lat[i]) & np.isfinite(lat[j])
            out.append(spearman(lat[i][ok], lat[j][ok]))
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--task", default="ND")
    ap.add_argument("--validation", nargs="*", default=[], help="measured tables (CSV)")
    args = ap.parse_args()
    data = open_data(args.data)
    space = NB201Space()
    X = space.enumerate()
    train = task_split(data, "nb201", args.task)["train"]
    know = {c: DeviceData(X, get_device(f"help:{c}", space, data).latency_ms(X)) for c in train}
    t0 = time.perf_counter()
    prior = fit_prior(space, know)
    fit_s = time.perf_counter() - t0
    real: dict[str, np.ndarray] = {}
    for c in data.table("nb201/latency_help.csv").columns:
        if c != "index":
            real[c] = get_device(f"help:{c}", space, data).latency_ms(X)
    partial = {k: f"hwnasbench:{k}" for k in ("edgegpu", "edgetpu")}
    partial.update({f"validation:{Path(p).name}": f"csv:{p}" for p in args.validation})
    for label, name in partial.items():  # NaN where the device has no latency
        dev = get_device(name, space, data)
        v = np.full(len(X), np.nan)
        ok = dev.covers(X)
        v[ok] = dev.latency_ms(X[ok])
        real[label] = v
    families = {
        "moohw prior": [
            PriorDevice(f"p{i}", space, prior, i).latency_ms(X) for i in range(args.n)
        ],
        "v1 synthetic:SEED": [
            get_device(f"synthetic:{i}", space).latency_ms(X) for i in range(args.n)
        ],
    }
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; date {time.strftime('%F')}; "
        f"prior fitted on {args.task} train ({', '.join(train)}) in {fit_s:.1f} s"
    )
    print(f"\nprior: {prior}\n")
    print("| real device | in knowledge? | " + " | ".join(f"best ρ, {f}" for f in families) + " |")
    print("|---|---|" + "---|" * len(families))
    best = {f: [] for f in families}
    for name, y in real.items():
        ok = np.isfinite(y)
        row = []
        for f, lats in families.items():
            b = max(spearman(v[ok], y[ok]) for v in lats)
            best[f].append(b)
            row.append(f"{b:.3f}")
        print(f"| {name} | {'yes' if name in train else 'no'} | " + " | ".join(row) + " |")
    for f in families:
        b = np.array(best[f])
        print(
            f"\n{f}: min best ρ {b.min():.3f}, {int((b >= 0.9).sum())} of {len(b)} devices ≥ 0.90"
        )
    pr = pairwise(list(real.values()), 40)
    print(
        f"\npairwise Spearman among real devices: median {np.median(pr):.3f}, "
        f"5th–95th pct {np.percentile(pr, 5):.3f}–{np.percentile(pr, 95):.3f}"
    )
    for f, lats in families.items():
        ps = pairwise(lats, 40)
        print(
            f"pairwise Spearman among {f}: median {np.median(ps):.3f}, "
            f"5th–95th pct {np.percentile(ps, 5):.3f}–{np.percentile(ps, 95):.3f}"
        )


if __name__ == "__main__":
    main()
