"""``moohw measure`` and ``moohw store``: live latency measurement from the command line.

The main app registers them with ``app.command("measure")(measure_cmd)`` and
``app.add_typer(store_app, name="store")``. Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from moohw.cli.common import (
    LogProgress,
    check_out_file,
    friendly,
    progress_every,
    sub_app,
)
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from moohw.errors import InputError

console = Console()
err = Console(stderr=True)

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Measurement store file (default: $MOOHW_STORE or user cache)."),
]


def read_archs(path: Path, space: Any) -> np.ndarray:
    """Architectures ``(n, n_var)`` from a CSV with an ``arch_str`` column or one string a line.

    Raises:
        FileNotFoundError: missing file.
        ValueError: an architecture outside the space (the message quotes it).
    """
    if not path.is_file():
        raise FileNotFoundError(f"architecture file {path} does not exist")
    text = path.read_text(encoding="utf-8", errors="replace")
    first = text.lstrip().split("\n", 1)[0]
    if "arch_str" in first:
        strs = pd.read_csv(path)["arch_str"].astype(str).tolist()
    else:
        strs = [s.strip() for s in text.splitlines() if s.strip() and not s.startswith("#")]
    if not strs:
        raise InputError(f"architecture file {path} lists no architectures")
    return space.from_str(strs)


def device_name_for_backend(name: str, backend: str) -> str:
    """``pixel3`` -> ``ray:pixel3`` under ``--backend ray``; other names unchanged.

    Raises:
        ValueError: an unknown backend, or a ``local:`` device under ``--backend ray``.
    """
    if backend not in ("local", "ray"):
        raise InputError(f"--backend must be local or ray, got {backend!r}")
    if backend == "ray":
        if ":" not in name:
            return f"ray:{name}"
        if name.startswith("local:"):
            raise InputError(f"--backend ray measures ray:NAME devices, not {name}")
    return name


def build_live_device(name: str, space: Any, store: Any, backend: str = "local") -> Any:
    """A live device from its name with an explicit store (``local:...`` or ``ray:...``).

    With ``backend="ray"`` a bare resource name ``pixel3`` means ``ray:pixel3``.

    Raises:
        ValueError: a non-live device name, or a name that does not fit the backend.
    """
    kind, _, arg = device_name_for_backend(name, backend).partition(":")
    if kind == "local":
        from moohw.devices.local import local_device

        return local_device(arg, space, store)
    if kind == "ray":
        if backend == "local":
            raise InputError(f"{name} is a Ray fleet device; add --backend ray")
        from moohw.devices.ray_fleet import ray_device

        return ray_device(arg, space, store)
    raise InputError(
        "moohw measure needs a live device (local:cpu, local:cuda, local:torchscript, "
        f"local:onnxruntime, local:openvino, ray:NAME), got {name!r}"
    )


@friendly
def measure_cmd(
    device: Annotated[
        list[str],
        typer.Option(
            "--device",
            "-d",
            help="Live device: local:cpu, local:cuda[?batch=1&threads=1&dtype=float32], "
            "local:torchscript, local:onnxruntime[?opt=basic], local:openvino, "
            "ray:NAME. Repeat for several (measured in parallel with --backend ray).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="CSV of the measurements.")],
    archs: Annotated[
        Path | None,
        typer.Option("--archs", help="File of architectures: CSV with arch_str, or one a line."),
    ] = None,
    sample: Annotated[
        int | None, typer.Option("--sample", help="Measure N random architectures.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --sample.")] = 0,
    space: Annotated[str, typer.Option("--space", help="Search space.")] = "nb201",
    store: StoreOpt = None,
    backend: Annotated[str, typer.Option("--backend", help="local or ray.")] = "local",
) -> None:
    """Measure architectures on live devices; stored ones are read, not re-measured."""
    from moohw.measure.store import MeasurementStore
    from moohw.spaces import get_space

    if (archs is None) == (sample is None):
        raise InputError("give exactly one of --archs FILE or --sample N")
    if sample is not None and sample < 1:
        raise InputError(f"--sample must be >= 1, got {sample}")
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    check_out_file(out)  # before any measurement: a bad --out must not lose the work
    sp = get_space(space)
    X = read_archs(archs, sp) if archs is not None else sp.sample(int(sample or 0), seed)
    st = MeasurementStore(store)
    st.count()  # fail now, with one line, if the store is unusable
    devices = [build_live_device(d, sp, st, backend) for d in device]
    for dev in devices:
        _ = dev.fingerprint  # reach every device (Ray: place its actor) before the progress bar
    strs = sp.to_str(X)
    frames: list[pd.DataFrame] = []
    lock = threading.Lock()
    t0 = time.perf_counter()
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    bar = (
        Progress(*columns, console=err, transient=False)
        if err.is_terminal
        else LogProgress(progress_every())  # stderr is a log: timed lines instead of a bar
    )
    with bar as progress:

        def run(dev: Any) -> None:
            task = progress.add_task(dev.name, total=len(X))
            from_store = np.zeros(len(X), dtype=bool)

            def done(i: int, s: str, m: Any, reused: bool) -> None:
                from_store[i] = reused
                progress.advance(task)

            def on_round(r: int, rho: float) -> None:  # a drift-robust batch is under way
                est = f", expected retest rho {rho:.3f}" if np.isfinite(rho) else ""
                progress.update(task, description=f"{dev.name} [batch round {r}{est}]")

            if hasattr(dev, "on_round"):
                dev.on_round = on_round
            ms = dev.measurements(X, done)
            if hasattr(dev, "on_round"):
                dev.on_round = None
                progress.update(task, description=dev.name)
            df = pd.DataFrame([m.to_dict() for m in ms])
            df.insert(0, "arch_str", strs)
            df["from_store"] = from_store
            df["device"] = dev.name
            df["fingerprint"] = dev.fingerprint
            with lock:
                frames.append(df)

        if backend == "ray" and len(devices) > 1:
            with ThreadPoolExecutor(len(devices)) as pool:
                list(pool.map(run, devices))  # re-raises the first failure
        else:
            for dev in devices:
                run(dev)
    result = pd.concat(frames, ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(out, index=False)
    taken = sum(d.n_taken for d in devices)
    reused = sum(d.n_reused for d in devices)
    console.print(
        f"{len(result)} measurements ({taken} taken, {reused} reused from {st.path}) "
        f"in {time.perf_counter() - t0:.1f} s -> {out}",
        highlight=False,
    )


store_app = sub_app("Show and export the persistent measurement store.")


@store_app.command("ls")
@friendly
def store_ls(store: StoreOpt = None) -> None:
    """List stored measurements per device fingerprint and space."""
    from moohw.measure.store import MeasurementStore

    st = MeasurementStore(store)
    if not st.path.exists():
        console.print(f"no measurement store at {st.path} yet")
        return
    rows = st.summary()
    table = Table(title=f"measurement store {st.path}")
    for col in ("fingerprint", "device", "space", "count", "last measured (UTC)"):
        table.add_column(col, justify="right" if col == "count" else "left")
    for r in rows:
        table.add_row(r.fingerprint, r.device, r.space, str(r.count), r.last_measured_at)
    console.print(table)
    if not rows:
        console.print("(empty)")


@store_app.command("export")
@friendly
def store_export(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write (.csv.gz compresses it).")],
    fingerprint: Annotated[
        str | None, typer.Option("--fingerprint", help="Device fingerprint (see `store ls`).")
    ] = None,
    space: Annotated[str | None, typer.Option("--space", help="Search space.")] = None,
    meta: Annotated[
        bool,
        typer.Option(
            "--meta/--no-meta",
            help="Also write NAME.meta.json (hardware, protocol, pinned reference) for "
            "`moohw store import`.",
        ),
    ] = True,
    store: StoreOpt = None,
) -> None:
    """Export one device's measurements as CSV (usable as csv:PATH:latency_ms)."""
    from moohw.measure.store import MeasurementStore, StoreError
    from moohw.measure.tables import export_table

    st = MeasurementStore(store)
    if not st.path.exists():
        raise StoreError(f"no measurement store at {st.path}")
    path, card = export_table(st, out, fingerprint, space, meta=meta)
    n = len(pd.read_csv(path, usecols=["arch_str"]))
    extra = f" + {card}" if card is not None else ""
    console.print(f"{n} measurements -> {path}{extra} (use as device csv:{path}:latency_ms)")


@store_app.command("import")
@friendly
def store_import(
    table: Annotated[Path, typer.Argument(help="CSV written by `moohw store export`.")],
    meta: Annotated[
        Path | None,
        typer.Option("--meta", help="Its card (default: NAME.meta.json beside it, if present)."),
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Import an exported table into the store (resume a measurement campaign elsewhere)."""
    from moohw.measure.store import MeasurementStore
    from moohw.measure.tables import import_table

    st = MeasurementStore(store)
    rep = import_table(st, table, meta)
    console.print(
        f"{rep.rows} rows from {table}: {rep.inserted} new, {rep.kept} already stored; "
        f"{rep.fingerprints} fingerprint(s) and {rep.references} pinned reference(s) "
        f"registered -> {st.path}",
        highlight=False,
    )
    if rep.reference_conflicts:
        err.print(
            f"warning: {rep.reference_conflicts} pinned reference(s) differ from the store's; "
            "the store's are kept (its rows are on that scale)",
            highlight=False,
        )
