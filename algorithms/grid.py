"""Run a grid of (algorithm, device, budget, seed) searches, resumably, on a process pool or Ray.

Every registered algorithm runs on the same problems (one proxy for all), the same budgets and
the same seeds. A budget-agnostic algorithm (:mod:`moohw.algorithms.anytime`) runs once per
(device, seed) at the largest budget and its prefixes give the smaller budgets' rows; the others
run every budget separately. ``results.csv`` has one row per (algo, device, budget, seed) either
way; ``scored_from_budget`` says which run a row was scored from.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from moohw.algorithms.anytime import is_budget_agnostic, prefix_runs
from moohw.algorithms.api import algorithm_info, search
from moohw.problems.experiment import accuracy_by_name, is_live, write_true_fronts

from moohw.accuracy import DEFAULT_ACCURACY
from moohw.atomic import key_mismatch, read_json, run_key, write_csv, write_json
from moohw.data import BenchmarkData
from moohw.errors import InputError
from moohw.proxies import DEFAULT_PROXY
from moohw.runs import RunResult, safe_name, write_run
from moohw.spaces import get_space
from moohw.summary import BEST_COLUMNS, best_methods, summarize

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
    "cheap_cost_s",
    "wall_time_s",
    "proxy",
    "scored_from_budget",
    "scored_against",
    "cheap_by_kind",
    "seed_independent",
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


@dataclass(frozen=True)
class Unit:
    """Work for one worker: one cell, or every pending budget of a budget-agnostic
    (algo, device, seed), run once at the largest and scored on prefixes (``anytime``)."""

    cells: tuple[Cell, ...]
    anytime: bool = False
    #: The cells differ only in their seed and the algorithm is seed-independent: run the first
    #: and copy its row to the others.
    same_run: bool = False


def plan_units(
    cells: Sequence[Cell], anytime: bool = True, once_per_seed: bool = True
) -> list[Unit]:
    """Group pending cells into units.

    A seed-independent algorithm (registry metadata) runs once per (algo, device, budget) when
    ``once_per_seed``; budget-agnostic algorithms share one run per (algo, device, seed) when
    ``anytime``; every other cell is a unit of its own.
    """
    names = list(dict.fromkeys(c.algo for c in cells))
    seedless = {a: once_per_seed and algorithm_info(a).seed_independent for a in names}
    agnostic = {a: anytime and not seedless[a] and is_budget_agnostic(a) for a in names}
    units = [Unit((c,)) for c in cells if not agnostic[c.algo] and not seedless[c.algo]]

    def by_budget(c: Cell) -> tuple[str, str, int]:
        return (c.algo, c.device, c.budget)

    for _, g in groupby(sorted((c for c in cells if seedless[c.algo]), key=by_budget), by_budget):
        group = tuple(sorted(g, key=lambda c: c.seed))
        units.append(Unit(group, same_run=len(group) > 1))

    def key(c: Cell) -> tuple[str, str, int]:
        return (c.algo, c.device, c.seed)

    shared = sorted((c for c in cells if agnostic[c.algo]), key=key)
    for _, g in groupby(shared, key=key):
        group = tuple(sorted(g, key=lambda c: c.budget))
        units.append(Unit(group, anytime=len(group) > 1))
    return units


def _record(
    cell: Cell,
    r: RunResult,
    out: str,
    space: str,
    data: BenchmarkData | None,
    accuracy: str | None,
    scored_from: int,
) -> dict[str, Any]:
    """Write the run directory of ``cell`` and return its results row."""
    run_dir = Path(out) / "runs" / cell.slug
    write_run(r, get_space(space), run_dir, data=data)
    if r.scores and data is not None and accuracy:
        acc = accuracy_by_name(space, data, accuracy)
        fr = pd.read_csv(run_dir / "front.csv")
        fr["accuracy"] = acc(r.front_X) if len(fr) else []
        write_csv(run_dir / "front.csv", fr)
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
        "cheap_cost_s": float(sum(r.cheap_cost_s.values())),
        "wall_time_s": r.wall_time_s,
        "proxy": r.proxy,
        "scored_from_budget": scored_from,
        "scored_against": r.info.get("scored_against", "") if r.scores else "",
        "cheap_by_kind": json.dumps(r.cheap_queries, sort_keys=True),
        "seed_independent": algorithm_info(cell.algo).seed_independent,
    }


def run_cell(
    cell: Cell,
    out: str,
    space: str = "nb201",
    proxy: str = DEFAULT_PROXY,
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
    return _record(cell, r, out, space, data, accuracy, cell.budget)


def run_unit(
    unit: Unit,
    out: str,
    space: str = "nb201",
    proxy: str = DEFAULT_PROXY,
    data_root: str | None = None,
    accuracy: str | None = DEFAULT_ACCURACY,
) -> list[dict[str, Any]]:
    """Run a unit and return one results row per cell (run directories written)."""
    if unit.same_run:
        row = run_cell(unit.cells[0], out, space, proxy, data_root, accuracy)
        first_dir = Path(out) / "runs" / unit.cells[0].slug
        rows = [{**row, "seed_independent": True}]
        for c in unit.cells[1:]:
            # The run does not depend on the seed: its record is the first seed's, relabelled.
            shutil.copytree(first_dir, Path(out) / "runs" / c.slug, dirs_exist_ok=True)
            rows.append({**row, "seed": c.seed, "seed_independent": True})
        return rows
    if not unit.anytime:
        return [run_cell(c, out, space, proxy, data_root, accuracy) for c in unit.cells]
    data = BenchmarkData(data_root) if data_root else None
    first = unit.cells[0]
    budgets = [c.budget for c in unit.cells]
    runs = prefix_runs(first.algo, first.device, budgets, first.seed, space, proxy, data, accuracy)
    return [
        _record(c, runs[c.budget], out, space, data, accuracy, max(budgets)) for c in unit.cells
    ]


def run_grid(
    cells: Sequence[Cell],
    out: str | Path,
    space: str = "nb201",
    proxy: str = DEFAULT_PROXY,
    data: BenchmarkData | None = None,
    accuracy: str | None = DEFAULT_ACCURACY,
    workers: int = 1,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    backend: str = "local",
    anytime: bool = True,
    once_per_seed: bool = True,
) -> pd.DataFrame:
    """Run every cell not already finished in ``out`` and return all rows (``results.csv``).

    A cell is finished when ``out/runs/<slug>/row.json`` exists; finished cells are never rerun.
    Each row records the run key (:func:`moohw.atomic.run_key`: proxy, accuracy, space, data
    manifest digest, moohw version); resuming into a folder made with another key is an error
    naming the fields that differ, and a ``row.json`` that is not valid JSON is an error naming
    the file. Records are written atomically; on an exception or a signal the worker processes
    are terminated, not orphaned.

    Args:
        cells: The grid (:func:`make_cells`).
        out: Output folder.
        space: Search space name.
        proxy: Accuracy proxy shared by every method.
        data: Benchmark data (scoring, knowledge devices), or ``None``.
        accuracy: Accuracy column used for scoring.
        workers: Processes of the local pool (``backend="local"``).
        on_done: Called with each row as it is finished (progress).
        backend: ``local`` (a process pool of ``workers``) or ``ray`` (one Ray task per unit on
            the cluster of ``RAY_ADDRESS``, or the Ray session already started; runs on live
            devices stay in this process, one at a time, since they contend for the device).
        anytime: Score budget-agnostic algorithms on the prefixes of one run per
            (algo, device, seed); ``False`` runs every budget separately.
        once_per_seed: Run a seed-independent algorithm once per (algo, device, budget) and
            copy its row to every seed (``seed_independent`` is true in those rows).
    """
    if backend not in ("local", "ray"):
        raise InputError(f"backend must be local or ray, got {backend!r}")
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    todo: list[Cell] = []
    key = run_key(space, proxy, accuracy, data.manifest_digest() if data is not None else None)
    for c in cells:
        f = out / "runs" / c.slug / "row.json"
        if f.is_file():
            row = read_json(f)
            diff = key_mismatch(row.get("key"), key)
            if diff:
                raise InputError(
                    f"{out} holds finished runs made with other settings ({'; '.join(diff)}; "
                    f"first: {f}); pass another --out, or delete {out} to start over"
                )
            rows.append(row)
            if on_done:
                on_done(rows[-1])
        else:
            todo.append(c)
    units = plan_units(todo, anytime, once_per_seed) if todo else []
    root = str(data.root) if data is not None else None
    args = (str(out), space, proxy, root, accuracy)

    def finish(unit: Unit, unit_rows: list[dict[str, Any]]) -> None:
        for cell, row in zip(unit.cells, unit_rows, strict=True):
            write_json(out / "runs" / cell.slug / "row.json", {**row, "key": key})
            rows.append(row)
            if on_done:
                on_done(row)

    if backend == "ray":
        _run_on_ray(units, args, finish)
    elif workers <= 1:
        for u in units:
            finish(u, run_unit(u, *args))
    else:
        _run_on_pool(units, args, workers, finish)
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    df = df.sort_values(["device", "budget", "algo", "seed"], kind="stable").reset_index(drop=True)
    write_csv(out / "results.csv", df)
    return df


def _raise_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _run_on_pool(
    units: list[Unit],
    args: tuple[Any, ...],
    workers: int,
    finish: Callable[[Unit, list[dict[str, Any]]], None],
) -> None:
    """Units on a spawn process pool; the workers die with this process (exception, SIGTERM)."""
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
    previous = None
    try:  # SIGTERM (kill, a job scheduler) unwinds like Ctrl-C, so the pool is torn down
        previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        futs = {pool.submit(run_unit, u, *args): u for u in units}
        for fut in as_completed(futs):
            finish(futs[fut], fut.result())
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def seed_independent_savings(results: pd.DataFrame) -> tuple[int, float]:
    """Runs a grid skipped by running seed-independent algorithms once per (algo, device, K),
    and the wall time those runs would have taken (seconds, the copied run's time each)."""
    if "seed_independent" not in results or results.empty:
        return 0, 0.0
    rows = results[results["seed_independent"].fillna(False).astype(bool)]
    n, secs = 0, 0.0
    for _, g in rows.groupby(["algo", "device", "budget"]):
        n += len(g) - 1
        secs += float(g["wall_time_s"].iloc[0]) * (len(g) - 1)
    return n, secs


def _run_on_ray(
    units: list[Unit],
    args: tuple[Any, ...],
    finish: Callable[[Unit, list[dict[str, Any]]], None],
) -> None:
    """Units as Ray tasks (one CPU each); units on live devices run here, one at a time."""
    from moohw.devices.ray_fleet import connect

    connect()  # joins RAY_ADDRESS / auto, or the session this process already started
    import ray

    task = ray.remote(num_cpus=1)(run_unit)
    refs = {task.remote(u, *args): u for u in units if not is_live(u.cells[0].device)}
    for u in units:
        if is_live(u.cells[0].device):
            finish(u, run_unit(u, *args))
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        finish(refs[done[0]], ray.get(done[0]))


__all__ = [
    "BEST_COLUMNS",
    "RESULT_COLUMNS",
    "Cell",
    "Unit",
    "best_methods",
    "make_cells",
    "plan_units",
    "run_cell",
    "run_grid",
    "run_unit",
    "seed_independent_savings",
    "summarize",
    "write_true_fronts",
]
