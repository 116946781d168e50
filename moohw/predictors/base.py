"""The latency-predictor abstraction: fit on knowledge devices plus a few target samples.

A predictor transfers what it learned on *knowledge* devices (full or partial latency tables of
other hardware) to a *target* device from ``k`` measured samples, then predicts every
architecture. Target data never leaks into knowledge: callers pass them separately.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from moohw.rng import SeedLike
from moohw.spaces import SearchSpace


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
            raise ValueError(
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
    """

    name: str = "predictor"

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
            raise ValueError(f"y_target_ms shape {y.shape} != ({len(X_target)},)")
        if not np.isfinite(y).all():
            raise ValueError("target latencies must be finite")
        for name, d in knowledge.items():
            if d.X.shape[1] != self.space.n_var:
                raise ValueError(f"knowledge device {name}: X has {d.X.shape[1]} variables")
        self._fit(knowledge, X_target, y, seed)
        self._fitted = True
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted latency ``(n,)`` in ms."""
        if not self._fitted:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        X = self.space.validate(X)
        out = np.asarray(self._predict(X), dtype=np.float64)
        if out.shape != (len(X),):
            raise RuntimeError(f"{self.name} returned shape {out.shape}")
        return out

    @abstractmethod
    def _fit(
        self, knowledge: Knowledge, X: np.ndarray, y_ms: np.ndarray, seed: SeedLike
    ) -> None:
        """Fit on validated inputs."""

    @abstractmethod
    def _predict(self, X: np.ndarray) -> np.ndarray:
        """Predict for validated ``X``."""
