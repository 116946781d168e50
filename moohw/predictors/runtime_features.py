"""Architecture features that reflect what real runtimes execute (NB201 cells).

Graph-optimising runtimes (ONNX Runtime, LiteRT, TensorRT, OpenVINO) remove work whose result
never reaches the output and fuse ops; batch-1 inference pays a fixed launch cost. In an NB201
cell (4 nodes, edges ``1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2``, op ``none`` = the zero map) an edge
``i -> j`` with a non-``none`` op is **live** when node ``i`` is reachable from the input (node 0)
and node ``j`` reaches the output (node 3), both through non-``none`` edges; otherwise its op is
**dead work** (an eager runtime still executes it, a graph runtime drops it).

Feature families (every one ends with a constant column, the fixed launch cost):

- ``count``: how many edges take each non-``none`` op (live or dead: what an eager runtime runs);
- ``live``: live op counts, the number of tensor additions at nodes 2 and 3 (live in-edges
  minus one), and an indicator of a cell whose output is the zero map;
- ``livedead``: ``live`` plus the dead op counts (eager and graph runtimes as special cases);
- ``edge``: live op one-hot per edge position (6 x 4), dead op counts, additions, zero-cell;
- ``interact``: ``livedead`` plus op-interaction terms: live ``conv3x3^2``, ``conv3x3*conv1x1``,
  ``conv1x1^2`` and the number of live conv -> conv chains through a node (fusion candidates);
- ``used``: the op counts and additions of a runtime that eliminates dead code but does not fold
  the zero tensor of a node the input never reaches (:func:`nb201_used_edges`; a traced, frozen
  TorchScript graph), and the zero-cell indicator.

For spaces other than NB201 (FBNet) the families are ``opcount``, ``onehot`` and ``both`` of
:mod:`moohw.predictors.features`, each with a constant.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from moohw.predictors.features import one_hot, op_counts
from moohw.spaces import SearchSpace
from moohw.spaces.nb201 import NB201_EDGES, NB201Space

#: NB201 op ids (``moohw.spaces.nb201.NB201_OPS`` order).
NONE, SKIP, CONV1, CONV3, POOL = 0, 1, 2, 3, 4
_NON_NONE = (SKIP, CONV1, CONV3, POOL)


def _reaches_output(nz: np.ndarray) -> dict[int, np.ndarray]:
    """Node j → ``(n,)`` bool: node j reaches node 3 through non-``none`` edges."""
    o2 = nz[:, 5]
    o1 = nz[:, 4] | (nz[:, 2] & o2)
    return {1: o1, 2: o2, 3: np.ones(len(nz), dtype=bool)}


def nb201_used_edges(X: np.ndarray) -> np.ndarray:
    """Edges ``(n, 6)`` bool whose non-``none`` op feeds the output, whether or not its source
    node is reachable from the input: what a runtime executes that eliminates dead code but
    does not fold the zero tensor of an unreachable node (a traced and frozen TorchScript graph).
    """
    X = np.asarray(X)
    nz = X != NONE
    out = _reaches_output(nz)
    return np.stack([nz[:, e] & out[j] for e, (_, j) in enumerate(NB201_EDGES)], axis=1)


def nb201_live_edges(X: np.ndarray) -> np.ndarray:
    """Which edges carry live work ``(n, 6)`` bool, for NB201 op ids ``X`` ``(n, 6)``.

    An edge is live when its op is not ``none``, its source node is reachable from the input
    and its target node reaches the output, through non-``none`` edges.
    """
    X = np.asarray(X)
    nz = X != NONE
    assert NB201_EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    true: np.ndarray = np.ones(len(X), dtype=bool)
    # reachable from the input
    r1 = nz[:, 0]
    r2 = nz[:, 1] | (r1 & nz[:, 2])
    reach: tuple[np.ndarray, ...] = (true, r1, r2)
    out = _reaches_output(nz)
    live = np.zeros_like(nz)
    for e, (i, j) in enumerate(NB201_EDGES):
        live[:, e] = nz[:, e] & reach[i] & out[j]
    return live


def _op_counts(X: np.ndarray, on: np.ndarray) -> np.ndarray:
    """``(n, 4)`` counts of each non-``none`` op over the edges where ``on`` ``(n, 6)`` holds."""
    return np.stack([((X == o) & on).sum(1) for o in _NON_NONE], axis=1)


def _additions(on: np.ndarray) -> np.ndarray:
    """``(n,)`` tensor additions among the edges ``on`` ``(n, 6)``: node 2 sums edges 1, 2;
    node 3 sums edges 3, 4, 5."""
    return np.maximum(on[:, [1, 2]].sum(1) - 1, 0) + np.maximum(on[:, [3, 4, 5]].sum(1) - 1, 0)


def nb201_parts(X: np.ndarray) -> dict[str, np.ndarray]:
    """The NB201 feature blocks (module docstring) by name, no constant column: ``live``,
    ``dead``, ``all`` (op counts), ``adds``, ``zero``, ``edge`` (live one-hot per edge),
    ``inter`` (interaction terms) and ``used`` (op counts and additions over
    :func:`nb201_used_edges`)."""
    X = np.asarray(X)
    live = nb201_live_edges(X)
    used = nb201_used_edges(X)
    live_counts = _op_counts(X, live)
    zero_cell = np.logical_not(live.any(axis=1))
    edge_oh = np.concatenate(
        [np.stack([(X[:, e] == o) & live[:, e] for o in _NON_NONE], axis=1) for e in range(6)],
        axis=1,
    )
    conv = live & ((X == CONV1) | (X == CONV3))
    # conv -> conv chains through node 1 (edge 0 into 1; edges 2, 4 out) and node 2
    # (edges 1, 2 into 2; edge 5 out)
    chains = conv[:, 0] * (conv[:, 2].astype(int) + conv[:, 4]) + conv[:, 5] * (
        conv[:, 1].astype(int) + conv[:, 2]
    )
    c1, c3 = live_counts[:, 1].astype(float), live_counts[:, 2].astype(float)
    return {
        "live": live_counts.astype(float),
        "dead": _op_counts(X, (X != NONE) & ~live).astype(float),
        "all": _op_counts(X, np.ones_like(live)).astype(float),
        "adds": _additions(live)[:, None].astype(float),
        "zero": zero_cell[:, None].astype(float),
        "edge": edge_oh.astype(float),
        "inter": np.column_stack([c3 * c3, c3 * c1, c1 * c1, chains]).astype(float),
        "used": np.column_stack([_op_counts(X, used), _additions(used)]).astype(float),
    }


_NB201_FAMILIES: dict[str, tuple[str, ...]] = {
    "count": ("all",),
    "live": ("live", "adds", "zero"),
    "livedead": ("live", "dead", "adds", "zero"),
    "edge": ("edge", "dead", "adds", "zero"),
    "interact": ("live", "dead", "adds", "zero", "inter"),
    "used": ("used", "zero"),
}


def family_names(space: SearchSpace) -> tuple[str, ...]:
    """The feature families available for ``space`` (module docstring)."""
    if isinstance(space, NB201Space):
        return tuple(_NB201_FAMILIES)
    return ("opcount", "onehot", "both")


def family_features(space: SearchSpace, X: np.ndarray) -> dict[str, np.ndarray]:
    """Family name → features ``(n, D_f)`` float64 of ``X`` ``(n, n_var)`` (constant last)."""
    X = space.validate(X)
    ones = np.ones((len(X), 1))
    if isinstance(space, NB201Space):
        parts = nb201_parts(X)
        return {
            f: np.concatenate([*(parts[p] for p in ps), ones], axis=1)
            for f, ps in _NB201_FAMILIES.items()
        }
    oh, oc = one_hot(space, X), op_counts(space, X)
    return {
        "opcount": np.concatenate([oc, ones], axis=1),
        "onehot": np.concatenate([oh, ones], axis=1),
        "both": np.concatenate([oh, oc, ones], axis=1),
    }


def effective_ops(space: SearchSpace) -> Callable[[np.ndarray], np.ndarray]:
    """A map ``X (n, n_var) -> (n, n_var)`` of the ops a graph runtime keeps: for NB201 dead
    edges become ``none`` (cells that compute the same function map to the same row); for
    other spaces the identity."""
    if isinstance(space, NB201Space):
        return lambda X: np.where(nb201_live_edges(X), X, NONE)
    return lambda X: np.asarray(X)
