"""Analytic size proxies for the NB201 network: parameter count and FLOPs (no torch needed).

The network is the NAS-Bench-201 ``TinyNetwork`` (Dong & Yang, ICLR 2020): a 3×3 conv + BN
stem with C=16, three stages of five cells (C = 16, 32, 64) joined by ResNet basic blocks with
stride 2 (ReLU-Conv3x3-BN twice, shortcut AvgPool2d(2) + Conv1x1), then BN + ReLU, global average
pooling and a linear classifier. Convolutional cell ops are ReLU-Conv(bias=False)-BN(affine);
``none``, ``skip_connect`` and ``avg_pool_3x3`` have no parameters. The parameter count is checked
against the ``*_params_mb`` columns of NAS-Bench-201 in the tests.
"""

from __future__ import annotations

import numpy as np

from moohw.proxies.base import AccuracyProxy

#: (number of classes, input side in pixels) per dataset.
DATASET_SHAPES: dict[str, tuple[int, int]] = {
    "cifar10": (10, 32),
    "cifar100": (100, 32),
    "imagenet16": (120, 16),
}
_STAGE_C = (16, 32, 64)
_CELLS_PER_STAGE = 5


def _conv_params(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k


def nb201_params(X: np.ndarray, dataset: str = "cifar10") -> np.ndarray:
    """Trainable parameters (count, float64) of NB201 networks ``(n, 6)`` → ``(n,)``."""
    classes, _ = DATASET_SHAPES[dataset]
    X = np.asarray(X)
    n3 = (X == 3).sum(axis=1)
    n1 = (X == 2).sum(axis=1)
    fixed = _conv_params(3, 16, 3) + 2 * 16  # stem conv + BN
    for c_in, c_out in ((16, 32), (32, 64)):
        fixed += _conv_params(c_in, c_out, 3) + 2 * c_out  # conv_a + BN
        fixed += _conv_params(c_out, c_out, 3) + 2 * c_out  # conv_b + BN
        fixed += _conv_params(c_in, c_out, 1)  # shortcut conv, no BN
    fixed += 2 * 64 + 64 * classes + classes  # last BN + classifier
    per_cell = np.zeros(len(X), dtype=np.float64)
    for c in _STAGE_C:
        per_cell += _CELLS_PER_STAGE * (n3 * (9 * c * c + 2 * c) + n1 * (c * c + 2 * c))
    return fixed + per_cell


def nb201_flops(X: np.ndarray, dataset: str = "cifar10") -> np.ndarray:
    """Multiply-accumulates (count, float64) of convolutions and the classifier, batch 1.

    Convolutions dominate; BN, ReLU, pooling and additions are not counted.
    """
    classes, side = DATASET_SHAPES[dataset]
    X = np.asarray(X)
    n3 = (X == 3).sum(axis=1)
    n1 = (X == 2).sum(axis=1)
    hw = side * side
    fixed = 27 * 16 * hw  # stem
    per_cell = np.zeros(len(X), dtype=np.float64)
    for s, c in enumerate(_STAGE_C):
        area = hw // (4**s)
        per_cell += _CELLS_PER_STAGE * area * (n3 * 9 * c * c + n1 * c * c)
        if s > 0:
            c_in = _STAGE_C[s - 1]
            fixed += area * (9 * c_in * c + 9 * c * c + c_in * c)
    fixed += 64 * classes
    return fixed + per_cell


class ParamsProxy(AccuracyProxy):
    """Number of parameters in millions: bigger NB201 networks tend to be more accurate."""

    name = "params"

    def _score(self, X: np.ndarray) -> np.ndarray:
        return nb201_params(X, self.dataset) / 1e6


class FlopsProxy(AccuracyProxy):
    """Millions of multiply-accumulates (batch 1)."""

    name = "flops"

    def _score(self, X: np.ndarray) -> np.ndarray:
        return nb201_flops(X, self.dataset) / 1e6
