"""The ``moohw`` command line (typer + rich).

Bad input (unknown algorithm, device, space or proxy, negative budget, unreadable CSV) exits with
status 2 and one clear line on stderr, no traceback.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from moohw.cli.common import (
    DEBUG,
    DataOpt,
    check_budget,
    check_out_dir,
    friendly,
    n_candidates,
    progress,
    sub_app,
    unique,
)
from moohw.cli.controller import pretrain_app
from moohw.cli.deliver import print_outcome, register
from moohw.cli.measure import measure_cmd, store_app
from moohw.cli.predictors import predictor_app, surrogate_app
from moohw.cli.proxies import proxies_app
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from moohw.accuracy import DEFAULT_ACCURACY
from moohw.data import try_open_data
from moohw.errors import InputError
from moohw.proxies import DEFAULT_PROXY

app = sub_app("moohw: hardware-aware NAS as multi-objective optimisation.")
console = Console()

DEFAULT_DEVICE = "local:cpu"
DEFAULT_ALGO = "controller"

SpaceOpt = Annotated[
    str,
    typer.Option(
        "--space", help="Search space: nb201, or fbnet (predictors and monotonicity; no search)."
    ),
]
ProxyOpt = Annotated[str, typer.Option("--proxy", help="Accuracy proxy (see `moohw proxies`).")]
AccOpt = Annotated[
    str, typer.Option("--accuracy", help="Benchmark accuracy column used for scoring only.")
]


def _split(value: str, cast: Callable[[str], Any] = str) -> list[Any]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise InputError(f"expected a comma-separated list, got {value!r}")
    try:
        return [cast(v) for v in items]
    except ValueError:
        raise InputError(f"bad list {value!r}: expected {cast.__name__} values") from None


def parse_options(items: list[str]) -> dict[str, str]:
    """``["k=v", ...]`` → ``{k: "v"}``; the algorithm's typed options parse the values
    (``moohw algorithms`` lists them), so ``knowledge=a,b`` stays one list-valued option."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--option must be KEY=VALUE, got {item!r}")
        out[key.strip()] = val.strip()
    return out


def _check_names(algos: list[str], space: str, proxy: str) -> None:
    from moohw.algorithms import ALGORITHMS

    from moohw.proxies import get_proxy
    from moohw.spaces import get_space

    for a in algos:
        ALGORITHMS.get(a)
    sp = get_space(space)
    if sp.name in NO_SEARCH:
        raise InputError(NO_SEARCH[sp.name])
    get_proxy(proxy, sp)


#: Spaces that can be listed and measured but not searched yet, and what works in them.
NO_SEARCH = {
    "fbnet": (
        "--space fbnet cannot be searched yet (no accuracy proxy supports FBNet); what works "
        "in fbnet: latency predictors (`moohw predictor eval --task FD`), `moohw monotonicity "
        "--space fbnet`, tabular latency (help:<device> with --data), `moohw surrogate build "
        "--space fbnet`; search with --space nb201"
    ),
}


def _check_accuracy(accuracy: str, bench: Any) -> None:
    """``--accuracy`` must be a column of the accuracy table (or the default, without data)."""
    if bench is None:
        if accuracy != DEFAULT_ACCURACY:
            raise InputError(
                f"--accuracy {accuracy} needs the benchmark data (pass --data DIR or set "
                "MOOHW_DATA); without it runs are not scored"
            )
        return
    if not bench.has("nb201/accuracy.csv"):
        return
    cols = [c for c in bench.table("nb201/accuracy.csv").columns if c != "index"]
    if accuracy not in cols:
        raise InputError(f"unknown --accuracy {accuracy!r}; columns: {', '.join(cols)}")


