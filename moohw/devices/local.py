"""Live devices: latency measured now, on this machine (``local:cpu``, ``local:onnxruntime``, ...).

A :class:`LiveDevice` consults the measurement store first and measures only the architectures
it has never measured under the same fingerprint (hardware, software, runtime, protocol). Before
measuring it claims them in the store (a lease renewed while it works), so workers sharing a
store measure each architecture once; a killed worker's claims expire and are taken over. The
cells it claimed are measured in batches with the drift-robust schedule of
:mod:`moohw.measure.robust` (``rounds=1``: one series per cell), and each measurement is committed
as soon as its batch ends, so a killed run loses at most one batch.

Name syntax: ``local:TARGET`` with TARGET one of ``cpu``, ``cuda`` (PyTorch eager),
``torchscript``, ``onnxruntime``, ``openvino`` (see :mod:`moohw.measure.runtimes`), optionally
followed by ``?key=value&...``. Protocol keys: ``batch`` (batch size), ``threads``, ``dtype``
(float32, float16, bfloat16), ``channels_last`` (0/1), ``warmup``, ``repeats``, ``outlier_k``,
``max_cv``, ``attempts``, ``timer`` (wall, thread, auto), the schedule's ``rounds``,
``min_rounds``, ``round_repeats``, ``ref_every``, ``rank_rho``, ``batch_cells``, and ``dataset``
(cifar10, cifar100, imagenet16). Runtime keys: ``cuda_graph`` (0/1, cuda), ``opt``
(all, extended, basic, none) and ``ep`` (cpu, cuda) for onnxruntime. E.g.
``local:onnxruntime?threads=1&batch=1&opt=basic``. Defaults follow :class:`moohw.measure.Protocol`.
"""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np

from moohw.devices.base import Device, LatencyBatch
from moohw.errors import InputError
from moohw.measure.claims import new_owner
from moohw.measure.fingerprint import fingerprint, hardware_info, hostname
from moohw.measure.protocol import MeasureError, Measurement, Protocol
from moohw.measure.runtimes import DEFAULTS, TARGETS, check_options, runtime_info
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
    "rounds": "rounds",
    "min_rounds": "min_rounds",
    "round_repeats": "round_repeats",
    "ref_every": "ref_every",
    "rank_rho": "rank_rho",
    "batch_cells": "batch_cells",
}
#: The fixed reference cell of the drift-robust schedule (a mid-cost cell: convs, pool, skip).
REFERENCE_ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|"  # noqa: E501
LIVE_OPTIONS: tuple[str, ...] = (*_OPTION_FIELDS, "dataset")


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


class LocalDevice(LiveDevice):
    """Latency of NB201 networks measured in this process, on this machine.

    Args:
        space: The NB201 space.
        protocol: Measurement protocol (its ``device`` selects CPU or CUDA for torch targets).
        dataset: Network variant (cifar10: 3x32x32 input, 10 classes).
        store: Measurement store (``None``: nothing persists).
        name: Device name (default: the canonical ``local:...`` name of the settings).
        target: ``cpu``/``cuda`` (PyTorch eager; must match ``protocol.device``),
            ``torchscript``, ``onnxruntime`` or ``openvino``.
        options: Runtime options of the target (see :data:`moohw.measure.runtimes.TARGETS`).
        lease_s: Claim lease in seconds.
        seed: Seed of the randomised order of the drift-robust schedule.

    Raises:
        MeasureError: for a CUDA protocol when torch sees no CUDA device, or a runtime whose
            package is not installed (naming the ``runtimes`` extra).
        ValueError: options the target does not take.
    """

    def __init__(
        self,
        space: SearchSpace,
        protocol: Protocol | None = None,
        dataset: str = "cifar10",
        store: MeasurementStore | None = None,
        name: str | None = None,
        target: str | None = None,
        options: Mapping[str, str] | None = None,
        lease_s: float = 120.0,
        seed: int = 0,
    ) -> None:
        from moohw.measure.timing import cuda_available

        protocol = protocol or Protocol()
        target = target or protocol.device
        if target not in TARGETS:
            raise InputError(f"unknown local device {target!r}; known: {', '.join(TARGETS)}")
        if target in ("cpu", "cuda") and target != protocol.device:
            raise InputError(f"target {target} needs protocol device {target}")
        opts = {k: str(v) for k, v in (options or {}).items() if DEFAULTS.get(k) != str(v)}
        check_options(target, opts, protocol)
        if protocol.device == "cuda" and not cuda_available():
            import torch

            raise MeasureError(
                f"local:cuda needs a CUDA device, but torch {torch.__version__} sees none here"
            )
        self.target = target
        self.options = dict(sorted(opts.items()))
        self._runtime = runtime_info(target, self.options)  # fails now if the package is absent
        super().__init__(
            name or local_name(protocol, dataset, target, self.options),
            space,
            protocol,
            dataset,
            store=store,
            lease_s=lease_s,
        )
        self._rng = np.random.default_rng(seed)
        self._pinned_ms: float | None = None
        self.cost_s = 0.5  # nominal until the first measurement sets the observed mean

    def _identity(self) -> dict[str, Any]:
        return hardware_info(self.protocol.device)

    def _extra(self) -> dict[str, Any]:
        extra = super()._extra()
        if self.target not in ("cpu", "cuda") or self.options:
            extra.update(self._runtime)  # eager torch without options keeps its old fingerprint
        return extra

    def _runner(self, arch_str: str) -> Any:
        from moohw.measure.runtimes import build_runner

        return build_runner(self.target, arch_str, self.dataset, self.protocol, self.options)

    def _measure(self, arch: np.ndarray) -> tuple[Measurement, str]:
        from moohw.measure.timing import measure_runner

        with self._context():
            runner = self._runner(self.space.to_str(arch)[0])
            return measure_runner(runner, self.protocol), hostname()

    @contextmanager
    def _context(self) -> Iterator[None]:
        """Torch's thread count set to the protocol's for the duration (restored after)."""
        import torch

        old = torch.get_num_threads()
        torch.set_num_threads(self.protocol.threads)
        try:
            yield
        finally:
            torch.set_num_threads(old)

    def _measure_batch(self, X: np.ndarray) -> list[tuple[Measurement, str]]:
        if not self.protocol.robust:
            return super()._measure_batch(X)
        from moohw.measure.robust import measure_batch
        from moohw.measure.timing import time_visit

        p = self.protocol
        with self._context():
            runners = [self._runner(s) for s in self.space.to_str(X)]
            ref = self._runner(REFERENCE_ARCH)

            def visit(r: Any) -> Callable[[bool], np.ndarray]:
                return lambda first: time_visit(r, p.warmup if first else 1, p.round_repeats)

            ms, report = measure_batch(
                [visit(r) for r in runners],
                visit(ref),
                p,
                self._rng,
                pin=self._pin,
                on_round=self.on_round,
            )
        self.last_batches.append(report)
        host = hostname()
        return [(m, host) for m in ms]

    def _pin(self, batch_ms: float) -> float:
        """The reference latency all batches of this device are scaled to.

        The first batch measured under a fingerprint pins it in the store; later batches, in
        this or another process, reuse it, so their corrected latencies share one scale.
        """
        if self._pinned_ms is None:
            if self.store is not None:
                self._pinned_ms = self.store.pin_reference(
                    self.fingerprint, self.protocol, REFERENCE_ARCH, batch_ms
                )
            else:
                self._pinned_ms = batch_ms
        return self._pinned_ms

    def describe(self) -> dict[str, object]:
        d = super().describe()
        d.update(target=self.target, runtime=self._runtime)
        return d


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


