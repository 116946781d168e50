"""``moohw proxies ...``: list the accuracy proxies and compute their NB201 tables.

A typer sub-app, wired into the main command as ``moohw proxies``. Bad input exits with status 2
and one line on stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from moohw.cli.common import LogProgress, fail, sub_app
from moohw.cli.common import progress as progress_bar
from rich.console import Console
from rich.progress import (
    Progress,
    TaskID,
)
from rich.table import Table


@contextmanager
def proxy_progress(prog: Progress | LogProgress) -> Iterator[None]:
    """Within the block, a proxy computed for many cells gets a bar in ``prog``.

    Only on a terminal: elsewhere (logs, pipes) :mod:`moohw.proxies.cache` writes a line every
    few seconds instead.
    """
    from moohw.proxies.cache import reporting

    if isinstance(prog, LogProgress) or not prog.console.is_terminal:
        yield
        return
    tasks: dict[str, TaskID] = {}

    def report(description: str, done: int, total: int) -> None:
        if description not in tasks:
            label = f"{description}: scoring every cell once (then cached)"
            tasks[description] = prog.add_task(label, total=total)
        prog.update(tasks[description], completed=done, total=total)

    with reporting(report):
        yield


proxies_app = sub_app("Training-free accuracy proxies: list them, compute their NB201 tables.")
_console = Console()


@proxies_app.command("list")
def list_proxies() -> None:
    """List every registered proxy with a one-line description and its shipped tables."""
    from moohw.proxies import DATASETS, PROXIES, table_backed

    table = Table(title="accuracy proxies (higher is better)")
    table.add_column("name", style="bold")
    table.add_column("description")
    table.add_column("shipped nb201 tables")
    for name in PROXIES.names():
        if name in ("params", "flops", "skip"):
            where = "(analytic, no table needed)"
        else:
            shipped = [d for d in DATASETS if table_backed(name, d)]
            where = ", ".join(shipped) or "-"
        table.add_row(name, PROXIES.help(name), where)
    _console.print(table)


@proxies_app.command("compute")
def compute(
    proxies: Annotated[
        str,
        typer.Option("--proxies", help="Comma-separated torch proxies, e.g. naswot,logsynflow."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output .npz (provenance goes to .json).")],
    space: Annotated[str, typer.Option("--space", help="Search space (only nb201).")] = "nb201",
    dataset: Annotated[
        str, typer.Option("--dataset", help="cifar10, cifar100 or imagenet16.")
    ] = "cifar10",
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Processes, one torch thread each (0: in-process; default "
            "$MOOHW_PROXY_WORKERS or the CPU count, at most 8).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Weight-init and batch seed.")] = 0,
    resume: Annotated[
        bool, typer.Option("--resume/--no-resume", help="Continue from <out>.partial.npz.")
    ] = True,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Only the first N cells (a smoke run; writes the partial)."),
    ] = None,
) -> None:
    """Compute proxy scores for every NB201 cell (resumable, process pool, progress bar)."""
    import numpy as np

    from moohw.proxies import DATASETS
    from moohw.proxies.compute import compute_table
    from moohw.proxies.kernels import KERNELS

    if space != "nb201":
        raise fail(f"proxy tables exist for the nb201 space only, not {space!r}")
    if dataset not in DATASETS:
        raise fail(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    names = [n.strip() for n in proxies.split(",") if n.strip()]
    bad = [n for n in names if n not in KERNELS]
    if not names or bad:
        raise fail(
            f"unknown or non-torch proxies {bad or proxies!r}; "
            f"computable: {', '.join(sorted(KERNELS))}"
        )
    if workers is None:
        from moohw.proxies.compute import default_workers

        workers = default_workers()
    if workers < 0 or seed < 0 or (limit is not None and limit <= 0):
        raise fail("--workers and --seed must be >= 0 and --limit > 0")
    positions = None if limit is None else np.arange(min(limit, 15625))
    if out.is_dir():
        raise fail(f"--out {out} is a folder; pass a file path such as {out / 'table.npz'}")
    with progress_bar() as bar:  # a bar on a terminal, timed lines in a log
        task = bar.add_task(f"{dataset} {','.join(names)}: cells", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        compute_table(
            names, dataset, out, workers, progress, resume=resume, seed=seed, positions=positions
        )
    where = out.with_name(out.stem + ".partial.npz") if limit is not None else out
    _console.print(f"wrote {where}")
