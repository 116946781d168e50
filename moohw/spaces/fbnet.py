"""The FBNet space (Wu et al., CVPR 2019) as used by HELP: 22 layers × 9 block choices.

The space has 9**22 architectures, so it is not enumerable; the public latency data covers a
sample of 5,000 of them (``fbnet/archs.csv``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from moohw.errors import InputError
from moohw.spaces.base import SearchSpace

FBNET_BLOCKS: tuple[str, ...] = (
    "k3_e1",
    "k3_e1_g2",
    "k3_e3",
    "k3_e6",
    "k5_e1",
    "k5_e1_g2",
    "k5_e3",
    "k5_e6",
    "skip",
)
_BLOCK_ID = {b: i for i, b in enumerate(FBNET_BLOCKS)}


class FBNetSpace(SearchSpace):
    """FBNet: one block id per layer; string form ``k3_e1-skip-...`` (22 names joined by ``-``)."""

    name = "fbnet"
    choices = (FBNET_BLOCKS,) * 22
    blocks = FBNET_BLOCKS

    def to_str(self, X: np.ndarray) -> list[str]:
        """One string per row of ``X`` ``(n, n_var)``: 22 block names joined by ``-``."""
        X = self.validate(X)
        return ["-".join(FBNET_BLOCKS[int(i)] for i in row) for row in X]

    def from_str(self, strings: Sequence[str]) -> np.ndarray:
        """Choice ids ``(n, n_var)`` of ``n`` strings (inverse of :meth:`to_str`)."""
        if isinstance(strings, str):
            strings = [strings]
        out = np.empty((len(strings), self.n_var), dtype=np.int64)
        for r, s in enumerate(strings):
            parts = str(s).strip().split("-")
            if len(parts) != self.n_var or any(p not in _BLOCK_ID for p in parts):
                raise InputError(
                    f"bad FBNet string {s!r}: expected {self.n_var} blocks joined by '-' "
                    f"from {', '.join(FBNET_BLOCKS)}"
                )
            out[r] = [_BLOCK_ID[p] for p in parts]
        return out
