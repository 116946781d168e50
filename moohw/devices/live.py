"""The live-device base: store first, claims, drift-robust batches (:class:`LiveDevice`)."""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from moohw.devices.base import Device, LatencyBatch
from moohw.devices.local_names import _DATASETS
from moohw.errors import InputError
from moohw.measure.claims import new_owner
from moohw.measure.fingerprint import fingerprint
from moohw.measure.protocol import MeasureError, Measurement, Protocol
from moohw.measure.store import MeasurementStore
from moohw.spaces import SearchSpace

#: Called after each architecture: ``(position in X, arch_str, measurement, from_store)``.
ResultCallback = Callable[[int, str, Measurement, bool], None]


class LiveDevice(Device):
    """A device whose latency is measured, with the measurement store in front of it.

    Subclasses implement :meth:`_measure` (one architecture, single series) and
    :meth:`_identity` (hardware facts of where the measuring happens); they may override
    :meth:`_measure_batch` (several architectures, e.g. with the drift-robust schedule).

    Attributes:
        protocol: The measurement protocol.
        dataset: Which NB201 network variant is measured (input size, classes).
        store: Where measurements persist (``None``: nothing persists).
        lease_s: Claim lease: seconds after which an unrenewed claim of this worker expires.
        n_taken: Real measurements this object has taken (store misses).
        n_reused: Architectures answered from the store (or from earlier in the same call).
        last_batches: Reports of the drift-robust batches of the last :meth:`measurements` call.
    """

    kind = "live"
    exact = False

    def __init__(
        self,
        name: str,
        space: SearchSpace,
        protocol: Protocol,
        dataset: str = "cifar10",
        store: MeasurementStore | None = None,
        lease_s: float = 120.0,
    ) -> None:
        super().__init__(name, space)
        if space.name != "nb201":
            raise InputError(f"live devices measure NB201 networks; space {space.name} has none")
        if dataset not in _DATASETS:
            raise InputError(f"unknown dataset {dataset!r}; known: {', '.join(_DATASETS)}")
        if not lease_s > 0:
            raise InputError(f"claim lease must be > 0 s, got {lease_s}")
        self.protocol = protocol
        self.dataset = dataset
        self.store = store
        self.lease_s = float(lease_s)
        self.n_taken = 0
        self.n_reused = 0
        self.last_batches: list[Any] = []
        #: Called after each round of a drift-robust batch: ``(rounds so far, expected
        #: test-retest Spearman)`` (progress displays; ``None``: nothing is called).
        self.on_round: Callable[[int, float], None] | None = None
        self._fingerprint: str | None = None
        self._wall_s = 0.0

    @abstractmethod
    def _identity(self) -> dict[str, Any]:
        """Hardware facts of the machine that measures (see :func:`hardware_info`)."""

    @abstractmethod
    def _measure(self, arch: np.ndarray) -> tuple[Measurement, str]:
        """Measure one architecture ``(n_var,)``; returns the measurement and the host name."""

    def _measure_batch(self, X: np.ndarray) -> list[tuple[Measurement, str]]:
        """Measure architectures ``(n, n_var)`` (default: one :meth:`_measure` each)."""
        return [self._measure(x) for x in X]

    def _extra(self) -> dict[str, Any]:
        """Settings besides hardware and protocol that change the measured latency."""
        return {"dataset": self.dataset, "space": self.space.name}

    @property
    def fingerprint(self) -> str:
        """Stable hash of hardware, software and protocol (registered in the store once)."""
        if self._fingerprint is None:
            hw = self._identity()
            extra = self._extra()
            self._fingerprint = fingerprint(hw, self.protocol, extra)
            if self.store is not None:
                self.store.register(self._fingerprint, self.name, hw, self.protocol, extra)
        return self._fingerprint

    def measurement_counts(self) -> tuple[int, int]:
        """``(taken, reused)``: real measurements and store hits so far."""
        return self.n_taken, self.n_reused

    def _batch_size(self) -> int:
        return self.protocol.batch_cells if self.protocol.robust else 1

    def measurements(
        self, X: np.ndarray, on_result: ResultCallback | None = None
    ) -> list[Measurement]:
        """Full measurement records ``(n,)`` for architectures ``(n, n_var)``.

        Stored architectures are read from the store. The others are claimed in the store
        (up to ``protocol.batch_cells`` at a time), measured as a batch, and committed; cells
        claimed by another worker are waited for (their rows read once stored), and taken over
        if that worker's claim expires. Without a store every missing cell is measured here.

        Args:
            X: Architectures.
            on_result: Called once per position of ``X`` as its measurement becomes known
                (store hits first), for progress bars.
        """
        X = self.space.validate(X)
        strs = self.space.to_str(X)
        fp = self.fingerprint
        positions: dict[str, list[int]] = {}
        arch_of: dict[str, np.ndarray] = {}
        for i, s in enumerate(strs):
            positions.setdefault(s, []).append(i)
            arch_of.setdefault(s, X[i])
        out: list[Measurement | None] = [None] * len(strs)
        self.last_batches = []

        def report(s: str, m: Measurement, reused: bool) -> None:
            for i in positions[s]:
                out[i] = m
                if on_result is not None:
                    on_result(i, s, m, reused)

        known: dict[str, Measurement] = {}
        if self.store is not None:
            known = self.store.get(fp, self.space.name, self.protocol, list(positions))
        for s, m in known.items():
            self.n_reused += len(positions[s])
            report(s, m, True)
        self.n_reused += sum(len(v) - 1 for s, v in positions.items() if s not in known)
        todo = [s for s in positions if s not in known]
        if self.store is None:
            for k in range(0, len(todo), self._batch_size()):
                chunk = todo[k : k + self._batch_size()]
                for s, m in zip(chunk, self._take(chunk, arch_of, fp), strict=True):
                    report(s, m, False)
        else:
            owner = new_owner()
            with self._heartbeat(owner):
                while todo:
                    mine = self.store.claim(
                        fp,
                        self.space.name,
                        self.protocol,
                        todo,
                        owner,
                        self.lease_s,
                        limit=self._batch_size(),
                    )
                    if mine:
                        for s, m in zip(mine, self._take(mine, arch_of, fp), strict=True):
                            report(s, m, False)
                    done = set(mine)
                    rest = [s for s in todo if s not in done]
                    if rest:  # measured by other workers meanwhile
                        got = self.store.get(fp, self.space.name, self.protocol, rest)
                        for s, m in got.items():
                            self.n_reused += len(positions[s])
                            report(s, m, True)
                        done.update(got)
                    todo = [s for s in todo if s not in done]
                    if todo and not mine:
                        time.sleep(min(1.0, self.lease_s / 4))  # wait for the claim holders
        assert all(m is not None for m in out)
        return [m for m in out if m is not None]

    def _take(
        self, chunk: list[str], arch_of: Mapping[str, np.ndarray], fp: str
    ) -> list[Measurement]:
        """Measure ``chunk`` now and commit each result; returns what the store holds."""
        t0 = time.perf_counter()
        results = self._measure_batch(np.stack([arch_of[s] for s in chunk]))
        self._wall_s += time.perf_counter() - t0
        out = []
        for s, (m, host) in zip(chunk, results, strict=True):
            if self.store is not None and not self.store.put(
                fp, self.name, self.space.name, s, m, host
            ):  # our claim expired and another worker stored it first: the first row wins
                m = self.store.get(fp, self.space.name, self.protocol, [s])[s]
            self.n_taken += 1
            out.append(m)
        self.cost_s = self._wall_s / max(self.n_taken, 1)
        return out

    @contextmanager
    def _heartbeat(self, owner: str) -> Iterator[None]:
        """Renew ``owner``'s claims every ``lease_s / 3`` while the body runs; release after."""
        assert self.store is not None
        store = self.store
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease_s / 3):
                try:
                    store.renew(owner, self.lease_s)
                except MeasureError:
                    pass  # a busy store: the next beat retries before the lease runs out

        t = threading.Thread(target=beat, name="moohw-claim-heartbeat", daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            t.join()
            store.release(owner)

    def _latency_ms(self, X: np.ndarray) -> np.ndarray:
        return np.array([m.latency_ms for m in self.measurements(X)], dtype=np.float64)

    def _query(self, X: np.ndarray) -> LatencyBatch:
        # Cells are measured in batches: each cell measured now costs an equal share of the
        # measuring wall time of this call; store reads (and repeats of a cell) cost 0 s.
        stored, fresh, seen = np.zeros(len(X), bool), np.zeros(len(X), bool), set()

        def note(i: int, s: str, m: Measurement, from_store: bool) -> None:
            stored[i] = from_store
            if not from_store and s not in seen:
                seen.add(s)
                fresh[i] = True

        w0 = self._wall_s
        ms = self.measurements(X, on_result=note)
        cost = np.zeros(len(X))
        if fresh.any():
            cost[fresh] = (self._wall_s - w0) / fresh.sum()
        lat = np.array([m.latency_ms for m in ms], dtype=np.float64)
        spread = np.array([m.spread_ms for m in ms], dtype=np.float64)
        return LatencyBatch(lat, spread, cost, self.fidelity, stored)

    def describe(self) -> dict[str, object]:
        d = super().describe()
        d.update(protocol=self.protocol.to_dict(), dataset=self.dataset)
        d.update(measurements_taken=self.n_taken, measurements_reused=self.n_reused)
        return d
