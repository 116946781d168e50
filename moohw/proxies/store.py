"""The proxy tables shipped inside the package (``moohw/proxies/tables/nb201_<dataset>.npz``).

Tables are read on first use, never at import time, and cached per process. Each holds float32
arrays ``(15625,)`` indexed by ``NB201Space().position``; see :mod:`moohw.proxies.compute` for
how they are made and ``nb201_<dataset>.json`` next to them for their provenance.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

TABLE_DIR = Path(__file__).resolve().parent / "tables"


def table_path(dataset: str, space: str = "nb201") -> Path:
    """Path of the shipped table for ``(space, dataset)`` (may not exist)."""
    return TABLE_DIR / f"{space}_{dataset}.npz"


def read_table(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """All arrays of a table file, by proxy name."""
    with np.load(Path(path)) as z:
        return {k: z[k] for k in z.files}


@lru_cache(maxsize=8)
def _shipped(dataset: str, space: str) -> dict[str, np.ndarray]:
    path = table_path(dataset, space)
    if not path.exists():
        return {}
    arrays = read_table(path)
    for v in arrays.values():
        v.setflags(write=False)
    return arrays


#: Torch proxies that never read the classifier or the labels. CIFAR-100's network differs
#: from CIFAR-10's only in its classifier (drawn last from the cell's generator) and its batch
#: only in its labels, so their CIFAR-100 scores *are* the CIFAR-10 ones (bit for bit; a test
#: recomputes cells with both) and one table serves both datasets.
HEAD_FREE = frozenset(
    {"naswot", "meco", "swap", "zen", "az_expressivity", "az_progressivity", "az_trainability"}
)


def table_dataset(name: str, dataset: str) -> str:
    """The dataset whose shipped table holds ``name``'s scores for ``dataset``."""
    return "cifar10" if dataset == "cifar100" and name in HEAD_FREE else dataset


def shipped_table(name: str, dataset: str, space: str = "nb201") -> np.ndarray | None:
    """The shipped scores ``(15625,)`` float32 of proxy ``name``, or ``None`` if not shipped.

    A table with any NaN (an unfinished computation) counts as not shipped. CIFAR-100 scores
    of :data:`HEAD_FREE` proxies are read from the CIFAR-10 table (:func:`table_dataset`).
    """
    arr = _shipped(table_dataset(name, dataset), space).get(name)
    if arr is None or np.isnan(arr).any():
        return None
    return arr


def shipped_provenance(dataset: str, space: str = "nb201") -> dict[str, object]:
    """The provenance JSON of the shipped table (empty if absent)."""
    path = table_path(dataset, space).with_suffix(".json")
    return json.loads(path.read_text()) if path.exists() else {}
