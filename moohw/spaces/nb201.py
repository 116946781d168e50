"""The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020): 6 edges × 5 ops = 15,625 cells.

Edges are ordered as in the NB201 string: (0→1), (0→2), (1→2), (0→3), (1→3), (2→3). Op ids
follow ``NB201_OPS``. The official benchmark index is *not* the mixed-radix order of op ids; map
it through the arch strings of ``nb201/archs.csv`` with :class:`moohw.spaces.BenchmarkIndex`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from moohw.errors import InputError
from moohw.spaces.base import SearchSpace

NB201_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
#: (source node, target node) of each of the 6 edges, in string order.
NB201_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
_OP_ID = {op: i for i, op in enumerate(NB201_OPS)}
_NODE_RE = re.compile(r"^\|(.+)\|$")


class NB201Space(SearchSpace):
    """The NB201 topology space; string form ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""

    name = "nb201"
    choices = (NB201_OPS,) * 6
    ops = NB201_OPS
    edges = NB201_EDGES

    def to_str(self, X: np.ndarray) -> list[str]:
        """One string per row of ``X`` ``(n, n_var)``: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        X = self.validate(X)
        out = []
        for row in X:
            o = [NB201_OPS[int(i)] for i in row]
            out.append(f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|")
        return out

    def from_str(self, strings: Sequence[str]) -> np.ndarray:
        """Choice ids ``(n, n_var)`` of ``n`` strings (inverse of :meth:`to_str`)."""
        if isinstance(strings, str):
            strings = [strings]
        out = np.empty((len(strings), 6), dtype=np.int64)
        for r, s in enumerate(strings):
            out[r] = self._parse(s)
        return out

    @staticmethod
    def _parse(s: str) -> list[int]:
        expected = "expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2| with ops in " + ", ".join(
            NB201_OPS
        )
        nodes = str(s).strip().split("+")
        if len(nodes) != 3:
            raise InputError(f"bad NB201 string {s!r}: {expected}")
        ids: list[int] = []
        for node_i, node in enumerate(nodes):
            m = _NODE_RE.match(node)
            if not m:
                raise InputError(f"bad NB201 string {s!r}: {expected}")
            parts = m.group(1).split("|")
            if len(parts) != node_i + 1:
                raise InputError(f"bad NB201 string {s!r}: {expected}")
            for src, part in enumerate(parts):
                op, _, inp = part.partition("~")
                if op not in _OP_ID or inp != str(src):
                    raise InputError(f"bad NB201 string {s!r}: {expected}")
                ids.append(_OP_ID[op])
        return ids
