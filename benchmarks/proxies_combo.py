"""Issue 16: every whole-space proxy, and a combination chosen on knowledge data only.

Part 1 — per proxy, over all 15,625 NB201 cells: Spearman ρ and Kendall τ with the 200-epoch
test accuracy of CIFAR-10, CIFAR-100 and ImageNet16-120 (CIFAR-10-shape networks unless the
proxy has a table for that dataset's shape), and the HV ratio of its exhaustive front
(DESIGN.md: every cell measured, front under (proxy, latency), scored with true CIFAR-10
accuracy and true latency) on each ND test device and edgegpu.

Part 2 — a combination chosen without the evaluation target. Candidates: every non-empty subset
of the parts, aggregated either as the mean of whole-space min-max-normalised scores or as
AZ-NAS's sum of log normalised ranks; then a 0.1 simplex grid of weights on the best subset (in
its aggregation, 2-5 parts), kept only if it gains at least TIE = 0.002. Selection score: mean
exhaustive-front HV ratio over the ND *train* devices x {CIFAR-100, ImageNet16-120} accuracy.
CIFAR-10, the ND test devices, edgegpu and any ``--also`` device are never looked at during the
choice; they are reported afterwards.

Extra proxies come from whole-space tables written by ``moohw proxies compute`` (``--table``).

Usage::

    python benchmarks/proxies_combo.py --data ../shared/data --table T.npz [--out OUT]
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from moohw.accuracy import BenchmarkAccuracy
from moohw.data import open_data
from moohw.devices import Device, get_device
from moohw.metrics import Scorer, kendall, spearman
from moohw.proxies import get_proxy, nb201_flops, nb201_params
from moohw.proxies.assembled import log_rank, min_max, size_regulariser
from moohw.proxies.store import read_table
from moohw.spaces import NB201Space

BUILTIN = (
    "params",
    "flops",
    "skip",
    "naswot",
    "logsynflow",
    "synflow",
    "simismore",
    "tuned",
    "rankmix",
)
PARTS = (
    "naswot",
    "logsynflow",
    "skip",
    "params",
    "meco",
    "swap_raw",
    "az_expressivity",
    "az_progressivity",
    # used when a --table holds them (whole-space tables since 2026-12-06, session 10)
    "zen",
    "az_trainability",
    # whole-space tables since session 12
    "zico",
    "jacov",
)
PUBLISHED = {
    "naswot": "0.79",
    "logsynflow": "0.83",
    "meco": "0.89",
    "swap": "0.90 (CIFAR-100)",
    "aznas": "0.913",
    "simismore": "0.48",
}
ACCS = ("cifar10", "cifar100", "imagenet16")
TIE = 0.002
SELECT_ACCS = ("cifar100", "imagenet16")


class Ceiling:
    """The exhaustive-front HV ratio of a proxy on one device, over the cells it covers."""

    def __init__(self, device: Device, X: np.ndarray, acc: np.ndarray) -> None:
        self.mask = device.covers(X)
        self.scorer = Scorer(acc[self.mask], device.latency_ms(X[self.mask]))

    def hv(self, proxy: np.ndarray) -> float:
        """HV ratio of the front of ``proxy`` (whole-space scores) under true values."""
        return self.scorer.proxy_ceiling(proxy[self.mask]).hv_ratio


_STATE: dict[str, Any] = {}  # set before the worker pool forks


def _knowledge(candidate: tuple[str, dict[str, float]]) -> float:
    """Knowledge score of one candidate (runs in a forked worker)."""
    agg, w = candidate
    s = combine(_STATE["norm"], agg, w)
    return float(np.mean([sc.hv(s) for sc in _STATE["select"]]))


def minmax(v: np.ndarray) -> np.ndarray:
    """``v`` rescaled to [0, 1] over the whole space (as ``CompositeProxy``'s minmax)."""
    return min_max(v, np.sort(v))


def logrank(v: np.ndarray) -> np.ndarray:
    """AZ-NAS's ``log(rank / N)`` over the whole space (as ``CompositeProxy``'s logrank)."""
    return log_rank(v, np.sort(v))


def load_scores(space: NB201Space, tables: list[Path]) -> dict[str, np.ndarray]:
    """Whole-space scores by name: built-in proxies, then every array of ``tables``."""
    X = space.enumerate()
    out = {n: get_proxy(n, space, "cifar10").score(X) for n in BUILTIN}
    for path in tables:
        for name, v in read_table(path).items():
            if v.shape == (space.size,) and np.isfinite(v).all():
                out["swap_raw" if name == "swap" else name] = v.astype(np.float64)[
                    space.position(X)
                ]
    if "swap_raw" in out:  # SWAP's size regulariser, as moohw.proxies.assembled.SwapProxy
        p = nb201_params(X, "cifar10")
        out["swap"] = out["swap_raw"] * size_regulariser(p, p)
    az = ("az_expressivity", "az_progressivity")
    if all(a in out for a in az):  # AZ-NAS without its trainability term
        out["aznas3"] = sum(logrank(out[a]) for a in az) + logrank(nb201_flops(X, "cifar10"))
    if "aznas3" in out and "az_trainability" in out:  # all four, as AZNASProxy
        out["aznas"] = out["aznas3"] + logrank(out["az_trainability"])
    return out


def candidates(parts: list[str]) -> list[tuple[str, dict[str, float]]]:
    """(aggregation, weights) for every non-empty subset: equal-weight min-max and log-rank."""
    out = []
    for r in range(1, len(parts) + 1):
        for sub in itertools.combinations(parts, r):
            w = {p: 1.0 / r for p in sub}
            out.append(("minmax", w))
            if r > 1:
                out.append(("logrank", w))
    return out


def combine(
    norm: dict[str, dict[str, np.ndarray]], agg: str, weights: dict[str, float]
) -> np.ndarray:
    """The combined score of ``weights`` under aggregation ``agg``."""
    return sum(w * norm[agg][p] for p, w in weights.items() if w > 0)  # type: ignore[return-value]


def simplex(parts: list[str], steps: int = 10) -> list[dict[str, float]]:
    """Weights on a ``1/steps`` simplex grid over ``parts`` (every part may be 0)."""
    return [
        {p: c / steps for p, c in zip(parts, combo, strict=True)}
        for combo in itertools.product(range(steps + 1), repeat=len(parts))
        if sum(combo) == steps
    ]


def label(agg: str, w: dict[str, float]) -> str:
    """Readable name of a candidate."""
    body = " + ".join(f"{v:.2f} {p}" for p, v in w.items() if v > 0)
    return f"{agg}: {body}"


def main(argv: list[str] | None = None) -> int:
    """Run both parts and print (and write) the Markdown; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="benchmark data folder")
    ap.add_argument("--table", type=Path, action="append", default=[], help="extra .npz tables")
    ap.add_argument("--out", type=Path, default=None, help="folder for results.md and .json")
    ap.add_argument("--workers", type=int, default=2, help="processes for the search")
    ap.add_argument(
        "--also", default="", help="comma-separated extra devices to report (never for choosing)"
    )
    args = ap.parse_args(argv)
    t0 = time.time()
    space = NB201Space()
    data = open_data(args.data)
    X = space.enumerate()
    tasks = json.loads(data.path("tasks/latency_tasks.json").read_text())
    test = [f"help:{d}" for d in tasks["nb201"]["ND"]["test"]] + ["hwnasbench:edgegpu"]
    test += [d for d in args.also.split(",") if d]
    train = [f"help:{d}" for d in tasks["nb201"]["ND"]["train"]]
    acc = {a: BenchmarkAccuracy(space, data, f"{a}_test_200ep").accuracy(X) for a in ACCS}
    scores = load_scores(space, args.table)
    report = [Ceiling(get_device(d, space, data), X, acc["cifar10"]) for d in test]
    select = [Ceiling(get_device(d, space, data), X, acc[a]) for d in train for a in SELECT_ACCS]

    short = [Path(d.split(":")[1]).name.removesuffix(".csv.gz") for d in test]
    lines = [
        "| proxy | ρ / τ cifar10 | ρ / τ cifar100 | ρ / τ imagenet16 | published ρ c10 | "
        + " | ".join(short)
        + " | min | mean | knowledge score |",
        "|---|---|---|---|---|" + "---|" * (len(test) + 3),
    ]
    rows = {}
    for name, s in scores.items():
        corr = [f"{spearman(s, acc[a]):.3f} / {kendall(s, acc[a]):.3f}" for a in ACCS]
        hv = [sc.hv(s) for sc in report]
        know = float(np.mean([sc.hv(s) for sc in select]))
        rows[name] = {"hv": hv, "knowledge": know, "rho_c10": spearman(s, acc["cifar10"])}
        lines.append(
            f"| {name} | "
            + " | ".join(corr)
            + f" | {PUBLISHED.get(name, '')} | "
            + " | ".join(f"{v:.3f}" for v in hv)
            + f" | {min(hv):.3f} | {np.mean(hv):.3f} | {know:.3f} |"
        )

    parts = [p for p in PARTS if p in scores]
    norm = {
        "minmax": {p: minmax(scores[p]) for p in parts},
        "logrank": {p: logrank(scores[p]) for p in parts},
    }

    _STATE.update(norm=norm, select=select)
    with ProcessPoolExecutor(args.workers, mp_context=get_context("fork")) as pool:
        cands = candidates(parts)
        stage1 = [
            (k, a, w)
            for k, (a, w) in zip(pool.map(_knowledge, cands, chunksize=8), cands, strict=True)
        ]
        stage1.sort(key=lambda t: -t[0])
        best_sub = [p for p in parts if p in stage1[0][2]]
        grid_parts = best_sub if 1 < len(best_sub) <= 5 else []  # 5 parts: 1,001 weights
        agg2 = stage1[0][1]
        grid = [(agg2, w) for w in simplex(grid_parts)] if grid_parts else []
        stage2 = [
            (k, a, w)
            for k, (a, w) in zip(pool.map(_knowledge, grid, chunksize=8), grid, strict=True)
        ]
    stage2.sort(key=lambda t: -t[0])
    # a weight refinement must gain TIE (the project's tie margin) to replace equal weights
    refine = stage2[0] if stage2 and stage2[0][0] >= stage1[0][0] + TIE else None
    chosen = refine or stage1[0]
    tuned_know = rows["tuned"]["knowledge"]

    lines += [
        "",
        f"Combination search over {', '.join(parts)}: {len(stage1)} subsets × aggregations, then"
        f" {len(stage2)} simplex weights over {', '.join(grid_parts)}. Knowledge score = mean"
        f" exhaustive-front HV ratio over the {len(train)} ND train devices × CIFAR-100 and"
        " ImageNet16-120 accuracy.",
        "",
        "| rank | candidate (stage 1) | knowledge score |",
        "|---|---|---|",
    ]
    lines += [f"| {i + 1} | {label(a, w)} | {k:.4f} |" for i, (k, a, w) in enumerate(stage1[:8])]
    lines += ["", "| rank | candidate (stage 2) | knowledge score |", "|---|---|---|"]
    lines += [f"| {i + 1} | {label(a, w)} | {k:.4f} |" for i, (k, a, w) in enumerate(stage2[:5])]
    s = combine(norm, chosen[1], chosen[2])
    hv = [sc.hv(s) for sc in report]
    others = [("best stage-2 weights (not chosen)", stage2[0])] if stage2 and not refine else []
    lines += [
        "",
        f"Chosen: **{label(chosen[1], chosen[2])}**, knowledge score {chosen[0]:.4f} vs `tuned` "
        f"{tuned_know:.4f}. Reported afterwards (CIFAR-10 accuracy, never seen in the choice):",
        "",
        "| proxy | " + " | ".join(short) + " | min | mean | ρ cifar10 |",
        "|---|" + "---|" * (len(test) + 3),
        "| tuned | "
        + " | ".join(f"{v:.3f}" for v in rows["tuned"]["hv"])
        + f" | {min(rows['tuned']['hv']):.3f} | {np.mean(rows['tuned']['hv']):.3f} | "
        f"{rows['tuned']['rho_c10']:.3f} |",
        "| chosen | "
        + " | ".join(f"{v:.3f}" for v in hv)
        + f" | {min(hv):.3f} | {np.mean(hv):.3f} | {spearman(s, acc['cifar10']):.3f} |",
    ]
    for name, (_, agg, w) in others:
        o = combine(norm, agg, w)
        ohv = [sc.hv(o) for sc in report]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{v:.3f}" for v in ohv)
            + f" | {min(ohv):.3f} | {np.mean(ohv):.3f} | {spearman(o, acc['cifar10']):.3f} |"
        )
    lines += [
        "",
        f"{platform.machine()}, {time.time() - t0:.0f} s; command: `python "
        + " ".join(["benchmarks/proxies_combo.py", *(argv if argv is not None else sys.argv[1:])])
        + "`",
    ]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(text)
        summary = {
            "chosen": {"aggregation": chosen[1], "weights": chosen[2], "knowledge": chosen[0]},
            "tuned_knowledge": tuned_know,
            "chosen_report_hv": dict(zip(test, hv, strict=True)),
            "per_proxy": rows,
        }
        (args.out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
