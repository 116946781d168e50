"""What is here: ``moohw devices``, ``algorithms``, ``spaces`` and ``data check``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from moohw.cli.common import DataOpt, SpaceOpt, friendly, sub_app
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from moohw.data import try_open_data

console = Console()


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
