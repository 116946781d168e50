"""The latency-predictor abstraction: fit on knowledge devices plus a few target samples.

A predictor transfers what it learned on *knowledge* devices (full or partial latency tables of
other hardware) to a *target* device from ``k`` measured samples, then predicts every
architecture. Target data never leaks into knowledge: callers pass them separately.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from moohw.errors import InputError
from moohw.rng import SeedLike
from moohw.spaces import SearchSpace


@contextmanager
def blas_single_thread() -> Iterator[None]:
    """Limit BLAS to one thread while fitting/predicting (restored afterwards).

    Predictor matrices are small (at most a few hundred columns); on a loaded 2-core machine
    multi-threaded BLAS made the FBNet contract tests 4x slower (measured 72 s vs 18 s). Uses
    ``threadpoolctl`` when it is installed, and does nothing otherwise.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: only a speed-up
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@contextmanager
def torch_single_thread() -> Iterator[None]:
    """Run torch single-threaded (restored afterwards): the predictor nets are tiny, and
    intra-op threads on a shared 2-core machine made each NASFLAT step ~50x slower (measured
    0.24 s vs 5 ms per step)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@dataclass(frozen=True)
class DeviceData:
    """Latency samples of one device.

    Attributes:
        X: ``(m, n_var)`` architectures.
        latency_ms: ``(m,)`` latency in ms.
    """

    X: np.ndarray
    latency_ms: np.ndarray

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.latency_ms.shape != (len(self.X),):
            raise InputError(
                f"DeviceData needs X (m, n_var) and latency_ms (m,); got {self.X.shape}, "
                f"{self.latency_ms.shape}"
            )


Knowledge = Mapping[str, DeviceData]


class LatencyPredictor(ABC):
    """Predicts latency (ms) of architectures on one target device.

    Subclasses implement :meth:`_fit` and :meth:`_predict`; the public methods validate.

    Attributes:
        name: Registry name.
        space: Search space.
        cost_s: Nominal cost of one prediction in seconds, booked with every predictor query
            of a search (a fitted model answers in microseconds: 0).
    """

    name: str = "predictor"
    cost_s: float = 0.0

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self._fitted = False

    def fit(
        self,
        knowledge: Knowledge,
        X_target: np.ndarray,
        y_target_ms: np.ndarray,
        seed: SeedLike = None,
    ) -> LatencyPredictor:
        """Fit on knowledge devices and ``k`` target samples; returns ``self``.

        Args:
            knowledge: Device name → samples of *other* devices (may be empty).
            X_target: ``(k, n_var)`` measured target architectures.
            y_target_ms: ``(k,)`` their latency in ms.
            seed: Seed or Generator for stochastic predictors.
        """
        X_target = self.space.validate(X_target)
        y = np.asarray(y_target_ms, dtype=np.float64)
        if y.shape != (len(X_target),):
            raise InputError(f"y_target_ms shape {y.shape} != ({len(X_target)},)")
        if not np.isfinite(y).all():
            raise InputError("target latencies must be finite")
        for name, d in knowledge.items():
            if d.X.shape[1] != self.space.n_var:
                raise InputError(f"knowledge device {name}: X has {d.X.shape[1]} variables")
        with blas_single_thread():
            self._fit(knowledge, X_target, y, seed)
        self._fitted = True
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted latency ``(n,)`` in ms."""
        if not self._fitted:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        X = self.space.validate(X)
        with blas_single_thread():
            out = np.asarray(self._predict(X), dtype=np.float64)
        if out.shape != (len(X),):
            raise RuntimeError(f"{self.name} returned shape {out.shape}")
        return out

    @abstractmethod
    def _fit(self, knowledge: Knowledge, X: np.ndarray, y_ms: np.ndarray, seed: SeedLike) -> None:
        """Fit on validated inputs."""

    @abstractmethod
    def _predict(self, X: np.ndarray) -> np.ndarray:
        """Predict for validated ``X``."""


def knowledge_key(knowledge: Knowledge) -> tuple[tuple[str, int, int], ...]:
    """A cheap fingerprint of knowledge data, so predictors can cache what they derive from it.

    Returns:
        One ``(name, n_samples, hash of architectures and latencies)`` triple per device, sorted.
    """
    out = []
    for name in sorted(knowledge):
        d = knowledge[name]
        h = hash(
            (np.ascontiguousarray(d.X).tobytes(), np.ascontiguousarray(d.latency_ms).tobytes())
        )
        out.append((name, len(d.X), h))
    return tuple(out)


class KnowledgeLookup:
    """Latency of given architectures on each knowledge device, with per-device maps cached.

    Args:
        space: Search space of the knowledge data.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self._maps: dict[tuple[str, int, int], dict[bytes, float]] = {}

    def at(self, knowledge: Knowledge, X: np.ndarray) -> dict[str, np.ndarray]:
        """Device name → ``(k,)`` latency (ms) of ``X`` ``(k, n_var)``, for the devices that
        cover every row of ``X`` (the others are left out)."""
        keys = self.space.keys(X)
        out: dict[str, np.ndarray] = {}
        for (name, n, h), d in zip(
            knowledge_key(knowledge), (knowledge[k] for k in sorted(knowledge))
        ):
            m = self._maps.get((name, n, h))
            if m is None:
                m = dict(zip(self.space.keys(d.X), d.latency_ms.tolist()))
                self._maps[(name, n, h)] = m
            if all(k in m for k in keys):
                out[name] = np.array([m[k] for k in keys])
        return out
