"""Describe the measured validation tables in ``benchmarks/devices/`` (no tuning, only reporting).

For every table: cells, median latency, rounds the drift-robust batches took, median spread; the
Spearman correlation between every pair of tables on their shared cells; and, with benchmark data,
the best Spearman of each table with any ND *train* (knowledge) device on the shared cells: how
far these devices lie from what moohw's priors are fitted on (the knowledge devices are only read,
nothing is fitted).

Usage::

    python benchmarks/devices_summary.py [--dir benchmarks/devices] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from moohw.data import try_open_data
from moohw.devices import get_device
from moohw.knowledge import default_knowledge
from moohw.spaces import get_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path(__file__).parent / "devices")
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    tables = {
        p.name.removesuffix(".csv.gz"): pd.read_csv(p).set_index("arch_str")
        for p in sorted(args.dir.glob("*.csv.gz"))
    }
    if not tables:
        raise SystemExit(f"no *.csv.gz tables in {args.dir}")
    print("| table | cells | median latency ms | rounds (min/median/max) | median spread % |")
    print("|---|---|---|---|---|")
    for name, t in tables.items():
        r = t["n_attempts"]
        spread = 100 * (t["spread_ms"] / t["latency_ms"]).median()
        print(
            f"| `{name}` | {len(t)} | {t['latency_ms'].median():.2f} | "
            f"{r.min()}/{int(r.median())}/{r.max()} | {spread:.1f} |"
        )
    names = list(tables)
    print("\nSpearman between tables on shared cells (cells in brackets):\n")
    print("| | " + " | ".join(f"`{n}`" for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for a in names:
        cells = []
        for b in names:
            common = tables[a].index.intersection(tables[b].index)
            rho = spearmanr(
                tables[a].loc[common, "latency_ms"], tables[b].loc[common, "latency_ms"]
            ).statistic
            cells.append(f"{rho:.3f} ({len(common)})")
        print(f"| `{a}` | " + " | ".join(cells) + " |")
    data = try_open_data(args.data)
    if data is None:
        print("\n(no benchmark data: knowledge-device correlations skipped)")
        return
    sp = get_space("nb201")
    knowledge = default_knowledge("nb201", data, target="none")
    print(f"\nBest Spearman with any of the {len(knowledge)} ND train (knowledge) devices:\n")
    print("| table | best knowledge device | ρ | median ρ over knowledge devices |")
    print("|---|---|---|---|")
    devs = {k: get_device(k, sp, data) for k in knowledge}
    for name, t in tables.items():
        X = sp.from_str(list(t.index))
        rhos = {}
        for k, d in devs.items():
            lat = d.latency_ms(X)
            ok = np.isfinite(lat)
            rhos[k] = spearmanr(lat[ok], t["latency_ms"].to_numpy()[ok]).statistic
        best = max(rhos, key=lambda k: rhos[k])
        med = float(np.median(list(rhos.values())))
        print(f"| `{name}` | {best} | {rhos[best]:.3f} | {med:.3f} |")


if __name__ == "__main__":
    main()
