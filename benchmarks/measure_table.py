"""Measure whole NB201 latency tables of this machine, resumably, for validation devices.

All 15,625 cells are put in one random order (``--seed``); every device measures a prefix of
that order (``DEVICE@N``: the first N cells; no ``@``: all of them), chunk by chunk, through the
measurement store (claims, drift-robust batches, one pinned reference per device), so any
prefix measured so far is a uniform random sample and the devices share cells. After every chunk
each device's table is written to ``OUT_DIR/<slug>.csv.gz`` with its card ``<slug>.meta.json``
(``moohw store export``); at start the tables already in ``OUT_DIR`` are imported into the store
(``moohw store import``), so a campaign resumes on another day from the committed tables alone.

Runtimes that need an exported file (ONNX Runtime, OpenVINO, TorchScript) get it from a
scratch export cache: one worker process exports the *next* chunk while this process measures
the current one, and the files of a measured chunk are deleted (30 GB would remain otherwise).

Usage::

    python benchmarks/measure_table.py --device local:onnxruntime --device local:cpu@2000 \\
        --store /tmp/tables.sqlite --out-dir benchmarks/devices --minutes 120
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from moohw.devices.local import local_device
from moohw.measure.store import MeasurementStore
from moohw.measure.tables import export_table, import_table
from moohw.spaces import get_space

_FORMAT = {"onnxruntime": "onnx", "openvino": "onnx", "torchscript": "torchscript"}


def slug(device: str) -> str:
    """``local:onnxruntime?opt=basic`` -> ``local_onnxruntime_opt-basic``."""
    s = device.replace(":", "_").replace("?", "_").replace("&", "_").replace("=", "-")
    return re.sub(r"[^A-Za-z0-9_.-]", "", s)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _export_worker_init(cache: str) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ["MOOHW_EXPORT_CACHE"] = cache
    try:
        os.nice(5)  # measuring keeps priority over exporting
    except OSError:
        pass
    import torch

    torch.set_num_threads(1)


def _export_chunk(archs: list[str], formats: list[str], dataset: str) -> list[str]:
    from moohw.nets.export import cached_export

    paths = []
    for a in archs:
        for fmt in formats:
            paths.append(str(cached_export("nb201", a, fmt, batch=1, dataset=dataset)))
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", action="append", required=True, help="DEVICE or DEVICE@N")
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--out-dir", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=60.0, help="stop after this (chunk ends)")
    ap.add_argument("--chunk", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-import", action="store_true", help="do not import OUT_DIR tables")
    ap.add_argument(
        "--export-cache", type=Path, help="scratch export folder (default: a new temporary one)"
    )
    args = ap.parse_args()
    t_start = time.time()
    deadline = t_start + 60 * args.minutes
    sp = get_space("nb201")
    order = sp.sample(sp.size, args.seed)  # a random permutation of the whole space
    strs = sp.to_str(order)
    store = MeasurementStore(args.store)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    names, limits = [], []
    for d in args.device:
        name, _, n = d.partition("@")
        names.append(name)
        limits.append(int(n) if n else sp.size)
    if not args.no_import:
        for name in names:
            table = args.out_dir / f"{slug(name)}.csv.gz"
            if table.is_file():
                rep = import_table(store, table)
                print(f"imported {table}: {rep.inserted} new, {rep.kept} kept", flush=True)
    devices = [local_device(n.removeprefix("local:"), sp, store) for n in names]
    fmts = sorted({_FORMAT[d.target] for d in devices if d.target in _FORMAT})
    scratch = args.export_cache or Path(tempfile.mkdtemp(prefix="moohw-table-exports-"))
    scratch.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _stop)  # clean up the scratch folder when killed
    os.environ["MOOHW_EXPORT_CACHE"] = str(scratch)
    dataset = devices[0].dataset
    log = args.out_dir / "campaign.log.jsonl"

    def missing(chunk: slice) -> bool:
        """Whether any device still has to measure a cell of the chunk."""
        for dev, lim in zip(devices, limits, strict=True):
            part = strs[chunk.start : min(chunk.stop, lim)]
            if part and len(store.get(dev.fingerprint, sp.name, dev.protocol, part)) < len(part):
                return True
        return False

    def todo(chunk: slice) -> list[str]:
        """Arch strings of the chunk that an export-needing device still has to measure."""
        need: set[str] = set()
        for dev, lim in zip(devices, limits, strict=True):
            if dev.target not in _FORMAT:
                continue
            part = strs[chunk.start : min(chunk.stop, lim)]
            have = store.get(dev.fingerprint, sp.name, dev.protocol, part)
            need.update(s for s in part if s not in have)
        return sorted(need)

    chunks = [slice(i, i + args.chunk) for i in range(0, max(limits), args.chunk)]
    # a resumed campaign skips the chunks it already has (no worker, no log line)
    chunks = [c for c in chunks if missing(c)]
    # a fresh worker per chunk: tracing exporters keep every traced graph alive (measured: the
    # one long-lived worker grew by ~2 GB per 100 ONNX + TorchScript exports)
    pool = ProcessPoolExecutor(
        1, initializer=_export_worker_init, initargs=(str(scratch),), max_tasks_per_child=1
    )
    pending: Future[list[str]] | None = None
    last_chunk_s = 0.0
    try:
        for ci, chunk in enumerate(chunks):
            if time.time() + last_chunk_s > deadline:
                print("deadline reached", flush=True)
                break
            t0 = time.time()
            if fmts:
                if pending is None:
                    pending = pool.submit(_export_chunk, todo(chunk), fmts, dataset)
                paths = pending.result()
                nxt = chunks[ci + 1] if ci + 1 < len(chunks) else None
                pending = pool.submit(_export_chunk, todo(nxt), fmts, dataset) if nxt else None
            else:
                paths = []
            row: dict[str, object] = {
                "chunk": chunk.start // args.chunk,
                "cells": [chunk.start, chunk.stop],
            }
            for dev, lim in zip(devices, limits, strict=True):
                X = order[chunk.start : min(chunk.stop, lim)]
                if len(X) == 0:
                    continue
                before = dev.n_taken
                t1 = time.time()
                dev.measurements(X)
                row[dev.name] = {"taken": dev.n_taken - before, "s": round(time.time() - t1, 1)}
                if dev.n_taken > before:
                    export_table(
                        store,
                        args.out_dir / f"{slug(dev.name)}.csv.gz",
                        dev.fingerprint,
                        sp.name,
                        note=f"benchmarks/measure_table.py --seed {args.seed}: prefix of one "
                        "random order of the 15,625 NB201 cells, drift-robust protocol",
                    )
            for p in paths:
                Path(p).unlink(missing_ok=True)
            last_chunk_s = time.time() - t0
            row.update(
                s=round(last_chunk_s, 1),
                load1=os.getloadavg()[0],
                at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                stored={d.name: store.count(d.fingerprint) for d in devices},
            )
            with log.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(scratch, ignore_errors=True)
    total = {d.name: store.count(d.fingerprint) for d in devices}
    print(f"stored: {total} in {(time.time() - t_start) / 60:.1f} min", file=sys.stderr)


if __name__ == "__main__":
    main()
