"""Run a grid of (algorithm, device, budget, seed) searches, resumably, on a process pool."""

from __future__ import annotations

import json
import multiprocessing as mp
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from moohw.algorithms.api import _cached_accuracy, _cached_device, search

from moohw.accuracy import DEFAULT_ACCURACY
from moohw.data import BenchmarkData
from moohw.metrics import mean_ci, non_dominated
from moohw.runs import safe_name, write_run

RESULT_COLUMNS = [
    "algo",
    "device",
    "budget",
    "seed",
    "hv_ratio",
    "igd_plus",
    "ceiling_hv_ratio",
    "n_target_measurements",
    "n_front",
    "cheap_queries",
    "wall_time_s",
]


@dataclass(frozen=True)
class Cell:
    """One run of the grid."""

    algo: str
    device: str
    budget: int
    seed: int

    @property
    def slug(self) -> str:
        """A file-system-safe directory name for this run."""
        return f"{self.algo}__{safe_name(self.device)}__{self.budget}__{self.seed}"


def make_cells(
    algos: Sequence[str], devices: Sequence[str], budgets: Sequence[int], seeds: Sequence[int]
) -> list[Cell]:
    """The full grid, in a stable order."""
    return [Cell(a, d, b, s) for d in devices for b in budgets for a in algos for s in seeds]


def run_cell(
    cell: Cell,
    out: str,
    space: str = "nb201",
    proxy: str = "params",
    data_root: str | None = None,
    accuracy: str | None = DEFAULT_ACCURACY,
) -> dict[str, Any]:
    """Run one cell, write its run directory and return its results row."""
    data = BenchmarkData(data_root) if data_root else None
    r = search(
        cell.algo,
        cell.device,
        cell.budget,
        cell.seed,
        space=space,
        proxy=proxy,
        data=data,
        accuracy=accuracy,
    )
    run_dir = Path(out) / "runs" / cell.slug
    write_run(r, _cached_device(cell.device, space, data).space, run_dir)
    if r.scores and data is not None and accuracy:
        acc = _cached_accuracy(space, data, accuracy)
        fr = pd.read_csv(run_dir / "front.csv")
        fr["accuracy"] = acc(r.front_X) if len(fr) else []
        fr.to_csv(run_dir / "front.csv", index=False)
    return {
        "algo": cell.algo,
        "device": cell.device,
        "budget": cell.budget,
        "seed": cell.seed,
        "hv_ratio": r.scores.get("hv_ratio", np.nan),
        "igd_plus": r.scores.get("igd_plus", np.nan),
        "ceiling_hv_ratio": r.scores.get("ceiling_hv_ratio", np.nan),
        "n_target_measurements": r.n_target_measurements,
        "n_front": len(r.front),
        "cheap_queries": int(sum(r.cheap_queries.values())),
        "wall_time_s": r.wall_time_s,
    }


def write_true_fronts(
    devices: Sequence[str],
    out: str | Path,
    space: str = "nb201",
    data: BenchmarkData | None = None,
    accuracy: str | None = DEFAULT_ACCURACY,
) -> None:
    """Write ``true_fronts/<device>.csv`` (latency_ms, accuracy) for exact devices with data."""
    if data is None or not accuracy or space != "nb201":
        return
    acc = _cached_accuracy(space, data, accuracy)
    folder = Path(out) / "true_fronts"
    folder.mkdir(parents=True, exist_ok=True)
    for name in devices:
        dev = _cached_device(name, space, data)
        if not dev.exact:
            continue
        X = dev.coverage()
        X = dev.space.enumerate() if X is None else X
        F = np.column_stack([-acc(X), dev.latency_ms(X)])
        m = non_dominated(F)
        order = np.argsort(F[m, 1])
        pd.DataFrame(
            {
                "arch_str": np.array(dev.space.to_str(X[m]))[order],
                "latency_ms": F[m, 1][order],
                "accuracy": -F[m, 0][order],
            }
        ).to_csv(folder / f"{safe_name(name)}.csv", index=False)


def run_grid(
    cells: Sequence[Cell],
    out: str | Path,
    space: str = "nb201",
    proxy: str = "params",
    data: BenchmarkData | None = None,
    accuracy: str | None = DEFAULT_ACCURACY,
    workers: int = 1,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Run every cell not already finished in ``out`` and return all rows (``results.csv``).

    A cell is finished when ``out/runs/<slug>/row.json`` exists; finished cells are never rerun.
    """
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    todo: list[Cell] = []
    for c in cells:
        f = out / "runs" / c.slug / "row.json"
        if f.is_file():
            rows.append(json.loads(f.read_text()))
            if on_done:
                on_done(rows[-1])
        else:
            todo.append(c)
    root = str(data.root) if data is not None else None

    def finish(cell: Cell, row: dict[str, Any]) -> None:
        (out / "runs" / cell.slug / "row.json").write_text(json.dumps(row, default=float))
        rows.append(row)
        if on_done:
            on_done(row)

    if workers <= 1:
        for c in todo:
            finish(c, run_cell(c, str(out), space, proxy, root, accuracy))
    else:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            futs = {
                pool.submit(run_cell, c, str(out), space, proxy, root, accuracy): c for c in todo
            }
            for fut in as_completed(futs):
                finish(futs[fut], fut.result())
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    df = df.sort_values(["device", "budget", "algo", "seed"], kind="stable").reset_index(drop=True)
    df.to_csv(out / "results.csv", index=False)
    return df


def summarize(df: pd.DataFrame, metric: str = "hv_ratio") -> pd.DataFrame:
    """Mean, median and 95% t-interval of ``metric`` per (device, budget, algo)."""
    out = []
    for (dev, bud, algo), g in df.groupby(["device", "budget", "algo"], sort=False):
        v = g[metric].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        m, lo, hi = mean_ci(v) if len(v) else (np.nan, np.nan, np.nan)
        out.append(
            {
                "device": dev,
                "budget": bud,
                "algo": algo,
                "n_seeds": len(v),
                f"{metric}_mean": m,
                f"{metric}_median": float(np.median(v)) if len(v) else np.nan,
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    return pd.DataFrame(out)
