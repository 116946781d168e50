"""Time `moohw optimize --proxy snip --budget 10` (controller) on a fresh proxy cache, twice.

Each run is a fresh process with ``MOOHW_CACHE_DIR`` pointing at one new folder, so the first run
fills the persistent cache and the second reads it. Reported per run: seconds from process start
to the first target measurement and to the end, and the cells scored per second while filling.

The controller scores every candidate with the proxy before its first measurement. With
``--cells N`` the target is a ``csv:`` table of ``synthetic:1`` restricted to ``N`` random cells
(the controller then scores only those): on a loaded 2-core machine the whole space (15,625 SNIP
evaluations) takes hours, and the whole-space time is projected from the measured rate.

    python benchmarks/proxies_cache.py --cells 300 --runs 2
    python benchmarks/proxies_cache.py --cells 0          # the whole space (synthetic:1)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from moohw.algorithms import search
marks = []
r = search("controller", sys.argv[1], 10, 0, proxy=sys.argv[2],
           progress=lambda n: marks.append((int(n), time.perf_counter() - t0)))
first = next((t for n, t in marks if n >= 1), float("nan"))
print(json.dumps({"first_measurement_s": first, "end_s": time.perf_counter() - t0,
                  "measured": r.n_target_measurements}))
"""


def device_table(cells: int, folder: Path) -> str:
    """``synthetic:1`` (cells == 0) or a csv: table of ``cells`` random cells of it."""
    if cells == 0:
        return "synthetic:1"
    import numpy as np
    import pandas as pd

    from moohw.devices import get_device
    from moohw.spaces import NB201Space

    space = NB201Space()
    X = space.enumerate()[np.random.default_rng(0).choice(space.size, cells, replace=False)]
    lat = get_device("synthetic:1", space).latency_ms(X)
    path = folder / f"synthetic1_{cells}.csv"
    pd.DataFrame({"arch_str": space.to_str(X), "latency_ms": lat}).to_csv(path, index=False)
    return f"csv:{path}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=300, help="0: the whole space")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--proxy", default="snip")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        device = device_table(args.cells, folder)
        env = dict(os.environ, MOOHW_CACHE_DIR=str(folder / "cache"))
        n = args.cells or 15625
        for run in range(1, args.runs + 1):
            t = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", CHILD, device, args.proxy],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            rec.update(run=run, cells=n, wall_s=round(time.perf_counter() - t, 1))
            rec["log_lines"] = sum("cells" in ln for ln in out.stderr.splitlines())
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
