"""Headline search benchmark: every method side by side on the ND test devices and edgegpu.

Usage:
    python benchmarks/search.py [--data DIR] [--seeds 10] [--workers 2] [--out DIR]
        [--algos a,b,...] [--budgets 10,20,50,100] [--devices d1,d2,...] [--proxy rankmix]
        [--backend local|ray]

The protocol of DESIGN.md ("the budget and the score"): NB201; target devices the ND test split
of the NASFLAT task suite (HELP: titan_rtx_256, gold_6226, fpga, pixel2, raspi4, eyeriss) plus
HW-NAS-Bench edgegpu; budgets of K target measurements; one accuracy proxy shared by every
method (``rankmix`` by default, the CLI's default); scored with CIFAR-10 200-epoch test accuracy
(HV ratio against the exact front, IGD+); knowledge devices (for methods that learn from other
devices) the ND train split; every number a mean over seeds with a 95% interval.

Writes into OUT: ``results.csv`` (one row per algo x device x K x seed), ``summary.csv``,
``best.csv`` (best method per device and K, margin, interval overlap), ``run_info.json`` and the
figures of ``moohw plot`` (HV ratio vs K, fronts, median attainment surfaces, monotonicity);
prints Markdown tables for benchmarks/RESULTS.md. Resumable: finished runs are never rerun.
Budget-agnostic methods (random search, ...) run once per (device, seed) at the largest K and
are scored on prefixes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import pandas as pd
from moohw.algorithms import ALGORITHMS
from moohw.algorithms.anytime import is_budget_agnostic
from moohw.algorithms.api import available_algorithms
from moohw.algorithms.grid import (
    best_methods,
    make_cells,
    run_grid,
    summarize,
    write_true_fronts,
)

from moohw.accuracy import DEFAULT_ACCURACY
from moohw.data import open_data
from moohw.knowledge import default_knowledge, task_split
from moohw.plotting import plot_run_dir
from moohw.proxies import DEFAULT_PROXY
from moohw.runs import versions

EXTRA_DEVICES = ["hwnasbench:edgegpu"]


def default_devices(data_root: Path | None) -> list[str]:
    """The ND test split of the task suite (HELP columns) plus HW-NAS-Bench edgegpu."""
    nd = task_split(open_data(data_root), "nb201", "ND")["test"]
    return [f"help:{d}" for d in nd] + EXTRA_DEVICES


def parse_caps(text: str) -> dict[tuple[str, int], int]:
    """``"bo:100=3,mfbo:100=3"`` → ``{("bo", 100): 3, ("mfbo", 100): 3}``."""
    caps: dict[tuple[str, int], int] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        try:
            key, n = item.split("=")
            algo, k = key.split(":")
            caps[(algo, int(k))] = int(n)
        except ValueError:
            raise SystemExit(f"--cap expects ALGO:K=N items, got {item!r}") from None
    return caps


def _fmt(m: float, lo: float, hi: float) -> str:
    return "n/a" if m != m else f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def markdown(summ: pd.DataFrame, best: pd.DataFrame, algos: list[str], devices: list[str]) -> str:
    """Markdown tables: mean HV ratio [95% CI] per K (best in bold), the best-method table,
    wins per method, and mean IGD+ / cheap queries / wall time per method and K."""
    rank = {d: i for i, d in enumerate(devices)}
    best = best.assign(_r=best["device"].map(rank)).sort_values(["_r", "budget"], kind="stable")
    lines: list[str] = []
    for k in sorted(summ["budget"].unique()):
        lines += [f"\n**K = {k}**: HV ratio, mean [95% CI]\n"]
        lines += ["| device | " + " | ".join(algos) + " |", "|---" * (len(algos) + 1) + "|"]
        for dev in devices:
            cell = summ[(summ.device == dev) & (summ.budget == k)].set_index("algo")
            top = cell["hv_ratio_mean"].max() if len(cell) else float("nan")
            row = []
            for a in algos:
                if a not in cell.index:
                    row.append("-")
                    continue
                r = cell.loc[a]
                txt = _fmt(r.hv_ratio_mean, r.ci_low, r.ci_high)
                row.append(f"**{txt}**" if r.hv_ratio_mean == top else txt)
            lines.append(f"| {dev} | " + " | ".join(row) + " |")
    lines += [
        "\nBest method per device and K (mean HV ratio; a win whose 95% intervals overlap the "
        "runner-up's is not established by these seeds):\n",
        "| device | K | best | runner-up | margin | intervals overlap |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in best.iterrows():
        has = isinstance(r["runner_up"], str)
        runner = f"{r.runner_up} ({r.runner_up_mean:.3f}) | {r.margin:+.3f}" if has else "- | -"
        overlap = ("yes" if r.intervals_overlap else "**no**") if has else "-"
        lines.append(
            f"| {r.device} | {r.budget} | {r.best} ({r.best_mean:.3f}) | {runner} | {overlap} |"
        )
    lines += ["\n| method | best in cells | best with non-overlapping interval |", "|---|---|---|"]
    for a in algos:
        mine = best[best["best"] == a]
        clear = int((mine["intervals_overlap"] == False).sum())  # noqa: E712 (None = no runner)
        lines.append(f"| {a} | {len(mine)} of {len(best)} | {clear} |")
    lines += [
        "\nMean over devices of the per-device means:\n",
        "| method | K | HV ratio | IGD+ | cheap queries | wall time per run (s) |",
        "|---|---|---|---|---|---|",
    ]
    agg = summ.groupby(["algo", "budget"], sort=False)[
        ["hv_ratio_mean", "igd_plus_mean", "cheap_queries_mean", "wall_time_s_mean"]
    ].mean()
    for a in algos:
        for k in sorted(summ["budget"].unique()):
            if (a, k) not in agg.index:
                continue
            r = agg.loc[(a, k)]
            lines.append(
                f"| {a} | {k} | {r.hv_ratio_mean:.3f} | {r.igd_plus_mean:.3f} | "
                f"{r.cheap_queries_mean:,.0f} | {r.wall_time_s_mean:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="benchmark data folder")
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (>= 10 for the table)")
    ap.add_argument("--workers", type=int, default=2, help="processes (local backend)")
    ap.add_argument("--out", default="benchmarks/out/search")
    ap.add_argument("--algos", default="all", help="comma-separated, or all (every registered)")
    ap.add_argument("--budgets", default="10,20,50,100")
    ap.add_argument("--devices", default=None, help="default: ND test split + edgegpu")
    ap.add_argument("--proxy", default=DEFAULT_PROXY, help="one proxy for every method")
    ap.add_argument("--accuracy", default=DEFAULT_ACCURACY, help="scoring column")
    ap.add_argument("--backend", default="local", choices=["local", "ray"])
    ap.add_argument(
        "--cap",
        default="",
        help="fewer seeds for costly cells: ALGO:K=N,... runs ALGO at budget K on seeds < N only",
    )
    args = ap.parse_args()

    data = open_data(args.data)
    algos = available_algorithms() if args.algos == "all" else args.algos.split(",")
    for a in algos:
        ALGORITHMS.get(a)  # fail before any work on an unknown name
    devices = args.devices.split(",") if args.devices else default_devices(data.root)
    budgets = [int(b) for b in args.budgets.split(",")]
    out = Path(args.out)
    cells = make_cells(algos, devices, budgets, list(range(args.seeds)))
    caps = parse_caps(args.cap)
    cells = [c for c in cells if c.seed < caps.get((c.algo, c.budget), args.seeds)]
    resumed = sum((out / "runs" / c.slug / "row.json").is_file() for c in cells)
    t0 = time.perf_counter()
    write_true_fronts(devices, out, "nb201", data, args.accuracy)
    df = run_grid(
        cells,
        out,
        "nb201",
        args.proxy,
        data,
        args.accuracy,
        workers=args.workers,
        backend=args.backend,
    )
    grid_s = time.perf_counter() - t0
    summ = summarize(df)
    summ.to_csv(out / "summary.csv", index=False)
    best = best_methods(summ)
    best.to_csv(out / "best.csv", index=False)
    t1 = time.perf_counter()
    figures = plot_run_dir(out, data)
    plot_s = time.perf_counter() - t1
    agnostic = [a for a in algos if is_budget_agnostic(a, max(budgets))]
    knowledge = default_knowledge("nb201", data, devices[0])
    info = {
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "versions": versions(),
        "algos": algos,
        "budget_agnostic": agnostic,
        "devices": devices,
        "budgets": budgets,
        "seeds": args.seeds,
        "caps": {f"{a}:{k}": n for (a, k), n in caps.items()},
        "proxy": args.proxy,
        "accuracy": args.accuracy,
        "knowledge": knowledge,
        "runs": len(df),
        "runs_resumed": resumed,
        "grid_wall_s": grid_s,
        "plot_wall_s": plot_s,
        "workers": args.workers,
        "backend": args.backend,
    }
    (out / "run_info.json").write_text(json.dumps(info, indent=2) + "\n")
    v = info["versions"]
    print(
        f"NB201, proxy `{args.proxy}` for every method, scored with `{args.accuracy}`; "
        f"devices {', '.join(devices)}; K = {', '.join(map(str, budgets))}; {args.seeds} seeds; "
        f"knowledge devices: the ND train split ({len(knowledge)} devices). "
        f"moohw {v['moohw']}, pymoo {v['pymoo']}, torch {v['torch']}, botorch {v['botorch']}; "
        f"{info['machine']}, {args.workers} workers ({args.backend}); "
        f"grid wall {grid_s:.0f} s for {len(df)} rows ({resumed} read back from a previous "
        f"run; budget-agnostic, scored on prefixes: "
        f"{', '.join(agnostic) or 'none'}); figures {plot_s:.0f} s.\n"
        f"Command: `{info['command']}`"
    )
    print(markdown(summ, best, algos, devices))
    print("\nFigures: " + ", ".join(str(p) for p in figures))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
