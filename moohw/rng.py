"""One seed in, one ``numpy.random.Generator`` threaded through (STYLE rule 9)."""

from __future__ import annotations

import numpy as np

from moohw.errors import InputError

SeedLike = int | np.random.Generator | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return ``seed`` as a Generator (a Generator is returned unchanged, not copied)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (not isinstance(seed, int | np.integer) or seed < 0):
        raise InputError(f"seed must be a non-negative int, a Generator or None, got {seed!r}")
    return np.random.default_rng(seed)