@app.command()
@friendly
def optimize(
    algo: Annotated[str, typer.Option("--algo", help="Search algorithm.")] = DEFAULT_ALGO,
    device: Annotated[str, typer.Option("--device", help="Target device name.")] = DEFAULT_DEVICE,
    budget: Annotated[int, typer.Option("--budget", help="Target measurements K.")] = 50,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    space: SpaceOpt = "nb201",
    proxy: ProxyOpt = DEFAULT_PROXY,
    data: DataOpt = None,
    accuracy: AccOpt = DEFAULT_ACCURACY,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            help="Algorithm option KEY=VALUE (repeatable), e.g. -o checkpoint=DIR for controller.",
        ),
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Measurement store for live devices (default $MOOHW_STORE)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default runs/<algo>-<device>-<seed>)."),
    ] = None,
    max_latency: Annotated[
        float | None,
        typer.Option("--max-latency", help="Latency cap in ms: the declared front is cut at it."),
    ] = None,
) -> None:
    """Search one device on a budget; write run.json, evaluations.csv and front.csv.

    The default device, local:cpu, measures real latency on this machine's CPU; measurements are
    stored, so a rerun or a resumed run measures nothing twice.
    """
    from moohw.algorithms import search
    from moohw.cli.proxies import proxy_progress

    from moohw.devices import get_device
    from moohw.recommend import check_max_latency
    from moohw.rundir import describe_run
    from moohw.runs import safe_name, write_run
    from moohw.spaces import get_space

    check_budget(budget)
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    check_out_dir(out)
    _check_names([algo], space, proxy)
    check_max_latency(max_latency)
    if store is not None:
        os.environ["MOOHW_STORE"] = str(store)
    bench = try_open_data(data)
    _check_accuracy(accuracy, bench)
    dev = get_device(device, get_space(space), bench)
    check_budget(budget, n_candidates(dev), device)
    t0 = time.perf_counter()
    with progress() as prog, proxy_progress(prog):
        task = prog.add_task(f"{algo} on {device}: target measurements", total=budget)
        r = search(
            algo,
            device,
            budget,
            seed,
            space=space,
            proxy=proxy,
            data=bench,
            accuracy=accuracy,
            options=parse_options(option or []),
            progress=lambda n: prog.update(task, completed=n),
            max_latency_ms=max_latency,
        )
    if out is None:
        out = Path("runs") / safe_name(f"{algo}-{device}-{seed}")
    write_run(r, get_space(space), out, data=bench)
    wall = time.perf_counter() - t0
    t = Table(title=f"moohw optimize → {out}", show_header=False)
    t.add_row("algorithm / device", f"{algo} / {device} ({space}, proxy {proxy})")
    t.add_row("target measurements", f"{r.n_target_measurements} of {budget}")
    if r.measurements_from_store:
        t.add_row("read from the store", f"{r.measurements_from_store} (not re-measured)")
    if r.restricted_to is not None:
        t.add_row("restricted to", f"{r.restricted_to} covered architectures")
    t.add_row("declared front", f"{len(r.front)} architectures")
    for k in ("hv_ratio", "igd_plus", "ceiling_hv_ratio"):
        if k in r.scores:
            t.add_row(k, f"{r.scores[k]:.4f}")
    if r.scores and "scored_against" in r.info:
        t.add_row("scored against", escape(str(r.info["scored_against"])))
    for kind, n in sorted(r.cheap_queries.items()):
        t.add_row(f"cheap queries: {kind}", f"{n:,}")
    if not r.scores:
        t.add_row("score", "not scored (needs a tabular device and benchmark accuracy)")
    t.add_row("wall time", f"{wall:.2f} s")
    console.print(t)
    print_outcome(describe_run(out, bench, accuracy, result=r))  # front + recommendation


def _algo_list(value: str) -> list[str]:
    """``--algos``: comma-separated names, or ``all`` for every registered algorithm whose
    optional packages are installed."""
    from moohw.algorithms.api import available_algorithms

    return available_algorithms() if value.strip() == "all" else _split(value)


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


@app.command()
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
    dev_l = unique([device_name_for_backend(d, backend) for d in _split(devices)], "--devices")
    bud_l = unique(_split(budgets, int), "--budgets")
    for b in bud_l:
        check_budget(b, flag="--budgets")
    if seeds < 1:
        raise InputError(f"--seeds must be >= 1, got {seeds}")
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    if backend not in ("local", "ray"):
        raise InputError(f"--backend must be local or ray, got {backend!r}")
    check_out_dir(out)
    _check_names(algo_l, space, proxy)
    bench = try_open_data(data)
    _check_accuracy(accuracy, bench)
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


