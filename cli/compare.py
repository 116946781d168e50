"""``moohw compare``: algorithms x devices x budgets x seeds, summarised with intervals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from moohw.cli.common import (
    AccOpt,
    DataOpt,
    SpaceOpt,
    check_budget,
    check_out_dir,
    friendly,
    n_candidates,
    progress,
    split_list,
    unique,
)
from moohw.cli.optimize import DEFAULT_DEVICE, check_accuracy, check_names
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from moohw.accuracy import DEFAULT_ACCURACY
from moohw.data import try_open_data
from moohw.errors import InputError
from moohw.proxies import DEFAULT_PROXY

console = Console()


def _algo_list(value: str) -> list[str]:
    """``--algos``: comma-separated names, or ``all`` for every registered algorithm whose
    optional packages are installed."""
    from moohw.algorithms.api import available_algorithms

    return available_algorithms() if value.strip() == "all" else split_list(value)


def _summary_table(summ: Any, best: Any, seeds: int, out: Path) -> tuple[Table, Table]:
    """Rich tables of ``summary.csv`` (HV ratio per cell) and of the best method per cell."""
    t = Table(title=f"HV ratio, mean [95% bootstrap CI] over {seeds} seeds → {out}/results.csv")
    for c in ("device", "K", "algo", "hv_ratio", "IGD+", "cheap queries", "scored against"):
        t.add_column(c)
    for _, r in summ.iterrows():
        if r["hv_ratio_mean"] != r["hv_ratio_mean"]:
            val = "not scored"
        elif r.get("deterministic", False):
            val = f"{r['hv_ratio_mean']:.3f} (same on every seed)"
        elif r["ci_low"] != r["ci_low"]:
            val = f"{r['hv_ratio_mean']:.3f} (no CI: {int(r['n_seeds'])} seeds < 3)"
        else:
            val = f"{r['hv_ratio_mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        igd = r.get("igd_plus_mean", float("nan"))
        kinds = (
            json.loads(r["cheap_queries_by_kind"])
            if isinstance(r.get("cheap_queries_by_kind"), str)
            else {}
        )
        cheap = ", ".join(f"{k} {v:,.0f}" for k, v in kinds.items() if v) or "-"
        t.add_row(
            str(r["device"]),
            str(r["budget"]),
            str(r["algo"]),
            val,
            "" if igd != igd else f"{igd:.3f}",
            cheap,
            escape(str(r.get("scored_against", "") or "")),
        )
    bt = Table(title=f"best method per device and K (mean HV ratio) → {out}/best.csv")
    for c in ("device", "K", "verdict", "best mean", "runner-up", "margin"):
        bt.add_column(c)
    for _, r in best.iterrows():
        has_runner = isinstance(r["runner_up"], str)
        verdict = str(r["verdict"])
        if verdict == "tied":
            verdict = f"tied: {r['best']} ≈ {str(r['tied_with']).replace(';', ' ≈ ')}"
        elif verdict == "wins":
            verdict = f"{r['best']} wins (95% CIs apart)"
        bt.add_row(
            str(r["device"]),
            str(r["budget"]),
            verdict,
            f"{r['best']} ({r['best_mean']:.3f})",
            f"{r['runner_up']} ({r['runner_up_mean']:.3f})" if has_runner else "-",
            f"{r['margin']:+.3f}" if has_runner else "-",
        )
    return t, bt


@friendly
def compare(
    algos: Annotated[
        str,
        typer.Option("--algos", help="Comma-separated algorithms, or `all` (every registered)."),
    ] = "random,nsga2",
    devices: Annotated[
        str, typer.Option("--devices", help="Comma-separated devices.")
    ] = DEFAULT_DEVICE,
    budgets: Annotated[
        str, typer.Option("--budgets", help="Comma-separated budgets K.")
    ] = "10,50",
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds 0..N-1 per cell.")] = 5,
    space: SpaceOpt = "nb201",
    proxy: Annotated[
        str,
        typer.Option("--proxy", help="Accuracy proxy shared by every method (`moohw proxies`)."),
    ] = DEFAULT_PROXY,
    data: DataOpt = None,
    accuracy: AccOpt = DEFAULT_ACCURACY,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 1,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            help="local (a process pool), or ray: runs are Ray tasks on the cluster "
            "(RAY_ADDRESS) and bare device names become Ray fleet devices (ray:NAME).",
        ),
    ] = "local",
    anytime: Annotated[
        bool,
        typer.Option(
            "--anytime/--no-anytime",
            help="Score budget-agnostic algorithms (random, BO) on the prefixes of one run at "
            "the largest K instead of one run per K (same rows, fewer runs).",
        ),
    ] = True,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("runs/compare"),
) -> None:
    """Run algorithms x devices x budgets x seeds; write results.csv, summary.csv, best.csv."""
    from moohw.algorithms.grid import (
        best_methods,
        make_cells,
        run_grid,
        seed_independent_savings,
        summarize,
        write_true_fronts,
    )
    from moohw.cli.measure import device_name_for_backend

    from moohw.atomic import write_csv
    from moohw.devices import get_device
    from moohw.spaces import get_space

    algo_l = unique(_algo_list(algos), "--algos")
    dev_l = unique([device_name_for_backend(d, backend) for d in split_list(devices)], "--devices")
    bud_l = unique(split_list(budgets, int), "--budgets")
    for b in bud_l:
        check_budget(b, flag="--budgets")
    if seeds < 1:
        raise InputError(f"--seeds must be >= 1, got {seeds}")
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    if backend not in ("local", "ray"):
        raise InputError(f"--backend must be local or ray, got {backend!r}")
    check_out_dir(out)
    check_names(algo_l, space, proxy)
    bench = try_open_data(data)
    check_accuracy(accuracy, bench)
    for d in dev_l:  # fail fast on a bad device or budget before launching the grid
        dev = get_device(d, get_space(space), bench)
        check_budget(max(bud_l), n_candidates(dev), d, flag="--budgets")
    cells = make_cells(algo_l, dev_l, bud_l, list(range(seeds)))
    write_true_fronts(dev_l, out, space, bench, accuracy, proxy)
    with progress() as prog:
        task = prog.add_task("runs", total=len(cells))
        df = run_grid(
            cells,
            out,
            space,
            proxy,
            bench,
            accuracy,
            workers,
            on_done=lambda row: prog.advance(task),
            backend=backend,
            anytime=anytime,
        )
    summ = summarize(df)
    write_csv(out / "summary.csv", summ)
    best = best_methods(summ)
    write_csv(out / "best.csv", best)
    t, bt = _summary_table(summ, best, seeds, out)
    console.print(t)
    if len(best):
        console.print(bt)
    n_skip, saved_s = seed_independent_savings(df)
    if n_skip:
        console.print(
            f"seed-independent methods ran once per (device, K): {n_skip} runs not repeated, "
            f"about {saved_s:.0f} s saved (results.csv: seed_independent)"
        )
