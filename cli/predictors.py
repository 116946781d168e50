"""``moohw predictor ...`` and ``moohw surrogate ...``: the latency-predictor task suite and the
surrogate-building workflow (typer sub-apps, wired into the main command).

Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from moohw.cli.common import DataOpt, check_out_dir, progress, sub_app, unique, user_errors
from rich.console import Console
from rich.table import Table

from moohw.errors import InputError, UnknownNameError

predictor_app = sub_app("Latency predictors: list them, run the NASFLAT task suite.")
surrogate_app = sub_app("Build a latency surrogate for a device (ESM workflow).")


@surrogate_app.callback()
def _surrogate() -> None:
    """Build a latency surrogate for a device (ESM workflow)."""


_console = Console()


def _ints(value: str, what: str) -> list[int]:
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{what} must be comma-separated integers, got {value!r}") from None
    if not out or min(out) < 1:
        raise InputError(f"{what} must be positive integers, got {value!r}")
    return out


@predictor_app.command("list")
def list_predictors() -> None:
    """List every registered latency predictor and sampler."""
    from moohw.predictors import PREDICTORS
    from moohw.predictors.samplers import SAMPLERS

    table = Table(title="latency predictors")
    table.add_column("name", style="bold")
    table.add_column("description")
    for name in PREDICTORS.names():
        table.add_row(name, PREDICTORS.help(name))
    _console.print(table)
    _console.print("samplers: " + ", ".join(sorted(SAMPLERS)))


@predictor_app.command("eval")
def eval_task(
    task: Annotated[str, typer.Option("--task", help="Task name: ND, FD, F1..F4, FA.")] = "ND",
    samples: Annotated[
        str, typer.Option("--samples", help="Target samples k, comma-separated (e.g. 5,10,20).")
    ] = "20",
    methods: Annotated[
        str, typer.Option("--methods", help="Comma-separated predictors (`predictor list`).")
    ] = "opcount,bayes-linear,auto",
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds 0..N-1.")] = 3,
    sampler: Annotated[str, typer.Option("--sampler", help="random, kmeans or balanced.")] = (
        "random"
    ),
    devices: Annotated[
        str | None, typer.Option("--devices", help="Subset of the task's test devices.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for results.csv and summary.csv.")
    ] = None,
    data: DataOpt = None,
) -> None:
    """Run predictors on a task of the suite; print mean scores next to the published ones."""
    import pandas as pd

    from moohw.data import open_data
    from moohw.predictors import PREDICTORS
    from moohw.predictors.samplers import SAMPLERS
    from moohw.predictors.tasks import (
        COLUMNS,
        evaluate_task,
        get_task,
        load_anchors,
        load_tables,
        summarise,
    )

    with user_errors():
        ks = unique(_ints(samples, "--samples"), "--samples")
        check_out_dir(out)
        if seeds < 1:
            raise InputError(f"--seeds must be >= 1, got {seeds}")
        names = unique([m.strip() for m in methods.split(",") if m.strip()], "--methods")
        if not names:
            raise InputError("--methods is empty")
        for m in names:
            PREDICTORS.get(m)
        if sampler not in SAMPLERS:
            raise UnknownNameError(
                f"unknown sampler {sampler!r}; known: {', '.join(sorted(SAMPLERS))}"
            )
        bench = open_data(data)
        t = get_task(bench, task)
        devs = (
            unique([d.strip() for d in devices.split(",") if d.strip()], "--devices")
            if devices
            else list(t.test)
        )
        bad = [d for d in devs if d not in t.test]
        if bad:
            raise UnknownNameError(
                f"{bad} are not test devices of {task}; known: {', '.join(t.test)}"
            )
        tables = load_tables(t, bench)
        n_arch = len(tables.X)
        if max(ks) >= n_arch:
            raise InputError(
                f"--samples {max(ks)} is not below the {n_arch:,} architectures of task {task} "
                f"(some must be held out): use at most {n_arch - 1}"
            )
    total = len(devs) * len(ks) * seeds * len(names)
    with progress() as prog:
        bar = prog.add_task(f"{task}", total=total)

        def tick(row: dict[str, Any]) -> None:
            prog.update(bar, advance=1, description=f"{task} {row['device']} {row['method']}")

        rows = evaluate_task(t, tables, names, ks, range(seeds), sampler, devs, tick)
    summary = summarise(rows)
    anchors = load_anchors(bench)
    table = Table(title=f"{task}: mean over {seeds} seed(s) and {len(devs)} device(s)")
    for c in ("method", "k", "spearman_all", "spearman_heldout", "kendall", "mape %", "top10"):
        table.add_column(c)
    for _, r in summary.iterrows():
        table.add_row(
            str(r["method"]),
            str(r["k"]),
            f"{r['spearman_all']:.3f}",
            f"{r['spearman_heldout']:.3f}",
            f"{r['kendall']:.3f}",
            f"{r['mape']:.1f}",
            f"{r['precision_top10']:.2f}",
        )
    if task in anchors.columns:
        for _, a in anchors.iterrows():
            table.add_row(f"{a['method']} (published)", str(a["target_samples"]), f"{a[task]:.3f}")
    _console.print(table)
    if out is not None:
        from moohw.atomic import write_csv

        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "results.csv", pd.DataFrame(rows, columns=list(COLUMNS)))
        write_csv(out / "summary.csv", summary)
        _console.print(f"wrote {out / 'results.csv'} and {out / 'summary.csv'}")


@surrogate_app.command("build")
def build(
    device: Annotated[str, typer.Option("--device", help="Device name, e.g. help:pixel2.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    space: Annotated[str, typer.Option("--space", help="nb201 or fbnet.")] = "nb201",
    target_srcc: Annotated[
        float, typer.Option("--target-srcc", help="Stop at this validation Spearman.")
    ] = 0.95,
    start: Annotated[int, typer.Option("--start", help="First-round samples.")] = 10,
    step: Annotated[int, typer.Option("--step", help="Samples added per round.")] = 10,
    max_samples: Annotated[
        int, typer.Option("--max-samples", help="Most training samples.")
    ] = 200,
    n_val: Annotated[int, typer.Option("--n-val", help="Validation architectures.")] = 100,
    sampler: Annotated[str, typer.Option("--sampler", help="random, kmeans, balanced.")] = (
        "balanced"
    ),
    model: Annotated[str, typer.Option("--model", help="Predictor name.")] = "auto",
    knowledge: Annotated[
        str | None,
        typer.Option("--knowledge", help="Comma-separated knowledge devices (e.g. help:pixel3)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    data: DataOpt = None,
) -> None:
    """Measure, fit and grow the dataset until the surrogate is good enough; write the curve."""
    from moohw.data import try_open_data
    from moohw.devices import get_device
    from moohw.predictors.base import DeviceData
    from moohw.predictors.surrogate import (
        build_surrogate,
        plot_curve,
        plot_scatter,
        write_result,
    )
    from moohw.spaces import get_space

    with user_errors():
        check_out_dir(out)
        if not 0 < target_srcc <= 1:
            raise InputError(f"--target-srcc must be in (0, 1], got {target_srcc}")
        for flag, v in (("--start", start), ("--step", step), ("--max-samples", max_samples)):
            if v < 1:
                raise InputError(f"{flag} must be >= 1, got {v}")
        if n_val < 2:
            raise InputError(f"--n-val must be >= 2 (a Spearman needs two points), got {n_val}")
        if seed < 0:
            raise InputError(f"--seed must be >= 0, got {seed}")
        sp = get_space(space)
        bench = try_open_data(data)
        dev = get_device(device, sp, bench)
        kn: dict[str, DeviceData] = {}
        for name in knowledge.split(",") if knowledge else []:
            kd = get_device(name.strip(), sp, bench)
            cov = kd.coverage()
            X = sp.enumerate() if cov is None else cov
            kn[name.strip()] = DeviceData(X, kd.latency_ms(X))
        with _console.status(f"building a surrogate for {device}"):
            res = build_surrogate(
                dev,
                target_srcc=target_srcc,
                start=start,
                step=step,
                max_samples=max_samples,
                n_val=n_val,
                sampler=sampler,
                model=model,
                knowledge=kn,
                seed=seed,
            )
    cov = dev.coverage()
    cand = cov if cov is not None else (sp.enumerate() if sp.enumerable else None)
    paths = write_result(res, out, cand)
    plot_curve(res, out / "curve.png", target_srcc)
    plot_scatter(res, out / "scatter.png")
    last = res.curve[-1]
    summary: dict[str, Any] = {
        "device": device,
        "stop_reason": res.stop_reason,
        "n_train": last.n_train,
        "n_measured": last.n_measured,
        "val_mape": last.val_mape,
        "val_spearman": last.val_spearman,
        "space_spearman": last.space_spearman,
        "model": last.model,
        "device_s": last.device_s,
        "nominal_cost_s": res.nominal_cost_s,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    _console.print(_curve_table(res.curve_frame().to_dict("records"), device))  # type: ignore[arg-type]
    _console.print(
        f"{res.stop_reason}: {last.n_train} training + {n_val} validation samples, "
        f"{last.device_s:.1f} s device time; wrote "
        + ", ".join(
            str(p) for p in [*paths, out / "curve.png", out / "scatter.png", out / "summary.json"]
        )
        + (f"; use it as the device predicted:{out}" if cand is not None else "")
    )


def _curve_table(rows: list[dict[str, Any]], device: str) -> Table:
    table = Table(title=f"learning curve: {device}")
    fmt: dict[str, Callable[[Any], str]] = {
        "n_train": str,
        "val_mape": lambda v: f"{v:.2f}",
        "val_spearman": lambda v: f"{v:.3f}",
        "space_spearman": lambda v: f"{v:.3f}",
        "model": str,
        "device_s": lambda v: f"{v:.1f}",
    }
    for c in fmt:
        table.add_column(c)
    for r in rows:
        table.add_row(*(f(r[c]) for c, f in fmt.items()))
    return table
