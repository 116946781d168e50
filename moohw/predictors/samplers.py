"""Samplers that choose which ``k`` architectures to measure on a new device.

- ``random``: uniform without replacement (the published task-suite convention).
- ``kmeans``: NASFLAT's encoding-based sampler (Akhauri & Abdelfattah, MLSys 2024): half the budget
  takes the member closest to each centroid of a k-means clustering of the one-hot encoding, the
  other half one random member from each of equal-size buckets of cosine similarity to the
  encoding mean.
- ``balanced``: stratified sampling in the spirit of ESM (Nasir et al., DAC 2025): ``k``
  equal-count strata of a reference latency (when given, e.g. a current predictor's estimate or
  a proxy device) or otherwise of a feature-derived size score (the first principal component of
  the one-hot encoding), one random member per stratum, so the latency range is covered.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from moohw.errors import InputError, UnknownNameError
from moohw.predictors.features import one_hot
from moohw.rng import SeedLike, as_generator
from moohw.spaces import SearchSpace

Sampler = Callable[
    [SearchSpace, np.ndarray, int, np.random.Generator, "np.ndarray | None"], np.ndarray
]


def _random(
    space: SearchSpace, C: np.ndarray, k: int, rng: np.random.Generator, ref: np.ndarray | None
) -> np.ndarray:
    return rng.choice(len(C), size=k, replace=False)


def kmeans(
    E: np.ndarray, n: int, rng: np.random.Generator, iters: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding: labels ``(N,)`` and centres ``(n, D)``."""
    centres = [E[int(rng.integers(len(E)))]]
    d2 = ((E - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, n):
        tot = float(d2.sum())
        i = int(rng.choice(len(E), p=d2 / tot)) if tot > 0 else int(rng.integers(len(E)))
        centres.append(E[i])
        d2 = np.minimum(d2, ((E - E[i]) ** 2).sum(axis=1))
    C = np.array(centres)
    labels = np.zeros(len(E), dtype=np.int64)
    for _ in range(iters):
        D = (E**2).sum(axis=1)[:, None] - 2 * E @ C.T + (C**2).sum(axis=1)[None, :]
        labels = D.argmin(axis=1)
        new = np.array(
            [E[labels == j].mean(axis=0) if (labels == j).any() else C[j] for j in range(n)]
        )
        if np.allclose(new, C):
            break
        C = new
    return labels, C


def _kmeans(
    space: SearchSpace, C: np.ndarray, k: int, rng: np.random.Generator, ref: np.ndarray | None
) -> np.ndarray:
    E = one_hot(space, C)
    n_clu = max(1, (k + 1) // 2)
    labels, centres = kmeans(E, n_clu, rng)
    chosen: list[int] = []
    taken = np.zeros(len(C), dtype=bool)
    for c in range(n_clu):
        members = np.flatnonzero(labels == c)
        if len(members) == 0:
            continue
        d = ((E[members] - centres[c]) ** 2).sum(axis=1)
        i = int(members[np.argmin(d)])
        chosen.append(i)
        taken[i] = True
    rest = k - len(chosen)
    if rest > 0:
        m = E.mean(axis=0)
        cos = E @ m / (np.linalg.norm(E, axis=1) * np.linalg.norm(m) + 1e-12)
        order = np.argsort(cos, kind="stable")
        for bucket in np.array_split(order, rest):
            free = bucket[~taken[bucket]]
            if len(free) == 0:
                free = np.flatnonzero(~taken)
            i = int(rng.choice(free))
            chosen.append(i)
            taken[i] = True
    return np.array(chosen[:k], dtype=np.int64)


def _size_score(space: SearchSpace, C: np.ndarray) -> np.ndarray:
    E = one_hot(space, C)
    E = E - E.mean(axis=0)
    # First principal component via a few power iterations (deterministic start).
    v = np.ones(E.shape[1]) / np.sqrt(E.shape[1])
    for _ in range(50):
        v = E.T @ (E @ v)
        v /= np.linalg.norm(v) + 1e-12
    return E @ v


def _balanced(
    space: SearchSpace, C: np.ndarray, k: int, rng: np.random.Generator, ref: np.ndarray | None
) -> np.ndarray:
    score = _size_score(space, C) if ref is None else np.asarray(ref, dtype=np.float64)
    # Ties broken at random so equal scores do not always pick the same member.
    order = np.lexsort((rng.random(len(C)), score))
    return np.array([int(rng.choice(b)) for b in np.array_split(order, k)], dtype=np.int64)


SAMPLERS: dict[str, Sampler] = {"random": _random, "kmeans": _kmeans, "balanced": _balanced}


def sample(
    name: str,
    space: SearchSpace,
    candidates: np.ndarray,
    k: int,
    seed: SeedLike = None,
    reference_latency: np.ndarray | None = None,
) -> np.ndarray:
    """Choose ``k`` distinct candidates to measure.

    Args:
        name: ``random``, ``kmeans`` or ``balanced``.
        space: Search space of the candidates.
        candidates: ``(N, n_var)`` architectures to choose from.
        k: How many to choose, ``1 <= k <= N``.
        seed: Seed or Generator.
        reference_latency: ``(N,)`` latency estimate (ms) of the candidates that ``balanced``
            stratifies on; ignored by the other samplers.

    Returns:
        ``(k,)`` distinct int64 indices into ``candidates``.

    Raises:
        KeyError: unknown sampler (the message lists the known ones).
        ValueError: bad ``k`` or ``reference_latency`` shape.
    """
    if name not in SAMPLERS:
        raise UnknownNameError(f"unknown sampler {name!r}; known: {', '.join(sorted(SAMPLERS))}")
    C = space.validate(candidates)
    if not 1 <= k <= len(C):
        raise InputError(f"k must lie in [1, {len(C)}], got {k}")
    if reference_latency is not None and np.shape(reference_latency) != (len(C),):
        raise InputError(f"reference_latency shape {np.shape(reference_latency)} != ({len(C)},)")
    idx = np.asarray(SAMPLERS[name](space, C, k, as_generator(seed), reference_latency))
    return idx.astype(np.int64)
