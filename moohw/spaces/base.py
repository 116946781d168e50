"""The search-space abstraction: architectures are int arrays ``(n, n_var)`` of choice ids."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from moohw.errors import InputError, UnknownNameError
from moohw.rng import SeedLike, as_generator


class SearchSpace(ABC):
    """An immutable categorical search space.

    Every variable ``i`` takes a choice id in ``[0, n_choices[i])``. Architectures are always int
    arrays of shape ``(n, n_var)``; a single architecture may be passed as ``(n_var,)``.

    Attributes:
        name: Registry name ("nb201", "fbnet").
        choices: Per-variable tuple of choice names.
    """

    name: str
    choices: tuple[tuple[str, ...], ...]

    @property
    def n_var(self) -> int:
        """Number of decision variables."""
        return len(self.choices)

    @property
    def n_choices(self) -> np.ndarray:
        """``(n_var,)`` number of choices per variable."""
        return np.array([len(c) for c in self.choices], dtype=np.int64)

    @property
    def size(self) -> int:
        """Number of architectures in the space (a Python int: FBNet has 9**22)."""
        out = 1
        for c in self.choices:
            out *= len(c)
        return out

    @property
    def enumerable(self) -> bool:
        """Whether :meth:`enumerate` is cheap enough (at most one million architectures)."""
        return self.size <= 1_000_000

    def validate(self, X: np.ndarray | Sequence[Sequence[int]] | Sequence[int]) -> np.ndarray:
        """Return ``X`` as a ``(n, n_var)`` int64 array, raising on bad shape or range.

        Raises:
            ValueError: with the offending shape/value and the valid range.
        """
        arr = np.asarray(X)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.n_var:
            raise InputError(
                f"{self.name}: architectures must have shape (n, {self.n_var}), got {arr.shape}"
            )
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.equal(np.mod(arr, 1), 0)):
                raise InputError(f"{self.name}: architectures must be integer choice ids")
        arr = arr.astype(np.int64, copy=False)
        bad = (arr < 0) | (arr >= self.n_choices[None, :])
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(
                f"{self.name}: choice id {arr[r, c]} at row {r}, variable {c} is out of range "
                f"[0, {self.n_choices[c] - 1}]"
            )
        return arr

    def sample(self, n: int, seed: SeedLike = None, unique: bool = True) -> np.ndarray:
        """Draw ``n`` architectures uniformly at random.

        Args:
            n: Number of architectures.
            seed: Seed or Generator.
            unique: Draw without replacement.

        Returns:
            ``(n, n_var)`` int64 array.
        """
        if n < 0:
            raise InputError(f"n must be >= 0, got {n}")
        rng = as_generator(seed)
        if unique and n > self.size:
            raise InputError(f"cannot draw {n} unique architectures from a space of {self.size}")
        if unique and self.enumerable:
            idx = rng.choice(self.size, size=n, replace=False)
            return self.from_position(idx)
        out = rng.integers(0, self.n_choices[None, :], size=(n, self.n_var))
        if unique:
            keys = set()
            rows = []
            for row in out:
                k = row.tobytes()
                if k not in keys:
                    keys.add(k)
                    rows.append(row)
            while len(rows) < n:
                row = rng.integers(0, self.n_choices)
                k = row.tobytes()
                if k not in keys:
                    keys.add(k)
                    rows.append(row)
            out = np.array(rows, dtype=np.int64).reshape(n, self.n_var)
        return out.astype(np.int64)

    def enumerate(self) -> np.ndarray:
        """All architectures, ``(size, n_var)``, in mixed-radix order (last variable fastest).

        Raises:
            ValueError: if the space is too large to enumerate.
        """
        if not self.enumerable:
            raise InputError(f"{self.name} has {self.size} architectures; cannot enumerate")
        grids = itertools.product(*[range(len(c)) for c in self.choices])
        return np.array(list(grids), dtype=np.int64).reshape(self.size, self.n_var)

    def position(self, X: np.ndarray) -> np.ndarray:
        """``(n,)`` position of each architecture in :meth:`enumerate` order (enumerable spaces).

        This is moohw's internal order, *not* a benchmark's index (see ``BenchmarkIndex``).
        """
        if not self.enumerable:
            raise InputError(f"{self.name} is not enumerable; positions are undefined")
        X = self.validate(X)
        radix = np.ones(self.n_var, dtype=np.int64)
        for i in range(self.n_var - 2, -1, -1):
            radix[i] = radix[i + 1] * self.n_choices[i + 1]
        return X @ radix

    def from_position(self, pos: np.ndarray | Sequence[int]) -> np.ndarray:
        """Inverse of :meth:`position`: ``(n,)`` positions → ``(n, n_var)`` choice ids."""
        p = np.asarray(pos, dtype=np.int64).ravel()
        if p.size and (p.min() < 0 or p.max() >= self.size):
            raise InputError(f"positions must lie in [0, {self.size - 1}]")
        out = np.empty((p.size, self.n_var), dtype=np.int64)
        rem = p.copy()
        for i in range(self.n_var - 1, -1, -1):
            out[:, i] = rem % self.n_choices[i]
            rem //= self.n_choices[i]
        return out

    def keys(self, X: np.ndarray) -> list[bytes]:
        """Hashable key per row of ``X`` ``(n, n_var)`` (for dict lookups in any space)."""
        X = self.validate(X)
        return [row.tobytes() for row in np.ascontiguousarray(X, dtype=np.int64)]

    @abstractmethod
    def to_str(self, X: np.ndarray) -> list[str]:
        """Canonical human-readable strings, one per row of ``X`` ``(n, n_var)``."""

    @abstractmethod
    def from_str(self, strings: Sequence[str]) -> np.ndarray:
        """Parse canonical strings into ``(n, n_var)``; raises ``ValueError`` on bad input."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_var={self.n_var}, size={self.size})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and (self.name, self.choices) == (
            other.name,
            other.choices,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.choices))