def parse_local_name(arg: str) -> tuple[str, Protocol, str, dict[str, str]]:
    """Parse ``onnxruntime?threads=1&opt=basic`` into ``(target, protocol, dataset, options)``.

    Runtime options (those of :data:`moohw.measure.runtimes.TARGETS` for the target) are split
    from protocol options; the protocol's ``device`` is ``cuda`` for ``cuda`` (and
    ``onnxruntime?ep=cuda``), else ``cpu``.

    Raises:
        ValueError: an unknown target, option or value (naming what is valid).
    """
    target, _, query = arg.partition("?")
    if target not in TARGETS:
        raise InputError(f"unknown local device {target!r}; known: {', '.join(TARGETS)}")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        pairs = []  # parse_live_options reports the malformed query below
        rest = query
    else:
        runtime_keys = TARGETS[target]
        options = {k: v for k, v in pairs if k in runtime_keys}
        rest = urlencode([(k, v) for k, v in pairs if k not in runtime_keys])
    _, protocol, dataset = parse_live_options(f"{target}?{rest}" if rest else target, "local")
    if not pairs:
        options = {}
    for k, v in options.items():
        if v not in TARGETS[target][k]:
            raise InputError(
                f"option {k}={v!r} of local:{target} must be one of {TARGETS[target][k]}"
            )
    gpu = target == "cuda" or options.get("ep") == "cuda"
    return target, replace(protocol, device="cuda" if gpu else "cpu"), dataset, options


def local_name(
    protocol: Protocol,
    dataset: str = "cifar10",
    target: str | None = None,
    options: Mapping[str, str] | None = None,
) -> str:
    """Canonical ``local:...`` name: the target plus every option that differs from default."""
    default = replace(Protocol(), device=protocol.device)
    opts = [
        f"{k}={_fmt(getattr(protocol, f))}"
        for k, f in _OPTION_FIELDS.items()
        if getattr(protocol, f) != getattr(default, f)
    ]
    opts += [f"{k}={v}" for k, v in sorted((options or {}).items()) if DEFAULTS.get(k) != v]
    if dataset != "cifar10":
        opts.append(f"dataset={dataset}")
    return f"local:{target or protocol.device}" + ("?" + "&".join(opts) if opts else "")


def _fmt(v: object) -> str:
    return str(int(v)) if isinstance(v, bool) else str(v)


def local_device(
    arg: str, space: SearchSpace, store: MeasurementStore | None = None, lease_s: float = 120.0
) -> LocalDevice:
    """Build ``local:<arg>`` (a target plus options; see the module docstring).

    Args:
        arg: The name without ``local:``.
        space: Must be NB201.
        store: Measurement store; ``None`` opens the default one (``MOOHW_STORE`` or the user
            cache directory) on first use.
        lease_s: Claim lease in seconds.
    """
    target, protocol, dataset, options = parse_local_name(arg)
    return LocalDevice(
        space,
        protocol,
        dataset,
        store if store is not None else MeasurementStore(),
        target=target,
        options=options,
        lease_s=lease_s,
    )