@app.command()
@friendly
def plot(
    run_dir: Annotated[Path, typer.Argument(help="A `moohw compare --out` folder.")],
    budget: Annotated[
        int | None,
        typer.Option("--budget", help="K of the fronts and attainment surfaces (default: max)."),
    ] = None,
    data: DataOpt = None,
) -> None:
    """Draw fronts, HV ratio vs K, median attainment surfaces and device monotonicity as PNG.

    Writes into RUN_DIR: hv_vs_budget.png, fronts.png, attainment.png and, when two or more
    compared devices have latency tables, monotonicity.png.
    """
    from moohw.plotting import plot_run_dir

    if budget is not None:
        check_budget(budget)
    for p in plot_run_dir(run_dir, try_open_data(data), budget):
        console.print(f"wrote {p}")


@app.command()
@friendly
def devices(space: SpaceOpt = "nb201", data: DataOpt = None) -> None:
    """List the devices usable here, and why the others are not."""
    from moohw.devices import list_devices
    from moohw.spaces import get_space

    bench = try_open_data(data)
    t = Table(title=f"devices for {space}" + ("" if bench else " (no benchmark data found)"))
    for c in ("name", "kind", "available", "note"):
        t.add_column(c)
    for row in list_devices(get_space(space), bench):
        t.add_row(escape(row.name), row.kind, "yes" if row.available else "no", escape(row.note))
    console.print(t)


@app.command()
@friendly
def monotonicity(
    devices: Annotated[
        str | None,
        typer.Option("--devices", help="Comma-separated devices (default: every table here)."),
    ] = None,
    space: SpaceOpt = "nb201",
    data: DataOpt = None,
    method: Annotated[str, typer.Option("--method", help="spearman or kendall.")] = "spearman",
    target: Annotated[
        str | None,
        typer.Option("--target", help="Recommend a proxy for this device among the others."),
    ] = None,
    probes: Annotated[
        int, typer.Option("--probes", help="Target probes for the recommendation (0 = all).")
    ] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the probes.")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("runs/monotonicity"),
) -> None:
    """Device x device latency rank correlation, clustered heatmap, proxy recommendation."""
    import pandas as pd

    from moohw.devices import get_device, list_devices
    from moohw.metrics import monotonicity_matrix
    from moohw.monotonicity import collect_latencies, recommend_proxy
    from moohw.plotting import monotonicity_heatmap
    from moohw.rng import as_generator
    from moohw.spaces import get_space

    if method not in ("spearman", "kendall"):
        raise InputError(f"--method must be spearman or kendall, got {method!r}")
    if probes < 0:
        raise InputError(f"--probes must be >= 0 (0 = all), got {probes}")
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    check_out_dir(out)
    sp = get_space(space)
    bench = try_open_data(data)
    if devices:
        names = unique(_split(devices), "--devices")
    else:
        names = [
            r.name
            for r in list_devices(sp, bench)
            if r.available and r.name.startswith(("help:", "hwnasbench:"))
        ]
    if target and target not in names:
        names.append(target)
    if len(names) < 2:
        raise InputError("need at least two devices with tables (pass --data DIR or --devices)")
    with console.status(f"latency of {len(names)} devices over {sp.name}…"):
        X, lat = collect_latencies(sp, names, bench)
        names_m, M = monotonicity_matrix(lat, method)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(M, index=names_m, columns=names_m).to_csv(out / f"{method}.csv")
    png = monotonicity_heatmap(
        names_m,
        M,
        out / f"{method}_{sp.name}.png",
        title=f"{method} latency monotonicity, {sp.name}",
    )
    off = M[np.triu_indices(len(M), 1)]
    console.print(
        f"{len(names_m)} devices over {len(X)} architectures; median pairwise "
        f"{method} {np.nanmedian(off):.3f} (5th percentile {np.nanpercentile(off, 5):.3f})"
    )
    console.print(f"wrote {out / f'{method}.csv'} and {png}")
    if target:
        tdev = get_device(target, sp, bench)
        knowledge = [get_device(n, sp, bench) for n in names_m if n != target]
        cov = tdev.coverage()
        pool = X if cov is None else cov
        if probes > 0:
            rng = as_generator(seed)
            pool = pool[rng.choice(len(pool), size=min(probes, len(pool)), replace=False)]
        ranked = recommend_proxy(tdev.latency_ms(pool), pool, knowledge)
        t = Table(title=f"proxy for {target} ({'all' if probes == 0 else probes} probes)")
        t.add_column("device")
        t.add_column("Spearman on probes", justify="right")
        t.add_column("Spearman, whole space", justify="right")
        full = dict(zip(names_m, M[names_m.index(target)]))
        for name, rho in ranked[:5]:
            t.add_row(name, f"{rho:.3f}", f"{full[name]:.3f}")
        console.print(t)


