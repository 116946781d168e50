"""The device abstraction: anything that returns latency in milliseconds for architectures."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from moohw.errors import InputError
from moohw.spaces import SearchSpace


class NotCoveredError(KeyError):
    """An architecture the device has no latency for (e.g. missing from a table)."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class LatencyBatch:
    """What a device answered for ``n`` architectures, with what each answer cost.

    Every array is a read-only private copy, so a finished batch cannot change under whoever
    booked it (a live device's nominal ``cost_s`` moves during a run; the batch does not).

    Attributes:
        latency_ms: ``(n,)`` latency in ms (a live device: the median of the timed repeats).
        spread_ms: ``(n,)`` spread of each value in ms (a live device: the median absolute
            deviation of the repeats; 0 for tables and synthetic devices).
        cost_s: ``(n,)`` seconds each answer cost: the device's nominal ``cost_s`` for tables
            and synthetic devices; for a live device an equal share of the measuring wall time
            of the call for each cell measured now, and 0 for an answer read from the store.
        fidelity: The device's fidelity (``target``, ``predicted``, ...).
        from_store: ``(n,)`` bool, answers read from the measurement store (nothing measured).
    """

    latency_ms: np.ndarray
    spread_ms: np.ndarray
    cost_s: np.ndarray
    fidelity: str
    from_store: np.ndarray

    def __post_init__(self) -> None:
        dtypes = {"latency_ms": np.float64, "spread_ms": np.float64, "cost_s": np.float64}
        n = None
        for name in ("latency_ms", "spread_ms", "cost_s", "from_store"):
            a = np.array(getattr(self, name), dtype=dtypes.get(name, bool), copy=True)
            if a.ndim != 1 or (n is not None and len(a) != n):
                raise InputError(
                    f"LatencyBatch.{name} must be (n,) like latency_ms, got {a.shape}"
                )
            n = len(a)
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    def __len__(self) -> int:
        return len(self.latency_ms)

    @property
    def n_taken(self) -> int:
        """Answers that were measured (or read from a table) now, not from the store."""
        return int((~self.from_store).sum())

    @property
    def n_from_store(self) -> int:
        """Answers read from the measurement store."""
        return int(self.from_store.sum())


class Device(ABC):
    """A latency source for a search space.

    Subclasses implement :meth:`_latency_ms`; :meth:`latency_ms` validates input, checks coverage
    and output shape.

    Attributes:
        name: The device name as selected (``help:pixel3``, ``synthetic:3``, ...).
        space: The search space.
        kind: ``tabular``, ``synthetic`` or ``live``.
        fidelity: ``target`` for a real measurement, lower fidelities name their source.
        cost_s: Nominal cost of one query in seconds (used for cost-aware methods and ledgers).
        exact: Whether latency of every covered architecture is free to read (tables, synthetic
            devices), so exact fronts and scores can be computed.
    """

    kind: str = "device"
    fidelity: str = "target"
    cost_s: float = 1.0
    exact: bool = False

    def __init__(self, name: str, space: SearchSpace) -> None:
        self.name = name
        self.space = space

    def latency_ms(self, X: np.ndarray) -> np.ndarray:
        """Latency ``(n,)`` in ms of architectures ``(n, n_var)``.

        Raises:
            NotCoveredError: if an architecture has no latency on this device.
        """
        X = self._checked(X)
        out = np.asarray(self._latency_ms(X), dtype=np.float64)
        if out.shape != (len(X),):
            raise RuntimeError(f"device {self.name} returned shape {out.shape}")
        return out

    def query(self, X: np.ndarray) -> LatencyBatch:
        """Latency of architectures ``(n, n_var)`` with its spread and cost (a frozen batch).

        The query a search books: :meth:`latency_ms` gives the same ``latency_ms`` without the
        accounting.

        Raises:
            NotCoveredError: if an architecture has no latency on this device.
        """
        X = self._checked(X)
        batch = self._query(X)
        if len(batch) != len(X):
            raise RuntimeError(f"device {self.name} answered {len(batch)} of {len(X)} queries")
        return batch

    def _query(self, X: np.ndarray) -> LatencyBatch:
        """The batch for validated, covered ``X``: exact values at the nominal cost."""
        lat = np.asarray(self._latency_ms(X), dtype=np.float64)
        n = len(lat)
        return LatencyBatch(
            lat,
            np.zeros(n),
            np.full(n, float(self.cost_s)),
            self.fidelity,
            np.zeros(n, dtype=bool),
        )

    def _checked(self, X: np.ndarray) -> np.ndarray:
        X = self.space.validate(X)
        cov = self.covers(X)
        if not cov.all():
            bad = self.space.to_str(X[~cov][:1])[0]
            raise NotCoveredError(
                f"device {self.name} has no latency for {int((~cov).sum())} architecture(s), "
                f"e.g. {bad}"
            )
        return X

    @abstractmethod
    def _latency_ms(self, X: np.ndarray) -> np.ndarray:
        """Latency for validated, covered ``X``."""

    def coverage(self) -> np.ndarray | None:
        """Architectures ``(m, n_var)`` with known latency, or ``None`` for the whole space."""
        return None

    def covers(self, X: np.ndarray) -> np.ndarray:
        """``(n,)`` bool: which architectures this device can return latency for."""
        return np.ones(len(self.space.validate(X)), dtype=bool)

    def describe(self) -> dict[str, object]:
        """JSON-ready description for run records."""
        cov = self.coverage()
        return {
            "name": self.name,
            "kind": self.kind,
            "fidelity": self.fidelity,
            "cost_s": self.cost_s,
            "space": self.space.name,
            "n_covered": self.space.size if cov is None else len(cov),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, space={self.space.name})"


