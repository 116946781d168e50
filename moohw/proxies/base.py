"""The accuracy-proxy abstraction: a deterministic, vectorised score where higher is better."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from moohw.spaces import SearchSpace

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "imagenet16")


class AccuracyProxy(ABC):
    """A training-free estimate of accuracy; higher is better.

    Subclasses implement :meth:`_score`; :meth:`score` validates input and output shapes.

    Attributes:
        name: Registry name.
        space: The search space scored.
        dataset: Dataset shape the networks are built for (``cifar10``, ``cifar100``,
            ``imagenet16``).
        cost_s: Nominal cost of one query in seconds (cheap queries are counted, not budgeted).
    """

    name: str = "proxy"
    cost_s: float = 0.0

    def __init__(self, space: SearchSpace, dataset: str = "cifar10") -> None:
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
        self.space = space
        self.dataset = dataset

    def score(self, X: np.ndarray) -> np.ndarray:
        """Proxy scores ``(n,)`` float64 of architectures ``(n, n_var)`` (higher is better)."""
        X = self.space.validate(X)
        out = np.asarray(self._score(X), dtype=np.float64)
        if out.shape != (X.shape[0],):
            raise RuntimeError(f"proxy {self.name} returned shape {out.shape}, want ({len(X)},)")
        return out

    __call__ = score

    @abstractmethod
    def _score(self, X: np.ndarray) -> np.ndarray:
        """Scores for validated ``X``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space.name}, dataset={self.dataset})"
