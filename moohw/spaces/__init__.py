"""Search spaces, selected by name through :data:`SPACES`."""

from __future__ import annotations

from moohw.registry import Registry
from moohw.spaces.base import BenchmarkIndex, SearchSpace
from moohw.spaces.fbnet import FBNET_BLOCKS, FBNetSpace
from moohw.spaces.nb201 import NB201_EDGES, NB201_OPS, NB201Space

SPACES: Registry[SearchSpace] = Registry("space")
SPACES.register("nb201", "NAS-Bench-201 cell: 6 edges x 5 ops (15,625 cells)")(NB201Space)
SPACES.register("fbnet", "FBNet: 22 layers x 9 blocks (tabular data covers 5,000)")(FBNetSpace)


def get_space(name: str) -> SearchSpace:
    """Instantiate a registered space by name (``KeyError`` lists the known names)."""
    return SPACES.get(name)()


__all__ = [
    "FBNET_BLOCKS",
    "NB201_EDGES",
    "NB201_OPS",
    "SPACES",
    "BenchmarkIndex",
    "FBNetSpace",
    "NB201Space",
    "SearchSpace",
    "get_space",
]
