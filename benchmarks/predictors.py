"""Latency-predictor task suite (NASFLAT, MLSys 2024): every available task, methods, k, seeds.

Writes ``OUT/results.csv`` (one row per task, test device, method, k, seed; columns of
``moohw.predictors.tasks.COLUMNS``), ``OUT/summary.csv`` (means over seeds and devices) and
``OUT/summary.md`` (mean Spearman over all archs next to the published anchors).

    python benchmarks/predictors.py --tasks ND,FD --methods opcount,auto --out benchmarks/out/pred
"""

from __future__ import annotations

import os

# Single-threaded BLAS/torch: the models are tiny and the machine is shared (2 cores); threads
# only add contention. Set before numpy/torch load.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from moohw.data import open_data  # noqa: E402
from moohw.plotting import predictor_curves  # noqa: E402
from moohw.predictors.tasks import (  # noqa: E402
    COLUMNS,
    evaluate_task,
    get_task,
    load_anchors,
    load_tables,
    summarise,
)

DEFAULT_METHODS = "opcount,peredge,bayes-linear,adaproxy,gp,nasflat-gnn,auto"


def anchor_table(summary: pd.DataFrame, anchors: pd.DataFrame) -> str:
    """Markdown: mean Spearman (all archs) per task × method × k, then the published rows."""
    piv = summary.pivot_table(index=["method", "k"], columns="task", values="spearman_all")
    tasks = list(dict.fromkeys(summary["task"]))
    lines = ["| method | k | " + " | ".join(tasks) + " |", "|---|---|" + "---|" * len(tasks)]
    for (m, k), row in piv.iterrows():
        vals = " | ".join(f"{row[t]:.3f}" if pd.notna(row.get(t)) else "-" for t in tasks)
        lines.append(f"| {m} | {k} | {vals} |")
    for _, a in anchors.iterrows():
        vals = " | ".join(f"{a[t]:.3f}" if t in a else "-" for t in tasks)
        lines.append(f"| **{a['method']} (published)** | {a['target_samples']} | {vals} |")
    return "\n".join(lines)


def surrogate_runs(devices: list[str], seeds: int, data_dir: str | None, out: Path) -> str:
    """ESM workflow on each device: samples needed to reach validation rho >= 0.95."""
    from moohw.devices import get_device
    from moohw.predictors.surrogate import build_surrogate
    from moohw.spaces import get_space

    data = open_data(data_dir)
    space = get_space("nb201")
    rows = []
    for name in devices:
        dev = get_device(name, space, data)
        for seed in range(seeds):
            t = time.perf_counter()
            res = build_surrogate(dev, target_srcc=0.95, max_samples=200, seed=seed)
            last = res.curve[-1]
            rows.append(
                {
                    "device": name,
                    "seed": seed,
                    "stop_reason": res.stop_reason,
                    "n_train": last.n_train,
                    "n_measured": last.n_measured,
                    "val_spearman": last.val_spearman,
                    "space_spearman": last.space_spearman,
                    "val_mape": last.val_mape,
                    "model": last.model,
                    "device_s": last.device_s,
                    "wall_s": time.perf_counter() - t,
                }
            )
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(out / "surrogate.csv", index=False)
    return _md(df)


def _md(df: pd.DataFrame) -> str:
    def fmt(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="ND,FD")
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--ks", default="5,10,20")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--sampler", default="random")
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/predictors"))
    ap.add_argument(
        "--surrogate", default="", help="Comma-separated devices for the ESM workflow instead."
    )
    a = ap.parse_args()
    if a.surrogate:
        a.out.mkdir(parents=True, exist_ok=True)
        print(surrogate_runs(a.surrogate.split(","), a.seeds, a.data, a.out))
        return
    data = open_data(a.data)
    methods = [m for m in a.methods.split(",") if m]
    ks = [int(k) for k in a.ks.split(",")]
    a.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    t0 = time.perf_counter()
    for name in a.tasks.split(","):
        task = get_task(data, name)
        tables = load_tables(task, data)
        for m in methods:  # one method at a time so partial results are usable
            tm = time.perf_counter()
            rows += evaluate_task(task, tables, [m], ks, range(a.seeds), a.sampler)
            print(f"{name} {m}: {time.perf_counter() - tm:.1f} s", flush=True)
            pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(a.out / "results.csv", index=False)
    predictor_curves(pd.DataFrame(rows, columns=list(COLUMNS)), a.out / "spearman_vs_k.png")
    summary = summarise(rows)
    summary.to_csv(a.out / "summary.csv", index=False)
    md = anchor_table(summary, load_anchors(data))
    head = (
        f"command: python benchmarks/predictors.py --tasks {a.tasks} --methods {a.methods} "
        f"--ks {a.ks} --seeds {a.seeds} --sampler {a.sampler}\n"
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs; wall {time.perf_counter() - t0:.0f} s; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
    )
    (a.out / "summary.md").write_text(head + md + "\n")
    print(head + md)


if __name__ == "__main__":
    main()