@app.command()
def algorithms() -> None:
    """List the registered search algorithms."""
    from moohw.algorithms import ALGORITHMS
    from moohw.algorithms.api import algorithm_info

    t = Table(title="algorithms (options: -o KEY=VALUE)")
    for c in ("name", "description", "properties", "options (name: type = default)"):
        t.add_column(c)
    for n in ALGORITHMS.names():
        info = algorithm_info(n)
        props = [
            p
            for p, on in (
                ("budget-agnostic", info.budget_agnostic),
                ("needs knowledge devices", info.needs_knowledge),
                ("seed-independent", info.seed_independent),
            )
            if on
        ]
        props.append("spaces: " + (", ".join(info.spaces) or "all"))
        opts = "\n".join(f"{o.describe()}  {o.help}" for o in info.options)
        t.add_row(n, escape(ALGORITHMS.help(n)), "\n".join(props), escape(opts) or "-")
    console.print(t)


@app.command()
def spaces() -> None:
    """List the search spaces."""
    from moohw.spaces import SPACES, get_space

    t = Table(title="search spaces")
    for c in ("name", "variables", "size", "description", "works here"):
        t.add_column(c)
    for n in SPACES.names():
        s = get_space(n)
        works = SPACE_SUPPORT.get(n, "")
        t.add_row(n, str(s.n_var), f"{s.size:,}", SPACES.help(n), escape(works))
    console.print(t)


#: What each space supports (``moohw spaces``).
SPACE_SUPPORT = {
    "nb201": "search (optimize, compare), proxies, predictors, monotonicity, live latency",
    "fbnet": "predictors, monotonicity, tabular latency (help:, --data), surrogate build; "
    "NOT search (no accuracy proxy for FBNet yet)",
}


data_app = sub_app("The benchmark data folder: what is there, verified, and what it enables.")


@data_app.command("check")
@friendly
def data_check(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Data folder (default: $MOOHW_DATA, then ../shared/data)."),
    ] = None,
) -> None:
    """Verify every file of the data folder against MANIFEST.tsv and say what each enables.

    Exits 0 when every data table verifies (a documentation file that differs is a warning),
    1 when a table is missing or corrupt.
    """
    from moohw.datacheck import check_data

    root, rows = check_data(directory)
    t = Table(title=f"benchmark data in {root}")
    for c in ("file", "status", "enables", "source (licence)", "detail"):
        t.add_column(c)
    style = {"verified": "green", "warning": "yellow", "unlisted": "yellow"}
    for r in rows:
        st = f"[{style.get(r.status, 'red')}]{r.status}[/]"
        t.add_row(escape(r.path), st, escape(r.enables), escape(r.source), escape(r.detail))
    console.print(t)
    bad = [r.path for r in rows if r.status in ("missing", "corrupt")]
    counts = {
        s: sum(r.status == s for r in rows) for s in ("verified", "warning", "missing", "corrupt")
    }
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()), highlight=False)
    if bad:
        raise typer.Exit(1)


app.add_typer(data_app, name="data")
app.command("measure")(measure_cmd)
app.add_typer(store_app, name="store")
app.add_typer(pretrain_app, name="pretrain")
app.add_typer(predictor_app, name="predictor")
app.add_typer(surrogate_app, name="surrogate")
app.add_typer(proxies_app, name="proxies")
register(app)  # export, report


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")
    ] = False,
) -> None:
    """moohw: hardware-aware NAS as multi-objective optimisation."""
    DEBUG["on"] = debug


def main() -> None:
    """Console-script entry point."""
    app()
