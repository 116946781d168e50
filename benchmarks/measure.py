"""Repeatability and throughput of live latency measurement (issue 4).

Measures the same random NB201 cells twice, independently (no store; the second pass in a
shuffled order so that slow drifts of the machine do not line up with the first pass), and
reports the test-retest rank correlation, the median coefficient of variation of the timed
repeats and the measuring throughput.

Usage::

    python benchmarks/measure.py --n 200 --device local:cpu --out benchmarks/RESULTS_measure.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from moohw.devices.local import LocalDevice, parse_live_options
from moohw.measure.fingerprint import cpu_model
from moohw.spaces import NB201Space


def one_pass(dev: LocalDevice, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Latency ``(n,)`` ms, fastest repeat ``(n,)`` ms, CV ``(n,)`` and wall seconds of a pass."""
    t0 = time.perf_counter()
    ms = dev.measurements(X)
    wall = time.perf_counter() - t0
    lat = np.array([m.latency_ms for m in ms])
    return lat, np.array([m.min_ms for m in ms]), np.array([m.cv for m in ms]), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="random cells")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="local:cpu", help="local:cpu[?options] or local:cuda")
    ap.add_argument("--out", type=Path, default=None, help="markdown file to append the table to")
    args = ap.parse_args()

    kind, _, arg = args.device.partition(":")
    if kind != "local":
        ap.error("--device must be local:cpu or local:cuda (with options)")
    target, protocol, dataset = parse_live_options(arg)
    from dataclasses import replace

    protocol = replace(protocol, device=target)
    space = NB201Space()
    dev = LocalDevice(space, protocol, dataset, store=None)  # both passes really measure
    rng = np.random.default_rng(args.seed)
    X = space.sample(args.n, rng)
    order = rng.permutation(args.n)
    load0 = os.getloadavg()[0]
    lat1, min1, cv1, wall1 = one_pass(dev, X)
    lat2s, min2s, cv2s, wall2 = one_pass(dev, X[order])
    lat2, min2, cv2 = np.empty_like(lat2s), np.empty_like(min2s), np.empty_like(cv2s)
    lat2[order], min2[order], cv2[order] = lat2s, min2s, cv2s
    load1 = os.getloadavg()[0]

    rho = float(spearmanr(lat1, lat2).statistic)
    tau = float(kendalltau(lat1, lat2).statistic)
    rho_min = float(spearmanr(min1, min2).statistic)
    rel = np.abs(lat1 - lat2) / np.minimum(lat1, lat2)
    cv = np.concatenate([cv1, cv2])
    s_per = (wall1 + wall2) / (2 * args.n)
    gpu = ""
    if target == "cuda":
        import torch

        gpu = f", GPU {torch.cuda.get_device_name()}"
    import torch

    machine = (
        f"{cpu_model()}, {os.cpu_count()} cores{gpu}; {platform.system()} "
        f"{platform.machine()}; torch {torch.__version__}; Python {platform.python_version()}"
    )
    p = protocol
    lines = [
        f"### Live measurement: {dev.name}, {args.n} random NB201 cells ({dataset}), 2 passes",
        "",
        f"- command: `{' '.join(['python', *sys.argv])}`",
        f"- machine: {machine}",
        f"- date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
        "- protocol: " + ", ".join(f"{k} {v}" for k, v in p.to_dict().items()),
        f"- 1-min load average before / after: {load0:.2f} / {load1:.2f}",
        "",
        "| metric | value |",
        "|---|---|",
        f"| test-retest Spearman ρ (pass 1 vs pass 2) | {rho:.4f} |",
        f"| test-retest Kendall τ | {tau:.4f} |",
        f"| test-retest Spearman ρ of the fastest repeat (diagnostic) | {rho_min:.4f} |",
        f"| median relative difference between passes | {100 * np.median(rel):.2f}% |",
        f"| 90th percentile relative difference | {100 * np.quantile(rel, 0.9):.2f}% |",
        f"| median CV of the timed repeats | {100 * np.median(cv):.2f}% |",
        f"| 90th percentile CV | {100 * np.quantile(cv, 0.9):.2f}% |",
        f"| latency range (median of passes) | {np.median(lat1):.2f} ms "
        f"[{lat1.min():.2f}, {lat1.max():.2f}] |",
        f"| seconds per measurement (build + warm-up + repeats) | {s_per:.3f} s |",
        f"| cells measured per minute | {60 / s_per:.0f} |",
        "",
    ]
    text = "\n".join(lines)
    sys.stdout.write(text + "\n")
    if args.out is not None:
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
