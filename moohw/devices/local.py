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

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from moohw.devices.live import LiveDevice, ResultCallback
from moohw.devices.local_names import (
    LIVE_OPTIONS,
    local_name,
    parse_live_options,
    parse_local_name,
)
from moohw.errors import InputError
from moohw.measure.fingerprint import hardware_info, hostname
from moohw.measure.protocol import MeasureError, Measurement, Protocol
from moohw.measure.runtimes import DEFAULTS, TARGETS, check_options, runtime_info
from moohw.measure.store import MeasurementStore
from moohw.spaces import SearchSpace

__all__ = [
    "LIVE_OPTIONS",
    "REFERENCE_ARCH",
    "LiveDevice",
    "LocalDevice",
    "ResultCallback",
    "local_device",
    "local_name",
    "parse_live_options",
    "parse_local_name",
]

#: The fixed reference cell of the drift-robust schedule (a mid-cost cell: convs, pool, skip).
REFERENCE_ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|"  # noqa: E501


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
