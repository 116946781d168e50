"""Live devices: latency measured now, on this machine (``local:cpu``, ``local:cuda``).

A :class:`LiveDevice` consults the measurement store first and measures only the architectures
it has never measured under the same fingerprint (hardware, software, protocol); each new
measurement is committed before the next one starts, so a killed run resumes where it stopped.

Name syntax: ``local:cpu`` or ``local:cuda``, optionally followed by ``?key=value&...`` with keys
``batch`` (batch size), ``threads``, ``dtype`` (float32, float16, bfloat16), ``channels_last``
(0/1), ``warmup``, ``repeats``, ``outlier_k``, ``max_cv``, ``attempts``, ``timer`` (wall, thread)
and ``dataset`` (cifar10, cifar100, imagenet16),
e.g. ``local:cpu?threads=2&batch=8``. Defaults follow :class:`moohw.measure.Protocol`.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from moohw.devices.base import Device, LatencyBatch
from moohw.errors import InputError
from moohw.measure.fingerprint import fingerprint, hardware_info, hostname
from moohw.measure.protocol import MeasureError, Measurement, Protocol
from moohw.measure.store import MeasurementStore
from moohw.spaces import SearchSpace

#: Called after each architecture: ``(position in X, arch_str, measurement, from_store)``.
ResultCallback = Callable[[int, str, Measurement, bool], None]

_DATASETS = ("cifar10", "cifar100", "imagenet16")
_OPTION_FIELDS = {
    "batch": "batch_size",
    "threads": "threads",
    "dtype": "dtype",
    "channels_last": "channels_last",
    "warmup": "warmup",
    "repeats": "repeats",
    "outlier_k": "outlier_k",
    "max_cv": "max_cv",
    "attempts": "attempts",
    "timer": "timer",
}
LIVE_OPTIONS: tuple[str, ...] = (*_OPTION_FIELDS, "dataset")


class LiveDevice(Device):
    """A device whose latency is measured, with the measurement store in front of it.

    Subclasses implement :meth:`_measure` (one architecture) and :meth:`_identity` (hardware
    facts of where the measuring happens).

    Attributes:
        protocol: The measurement protocol.
        dataset: Which NB201 network variant is measured (input size, classes).
        store: Where measurements persist (``None``: nothing persists).
        n_taken: Real measurements this object has taken (store misses).
        n_reused: Architectures answered from the store (or from earlier in the same call).
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
    ) -> None:
        super().__init__(name, space)
        if space.name != "nb201":
            raise InputError(f"live devices measure NB201 networks; space {space.name} has none")
        if dataset not in _DATASETS:
            raise InputError(f"unknown dataset {dataset!r}; known: {', '.join(_DATASETS)}")
        self.protocol = protocol
        self.dataset = dataset
        self.store = store
        self.n_taken = 0
        self.n_reused = 0
        self._fingerprint: str | None = None
        self._wall_s = 0.0

    @abstractmethod
    def _identity(self) -> dict[str, Any]:
        """Hardware facts of the machine that measures (see :func:`hardware_info`)."""

    @abstractmethod
    def _measure(self, arch: np.ndarray) -> tuple[Measurement, str]:
        """Measure one architecture ``(n_var,)``; returns the measurement and the host name."""

    @property
    def fingerprint(self) -> str:
        """Stable hash of hardware, software and protocol (registered in the store once)."""
        if self._fingerprint is None:
            hw = self._identity()
            extra = {"dataset": self.dataset, "space": self.space.name}
            self._fingerprint = fingerprint(hw, self.protocol, extra)
            if self.store is not None:
                self.store.register(self._fingerprint, self.name, hw, self.protocol, extra)
        return self._fingerprint

    def measurement_counts(self) -> tuple[int, int]:
        """``(taken, reused)``: real measurements and store hits so far."""
        return self.n_taken, self.n_reused

    def measurements(
        self, X: np.ndarray, on_result: ResultCallback | None = None
    ) -> list[Measurement]:
        """Full measurement records ``(n,)`` for architectures ``(n, n_var)``.

        Stored architectures are read from the store; the others are measured one at a time
        and each is committed before the next starts. The store is consulted again just before
        each measurement, so processes measuring overlapping sets rarely measure twice; when
        they do, the first stored measurement wins and is the one returned.

        Args:
            X: Architectures.
            on_result: Called after each architecture (progress bars).
        """
        X = self.space.validate(X)
        strs = self.space.to_str(X)
        fp = self.fingerprint
        known: dict[str, Measurement] = {}
        if self.store is not None:
            known = self.store.get(fp, self.space.name, self.protocol, strs)
        out: list[Measurement] = []
        for i, s in enumerate(strs):
            m = known.get(s)
            if m is None and self.store is not None:  # another process may have measured it
                m = self.store.get(fp, self.space.name, self.protocol, [s]).get(s)
            reused = m is not None
            if m is None:
                t0 = time.perf_counter()
                m, host = self._measure(X[i])
                if self.store is not None and not self.store.put(
                    fp, self.name, self.space.name, s, m, host
                ):
                    m = self.store.get(fp, self.space.name, self.protocol, [s])[s]
                known[s] = m
                self.n_taken += 1
                self._wall_s += time.perf_counter() - t0
                self.cost_s = self._wall_s / self.n_taken
            else:
                self.n_reused += 1
            out.append(m)
            if on_result is not None:
                on_result(i, s, m, reused)
        return out

    def _latency_ms(self, X: np.ndarray) -> np.ndarray:
        return np.array([m.latency_ms for m in self.measurements(X)], dtype=np.float64)

    def _query(self, X: np.ndarray) -> LatencyBatch:
        # Each answer's cost is the wall time up to its callback (store reads cost 0 s).
        cost, stored, t = np.zeros(len(X)), np.zeros(len(X), dtype=bool), [time.perf_counter()]

        def note(i: int, s: str, m: Measurement, from_store: bool) -> None:
            now = time.perf_counter()
            stored[i], cost[i] = from_store, 0.0 if from_store else now - t[0]
            t[0] = now

        ms = self.measurements(X, on_result=note)
        lat = np.array([m.latency_ms for m in ms], dtype=np.float64)
        spread = np.array([m.spread_ms for m in ms], dtype=np.float64)
        return LatencyBatch(lat, spread, cost, self.fidelity, stored)

    def describe(self) -> dict[str, object]:
        d = super().describe()
        d.update(protocol=self.protocol.to_dict(), dataset=self.dataset)
        d.update(measurements_taken=self.n_taken, measurements_reused=self.n_reused)
        return d


