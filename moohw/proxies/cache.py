"""A persistent, per-user cache of torch-proxy scores, and progress reports while it fills.

Scores that no shipped table covers are computed once and kept in the user cache directory
(``platformdirs.user_cache_dir("moohw")/proxies``, or ``$MOOHW_CACHE_DIR/proxies``), one
``.npy`` of float64 ``(space.size,)`` per key, NaN where a cell is not computed yet. The key is
the proxy, the space, the dataset, the input batch (the default batch by its size and seed, a
user's batch by a digest of its tensors) and :data:`PROXY_VERSION`, which is bumped whenever a
kernel, the network or the default batch changes, so stale scores are never read. Writes merge
with what is on disk and replace the file atomically: concurrent runs lose nothing and an
interrupted fill keeps every finished chunk.

Large computations report progress through the hook installed with :func:`reporting` (the CLI
installs a progress bar); without one, a ``moohw.proxies`` logger warning every few seconds says
what is computed, how far it is and where it is cached (Python prints unconfigured warnings to
stderr), so a search never blocks silently.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

#: Version of the proxy code whose scores the cache holds; bump on any change of a kernel, of
#: the NB201 network or of the default batch.
PROXY_VERSION = "2"  # 2: Zen re-draws N(0, 1) weights; AZ-NAS trainability as the authors
#: Environment variable overriding the cache root (``off`` disables the persistent cache).
CACHE_ENV = "MOOHW_CACHE_DIR"
#: ``report(description, done, total)`` while a proxy is computed for many cells.
Reporter = Callable[[str, int, int], None]

log = logging.getLogger("moohw.proxies")
_reporters: list[Reporter] = []


def cache_root() -> Path | None:
    """The folder of the persistent proxy cache, or ``None`` when disabled (``off``)."""
    env = os.environ.get(CACHE_ENV)
    if env is not None and env.strip().lower() == "off":
        return None
    if env:
        return Path(env) / "proxies"
    import platformdirs

    return Path(platformdirs.user_cache_dir("moohw")) / "proxies"


def batch_key(needs_batch: bool, default: bool, size: int, tensors: tuple[bytes, ...]) -> str:
    """The batch part of a cache key: ``nobatch``, ``default<size>`` or a tensor digest."""
    if not needs_batch:
        return "nobatch"
    if default:
        return f"default{size}"
    h = hashlib.sha256()
    for t in tensors:
        h.update(t)
    return "user" + h.hexdigest()[:16]


class ScoreCache:
    """The on-disk scores of one (proxy, space, dataset, batch, seed, version) key.

    Args:
        proxy: Proxy (kernel) name.
        space: Space name.
        dataset: Dataset the network is built for.
        batch: :func:`batch_key` of the input batch.
        seed: Weight-init (and default-batch) seed.
        size: Number of cells of the space.
        root: Cache folder (default :func:`cache_root`).
    """

    def __init__(
        self,
        proxy: str,
        space: str,
        dataset: str,
        batch: str,
        seed: int,
        size: int,
        root: Path | None = None,
    ) -> None:
        root = root if root is not None else cache_root()
        self.size = int(size)
        name = f"{space}_{dataset}_{proxy}_{batch}_seed{int(seed)}_v{PROXY_VERSION}.npy"
        self.path = None if root is None else root / name

    def load(self) -> np.ndarray:
        """Scores ``(size,)`` float64, NaN where not cached (all NaN if there is no file)."""
        out = np.full(self.size, np.nan)
        if self.path is None or not self.path.is_file():
            return out
        try:
            arr = np.load(self.path, allow_pickle=False)
        except (OSError, ValueError) as e:  # a torn or foreign file: recompute, say so
            log.warning("ignoring unreadable proxy cache %s (%s)", self.path, e)
            return out
        if arr.shape != (self.size,) or arr.dtype != np.float64:
            log.warning("ignoring proxy cache %s: shape %s %s", self.path, arr.shape, arr.dtype)
            return out
        return arr

    def update(self, positions: np.ndarray, values: np.ndarray) -> None:
        """Store ``values`` at ``positions`` (merged with the file on disk, atomic replace)."""
        if self.path is None or len(positions) == 0:
            return
        arr = self.load()
        arr[np.asarray(positions, dtype=np.int64)] = np.asarray(values, dtype=np.float64)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, arr, allow_pickle=False)
            os.replace(tmp, self.path)
        except OSError as e:  # a read-only home must not break a search
            log.warning("could not write the proxy cache %s (%s)", self.path, e)
            self.path = None


@contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """Within the block, large proxy computations report to ``reporter`` (not to the log)."""
    _reporters.append(reporter)
    try:
        yield
    finally:
        _reporters.remove(reporter)


class Progress:
    """Reports ``done/total`` to the installed reporter, or a log warning every ``every_s``."""

    def __init__(self, description: str, total: int, where: Path | None, every_s: float = 5.0):
        self.description = description
        self.total = int(total)
        self.every_s = every_s
        self.t0 = time.perf_counter()
        self._last = -np.inf
        if not _reporters:
            where_txt = f"cached in {where.parent}" if where is not None else "cache off"
            log.warning(
                "%s: computing %d cells once (%s; later runs read the cache)",
                description,
                total,
                where_txt,
            )

    def __call__(self, done: int) -> None:
        if _reporters:
            _reporters[-1](self.description, done, self.total)
            return
        now = time.perf_counter()
        if now - self._last < self.every_s and done < self.total:
            return
        self._last = now
        el = now - self.t0
        left = el / done * (self.total - done) if done else float("nan")
        log.warning(
            "%s: %d/%d cells (%.0f%%), %.0f s elapsed, ~%.0f s left",
            self.description,
            done,
            self.total,
            100.0 * done / max(self.total, 1),
            el,
            left,
        )
