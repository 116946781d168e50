"""Few-shot latency prediction on knowledge, benchmark-test and validation devices (issue 13).

Three splits, the same protocol (``k`` random target samples, whole-table Spearman rho with the
samples included, as the NASFLAT convention; held-out rho; coverage of the 80% predictive
interval on the unmeasured cells for models that give intervals):

- ``lodo``: leave-one-device-out among the ND *train* (knowledge) devices: each is the target
  once, the other eight are knowledge. The only split used to choose anything.
- ``test``: the ND test devices, knowledge = the ND train split.
- ``validation``: real tables measured on this machine (CSV with ``arch_str`` and ``latency_ms``,
  ``.csv`` or ``.csv.gz``; partial tables: scores over the cells they have), knowledge = the ND
  train split. Never used to choose anything.

    python benchmarks/predictors_unseen.py --split test --methods incontext,auto \\
        --validation benchmarks/devices/*.csv.gz --out benchmarks/out/unseen

Method names are registered predictors (``auto``: the five candidates with the guard) plus
``auto-v1`` (``auto`` as before issue 13: no guard), ``auto+incontext`` (``incontext`` as a sixth
candidate, with the guard) and ``auto-noguard``.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
from collections.abc import Callable, Mapping, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from moohw.data import open_data  # noqa: E402
from moohw.metrics import spearman  # noqa: E402
from moohw.predictors import PREDICTORS, DeviceData, LatencyPredictor  # noqa: E402
from moohw.predictors.incontext import InContext  # noqa: E402
from moohw.predictors.runtime_features import family_names  # noqa: E402
from moohw.predictors.select import DEFAULT_CANDIDATES, AutoSelect  # noqa: E402
from moohw.predictors.tasks import get_task, load_tables  # noqa: E402
from moohw.spaces import SearchSpace, get_space  # noqa: E402


def make(method: str, space: SearchSpace) -> LatencyPredictor:
    """A predictor by registered name or one of the script's ``auto`` variants."""
    if method == "auto-v1":
        return AutoSelect(space, guard=False)
    if method == "auto+incontext":
        return AutoSelect(space, candidates=(*DEFAULT_CANDIDATES, "incontext"))
    if method == "auto-noguard":
        return AutoSelect(space, guard=False)
    if method == "incontext-v1":  # every family but ``used`` (incontext before it)
        return InContext(space, families=[f for f in family_names(space) if f != "used"])
    return PREDICTORS.get(method)(space)


def read_table(path: str, space: SearchSpace) -> tuple[np.ndarray, np.ndarray]:
    """Architectures ``(m, n_var)`` and median latency ``(m,)`` ms of a measured CSV table."""
    df = pd.read_csv(path)
    df = df.groupby("arch_str", sort=True)["latency_ms"].median().reset_index()
    X = np.array([space.from_str(s) for s in df["arch_str"]])
    return X.reshape(len(df), space.n_var), df["latency_ms"].to_numpy(np.float64)


def run_device(
    split: str,
    device: str,
    dev_index: int,
    X: np.ndarray,
    y: np.ndarray,
    knowledge: Mapping[str, DeviceData],
    methods: Sequence[str],
    ks: Sequence[int],
    seeds: Sequence[int],
    space: SearchSpace,
    on_row: Callable[[dict[str, Any]], None],
) -> None:
    for seed in seeds:
        models = {m: make(m, space) for m in methods}
        for k in ks:
            rng = np.random.default_rng([int(seed), dev_index, int(k)])
            idx = rng.choice(len(X), int(k), replace=False)
            held = np.ones(len(X), bool)
            held[idx] = False
            for m, p in models.items():
                t0 = time.perf_counter()
                p.fit(knowledge, X[idx], y[idx], seed=int(seed))
                fit_s = time.perf_counter() - t0
                inner = getattr(p, "model_", p)
                cov = float("nan")
                if hasattr(inner, "predict_interval"):
                    lo, hi = inner.predict_interval(X, 0.8)
                    pred = (lo + hi) / 2
                    cov = float(np.mean((y[held] >= lo[held]) & (y[held] <= hi[held])))
                else:
                    pred = p.predict(X)
                on_row(
                    {
                        "split": split,
                        "device": device,
                        "n_cells": len(X),
                        "method": m,
                        "k": int(k),
                        "seed": int(seed),
                        "spearman_all": spearman(y, pred),
                        "spearman_heldout": spearman(y[held], pred[held]),
                        "coverage80": cov,
                        "choice": getattr(p, "choice_", ""),
                        "fit_s": fit_s,
                    }
                )


