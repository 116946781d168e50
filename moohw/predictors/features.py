"""Architecture encodings for linear latency models."""

from __future__ import annotations

import numpy as np

from moohw.spaces import SearchSpace


def one_hot(space: SearchSpace, X: np.ndarray) -> np.ndarray:
    """Per-variable one-hot encoding ``(n, sum(n_choices))`` float64 (per-edge / per-layer)."""
    X = space.validate(X)
    offsets = np.r_[0, np.cumsum(space.n_choices)[:-1]]
    out = np.zeros((len(X), int(space.n_choices.sum())))
    out[np.arange(len(X))[:, None], X + offsets[None, :]] = 1.0
    return out


def op_counts(space: SearchSpace, X: np.ndarray) -> np.ndarray:
    """How many variables take each choice ``(n, max_choices)`` float64.

    Meaningful when every variable has the same choices (NB201 ops, FBNet blocks).
    """
    X = space.validate(X)
    k = int(space.n_choices.max())
    return np.stack([(X == c).sum(axis=1) for c in range(k)], axis=1).astype(np.float64)
