"""``moohw optimize``: search one device on a budget.

Also the checks that ``moohw compare`` shares: names, ``--accuracy``, ``-o KEY=VALUE``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from moohw.cli.common import (
    AccOpt,
    DataOpt,
    ProxyOpt,
    SpaceOpt,
    check_budget,
    check_out_dir,
    friendly,
    n_candidates,
    progress,
)
from moohw.cli.deliver import print_outcome
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from moohw.accuracy import DEFAULT_ACCURACY
from moohw.data import try_open_data
from moohw.errors import InputError
from moohw.proxies import DEFAULT_PROXY

console = Console()

DEFAULT_DEVICE = "local:cpu"
DEFAULT_ALGO = "controller"


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


def check_names(algos: list[str], space: str, proxy: str) -> None:
    """Fail fast, before any work, on an unknown algorithm, space, proxy or a no-search space."""
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


def check_accuracy(accuracy: str, bench: Any) -> None:
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
    check_names([algo], space, proxy)
    check_max_latency(max_latency)
    if store is not None:
        os.environ["MOOHW_STORE"] = str(store)
    bench = try_open_data(data)
    check_accuracy(accuracy, bench)
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