class TabularDevice(Device):
    """Latency read from a table of architectures.

    Args:
        name: Device name.
        space: Search space.
        archs: ``(m, n_var)`` architectures of the table.
        latency_ms: ``(m,)`` latency in ms; NaN rows are treated as not covered.
        cost_s: Nominal cost per query (what a real measurement would cost).
    """

    kind = "tabular"
    exact = True

    def __init__(
        self,
        name: str,
        space: SearchSpace,
        archs: np.ndarray,
        latency_ms: np.ndarray | Sequence[float],
        cost_s: float = 1.0,
    ) -> None:
        super().__init__(name, space)
        archs = space.validate(archs)
        lat = np.asarray(latency_ms, dtype=np.float64)
        if lat.shape != (len(archs),):
            raise InputError(f"latency shape {lat.shape} does not match {len(archs)} archs")
        ok = np.isfinite(lat)
        if (lat[ok] < 0).any():
            raise InputError(f"device {name}: negative latency in table")
        archs, lat = archs[ok], lat[ok]
        if len(archs) == 0:
            raise InputError(f"device {name}: table has no latency values")
        self.cost_s = cost_s
        self._archs = archs
        self._dense: np.ndarray | None = None
        self._lookup: dict[bytes, float] = {}
        if space.enumerable:
            self._dense = np.full(space.size, np.nan)
            self._dense[space.position(archs)] = lat
        else:
            self._lookup = dict(zip(space.keys(archs), lat.tolist()))
            if len(self._lookup) != len(archs):
                raise InputError(f"device {name}: table has duplicate architectures")
        self._full = space.enumerable and len(archs) == space.size

    def _latency_ms(self, X: np.ndarray) -> np.ndarray:
        if self._dense is not None:
            return self._dense[self.space.position(X)]
        return np.array([self._lookup[k] for k in self.space.keys(X)])

    def coverage(self) -> np.ndarray | None:
        return None if self._full else self._archs.copy()

    def covers(self, X: np.ndarray) -> np.ndarray:
        X = self.space.validate(X)
        if self._dense is not None:
            return np.isfinite(self._dense[self.space.position(X)])
        return np.array([k in self._lookup for k in self.space.keys(X)], dtype=bool)
