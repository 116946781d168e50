"""The latency-prediction task suite of NASFLAT (Akhauri & Abdelfattah, MLSys 2024).

For each task (``tasks/latency_tasks.json`` in the benchmark data): pre-train on the train
devices, then for each test device take ``k`` target samples, predict every architecture of the
space (NB201: all 15,625 cells; FBNet: the 5,000 tabulated ones) and score:

- ``spearman_all``: Spearman ρ over every architecture, samples included (the published
  convention, comparable with ``anchors/latency_predictor_srcc.csv``);
- ``spearman_heldout``: Spearman ρ over the architectures that were not sampled;
- ``kendall``: Kendall τ-b over every architecture;
- ``mape``: mean absolute percentage error (%) over the held-out architectures;
- ``precision_top10``: of the 10% architectures predicted fastest, the fraction that are truly
  among the device's 10% fastest (the low-latency end where fronts live);
- ``pareto_precision`` (NB201 only, NaN for FBNet, which has no accuracy table): of the
  architectures non-dominated under (CIFAR-10 200-epoch test accuracy, predicted latency), the
  fraction that are non-dominated under (accuracy, true latency) — how much of a front declared
  from predictions is truly Pareto-optimal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from moohw.data import BenchmarkData
from moohw.errors import UnknownNameError
from moohw.metrics import kendall, non_dominated, spearman
from moohw.predictors.base import DeviceData
from moohw.predictors.samplers import sample
from moohw.spaces import SearchSpace, get_space

TASKS_FILE = "tasks/latency_tasks.json"
ANCHORS_FILE = "anchors/latency_predictor_srcc.csv"
#: CSV columns of :func:`evaluate_task` rows, in order.
COLUMNS = (
    "task",
    "space",
    "device",
    "method",
    "k",
    "seed",
    "sampler",
    "spearman_all",
    "spearman_heldout",
    "kendall",
    "mape",
    "precision_top10",
    "pareto_precision",
    "fit_s",
    "predict_s",
)


@dataclass(frozen=True)
class LatencyTask:
    """One task of the suite: train (knowledge) and test (target) devices of a space."""

    name: str
    space: str
    train: tuple[str, ...]
    test: tuple[str, ...]


@dataclass(frozen=True)
class TaskTables:
    """Latency of every tabulated architecture on a task's devices.

    Attributes:
        space: Search space.
        X: ``(N, n_var)`` architectures (NB201: the whole space; FBNet: the 5,000 tabulated).
        latency_ms: Device column name → ``(N,)`` latency in ms.
        accuracy: ``(N,)`` CIFAR-10 200-epoch test accuracy (%) for NB201, else ``None``.
    """

    space: SearchSpace
    X: np.ndarray
    latency_ms: Mapping[str, np.ndarray]
    accuracy: np.ndarray | None


def load_tasks(data: BenchmarkData, available_only: bool = True) -> dict[str, LatencyTask]:
    """Tasks of the suite by name (``ND``, ``FD``, ``F1``...), in file order."""
    raw = json.loads(data.path(TASKS_FILE).read_text())
    out: dict[str, LatencyTask] = {}
    for space in ("nb201", "fbnet"):
        for name, t in raw.get(space, {}).items():
            if available_only and not t.get("available_here", False):
                continue
            out[name] = LatencyTask(name, space, tuple(t["train"]), tuple(t["test"]))
    return out


def get_task(data: BenchmarkData, name: str) -> LatencyTask:
    """The available task ``name``; ``KeyError`` lists the available ones."""
    tasks = load_tasks(data)
    if name not in tasks:
        raise UnknownNameError(
            f"unknown or unavailable task {name!r}; available: {', '.join(tasks)}"
        )
    return tasks[name]


def load_tables(task: LatencyTask, data: BenchmarkData) -> TaskTables:
    """Read every device of ``task`` through the device API (``help:<column>``)."""
    from moohw.devices import get_device

    space = get_space(task.space)
    devices = {d: get_device(f"help:{d}", space, data) for d in (*task.train, *task.test)}
    cov = next(iter(devices.values())).coverage()
    X = space.enumerate() if cov is None else cov
    lat = {d: dev.latency_ms(X) for d, dev in devices.items()}
    acc = None
    if task.space == "nb201":
        df = data.table("nb201/accuracy.csv", ("index", "cifar10_test_200ep"))
        idx = data.nb201_index().to_index(X)
        acc = df.set_index("index").loc[idx, "cifar10_test_200ep"].to_numpy(dtype=np.float64)
    return TaskTables(space, X, lat, acc)


def score(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    sample_idx: np.ndarray,
    accuracy: np.ndarray | None = None,
    top_frac: float = 0.1,
) -> dict[str, float]:
    """Score predictions ``(N,)`` against true latency ``(N,)`` (metrics in the module docstring).

    Args:
        y_true: ``(N,)`` true latency in ms.
        y_pred: ``(N,)`` predicted latency in ms.
        sample_idx: ``(k,)`` indices of the measured samples.
        accuracy: ``(N,)`` accuracy (%) for ``pareto_precision``; NaN when ``None``.
        top_frac: Fraction defining the fastest region of ``precision_top10``.
    """
    held = np.ones(len(y_true), dtype=bool)
    held[sample_idx] = False
    n_top = max(1, round(top_frac * len(y_true)))
    true_top = np.argsort(y_true, kind="stable")[:n_top]
    pred_top = np.argsort(y_pred, kind="stable")[:n_top]
    mape = float(np.mean(np.abs(y_pred[held] - y_true[held]) / np.abs(y_true[held]))) * 100
    pp = float("nan")
    if accuracy is not None:
        true_front = non_dominated(np.column_stack([-accuracy, y_true]))
        pred_front = non_dominated(np.column_stack([-accuracy, y_pred]))
        pp = float(true_front[pred_front].mean())
    return {
        "spearman_all": spearman(y_true, y_pred),
        "spearman_heldout": spearman(y_true[held], y_pred[held]),
        "kendall": kendall(y_true, y_pred),
        "mape": mape,
        "precision_top10": float(np.isin(pred_top, true_top).mean()),
        "pareto_precision": pp,
    }


def evaluate_task(
    task: LatencyTask,
    tables: TaskTables,
    methods: Sequence[str],
    ks: Sequence[int] = (5, 10, 20),
    seeds: Sequence[int] = (0, 1, 2),
    sampler: str = "random",
    devices: Sequence[str] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``methods`` on every (test device, k, seed) of ``task``.

    One predictor instance serves a (method, seed) pair across devices and budgets, so
    pre-training on the knowledge devices happens once and is reused (it is counted in the
    ``fit_s`` of the first fit). Every method sees the same samples for a (device, k, seed).

    Args:
        task: The task.
        tables: Its tables (:func:`load_tables`).
        methods: Registered predictor names.
        ks: Target sample budgets.
        seeds: Seeds (non-negative ints).
        sampler: Sampler name (:mod:`moohw.predictors.samplers`).
        devices: Test devices to run (default: all of the task's).
        on_result: Called with each row as it is produced (progress reporting).

    Returns:
        Rows with the keys of :data:`COLUMNS`.
    """
    from moohw.predictors import PREDICTORS

    for m in methods:
        PREDICTORS.get(m)  # fail before any work on an unknown name
    test = tuple(devices) if devices is not None else task.test
    unknown = [d for d in test if d not in task.test]
    if unknown:
        raise UnknownNameError(
            f"{unknown} are not test devices of {task.name}: {', '.join(task.test)}"
        )
    space, X = tables.space, tables.X
    knowledge = {d: DeviceData(X, tables.latency_ms[d]) for d in task.train}
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        predictors = {m: PREDICTORS.get(m)(space) for m in methods}
        for dev in test:
            y = tables.latency_ms[dev]
            di_global = task.test.index(dev)
            for k in ks:
                rng = np.random.default_rng([int(seed), di_global, int(k)])
                idx = sample(sampler, space, X, int(k), seed=rng, reference_latency=None)
                for m, p in predictors.items():
                    t0 = time.perf_counter()
                    p.fit(knowledge, X[idx], y[idx], seed=int(seed))
                    t1 = time.perf_counter()
                    pred = p.predict(X)
                    t2 = time.perf_counter()
                    row: dict[str, Any] = {
                        "task": task.name,
                        "space": task.space,
                        "device": dev,
                        "method": m,
                        "k": int(k),
                        "seed": int(seed),
                        "sampler": sampler,
                        **score(y, pred, idx, tables.accuracy),
                        "fit_s": t1 - t0,
                        "predict_s": t2 - t1,
                    }
                    rows.append(row)
                    if on_result is not None:
                        on_result(row)
    return rows


def summarise(rows: Sequence[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds and test devices per (task, method, k) of the score columns."""
    df = pd.DataFrame(rows)
    cols = [c for c in COLUMNS[7:] if c in df.columns]
    per_dev = df.groupby(["task", "method", "k", "device"], sort=False)[cols].mean()
    return per_dev.groupby(level=["task", "method", "k"], sort=False).mean().reset_index()


def load_anchors(data: BenchmarkData) -> pd.DataFrame:
    """Published Spearman ρ per task: rows ``method, target_samples``, one column per task."""
    return data.table(ANCHORS_FILE)
