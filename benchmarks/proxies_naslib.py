"""Rank agreement with NASLib's zero-cost scores, and rank correlation with NB201 accuracy.

For the NB201 cells of ``oracles/naslib_zero_cost_nb201.csv`` (NAS-Bench-Suite-Zero, ~725 per
dataset), score a random subset of ``--cells`` of them (seed 0; all when 0) with moohw's proxies
and print, per proxy: Spearman with NASLib's column of the same proxy (when NASLib has it) and
Spearman / Kendall with CIFAR-10, CIFAR-100 and ImageNet16-120 test accuracy (200 epochs).
Scores are computed on the CIFAR-10 network (ImageNet16 rows: the imagenet16 network) and land
in the persistent proxy cache, so reruns are cheap.

    python benchmarks/proxies_naslib.py --proxies naswot,synflow --cells 0
    python benchmarks/proxies_naslib.py --proxies snip,grad_norm,jacov --cells 80
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.stats import kendalltau, spearmanr

from moohw.accuracy import BenchmarkAccuracy
from moohw.data import open_data
from moohw.proxies import get_proxy
from moohw.spaces import NB201Space

NASLIB_COLUMN = {"naswot": "nwot", "synflow": "synflow", "snip": "snip"}
NASLIB_COLUMN.update(grad_norm="grad_norm", jacov="jacov", flops="flops", params="params")
DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet16"}
ACC = {
    "cifar10": "cifar10_test_200ep",
    "cifar100": "cifar100_test_200ep",
    "imagenet16": "imagenet16_test_200ep",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proxies", required=True)
    ap.add_argument("--cells", type=int, default=0, help="random subset size (0: all)")
    ap.add_argument("--dataset", default="cifar10", choices=sorted(DATASETS))
    args = ap.parse_args()
    data = open_data()
    space = NB201Space()
    df = data.table("oracles/naslib_zero_cost_nb201.csv")
    df = df[df["dataset"] == args.dataset].reset_index(drop=True)
    if args.cells:
        rng = np.random.default_rng(0)
        df = df.iloc[np.sort(rng.choice(len(df), min(args.cells, len(df)), replace=False))]
    X = space.from_str(df["arch_str"].tolist())
    net_ds = DATASETS[args.dataset]
    accs = {k: BenchmarkAccuracy(space, data, c).accuracy(X) for k, c in ACC.items()}
    for name in args.proxies.split(","):
        t0 = time.perf_counter()
        s = get_proxy(name, space, net_ds).score(X)
        rec: dict[str, object] = {
            "proxy": name,
            "naslib_dataset": args.dataset,
            "cells": len(X),
            "seconds_per_cell": round((time.perf_counter() - t0) / len(X), 3),
        }
        col = NASLIB_COLUMN.get(name)
        if col is not None and col in df:
            rec["rho_vs_naslib"] = round(float(spearmanr(s, df[col]).statistic), 3)
        for k, a in accs.items():
            rec[f"rho_{k}"] = round(float(spearmanr(s, a).statistic), 3)
            rec[f"tau_{k}"] = round(float(kendalltau(s, a).statistic), 3)
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
