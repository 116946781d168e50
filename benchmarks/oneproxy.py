"""One-proxy-device benchmark: monotonicity heatmaps, Pareto-set reuse, and the search comparison.

Usage:
    python benchmarks/oneproxy.py [--data DIR] [--seeds 10] [--workers 2] [--out DIR]

Prints Markdown tables for benchmarks/RESULTS.md and writes the heatmaps to docs/:
1. NB201 (all HELP + HW-NAS-Bench columns) and FBNet (HELP) Spearman heatmaps.
2. Reuse with *true accuracy*: the Pareto set of (accuracy, proxy latency) measured on each other
   HELP device; HV ratio against that device's own true front (first layer, and two layers).
3. Reuse from each ND knowledge device to each ND test device, with and without AdaProxy
   adaptation on 10 random target samples.
4. The proxy-driven protocol: oneproxy vs random vs NSGA-II at K = 20, 50 on the ND test devices.
5. AdaProxy before/after Spearman (whole space) on the weakly monotone ND pairs (rho < 0.9).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from moohw.algorithms.grid import make_cells, run_grid, summarize
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from moohw.accuracy import BenchmarkAccuracy
from moohw.data import open_data
from moohw.devices import get_device, list_devices
from moohw.knowledge import task_split
from moohw.metrics import Scorer, monotonicity_matrix, spearman
from moohw.monotonicity import collect_latencies
from moohw.plotting import monotonicity_heatmap
from moohw.predictors import AdaProxy, DeviceData
from moohw.spaces import FBNetSpace, NB201Space


def heatmaps(data, docs: Path) -> None:
    for space in (NB201Space(), FBNetSpace()):
        names = [
            r.name
            for r in list_devices(space, data)
            if r.available and r.name.startswith(("help:", "hwnasbench:"))
        ]
        _, lat = collect_latencies(space, names, data)
        n, M = monotonicity_matrix(lat)
        png = monotonicity_heatmap(
            n,
            M,
            docs / f"monotonicity_{space.name}.png",
            title=f"Spearman latency monotonicity, {space.name}",
        )
        off = M[np.triu_indices(len(M), 1)]
        print(
            f"- {space.name}: {len(n)} devices, median pairwise Spearman "
            f"{np.nanmedian(off):.3f}, 5th percentile {np.nanpercentile(off, 5):.3f} → `{png}`"
        )


def reuse_hv(acc, lat_proxy, lat_target, scorer, layers: int = 1) -> tuple[float, int]:
    """HV ratio on the target of the proxy's (accuracy, latency) Pareto layers, and |set|."""
    F = np.column_stack([-acc, lat_proxy])
    fronts = NonDominatedSorting().do(F)
    idx = np.concatenate(fronts[:layers])
    G = np.column_stack([-acc[idx], lat_target[idx]])
    keep = NonDominatedSorting().do(G, only_non_dominated_front=True)
    s = scorer.score(acc[idx][keep], lat_target[idx][keep])
    return s.hv_ratio, len(idx)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/out/oneproxy")
    ap.add_argument("--docs", default="docs")
    args = ap.parse_args()
    data = open_data(args.data)
    out, docs = Path(args.out), Path(args.docs)
    out.mkdir(parents=True, exist_ok=True)
    docs.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; date {time.strftime('%F')}")

    print("\n### Monotonicity heatmaps\n")
    heatmaps(data, docs)

    space = NB201Space()
    X = space.enumerate()
    acc = BenchmarkAccuracy(space, data)(X)
    help_cols = [c for c in data.table("nb201/latency_help.csv").columns if c != "index"]
    lat = {c: get_device(f"help:{c}", space, data).latency_ms(X) for c in help_cols}

    print("\n### Reusing Pixel3's true Pareto set on every other HELP device\n")
    print(
        "| target | Spearman(pixel3, target) | HV ratio, 1 layer | measured | "
        "HV ratio, 2 layers | measured |\n|---|---|---|---|---|---|"
    )
    ratios = []
    for c in help_cols:
        if c == "pixel3":
            continue
        sc = Scorer(acc, lat[c])
        h1, n1 = reuse_hv(acc, lat["pixel3"], lat[c], sc, 1)
        h2, n2 = reuse_hv(acc, lat["pixel3"], lat[c], sc, 2)
        ratios.append(h1)
        print(
            f"| {c} | {spearman(lat['pixel3'], lat[c]):.3f} | {h1:.3f} | {n1} | {h2:.3f} | {n2} |"
        )
    print(
        f"\nPixel3 reuse, 1 layer: min {min(ratios):.3f}, median {np.median(ratios):.3f}; "
        f"{sum(r >= 0.92 for r in ratios)} of {len(ratios)} devices ≥ 0.92."
    )

    split = task_split(data, "nb201", "ND")
    print(
        "\n### ND: reuse from each knowledge device, with and without AdaProxy (true accuracy)\n"
    )
    print(
        "AdaProxy is fitted on 10 random target samples (mean over the seeds); measured = "
        "|reused set| (+ 10 samples when adapted).\n"
    )
    print(
        "| target | proxy | Spearman | HV ratio reused | adapted (paper) | adapted (moohw) | "
        "measured |"
    )
    print("|---|---|---|---|---|---|---|")
    weak = []
    for t in split["test"]:
        sc = Scorer(acc, lat[t])
        for p in split["train"]:
            rho = spearman(lat[p], lat[t])
            h, n = reuse_hv(acc, lat[p], lat[t], sc)
            res = {}
            for corr in ("feature", "choice"):
                ha, rho_after = [], []
                for seed in range(args.seeds):
                    rng = np.random.default_rng(seed)
                    idx = rng.choice(len(X), 10, replace=False)
                    m = AdaProxy(space, proxy=p, correction=corr)
                    m.fit({p: DeviceData(X, lat[p])}, X[idx], lat[t][idx])
                    pred = m.predict(X)
                    ha.append(reuse_hv(acc, pred, lat[t], sc)[0])
                    rho_after.append(spearman(pred, lat[t]))
                res[corr] = (float(np.mean(rho_after)), float(np.mean(ha)))
            if rho < 0.9:
                weak.append((t, p, rho, *res["feature"], *res["choice"], h))
            print(
                f"| {t} | {p} | {rho:.3f} | {h:.3f} | {res['feature'][1]:.3f} | "
                f"{res['choice'][1]:.3f} | {n} (+10) |"
            )

    print(
        "\n### AdaProxy on weakly monotone ND pairs (Spearman over all 15,625 cells, "
        "10 target samples)\n"
    )
    print(
        "| target | proxy | Spearman before | after, paper (per feature) | "
        "after, moohw (per op) | HV reused | HV paper | HV moohw |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for t, p, b, af, hf, ac, hc, h in weak:
        print(f"| {t} | {p} | {b:.3f} | {af:.3f} | {ac:.3f} | {h:.3f} | {hf:.3f} | {hc:.3f} |")
    if weak:
        w = np.array([row[2:] for row in weak])  # b, af, hf, ac, hc, h
        for label, a_i, h_i in (("paper (per feature)", 1, 2), ("moohw (per op)", 3, 4)):
            print(
                f"\n{label}: Spearman raised in {int((w[:, a_i] > w[:, 0]).sum())} of "
                f"{len(w)} weak pairs, mean {w[:, 0].mean():.3f} → {w[:, a_i].mean():.3f}; "
                f"reuse HV raised in {int((w[:, h_i] > w[:, 5]).sum())}, mean "
                f"{w[:, 5].mean():.3f} → {w[:, h_i].mean():.3f}."
            )

    print("\n### Proxy-driven protocol: oneproxy vs random vs NSGA-II (params proxy)\n")
    devices = [f"help:{t}" for t in split["test"]]
    t0 = time.perf_counter()
    cells = make_cells(["random", "nsga2", "oneproxy"], devices, [20, 50], list(range(args.seeds)))
    df = run_grid(cells, out / "search", "nb201", "params", data, workers=args.workers)
    summ = summarize(df)
    print(
        f"({len(cells)} runs in {time.perf_counter() - t0:.0f} s with {args.workers} workers, "
        f"seeds 0–{args.seeds - 1}, knowledge = ND train split)\n"
    )
    print(
        "| device | K | random | NSGA-II | oneproxy | oneproxy best? |\n|---|---|---|---|---|---|"
    )
    wins = 0
    for dev in devices:
        for k in (20, 50):
            s = summ[(summ.device == dev) & (summ.budget == k)].set_index("algo")
            med = s["hv_ratio_median"]
            win = med["oneproxy"] > max(med["random"], med["nsga2"])
            wins += int(win)
            cell = {
                a: f"{med[a]:.3f} [{s.loc[a, 'ci_low']:.3f}, {s.loc[a, 'ci_high']:.3f}]"
                for a in ("random", "nsga2", "oneproxy")
            }
            print(
                f"| {dev} | {k} | {cell['random']} | {cell['nsga2']} | {cell['oneproxy']} | "
                f"{'yes' if win else '**no**'} |"
            )
    print(
        f"\nMedian HV ratio [95% CI of the mean]; oneproxy best in {wins} of "
        f"{len(devices) * 2} cells."
    )
    cols = [
        "target",
        "proxy",
        "rho_before",
        "rho_paper",
        "hv_paper",
        "rho_moohw",
        "hv_moohw",
        "hv_reused",
    ]
    pd.DataFrame(weak, columns=cols).to_csv(out / "adaproxy_weak_pairs.csv", index=False)


if __name__ == "__main__":
    main()
