"""Budgets, run records and result files.

The scarce resource is a *target measurement*: one latency measurement of one architecture on the
target device. The :class:`Ledger` pays for each architecture at most once and refuses to exceed
the budget; cheap queries (proxy scores, predictions) are counted separately with their cost.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moohw.data import BenchmarkData
from moohw.devices import Device
from moohw.errors import InputError
from moohw.metrics import non_dominated
from moohw.spaces import SearchSpace


class BudgetExceededError(RuntimeError):
    """A new target measurement was requested after the budget was spent."""


@dataclass(frozen=True)
class Query:
    """One query in the order it was made (a row of ``evaluations.csv``)."""

    arch_str: str
    kind: str  # "target" (paid), "cached" (already paid), or a cheap kind ("proxy", ...)
    latency_ms: float
    proxy: float
    cost_s: float  # seconds the answer cost (the device's batch); 0 for a cached answer
    spread_ms: float = 0.0  # the measurement's spread (MAD of the repeats; 0 for tables)


class Ledger:
    """Counts target measurements (each architecture paid once) and cheap queries.

    Args:
        space: The search space.
        device: The target device.
        budget: Maximum number of target measurements (``None`` = unlimited).
    """

    def __init__(self, space: SearchSpace, device: Device, budget: int | None = None) -> None:
        if budget is not None and budget < 0:
            raise ValueError(f"budget must be >= 0, got {budget}")
        self.space = space
        self.device = device
        self.budget = budget
        self._measured: dict[bytes, float] = {}
        self._spread: dict[bytes, float] = {}
        self._archs: list[np.ndarray] = []
        self.queries: list[Query] = []
        self.n_reused = 0
        self.n_taken = 0  # real measurements (a live device's store misses)
        self.n_from_store = 0  # paid architectures a live device read from its store
        self.cheap_queries: dict[str, int] = {}
        self.cheap_cost_s: dict[str, float] = {}
        #: Called with the number of target measurements paid so far after each new payment.
        self.on_paid: Callable[[int], None] | None = None

    @property
    def n_target_measurements(self) -> int:
        """Unique architectures measured on the target so far."""
        return len(self._measured)

    @property
    def remaining(self) -> int | None:
        """Target measurements left (``None`` when unlimited)."""
        return None if self.budget is None else self.budget - len(self._measured)

    def is_measured(self, X: np.ndarray) -> np.ndarray:
        """``(n,)`` bool: which architectures were already paid for."""
        return np.array([k in self._measured for k in self.space.keys(X)], dtype=bool)

    def measure(self, X: np.ndarray, proxy: np.ndarray | None = None) -> np.ndarray:
        """Target latency ``(n,)`` in ms; pays only for architectures never measured before.

        Raises:
            BudgetExceededError: if the new architectures exceed the remaining budget (nothing
                is measured in that case).
        """
        X = self.space.validate(X)
        keys = self.space.keys(X)
        new: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            if k not in self._measured and k not in new:
                new[k] = i
        if self.remaining is not None and len(new) > self.remaining:
            raise BudgetExceededError(
                f"{len(new)} new target measurements requested, {self.remaining} left of "
                f"{self.budget}"
            )
        paid_cost: dict[bytes, float] = {}
        if new:
            rows = np.array(list(new.values()))
            batch = self.device.query(X[rows])
            self.n_taken += batch.n_taken
            self.n_from_store += batch.n_from_store
            for j, (k, i) in enumerate(new.items()):
                self._measured[k] = float(batch.latency_ms[j])
                self._spread[k] = float(batch.spread_ms[j])
                paid_cost[k] = float(batch.cost_s[j])
                self._archs.append(X[i].copy())
        if new and self.on_paid is not None:
            self.on_paid(len(self._measured))
        out = np.array([self._measured[k] for k in keys], dtype=np.float64)
        strs = self.space.to_str(X)
        pv = np.full(len(X), np.nan) if proxy is None else np.asarray(proxy, float)
        seen_new: set[bytes] = set()
        for i, k in enumerate(keys):
            paid = k in new and k not in seen_new
            seen_new.add(k)
            if not paid:
                self.n_reused += 1
            self.queries.append(
                Query(
                    strs[i],
                    "target" if paid else "cached",
                    out[i],
                    float(pv[i]),
                    paid_cost[k] if paid else 0.0,
                    self._spread[k],
                )
            )
        return out

    def book_cheap(self, kind: str, cost_s: np.ndarray) -> None:
        """Book cheap queries of ``kind``, one per entry of ``cost_s`` ``(n,)`` (seconds each).

        Searches do not call this: they query through
        :meth:`moohw.problems.HWNASProblem.query_cheap`, which books what its source reported.
        """
        c = np.asarray(cost_s, dtype=np.float64).reshape(-1)
        if (c < 0).any() or not np.isfinite(c).all():
            raise ValueError(f"cheap query costs must be finite and >= 0 s, got {c.min()}")
        self.cheap_queries[kind] = self.cheap_queries.get(kind, 0) + len(c)
        self.cheap_cost_s[kind] = self.cheap_cost_s.get(kind, 0.0) + float(c.sum())

    def measured(self) -> tuple[np.ndarray, np.ndarray]:
        """Measured architectures ``(m, n_var)`` and their latency ``(m,)``, in payment order."""
        if not self._archs:
            return np.zeros((0, self.space.n_var), dtype=np.int64), np.zeros(0)
        X = np.array(self._archs, dtype=np.int64)
        return X, np.array(list(self._measured.values()), dtype=np.float64)

    def measured_spread_ms(self) -> np.ndarray:
        """``(m,)`` spread in ms of each measured latency, in payment order (0 for tables)."""
        return np.array(list(self._spread.values()), dtype=np.float64)


@dataclass(frozen=True)
class RunResult:
    """The outcome of one search run (2-D ``F`` always).

    Attributes:
        X: ``(m, n_var)`` measured architectures in payment order.
        F: ``(m, 2)`` objectives ``(-proxy, latency_ms)`` of ``X``.
        front: ``(k,)`` row indices into ``X`` of the declared front.
    """

    algo: str
    device: str
    space: str
    proxy: str
    seed: int
    budget: int | None  # None: unlimited (stored as null in run.json)
    X: np.ndarray
    F: np.ndarray
    front: np.ndarray
    n_target_measurements: int
    n_reused: int
    cheap_queries: dict[str, int]
    cheap_cost_s: dict[str, float]
    wall_time_s: float
    queries: tuple[Query, ...] = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    restricted_to: int | None = None  # number of covered candidates when the device is partial
    scores: dict[str, float] = field(default_factory=dict)
    # Live devices: real measurements taken vs paid architectures read from the store (a resumed
    # run). None: every target measurement was taken (tabular/synthetic devices).
    measurements_taken: int | None = None
    measurements_from_store: int | None = None
    info: dict[str, Any] = field(default_factory=dict)  # what the algorithm decided (JSON-ready)
    max_latency_ms: float | None = None  # latency cap the declared front was cut at (issue 14)

    def __post_init__(self) -> None:
        # Frozen means frozen: read-only arrays and private copies of the containers, so neither
        # the producer nor a consumer can change a finished record.
        for name in ("X", "F", "front"):
            a = np.array(getattr(self, name), copy=True)
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        object.__setattr__(self, "queries", tuple(self.queries))
        for name in ("cheap_queries", "cheap_cost_s", "options", "scores", "info"):
            object.__setattr__(self, name, dict(getattr(self, name)))

    @classmethod
    def load(cls, run_dir: str | Path) -> RunResult:
        """Read a run written by :func:`write_run` (``run.json``, ``evaluations.csv``).

        Raises:
            FileNotFoundError: if ``run_dir`` has no ``run.json``.
            InputError: if the record is not a moohw run record.
        """
        from moohw.spaces import get_space

        run_dir = Path(run_dir)
        path = run_dir / "run.json"
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir} has no run.json (not a moohw run folder)")
        try:
            rec = json.loads(path.read_text())
            space = get_space(rec["space"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(f"{path} is not a moohw run record: {e}") from None
        ev_path = run_dir / "evaluations.csv"
        ev = pd.read_csv(ev_path) if ev_path.is_file() and ev_path.stat().st_size > 1 else None
        queries: list[Query] = []
        X = np.zeros((0, space.n_var), dtype=np.int64)
        F = np.zeros((0, 2))
        if ev is not None and len(ev):
            queries = [
                Query(
                    str(r["arch_str"]),
                    str(r["kind"]),
                    float(r["latency_ms"]),
                    float(r["proxy"]),
                    float(r["cost_s"]),
                    float(r.get("spread_ms", 0.0)),
                )
                for r in ev.to_dict("records")
            ]
            paid = ev[ev["kind"] == "target"]
            X = space.from_str(paid["arch_str"].astype(str).tolist())
            F = np.column_stack(
                [-paid["proxy"].to_numpy(float), paid["latency_ms"].to_numpy(float)]
            )
        taken = rec.get("measurements_taken")
        from_store = rec.get("measurements_from_store") or 0
        n_target = int(rec.get("n_target_measurements", len(X)))
        live = from_store > 0 or (taken is not None and taken != n_target)
        scores = {k: float(rec[k]) for k in SCORE_KEYS if k in rec}
        return cls(
            algo=rec["algo"],
            device=rec["device"],
            space=rec["space"],
            proxy=rec["proxy"],
            seed=int(rec["seed"]),
            budget=_budget_from_record(rec.get("budget")),
            X=X,
            F=F,
            front=declared_front(F),
            n_target_measurements=n_target,
            n_reused=int(rec.get("measurements_reused", 0)) - int(from_store),
            cheap_queries={k: int(v) for k, v in rec.get("cheap_queries", {}).items()},
            cheap_cost_s={k: float(v) for k, v in rec.get("cheap_cost_s", {}).items()},
            wall_time_s=float(rec.get("wall_time_s", float("nan"))),
            queries=tuple(queries),
            options=dict(rec.get("options", {})),
            restricted_to=rec.get("restricted_to_covered"),
            scores=scores,
            measurements_taken=taken if live else None,
            measurements_from_store=from_store if live else None,
            info=dict(rec.get("info", {})),
        )

    @property
    def front_X(self) -> np.ndarray:
        """Declared-front architectures ``(k, n_var)``."""
        return self.X[self.front]

    @property
    def front_F(self) -> np.ndarray:
        """Declared-front objectives ``(k, 2)``."""
        return self.F[self.front]


#: Scores a run record may carry (``run.json`` top level).
SCORE_KEYS = ("hv_ratio", "igd_plus", "ceiling_hv_ratio")


def _budget_from_record(value: Any) -> int | None:
    # Records written before 0.2 stored an unlimited budget as -1.
    return None if value is None or int(value) < 0 else int(value)


def safe_name(name: str) -> str:
    """A file-system-safe form of a device (or any) name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def declared_front(F: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of measured ``F`` ``(m, 2)``, sorted by latency."""
    idx = np.flatnonzero(non_dominated(F)) if len(F) else np.zeros(0, dtype=np.int64)
    return idx[np.argsort(F[idx, 1], kind="stable")]


def versions() -> dict[str, str]:
    """Versions of the libraries that matter for reproducing a run."""
    from importlib.metadata import PackageNotFoundError, version

    from moohw import __version__

    out = {"moohw": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "scipy", "pymoo", "moocore", "torch", "botorch"):
        try:  # read the metadata: importing torch just to print its version costs seconds
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def write_run(
    result: RunResult, space: SearchSpace, out: str | Path, data: BenchmarkData | None = None
) -> Path:
    """Write ``run.json``, ``evaluations.csv`` and ``front.csv`` into ``out``; returns ``out``.

    Each file is written atomically. ``run.json`` records the benchmark data folder ``data``
    (``None`` without one) and the sha256 of its ``MANIFEST.tsv``.
    """
    from moohw.atomic import write_csv, write_json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "algo": result.algo,
        "device": result.device,
        "space": result.space,
        "proxy": result.proxy,
        "seed": result.seed,
        "budget": result.budget,
        "options": result.options,
        "n_target_measurements": result.n_target_measurements,
        # taken + from_store == n_target_measurements; reused = in-run repeats + store hits
        "measurements_taken": (
            result.n_target_measurements
            if result.measurements_taken is None
            else result.measurements_taken
        ),
        "measurements_from_store": result.measurements_from_store or 0,
        "measurements_reused": result.n_reused + (result.measurements_from_store or 0),
        "cheap_queries": result.cheap_queries,
        "cheap_cost_s": result.cheap_cost_s,
        "wall_time_s": result.wall_time_s,
        "restricted_to_covered": result.restricted_to,
        "n_front": len(result.front),
        "max_latency_ms": result.max_latency_ms,
        "info": result.info,
        "data": None if data is None else str(data.root),
        "data_manifest_sha256": None if data is None else data.manifest_digest(),
        "versions": versions(),
        **result.scores,
    }
    write_csv(out / "evaluations.csv", pd.DataFrame([asdict(q) for q in result.queries]))
    fx = result.front_X
    front = pd.DataFrame(
        {
            "arch_str": space.to_str(fx) if len(fx) else [],
            "proxy": -result.front_F[:, 0],
            "latency_ms": result.front_F[:, 1],
        }
    )
    write_csv(out / "front.csv", front)
    write_json(out / "run.json", record, indent=2)  # last: a run.json means the files are whole
    return out
