"""Per-architecture evaluation of the torch proxies: build a seeded network, score it.

The network of a cell is initialised from a ``torch.Generator`` whose seed is derived from
``(seed, position of the cell in NB201Space.enumerate order)`` (:func:`cell_seed`), so a cell's
score does not depend on which other cells are scored with it, in which order or in which
process — which is what makes the shipped tables recomputable cell by cell.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import nn

from moohw.nets.nb201 import build_network, input_shape
from moohw.proxies import recent, scores
from moohw.proxies.batch import DEFAULT_BATCH_SIZE, DEFAULT_SEED, ProxyBatch, default_batch
from moohw.spaces.nb201 import NB201Space

_SPACE = NB201Space()
Shape = tuple[int, int, int]


@dataclass(frozen=True)
class Kernel:
    """How one torch proxy scores one network.

    Attributes:
        fn: ``(net, batch, input shape) -> score``; ``batch`` is ``None`` for data-free ones.
        needs_batch: Whether the score depends on the input batch.
        help: One-line description.
    """

    fn: Callable[[nn.Module, ProxyBatch | None, Shape], float]
    needs_batch: bool
    help: str


def _need(batch: ProxyBatch | None) -> ProxyBatch:
    if batch is None:
        raise ValueError("this proxy needs an input batch")
    return batch


KERNELS: dict[str, Kernel] = {
    "naswot": Kernel(
        lambda net, b, s: scores.naswot(net, _need(b).x),
        True,
        "NASWOT: log-det of the Hamming kernel of ReLU codes (Mellor et al. 2021)",
    ),
    "synflow": Kernel(
        lambda net, b, s: scores.synflow(net, s, log=False),
        False,
        "synflow: sum |w * dR/dw|, |w|, all-ones input, BN off, float64 (Tanaka et al. 2020)",
    ),
    "logsynflow": Kernel(
        lambda net, b, s: scores.synflow(net, s, log=True),
        False,
        "LogSynflow: sum |w * log(dR/dw + 1)|, synflow setup (Cavagnero et al., FreeREA 2023)",
    ),
    "snip": Kernel(
        lambda net, b, s: scores.snip(net, _need(b).x, _need(b).y),
        True,
        "SNIP: sum |w * dL/dw| of the cross-entropy loss (Lee et al. 2019)",
    ),
    "grad_norm": Kernel(
        lambda net, b, s: scores.grad_norm(net, _need(b).x, _need(b).y),
        True,
        "grad-norm: sum over layers of ||dL/dw||_2 (Abdelfattah et al. 2021)",
    ),
    "jacov": Kernel(
        lambda net, b, s: scores.jacov(net, _need(b).x),
        True,
        "Jacobian covariance of input gradients (Mellor et al. 2020, v1)",
    ),
    "meco": Kernel(
        lambda net, b, s: recent.meco(net, _need(b).x),
        True,
        "MeCo: sum of min eigenvalues of channel correlations, first image (Jiang et al. 2023)",
    ),
    "zico": Kernel(
        lambda net, b, s: recent.zico(net, _need(b).x, _need(b).y),
        True,
        "ZiCo: sum_layers log sum mean|g|/std(g) over two half-batches (Li et al. 2023)",
    ),
    "swap": Kernel(
        lambda net, b, s: recent.swap(net, _need(b).x),
        True,
        "SWAP: distinct sample-wise ReLU activation patterns (Peng et al. 2024), unregularised",
    ),
    "zen": Kernel(
        lambda net, b, s: recent.zen(net, s),
        False,
        "Zen-score: log feature change under input perturbation + BN term (Lin et al. 2021)",
    ),
    "az_expressivity": Kernel(
        lambda net, b, s: recent.az_expressivity(net, _need(b).x),
        True,
        "AZ-NAS expressivity: entropy of feature-covariance spectra (Lee & Ham 2024)",
    ),
    "az_progressivity": Kernel(
        lambda net, b, s: recent.az_progressivity(net, _need(b).x),
        True,
        "AZ-NAS progressivity: smallest block-to-block expressivity gain (Lee & Ham 2024)",
    ),
    "az_trainability": Kernel(
        lambda net, b, s: recent.az_trainability(net, _need(b).x),
        True,
        "AZ-NAS trainability: mean 2 - s - 1/s, s a block's top gradient gain (Lee & Ham 2024)",
    ),
}


def cell_seed(seed: int, position: int) -> int:
    """The weight-init seed of the cell at ``position`` for the proxy seed ``seed``."""
    state = np.random.SeedSequence([int(seed), int(position)]).generate_state(1, np.uint32)
    return int(state[0])


def score_cells(
    name: str,
    X: np.ndarray,
    dataset: str = "cifar10",
    batch: ProxyBatch | None = None,
    seed: int = DEFAULT_SEED,
) -> np.ndarray:
    """Score NB201 cells with the torch proxy ``name``, one network at a time.

    Args:
        name: A key of :data:`KERNELS`.
        X: Architectures ``(n, 6)``.
        dataset: Network shape (``cifar10``, ``cifar100``, ``imagenet16``).
        batch: Input batch for data-dependent kernels; ``None`` means the default batch
            (:func:`moohw.proxies.batch.default_batch` with ``seed``).
        seed: Seed of the weight initialisation (via :func:`cell_seed`) and default batch.

    Returns:
        ``(n,)`` float64 scores.
    """
    if name not in KERNELS:
        raise KeyError(f"unknown torch proxy {name!r}; known: {', '.join(sorted(KERNELS))}")
    kernel = KERNELS[name]
    X = _SPACE.validate(X)
    if kernel.needs_batch and batch is None:
        batch = default_batch(dataset, DEFAULT_BATCH_SIZE, seed)
    shape = input_shape(dataset)
    out = np.empty(len(X), dtype=np.float64)
    for i, (row, pos) in enumerate(zip(X, _SPACE.position(X), strict=True)):
        net = build_network(row, dataset, seed=cell_seed(seed, int(pos)))
        out[i] = kernel.fn(net, batch if kernel.needs_batch else None, shape)
    return out


#: Groups of kernels that share one network and one pass per cell, and the function that
#: scores a network with any subset of a group: ``(net, batch, names) -> {name: score}``.
GROUPS: tuple[
    tuple[tuple[str, ...], Callable[[nn.Module, ProxyBatch, tuple[str, ...]], dict[str, float]]],
    ...,
] = (
    (recent.FORWARD, lambda net, b, names: recent.forward_scores(net, b.x, names)),
    (scores.LOSS_GRAD, lambda net, b, names: scores.loss_grad_scores(net, b.x, b.y, names)),
)


def score_cells_many(
    names: tuple[str, ...],
    X: np.ndarray,
    dataset: str = "cifar10",
    batch: ProxyBatch | None = None,
    seed: int = DEFAULT_SEED,
) -> dict[str, tuple[np.ndarray, float]]:
    """Score cells with several torch proxies: ``{name: ((n,) scores, seconds)}``.

    The proxies of ``names`` that belong to one of :data:`GROUPS` (the forward-pass ones of
    :data:`moohw.proxies.recent.FORWARD`; SNIP and grad-norm) share one network and one pass per
    cell, and their seconds are split evenly; the others go through :func:`score_cells` one by
    one. Scores equal :func:`score_cells`'s for every name.
    """
    out: dict[str, tuple[np.ndarray, float]] = {}
    if any(n in group for group, _ in GROUPS for n in names):
        X = _SPACE.validate(X)
        if batch is None:
            batch = default_batch(dataset, DEFAULT_BATCH_SIZE, seed)
    for group, fn in GROUPS:
        shared = tuple(n for n in names if n in group)
        if not shared or batch is None:
            continue
        values = {n: np.empty(len(X), dtype=np.float64) for n in shared}
        t0 = time.perf_counter()
        for i, (row, pos) in enumerate(zip(X, _SPACE.position(X), strict=True)):
            net = build_network(row, dataset, seed=cell_seed(seed, int(pos)))
            for n, score in fn(net, batch, shared).items():
                values[n][i] = score
        each = (time.perf_counter() - t0) / len(shared)
        out.update({n: (values[n], each) for n in shared})
    for n in names:
        if n not in out:
            t0 = time.perf_counter()
            v = score_cells(n, X, dataset, batch, seed)
            out[n] = (v, time.perf_counter() - t0)
    return {n: out[n] for n in names}
