"""Atomic file writes and run keys: a record on disk is whole or absent, and says what made it.

A file is written to a temporary sibling and moved over the target with :func:`os.replace`
(atomic on POSIX and Windows within one file system), so a killed process never leaves a torn
``row.json``, ``run.json`` or CSV behind. :func:`run_key` is what a resumed ``compare`` checks
before reusing a finished run: everything besides (algo, device, budget, seed) that changes a
result.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pandas as pd

from moohw.errors import InputError


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    with atomic_open(path) as fh:
        fh.write(text)
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any, **kwargs: Any) -> Path:
    """Write ``obj`` as JSON (``default=float`` for numpy scalars) atomically."""
    kwargs.setdefault("default", float)
    return write_text(path, json.dumps(obj, **kwargs) + "\n")


def write_csv(path: str | os.PathLike[str], df: pd.DataFrame, index: bool = False) -> Path:
    """Write ``df`` as CSV atomically."""
    with atomic_open(path) as fh:
        df.to_csv(fh, index=index)
    return Path(path)


class TornRecordError(InputError):
    """A record file exists but is not valid JSON (written before atomic writes, or edited)."""


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON record; a torn or edited one raises :class:`TornRecordError` naming the file."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TornRecordError(
            f"{path} is not valid JSON ({e}); delete it to rerun that run"
        ) from None


#: The fields of :func:`run_key`, in the order a mismatch is reported.
KEY_FIELDS = ("proxy", "accuracy", "space", "data_manifest_sha256", "moohw")


def run_key(
    space: str, proxy: str, accuracy: str | None, data_digest: str | None
) -> dict[str, str | None]:
    """What, besides (algo, device, budget, seed), changes a run's result.

    ``data_digest`` is the sha256 of the data folder's ``MANIFEST.tsv`` (``None`` without data).
    """
    from moohw import __version__

    return {
        "proxy": proxy,
        "accuracy": accuracy or None,
        "space": space,
        "data_manifest_sha256": data_digest,
        "moohw": __version__,
    }


def key_mismatch(stored: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """``field: stored → current`` for every key field that differs (a missing key differs)."""
    if stored is None:
        return ["key: (none, written before runs were keyed) → " + _fmt(current)]
    return [
        f"{k}: {stored.get(k)!r} → {current.get(k)!r}"
        for k in KEY_FIELDS
        if stored.get(k) != current.get(k)
    ]


def _fmt(key: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in key.items())
