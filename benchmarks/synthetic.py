"""Coverage of real devices by synthetic devices from the prior fitted on knowledge devices.

Usage:
    python benchmarks/synthetic.py [--data DIR] [--n 100] [--task ND] [--validation T.csv.gz ...]
        [--knowledge-tables K.csv.gz ...]

The prior is fitted on the task's *train* devices only. For every real NB201 device (27 HELP
columns, HW-NAS-Bench edgegpu and edgetpu on their covered cells) it reports the best Spearman ρ
among ``n`` sampled synthetic devices, and compares the spread of pairwise ρ among synthetic
devices with that among the real ones, for the fitted prior and for the v1 ``synthetic:SEED``
devices.

With ``--knowledge-tables`` (runtime configurations measured on this machine as *knowledge*,
``benchmarks/devices/knowledge/``) it also fits the grounded generator
(:mod:`moohw.devices.grounded`) on the train devices plus those tables, chooses its bandwidth and
kernel share by leave-one-knowledge-device-out coverage (knowledge only), and adds its column.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from moohw.data import open_data
from moohw.devices import get_device
from moohw.devices.grounded import GroundedDevice, fit_grounded_prior, grounded_features
from moohw.devices.prior import PriorDevice, fit_prior
from moohw.knowledge import task_split
from moohw.metrics import spearman
from moohw.predictors import DeviceData
from moohw.predictors.runtime_features import family_features, family_names
from moohw.spaces import NB201Space


def pairwise(lat: list[np.ndarray], m: int = 40) -> np.ndarray:
    out = []
    for i in range(min(m, len(lat))):
        for j in range(i + 1, min(m, len(lat))):
            ok = np.isfinite(lat[i]) & np.isfinite(lat[j])
            out.append(spearman(lat[i][ok], lat[j][ok]))
    return np.array(out)


def csv_data(path: str, space: NB201Space) -> DeviceData:
    """The measured cells of a CSV table as ``DeviceData``."""
    dev = get_device(f"csv:{path}", space)
    X = space.enumerate()
    X = X[dev.covers(X)]
    return DeviceData(X, dev.latency_ms(X))


def family_fits(space: NB201Space, name: str, d: DeviceData, folds: int = 5) -> str:
    """A Markdown row: 5-fold cross-validated Spearman of a least-squares fit of ``d`` with each
    ``incontext`` feature family and with the grounded generator's features."""
    F = family_features(space, d.X)
    F["grounded"] = grounded_features(space, d.X)
    idx = np.random.default_rng(0).permutation(len(d.X))
    parts = np.array_split(idx, folds)
    cells = []
    for Phi in F.values():
        pred = np.zeros(len(d.X))
        for te in parts:
            tr = np.setdiff1d(idx, te)
            w = np.linalg.lstsq(Phi[tr], d.latency_ms[tr], rcond=None)[0]
            pred[te] = Phi[te] @ w
        cells.append(f"{spearman(pred, d.latency_ms):.3f}")
    return f"| {name} | {len(d.X)} | " + " | ".join(cells) + " |"


#: Grid of (bandwidth, p_kernel) for the grounded generator, chosen on knowledge devices only.
GRID = [(b, p) for b in (0.1, 0.25, 0.5, 1.0) for p in (0.5, 0.8, 1.0)]


def choose_grounded(
    space: NB201Space, know: dict[str, DeviceData], n: int
) -> tuple[tuple[float, float], list[str]]:
    """Leave-one-knowledge-device-out coverage for every grid point; the best (min, then mean)."""
    Xall = space.enumerate()
    cov = np.zeros((len(GRID), len(know)))
    for j, held in enumerate(know):
        fitted = fit_grounded_prior(space, {k: v for k, v in know.items() if k != held})
        pos, y = space.position(know[held].X), know[held].latency_ms
        for g, (b, p) in enumerate(GRID):
            prior = replace(fitted, bandwidth=b, p_kernel=p)
            lats = (GroundedDevice(f"g{i}", space, prior, i).latency_ms(Xall) for i in range(n))
            cov[g, j] = max(spearman(v[pos], y) for v in lats)
    names = list(know)
    lines = [
        f"| {b} | {p} | {c.min():.3f} | {c.mean():.3f} | {names[int(np.argmin(c))]} |"
        for (b, p), c in zip(GRID, cov)
    ]
    g = max(range(len(GRID)), key=lambda g: (round(float(cov[g].min()), 3), cov[g].mean()))
    return GRID[g], lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--task", default="ND")
    ap.add_argument("--validation", nargs="*", default=[], help="measured tables (CSV)")
    ap.add_argument(
        "--knowledge-tables", nargs="*", default=[], help="knowledge runtime configurations (CSV)"
    )
    ap.add_argument("--save-prior", default=None, help="write the grounded prior's JSON here")
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
    grounded_lines: list[str] = []
    grounded = None
    if args.knowledge_tables:
        gknow = dict(know)
        fams = [*family_names(space), "grounded"]
        print("5-fold cross-validated Spearman of a least-squares fit, by feature family:\n")
        print("| knowledge configuration | cells | " + " | ".join(fams) + " |")
        print("|---|---|" + "---|" * len(fams))
        for p in args.knowledge_tables:
            gknow[f"knowledge:{Path(p).name}"] = csv_data(p, space)
            print(family_fits(space, Path(p).name, gknow[f"knowledge:{Path(p).name}"]))
        print()
        t0 = time.perf_counter()
        (bw, pk), grounded_lines = choose_grounded(space, gknow, args.n)
        grounded = fit_grounded_prior(space, gknow, bandwidth=bw, p_kernel=pk)
        gsel_s = time.perf_counter() - t0
        if args.save_prior:
            Path(args.save_prior).write_text(grounded.to_json() + "\n")
    families = {
        "moohw prior": [
            PriorDevice(f"p{i}", space, prior, i).latency_ms(X) for i in range(args.n)
        ],
        "v1 synthetic:SEED": [
            get_device(f"synthetic:{i}", space).latency_ms(X) for i in range(args.n)
        ],
    }
    if grounded is not None:
        families["grounded"] = [
            GroundedDevice(f"g{i}", space, grounded, i).latency_ms(X) for i in range(args.n)
        ]
        # ablation: the same generator with the HELP train devices as its only anchors
        help_only = fit_grounded_prior(
            space, know, bandwidth=grounded.bandwidth, p_kernel=grounded.p_kernel
        )
        families["grounded, HELP anchors only"] = [
            GroundedDevice(f"g{i}", space, help_only, i).latency_ms(X) for i in range(args.n)
        ]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; date {time.strftime('%F')}; "
        f"prior fitted on {args.task} train ({', '.join(train)}) in {fit_s:.1f} s"
    )
    print(f"\nprior: {prior}\n")
    if grounded is not None:
        print(
            f"grounded: anchors {', '.join(grounded.devices)}; leave-one-out choice on them "
            f"({gsel_s:.0f} s): bandwidth {grounded.bandwidth}, p_kernel {grounded.p_kernel}, "
            f"noise_sigma {grounded.noise_sigma:.3f}\n"
        )
        print("| bandwidth | p_kernel | LOO min best ρ | LOO mean | worst held-out |")
        print("|---|---|---|---|---|")
        print("\n".join(grounded_lines) + "\n")
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
        v = np.array([x for x, n in zip(b, real) if n.startswith("validation:")])
        if len(v):
            print(f"{f}: validation devices ≥ 0.95: {int((v >= 0.95).sum())} of {len(v)}")
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