class BenchmarkIndex:
    """Maps architectures to a benchmark's own index through its arch strings (never arithmetic).

    Args:
        space: The space the strings belong to.
        arch_strs: Canonical strings ordered by benchmark index (``arch_strs[i]`` has index i).
    """

    def __init__(self, space: SearchSpace, arch_strs: Sequence[str]) -> None:
        self.space = space
        self.archs = space.from_str(list(arch_strs))
        self._lookup = {k: i for i, k in enumerate(space.keys(self.archs))}
        if len(self._lookup) != len(self.archs):
            raise InputError("benchmark arch strings contain duplicates")

    def __len__(self) -> int:
        return len(self.archs)

    def to_index(self, X: np.ndarray) -> np.ndarray:
        """``(n,)`` benchmark indices; raises ``KeyError`` naming an architecture not covered."""
        keys = self.space.keys(X)
        out = np.empty(len(keys), dtype=np.int64)
        for j, k in enumerate(keys):
            i = self._lookup.get(k)
            if i is None:
                arch = self.space.to_str(np.frombuffer(k, dtype=np.int64)[None, :])[0]
                raise UnknownNameError(f"architecture {arch} is not in the benchmark table")
            out[j] = i
        return out

    def contains(self, X: np.ndarray) -> np.ndarray:
        """``(n,)`` bool: which architectures the benchmark covers."""
        return np.array([k in self._lookup for k in self.space.keys(X)], dtype=bool)

    def to_archs(self, index: np.ndarray | Sequence[int]) -> np.ndarray:
        """Architectures ``(n, n_var)`` of benchmark indices; raises on out-of-range indices."""
        idx = np.asarray(index, dtype=np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= len(self.archs)):
            raise InputError(f"benchmark index out of range [0, {len(self.archs) - 1}]")
        return self.archs[idx]
