"""``moohw plot`` and ``moohw monotonicity``: figures drawn from stored records and tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from moohw.cli.common import (
    DataOpt,
    SpaceOpt,
    check_budget,
    check_out_dir,
    friendly,
    split_list,
    unique,
)
from rich.console import Console
from rich.table import Table

from moohw.data import try_open_data
from moohw.errors import InputError

console = Console()


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
        names = unique(split_list(devices), "--devices")
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
