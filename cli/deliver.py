"""``moohw export`` and ``moohw report``, and the answer ``moohw optimize`` ends with.

The main app registers the two commands with :func:`register`. Bad input exits with status 2 and
one line on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from moohw.cli.common import DataOpt, friendly
from rich.console import Console
from rich.table import Table

from moohw.accuracy import DEFAULT_ACCURACY
from moohw.recommend import PICKS, parse_pick, pick, quality_column, recommend, short_arch

if TYPE_CHECKING:  # the figure code (matplotlib) loads only when a command needs it
    from moohw.rundir import RunView

console = Console()

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Measurement store file (default: $MOOHW_STORE or user cache)."),
]
RunDirArg = Annotated[Path, typer.Argument(help="A `moohw optimize --out` folder.")]
AccOpt = Annotated[
    str, typer.Option("--accuracy", help="Benchmark accuracy column (shown, never searched).")
]


def _use_store(store: Path | None) -> None:
    if store is not None:
        import os

        os.environ["MOOHW_STORE"] = str(store)


def _view(run_dir: Path, data: Path | None, accuracy: str) -> RunView:
    from moohw.data import try_open_data
    from moohw.rundir import describe_run

    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    return describe_run(run_dir, try_open_data(data), accuracy)


def front_table(view: RunView) -> Table:
    """A compact rich table of the declared front with picks and degenerate cells flagged."""
    from moohw.report import fmt_latency, standard_picks

    proxy = view.record.get("proxy", "proxy")
    labels = {str(p.row["arch_str"]): ", ".join(p.labels) for p in standard_picks(view)}
    acc = view.accuracy_column is not None
    t = Table(title=f"declared front, fastest first ({view.run_dir / 'front.csv'})")
    t.add_column("#", justify="right")
    t.add_column("latency ms", justify="right")
    t.add_column(f"proxy {proxy}", justify="right")
    if acc:
        t.add_column("acc %", justify="right")
        t.add_column("NB201 idx", justify="right")
    t.add_column("cell")
    t.add_column("note")
    space = str(view.record.get("space", "nb201"))
    from moohw.spaces import get_space

    sp = get_space(space)
    for i, (_, r) in enumerate(view.front.iterrows()):
        cell = short_arch(sp.from_str([r["arch_str"]])[0]) if space == "nb201" else ""
        note = labels.get(str(r["arch_str"]), "")
        if bool(r["degenerate"]):
            note = "[red]degenerate: " + str(r["cell"]) + "[/red]" + (f"; {note}" if note else "")
        row = [str(i + 1), fmt_latency(r).removesuffix(" ms"), f"{float(r['proxy']):.4g}"]
        if acc:
            row += [f"{float(r['accuracy']):.2f}", str(r["bench_index"])]
        t.add_row(*row, cell, note)
    if space == "nb201":
        t.caption = (
            "cell: one char per edge (-: none, s: skip, 1/3: conv 1x1/3x3, p: avg pool), grouped "
            "by target node; degenerate = no convolution on any input→output path"
        )
    return t


def print_outcome(view: RunView, out: Console | None = None) -> None:
    from moohw.rundir import export_format

    """The front table, the recommended network and the next command (end of ``optimize``)."""
    from moohw.report import fmt_latency

    c = out or console
    if not len(view.front):
        cap = view.max_latency_ms
        c.print(
            "[yellow]no network was declared"
            + (f" under --max-latency {cap:g} ms" if cap is not None else "")
            + "[/yellow]: nothing to recommend (raise the budget or the cap)."
        )
        return
    c.print(front_table(view))
    rule, best = recommend(view.front, view.max_latency_ms)
    proxy = view.record.get("proxy", "proxy")
    # Plain lines, soft-wrapped: an architecture string must never be cut by a narrow terminal.
    lines = [
        f"[bold]recommended network ({rule.label}):[/bold]",
        f"  {best['arch_str']}",
        f"  measured latency {fmt_latency(best)} on {view.record.get('device')}",
        f"  proxy score ({proxy}, higher is better) {float(best['proxy']):.4g}",
    ]
    ranked = "benchmark accuracy" if quality_column(view.front) == "accuracy" else "proxy score"
    lines.insert(
        1,
        "  (the knee of the front: the best trade-off, degenerate cells skipped)"
        if rule.kind == "knee"
        else f"  (the best {ranked} on the front {rule.label}, degenerate cells skipped)",
    )
    if view.accuracy_column is not None and not pd.isna(best["accuracy"]):
        lines.append(
            f"  benchmark accuracy {float(best['accuracy']):.2f}% ({view.accuracy_column}, "
            f"NB201 index {best['bench_index']}; an oracle the search never saw)"
        )
    if bool(best["degenerate"]):
        lines.append(f"  [red]warning: degenerate cell ({best['cell']}): no other candidate[/red]")
    p = "knee" if view.max_latency_ms is None else f"under:{view.max_latency_ms:g}"
    fmt = export_format(view.device.get("name"))
    lines += [
        "[bold]next:[/bold]",
        f"  moohw export {view.run_dir} --pick {p} --format {fmt} --out {view.run_dir / 'export'}",
        f"  moohw report {view.run_dir}",
    ]
    for line in lines:
        c.print(line, soft_wrap=True, highlight=False)


def export_cmd(
    run_dir: RunDirArg,
    pick_: Annotated[
        str,
        typer.Option("--pick", help=f"Which networks: {', '.join(PICKS)}."),
    ] = "knee",
    fmt: Annotated[str, typer.Option("--format", help="onnx or torchscript.")] = "torchscript",
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder (default RUN_DIR/export).")
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Re-measure each file on the run's device and compare with the stored latency.",
        ),
    ] = True,
    data: DataOpt = None,
    accuracy: AccOpt = DEFAULT_ACCURACY,
    store: StoreOpt = None,
) -> None:
    """Export the picked networks as files (ONNX or TorchScript), each with a JSON card.

    The card holds the architecture, proxy score, measured latency with its spread, the device
    fingerprint and how to rebuild the network in Python. Weights are untrained (seed 0).
    """
    from moohw.export_run import check_format, export_picks
    from moohw.report import fmt_latency

    check_format(fmt)
    rule = parse_pick(pick_)
    _use_store(store)
    view = _view(run_dir, data, accuracy)
    rows = pick(view.front, rule)
    out = out if out is not None else run_dir / "export"
    cards = export_picks(view, rows, rule, fmt, out, check=check)
    t = Table(title=f"exported {len(cards)} network(s) ({rule.label}, {fmt}) → {out}")
    cols = ("file", "stored latency", "timed again", "agrees", "file's runtime", "max |Δ out|")
    for col in cols:
        t.add_column(col)
    for c in cards:
        chk = c["check"]
        lat = chk.get("latency")
        file_rt = "-"
        if isinstance(lat, dict):
            rem = f"{lat['latency_ms']:.4g} ± {lat['spread_ms']:.2g} ms"
            agree = "[green]yes[/green]" if lat["agrees"] else "[red]no[/red]"
            agree += f" ({lat['note']})"
            f = lat.get("file")
            if isinstance(f, dict):
                file_rt = f"{f['runtime']} {f['latency_ms']:.4g} ms ({f['vs_stored']})"
        else:
            rem, agree = "-", str(lat)
        t.add_row(
            c["file"],
            fmt_latency(pd.Series(c["latency"])),
            rem,
            agree,
            file_rt,
            f"{chk['max_abs_diff']:.2g}",
        )
    console.print(t)
    console.print(f"cards: {out}/*.json (architecture, latency, device, how to rebuild)")


def report_cmd(
    run_dir: RunDirArg,
    data: DataOpt = None,
    accuracy: AccOpt = DEFAULT_ACCURACY,
    store: StoreOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder (default RUN_DIR).")] = None,
) -> None:
    """Write report.png (measured networks, declared front, picks) and report.md (read first)."""
    from moohw.report import write_report

    _use_store(store)
    view = _view(run_dir, data, accuracy)
    png, md = write_report(view, out)
    console.print(f"wrote {md} and {png}")


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``report`` to the main app."""
    app.command("export")(friendly(export_cmd))
    app.command("report")(friendly(report_cmd))
