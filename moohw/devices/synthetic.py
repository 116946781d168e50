"""Synthetic devices: seeded latency models standing in for real hardware.

First version (the controller work extends it with priors fitted on knowledge devices): an
additive per-op model. For NB201 each op has a per-edge cost drawn from a truncated normal; for
FBNet each block has a base cost scaled per layer. A fixed overhead is added. The truncation bounds
are standardised as scipy expects (``a = (low - mean) / std``), so samples fall on both sides of
the mean (the Sim-is-More public code passes absolute bounds, which biases every sample upwards).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import truncnorm

from moohw.devices.base import Device
from moohw.errors import InputError
from moohw.rng import SeedLike, as_generator
from moohw.spaces import SearchSpace

# Per-edge op cost (ms) means and stds for NB201 ops: none, skip, conv1x1, conv3x3, avgpool.
_NB201_MEAN = np.array([0.0, 0.08, 0.55, 1.4, 0.35])
_NB201_STD = np.array([0.0, 0.06, 0.30, 0.70, 0.25])
# FBNet blocks k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6, skip.
_FBNET_MEAN = np.array([0.25, 0.22, 0.55, 1.0, 0.32, 0.28, 0.75, 1.4, 0.02])
_FBNET_STD = 0.5 * _FBNET_MEAN


def truncated_normal(
    mean: np.ndarray,
    std: np.ndarray,
    low: float | np.ndarray,
    high: float | np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Samples of N(mean, std) truncated to [low, high] (absolute bounds, standardised here).

    ``mean`` and ``std`` broadcast together; the result has their broadcast shape.
    """
    mean, std = np.atleast_1d(np.asarray(mean, float)), np.atleast_1d(np.asarray(std, float))
    low = np.broadcast_to(np.asarray(low, float), mean.shape)
    high = np.broadcast_to(np.asarray(high, float), mean.shape)
    out = mean.copy()
    ok = std > 0  # a zero-std entry (the 'none' op) is a constant
    if ok.any():
        m, s = mean[ok], std[ok]
        a, b = (low[ok] - m) / s, (high[ok] - m) / s
        out[ok] = truncnorm.rvs(a, b, loc=m, scale=s, random_state=rng)
    return out


class SyntheticDevice(Device):
    """An additive synthetic device drawn from a seed.

    Args:
        name: Device name (``synthetic:SEED``).
        space: ``nb201`` or ``fbnet``.
        seed: Seed or Generator for the device's parameters.
    """

    kind = "synthetic"
    exact = True
    cost_s = 1.0

    def __init__(self, name: str, space: SearchSpace, seed: SeedLike = 0) -> None:
        super().__init__(name, space)
        rng = as_generator(seed)
        self.overhead_ms = float(truncated_normal(np.array(1.0), np.array(0.5), 0.1, 3.0, rng)[0])
        if space.name == "nb201":
            op = truncated_normal(_NB201_MEAN, _NB201_STD, 0.0, 4 * _NB201_MEAN, rng)
            # Cost per (variable, choice): additive and position-independent in this version.
            self.table_ms = np.tile(op, (space.n_var, 1))
        elif space.name == "fbnet":
            block = truncated_normal(_FBNET_MEAN, _FBNET_STD, 0.0, 4 * _FBNET_MEAN, rng)
            # Deeper layers run at lower resolution but more channels: a mild per-layer scale.
            scale = truncated_normal(
                np.ones(space.n_var), 0.3 * np.ones(space.n_var), 0.3, 2.0, rng
            )
            self.table_ms = scale[:, None] * block[None, :]
        else:
            raise InputError(f"synthetic devices support nb201 and fbnet, not {space.name}")

    def _latency_ms(self, X: np.ndarray) -> np.ndarray:
        cols = np.arange(self.space.n_var)[None, :]
        return self.overhead_ms + self.table_ms[cols, X].sum(axis=1)
