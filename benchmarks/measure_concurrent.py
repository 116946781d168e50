"""Several ``moohw measure`` processes on overlapping samples, sharing one store (issue 17.10).

The pool of ``--pool`` random cells is cut into ``--workers`` windows of ``--window`` cells, each
overlapping the next; every worker is a separate ``moohw measure --archs FILE --store SHARED``
process, all started together. With claims in the store, the measurements taken by all workers
together must equal the number of distinct cells.

Usage::

    python benchmarks/measure_concurrent.py --out /tmp/conc --workers 4 --pool 48 --window 24
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from moohw.measure import MeasurementStore
from moohw.spaces import NB201Space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="local:cpu")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--pool", type=int, default=48)
    ap.add_argument("--window", type=int, default=24)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sp = NB201Space()
    pool = sp.to_str(sp.sample(args.pool, args.seed))
    step = args.pool // args.workers
    store = args.out / "shared.sqlite"
    store.unlink(missing_ok=True)
    exe = shutil.which("moohw", path=str(Path(sys.executable).parent)) or "moohw"
    procs, windows = [], []
    for k in range(args.workers):
        w = [pool[(k * step + j) % args.pool] for j in range(args.window)]
        windows.append(set(w))
        f = args.out / f"archs{k}.txt"
        f.write_text("\n".join(w) + "\n")
        cmd = [exe, "measure", "--device", args.device, "--archs", str(f)]
        cmd += ["--store", str(store), "--out", str(args.out / f"w{k}.csv")]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
    t0 = time.perf_counter()
    outs = [p.communicate()[0] for p in procs]
    wall = time.perf_counter() - t0
    taken, reused = [], []
    for o in outs:
        m = re.search(r"\((\d+) taken, (\d+) reused", " ".join(o.split()))
        assert m, o
        taken.append(int(m.group(1)))
        reused.append(int(m.group(2)))
    distinct = len(set().union(*windows))
    st = MeasurementStore(store)
    res = {
        "workers": args.workers,
        "cells_requested": args.workers * args.window,
        "distinct_cells": distinct,
        "taken_per_worker": taken,
        "reused_per_worker": reused,
        "taken_total": sum(taken),
        "rows_in_store": st.count(),
        "claims_left": len(st.claims()),
        "wall_s": round(wall, 1),
        "exit_codes": [p.returncode for p in procs],
    }
    (args.out / "concurrent.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