class LocalDevice(LiveDevice):
    """Latency of NB201 networks measured in this process, on this machine's CPU or GPU.

    Args:
        space: The NB201 space.
        protocol: Measurement protocol (its ``device`` selects CPU or CUDA).
        dataset: Network variant (cifar10: 3x32x32 input, 10 classes).
        store: Measurement store (``None``: nothing persists).
        name: Device name (default: the canonical ``local:...`` name of the settings).

    Raises:
        MeasureError: for a CUDA protocol when torch sees no CUDA device.
    """

    def __init__(
        self,
        space: SearchSpace,
        protocol: Protocol | None = None,
        dataset: str = "cifar10",
        store: MeasurementStore | None = None,
        name: str | None = None,
    ) -> None:
        from moohw.measure.timing import cuda_available

        protocol = protocol or Protocol()
        if protocol.device == "cuda" and not cuda_available():
            import torch

            raise MeasureError(
                f"local:cuda needs a CUDA device, but torch {torch.__version__} sees none here"
            )
        super().__init__(
            name or local_name(protocol, dataset), space, protocol, dataset, store=store
        )
        self.cost_s = 0.5  # nominal until the first measurement sets the observed mean

    def _identity(self) -> dict[str, Any]:
        return hardware_info(self.protocol.device)

    def _measure(self, arch: np.ndarray) -> tuple[Measurement, str]:
        from moohw.measure.timing import measure_model
        from moohw.nets.nb201 import build_network, input_shape

        net = build_network(arch, self.dataset, seed=0)  # weights do not change latency
        return measure_model(net, self.protocol, input_shape(self.dataset)), hostname()


def parse_live_options(arg: str, kind: str = "local") -> tuple[str, Protocol, str]:
    """Parse ``cpu?threads=2&batch=8`` into ``(target, protocol, dataset)``.

    Args:
        arg: The part of the name after ``kind:``.
        kind: Name kind for messages.

    Raises:
        ValueError: on an unknown key, a bad value or a repeated key (naming the valid ones).
    """
    target, _, query = arg.partition("?")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise InputError(
            f"bad options {query!r} in {kind}:{arg}; expected key=value&... with keys "
            + ", ".join(LIVE_OPTIONS)
        ) from None
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise InputError(f"repeated option in {kind}:{arg}")
    types = {f.name: f.type for f in fields(Protocol)}
    kwargs: dict[str, Any] = {}
    dataset = "cifar10"
    for k, v in pairs:
        if k == "dataset":
            dataset = v
            continue
        if k not in _OPTION_FIELDS:
            raise InputError(
                f"unknown option {k!r} in {kind}:{arg}; known: {', '.join(LIVE_OPTIONS)}"
            )
        fname = _OPTION_FIELDS[k]
        try:
            if types[fname] in ("int", int):
                kwargs[fname] = int(v)
            elif types[fname] in ("float", float):
                kwargs[fname] = float(v)
            elif types[fname] in ("bool", bool):
                if v.lower() not in ("0", "1", "true", "false"):
                    raise InputError(v)
                kwargs[fname] = v.lower() in ("1", "true")
            else:
                kwargs[fname] = v
        except ValueError:
            raise InputError(
                f"option {k}={v!r} in {kind}:{arg} needs a {types[fname]} value"
            ) from None
    if dataset not in _DATASETS:
        raise InputError(
            f"unknown dataset {dataset!r} in {kind}:{arg}; known: {', '.join(_DATASETS)}"
        )
    return target, Protocol(**kwargs), dataset


def local_name(protocol: Protocol, dataset: str = "cifar10") -> str:
    """Canonical ``local:...`` name: the target plus every option that differs from default."""
    default = replace(Protocol(), device=protocol.device)
    opts = [
        f"{k}={_fmt(getattr(protocol, f))}"
        for k, f in _OPTION_FIELDS.items()
        if getattr(protocol, f) != getattr(default, f)
    ]
    if dataset != "cifar10":
        opts.append(f"dataset={dataset}")
    return f"local:{protocol.device}" + ("?" + "&".join(opts) if opts else "")


def _fmt(v: object) -> str:
    return str(int(v)) if isinstance(v, bool) else str(v)


def local_device(
    arg: str, space: SearchSpace, store: MeasurementStore | None = None
) -> LocalDevice:
    """Build ``local:<arg>`` (``cpu`` or ``cuda`` plus options; see the module docstring).

    Args:
        arg: The name without ``local:``.
        space: Must be NB201.
        store: Measurement store; ``None`` opens the default one (``MOOHW_STORE`` or the user
            cache directory) on first use.
    """
    target, protocol, dataset = parse_live_options(arg, "local")
    if target not in ("cpu", "cuda"):
        raise InputError(f"unknown local device {target!r}; known: cpu, cuda")
    protocol = replace(protocol, device=target)
    return LocalDevice(
        space, protocol, dataset, store if store is not None else MeasurementStore()
    )
