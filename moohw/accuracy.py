"""Benchmark accuracy: an evaluation oracle used only for scoring, never as a search objective."""

from __future__ import annotations

import numpy as np

from moohw.data import BenchmarkData, DataError
from moohw.errors import InputError, UnknownNameError
from moohw.spaces import SearchSpace

DEFAULT_ACCURACY = "cifar10_test_200ep"


class BenchmarkAccuracy:
    """Looks up a NAS-Bench-201 accuracy column (percent) for architectures.

    Args:
        space: Must be the NB201 space (the only space with public accuracy tables here).
        data: The benchmark data folder.
        column: A column of ``nb201/accuracy.csv`` (default the CIFAR-10 200-epoch test accuracy).
    """

    def __init__(
        self, space: SearchSpace, data: BenchmarkData, column: str = DEFAULT_ACCURACY
    ) -> None:
        if space.name != "nb201":
            raise InputError(f"benchmark accuracy is available for nb201 only, not {space.name}")
        df = data.table("nb201/accuracy.csv")
        acc_cols = [c for c in df.columns if c != "index" and "params" not in c]
        if column not in df.columns or column == "index":
            raise UnknownNameError(
                f"unknown accuracy column {column!r}; known: {', '.join(acc_cols)}"
            )
        self.space = space
        self.column = column
        index = data.nb201_index()
        archs = index.to_archs(df["index"].to_numpy())
        values = np.full(space.size, np.nan)
        values[space.position(archs)] = df[column].to_numpy(dtype=np.float64)
        if np.isnan(values).any():
            raise DataError(f"{column}: {int(np.isnan(values).sum())} cells have no accuracy")
        self._by_position = values

    def accuracy(self, X: np.ndarray) -> np.ndarray:
        """Accuracy in percent ``(n,)`` of architectures ``(n, 6)``."""
        return self._by_position[self.space.position(X)]

    __call__ = accuracy