def summary(df: pd.DataFrame) -> str:
    """Markdown: per split, method and k — mean over devices of the per-device seed mean, the
    worst device's seed mean, the worst single (device, seed), mean 80% coverage."""
    per_dev = df.groupby(["split", "method", "k", "device"], sort=False).agg(
        rho=("spearman_all", "mean"), rho_min=("spearman_all", "min"), cov=("coverage80", "mean")
    )
    g = per_dev.groupby(level=["split", "method", "k"], sort=False)
    out = g.agg(
        mean=("rho", "mean"),
        worst_device=("rho", "min"),
        worst_run=("rho_min", "min"),
        coverage80=("cov", "mean"),
    ).reset_index()
    lines = [
        "| split | method | k | mean rho | worst device (seed mean) | worst run | 80% coverage |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in out.to_dict("records"):
        cov = "-" if pd.isna(r["coverage80"]) else f"{r['coverage80']:.2f}"
        lines.append(
            f"| {r['split']} | {r['method']} | {r['k']} | {r['mean']:.3f} | "
            f"{r['worst_device']:.3f} | {r['worst_run']:.3f} | {cov} |"
        )
    return "\n".join(lines)


def per_device(df: pd.DataFrame) -> str:
    """Markdown: per device, method and k — seed mean and min of rho, coverage."""
    g = df.groupby(["split", "device", "method", "k"], sort=False).agg(
        mean=("spearman_all", "mean"), min=("spearman_all", "min"), cov=("coverage80", "mean")
    )
    lines = [
        "| split | device | method | k | rho mean | rho min | 80% cov |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in g.reset_index().to_dict("records"):
        cov = "-" if pd.isna(r["cov"]) else f"{r['cov']:.2f}"
        lines.append(
            f"| {r['split']} | {r['device']} | {r['method']} | {r['k']} | {r['mean']:.3f} | "
            f"{r['min']:.3f} | {cov} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="lodo", help="comma list of lodo, test, validation")
    ap.add_argument(
        "--methods", default="opcount,bayes-linear,incontext,auto-v1,auto+incontext,auto"
    )
    ap.add_argument("--ks", default="5,10,20")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--validation", nargs="*", default=[], help="measured CSV tables")
    ap.add_argument(
        "--knowledge-tables",
        nargs="*",
        default=[],
        help="knowledge runtime configurations (CSV): extra lodo targets, ND train as knowledge",
    )
    ap.add_argument("--devices", default="", help="restrict to these devices (comma list)")
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/unseen"))
    a = ap.parse_args()
    methods = [m for m in a.methods.split(",") if m]
    for m in methods:
        make(m, get_space("nb201"))  # fail early on an unknown name
    ks = [int(k) for k in a.ks.split(",")]
    seeds = list(range(a.seeds))
    only = set(a.devices.split(",")) - {""}
    a.out.mkdir(parents=True, exist_ok=True)
    data = open_data(a.data)
    task = get_task(data, "ND")
    T = load_tables(task, data)
    space = T.space
    train = {d: DeviceData(T.X, T.latency_ms[d]) for d in task.train}
    rows: list[dict[str, Any]] = []

    def on_row(r: dict[str, Any]) -> None:
        rows.append(r)
        print(
            f"{r['split']:10s} {r['device']:28s} {r['method']:13s} k={r['k']:2d} s={r['seed']} "
            f"rho={r['spearman_all']:.3f} cov={r['coverage80']:.2f} {r['choice']} "
            f"{r['fit_s']:.2f}s",
            flush=True,
        )

    targets: list[tuple[str, str, np.ndarray, np.ndarray, Mapping[str, DeviceData]]] = []
    for split in a.split.split(","):
        if split == "lodo":
            for d in task.train:
                kn = {n: v for n, v in train.items() if n != d}
                targets.append((split, d, T.X, T.latency_ms[d], kn))
            for path in a.knowledge_tables:  # knowledge too, so they may choose
                X, y = read_table(path, space)
                targets.append((split, f"knowledge:{Path(path).name}", X, y, train))
        elif split == "test":
            for d in task.test:
                targets.append((split, d, T.X, T.latency_ms[d], train))
        elif split == "validation":
            for path in a.validation:
                X, y = read_table(path, space)
                targets.append((split, Path(path).name, X, y, train))
        else:
            raise SystemExit(f"unknown split {split!r}: lodo, test, validation")
    for split, d, X, y, known in targets:
        if only and d not in only:
            continue
        run_device(
            split, d, zlib.crc32(d.encode()), X, y, known, methods, ks, seeds, space, on_row
        )
        pd.DataFrame(rows).to_csv(a.out / "results.csv", index=False)
    df = pd.DataFrame(rows)
    md = summary(df) + "\n\n" + per_device(df)
    (a.out / "summary.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
