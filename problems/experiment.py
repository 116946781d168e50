"""The experiment layer: problems built from names, cached tables, and scoring.

What the API (:func:`moohw.algorithms.search`), the anytime prefixes, the grid, notebooks and
benchmarks share, in one public place:

- :func:`device_by_name` and :func:`accuracy_by_name`: tables are read once per process (a grid
  runs many seeds on one device); live devices are built fresh so they see the current store.
- :func:`build_problem`: the :class:`~moohw.problems.HWNASProblem` of a run, from names.
- :func:`scorer` and :func:`score_run`: the score of DESIGN.md ("the budget and the score"):
  HV ratio and IGD+ of the declared front in (true accuracy, true latency) against the true
  front over the device's candidates, with the one reference point
  :func:`moohw.metrics.reference_point`; :func:`attach_scores` adds them to a run when its
  device and accuracy column allow.
- :func:`write_true_fronts`: the true fronts and reference points the figures draw.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from moohw.problems.hwnas import HWNASProblem

from moohw.accuracy import DEFAULT_ACCURACY, BenchmarkAccuracy
from moohw.atomic import write_csv
from moohw.data import BenchmarkData
from moohw.devices import Device, get_device, scoring_device
from moohw.metrics import Scorer, reference_point
from moohw.proxies import DEFAULT_PROXY, get_proxy
from moohw.recommend import check_max_latency
from moohw.runs import RunResult, safe_name
from moohw.spaces import get_space

#: Device name prefixes of live devices (measured now; never cached).
LIVE_KINDS = ("local:", "ray:")

__all__ = [
    "LIVE_KINDS",
    "accuracy_by_name",
    "attach_scores",
    "build_problem",
    "device_by_name",
    "is_live",
    "reference_point",
    "score_run",
    "scorer",
    "write_true_fronts",
]


def is_live(device: str) -> bool:
    """Whether the device name is a live device (``local:...``, ``ray:...``)."""
    return device.startswith(LIVE_KINDS)


def device_by_name(name: str, space: str, data: BenchmarkData | None) -> Device:
    """The device ``name`` for ``space``: tables cached per process, live devices fresh.

    Raises:
        UnknownNameError: for an unknown device name (lists the known ones).
    """
    if is_live(name):
        return get_device(name, get_space(space), data)
    return _table_device(name, space, data)


@lru_cache(maxsize=32)
def _table_device(name: str, space: str, data: BenchmarkData | None) -> Device:
    return get_device(name, get_space(space), data)


@lru_cache(maxsize=8)
def accuracy_by_name(space: str, data: BenchmarkData, column: str) -> BenchmarkAccuracy:
    """The benchmark accuracy ``column`` of ``space`` (cached per process)."""
    return BenchmarkAccuracy(get_space(space), data, column)


def build_problem(
    device: str,
    budget: int | None = None,
    space: str = "nb201",
    proxy: str = DEFAULT_PROXY,
    data: BenchmarkData | None = None,
    dataset: str = "cifar10",
    max_latency_ms: float | None = None,
) -> HWNASProblem:
    """The problem of a run, from names: ``(space, device, proxy)``, a budget and a latency cap.

    Raises:
        UnknownNameError: for an unknown space, device or proxy name.
        BudgetError: for a budget that is not an int in ``[1, candidates]``.
    """
    sp = get_space(space)
    dev = device_by_name(device, space, data)
    prox = get_proxy(proxy, sp, dataset)
    cap = check_max_latency(max_latency_ms)
    return HWNASProblem(sp, dev, prox, budget, max_latency_ms=cap)


@lru_cache(maxsize=16)
def scorer(device: Device, accuracy: BenchmarkAccuracy, proxy_name: str) -> tuple[Scorer, float]:
    """The :class:`~moohw.metrics.Scorer` of an exact device and the proxy's ceiling HV ratio.

    Cached per (device, accuracy, proxy) object: a grid scores many seeds on one scorer.
    """
    problem = HWNASProblem(device.space, device, get_proxy(proxy_name, device.space))
    X, F = problem.exact_objectives()
    s = Scorer(accuracy(X), F[:, 1])
    return s, s.proxy_ceiling(-F[:, 0]).hv_ratio


def score_run(result: RunResult, device: Device, accuracy: BenchmarkAccuracy) -> dict[str, float]:
    """``hv_ratio``, ``igd_plus`` and ``ceiling_hv_ratio`` of a run (exact devices only).

    The declared front is scored with true accuracy and the device's true latency, against the
    true front over the candidates the device covers (DESIGN.md, "the budget and the score").

    Raises:
        ValueError: if the device has no exact latency table.
    """
    if not device.exact:
        raise ValueError(f"device {device.name} has no exact latency table; cannot score")
    s, ceiling = scorer(device, accuracy, result.proxy)
    fx = result.front_X
    sc = s.score(accuracy(fx), device.latency_ms(fx))
    return {"hv_ratio": sc.hv_ratio, "igd_plus": sc.igd_plus, "ceiling_hv_ratio": ceiling}


def attach_scores(
    result: RunResult,
    device: Device,
    data: BenchmarkData | None,
    accuracy: str | None = DEFAULT_ACCURACY,
) -> RunResult:
    """``result`` with its scores when they exist: an exact NB201 device, data and a column.

    A ``predicted:DIR`` device is scored against the measured device it was built for when its
    table is here (``info["scored_against"]`` names what the run was scored against).
    """
    if not accuracy or data is None or not device.exact or result.space != "nb201":
        return result
    acc = accuracy_by_name(result.space, data, accuracy)
    sdev, against = scoring_device(device, data)
    info = {**result.info, "scored_against": against}
    return replace(result, scores=score_run(result, sdev, acc), info=info)


def write_true_fronts(
    devices: Sequence[str],
    out: str | Path,
    space: str = "nb201",
    data: BenchmarkData | None = None,
    accuracy: str | None = DEFAULT_ACCURACY,
    proxy: str | None = None,
) -> None:
    """Write ``true_fronts/<device>.csv`` (latency_ms, accuracy) for exact devices with data.

    Also ``true_fronts/<device>.ref.json``: the HV reference point (accuracy, latency_ms) the
    runs are scored with (the scorer's own) and the accuracy ``column``, which the figures use
    to frame the region that counts and to label the axis. Without data (or accuracy), and with
    ``proxy``, ``true_fronts/<device>.proxy.csv`` holds the exact front in (proxy, latency)
    instead, so synthetic devices get an exact front in the figures too.
    """
    if (data is None or not accuracy) and proxy is not None:
        _write_proxy_fronts(devices, Path(out), space, proxy, data)
        return
    if data is None or not accuracy or space != "nb201":
        return
    acc = accuracy_by_name(space, data, accuracy)
    folder = Path(out) / "true_fronts"
    folder.mkdir(parents=True, exist_ok=True)
    for name in devices:
        dev = device_by_name(name, space, data)
        if not dev.exact:
            continue
        X = dev.coverage()
        X = dev.space.enumerate() if X is None else X
        s = Scorer(acc(X), dev.latency_ms(X))  # the scorer of score_run, over the same cells
        (folder / f"{safe_name(name)}.ref.json").write_text(
            json.dumps(
                {"accuracy": float(-s.ref[0]), "latency_ms": float(s.ref[1]), "column": accuracy}
            )
            + "\n"
        )
        m = s.front_mask
        order = np.argsort(s.F_all[m, 1])
        pd.DataFrame(
            {
                "arch_str": np.array(dev.space.to_str(X[m]))[order],
                "latency_ms": s.F_all[m, 1][order],
                "accuracy": -s.F_all[m, 0][order],
            }
        ).to_csv(folder / f"{safe_name(name)}.csv", index=False)


def _write_proxy_fronts(
    devices: Sequence[str], out: Path, space: str, proxy: str, data: BenchmarkData | None
) -> None:
    """``true_fronts/<device>.proxy.csv``: exact (proxy, latency) front of each exact device."""
    folder = out / "true_fronts"
    for name in devices:
        if is_live(name):
            continue
        dev = device_by_name(name, space, data)
        if not dev.exact or (dev.coverage() is None and not dev.space.enumerable):
            continue
        X, F = HWNASProblem(dev.space, dev, get_proxy(proxy, dev.space)).exact_front()
        folder.mkdir(parents=True, exist_ok=True)
        write_csv(
            folder / f"{safe_name(name)}.proxy.csv",
            pd.DataFrame(
                {"arch_str": dev.space.to_str(X), "latency_ms": F[:, 1], "proxy": -F[:, 0]}
            ),
        )
