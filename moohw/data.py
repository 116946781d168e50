"""Loading the public benchmark tables (NAS-Bench-201, HELP, HW-NAS-Bench, FBNet).

The tables are never shipped with moohw. They are found, in order, at an explicit directory
(``--data DIR``), the ``MOOHW_DATA`` environment variable, or ``../shared/data`` relative to the
working directory. Every file is checked against the sha256 in the folder's ``MANIFEST.tsv`` on
first use; a missing or corrupt file raises an error naming the path and what was expected.
"""

from __future__ import annotations

import hashlib
import os
import threading
from functools import lru_cache
from pathlib import Path

import pandas as pd

from moohw.spaces import BenchmarkIndex, FBNetSpace, NB201Space

ENV_VAR = "MOOHW_DATA"
DEFAULT_RELATIVE = Path("..") / "shared" / "data"
MANIFEST = "MANIFEST.tsv"


class DataError(ValueError):
    """A benchmark file exists but does not match its manifest or expected columns."""


def candidate_dirs(explicit: str | os.PathLike[str] | None = None) -> list[Path]:
    """The directories searched for benchmark data, in order (an empty ``MOOHW_DATA`` is unset)."""
    out: list[Path] = []
    if explicit is not None:
        out.append(Path(explicit))
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        out.append(Path(env))
    out.append(Path.cwd() / DEFAULT_RELATIVE)
    return out


def _check_given(path: Path, what: str) -> None:
    """A data folder the user named (``--data`` or ``MOOHW_DATA``) must be one: say why not."""
    hint = (
        "expected the moohw data folder (nb201/, fbnet/, tasks/, MANIFEST.tsv); "
        "see `moohw data check`"
    )
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist; {hint}")
    if not path.is_dir():
        raise FileNotFoundError(f"{what} {path} is a file, not a folder; {hint}")
    if not (path / MANIFEST).is_file():
        raise FileNotFoundError(f"{what} {path} is a folder without {MANIFEST}; {hint}")


def find_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The first candidate directory holding a ``MANIFEST.tsv``, or ``None``.

    A folder the user named that is not a data folder raises ``FileNotFoundError`` saying why
    (missing, a file, no manifest) rather than falling back silently: an explicit directory,
    else a non-empty ``MOOHW_DATA``. Only ``../shared/data`` is optional.
    """
    if explicit is not None:
        _check_given(Path(explicit), "--data")
        return Path(explicit).resolve()
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        _check_given(Path(env), ENV_VAR)
        return Path(env).resolve()
    default = Path.cwd() / DEFAULT_RELATIVE
    return default.resolve() if (default / MANIFEST).is_file() else None


_lock = threading.Lock()


@lru_cache(maxsize=8)
def _manifest(root: Path) -> dict[str, tuple[int, str]]:
    df = pd.read_csv(root / MANIFEST, sep="\t", dtype=str)
    return {str(p): (int(b), str(h)) for p, b, h in zip(df["path"], df["bytes"], df["sha256"])}


@lru_cache(maxsize=8)
def _manifest_digest(root: Path) -> str:
    return hashlib.sha256((root / MANIFEST).read_bytes()).hexdigest()


@lru_cache(maxsize=64)
def _verified(root: Path, rel: str) -> Path:
    path = root / rel
    if not path.is_file():
        raise FileNotFoundError(f"benchmark file {path} is missing (listed data root: {root})")
    manifest = _manifest(root)
    if rel not in manifest:
        raise DataError(f"{path} is not listed in {root / MANIFEST}")
    size, digest = manifest[rel]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != digest:
        raise DataError(
            f"{path} is corrupt: sha256 {h.hexdigest()[:12]}… ({path.stat().st_size} bytes), "
            f"expected {digest[:12]}… ({size} bytes) from {MANIFEST}"
        )
    return path


@lru_cache(maxsize=32)
def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


class BenchmarkData:
    """A verified view of one benchmark data folder.

    Args:
        root: The folder holding ``MANIFEST.tsv``.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        if not (self.root / MANIFEST).is_file():
            raise FileNotFoundError(f"{self.root} has no {MANIFEST}")

    def path(self, rel: str) -> Path:
        """Absolute path of ``rel`` after its sha256 check."""
        with _lock:
            return _verified(self.root, rel)

    def table(self, rel: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
        """The CSV ``rel`` as a DataFrame (cached; do not mutate it).

        Raises:
            DataError: if a required column is missing.
        """
        df = _read_csv(self.path(rel))
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise DataError(f"{self.root / rel} lacks columns {missing}")
        return df

    def manifest_digest(self) -> str:
        """sha256 of this folder's ``MANIFEST.tsv``: which data a result was computed from."""
        return _manifest_digest(self.root)

    def has(self, rel: str) -> bool:
        """Whether ``rel`` is present (not verified)."""
        return (self.root / rel).is_file()

    def nb201_index(self) -> BenchmarkIndex:
        """The official NB201 index ↔ architecture map from ``nb201/archs.csv``."""
        return _nb201_index(self.root, self.path("nb201/archs.csv"))

    def fbnet_index(self) -> BenchmarkIndex:
        """The HELP FBNet sample index ↔ architecture map from ``fbnet/archs.csv``."""
        return _fbnet_index(self.root, self.path("fbnet/archs.csv"))

    def __repr__(self) -> str:
        return f"BenchmarkData({str(self.root)!r})"


@lru_cache(maxsize=4)
def _nb201_index(root: Path, path: Path) -> BenchmarkIndex:
    df = _read_csv(path).sort_values("index")
    if not (df["index"].to_numpy() == range(len(df))).all():
        raise DataError(f"{path}: indices are not 0..{len(df) - 1}")
    return BenchmarkIndex(NB201Space(), df["arch_str"].tolist())


@lru_cache(maxsize=4)
def _fbnet_index(root: Path, path: Path) -> BenchmarkIndex:
    df = _read_csv(path).sort_values("index")
    space = FBNetSpace()
    cols = [f"layer{i}" for i in range(space.n_var)]
    strs = space.to_str(df[cols].to_numpy())
    return BenchmarkIndex(space, strs)


def open_data(explicit: str | os.PathLike[str] | None = None) -> BenchmarkData:
    """Open the benchmark data folder, or raise ``FileNotFoundError`` listing where we looked."""
    root = find_data_dir(explicit)
    if root is None:
        where = ", ".join(str(p) for p in candidate_dirs(explicit))
        raise FileNotFoundError(
            f"no benchmark data found (looked in: {where}); pass --data DIR or set {ENV_VAR}"
        )
    return BenchmarkData(root)


def try_open_data(explicit: str | os.PathLike[str] | None = None) -> BenchmarkData | None:
    """Like :func:`open_data` but ``None`` when no folder is found (explicit dirs still raise)."""
    root = find_data_dir(explicit)
    return None if root is None else BenchmarkData(root)
