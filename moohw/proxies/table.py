"""``table:PATH[:NAME]``: a proxy read from a table written by ``moohw proxies compute``.

The table is an ``.npz`` holding one array ``(15625,)`` per proxy, indexed by
``NB201Space().position``, with its provenance in the ``.json`` beside it
(:mod:`moohw.proxies.compute`). ``NAME`` picks the array when the file holds several.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np

from moohw.errors import InputError
from moohw.proxies.base import AccuracyProxy
from moohw.spaces import SearchSpace

PREFIX = "table:"


def _split(spec: str) -> tuple[Path, str | None]:
    """``PATH`` or ``PATH:NAME`` → (path, name); the path must exist."""
    if Path(spec).exists():
        return Path(spec), None
    path, sep, name = spec.rpartition(":")
    if sep and path and Path(path).exists():
        return Path(path), name
    raise FileNotFoundError(
        f"proxy table {spec!r} does not exist; pass table:PATH[:NAME] with the .npz written by "
        "`moohw proxies compute --out PATH`"
    )


class TableProxy(AccuracyProxy):
    """Scores looked up in a whole-space table (see the module docstring).

    Args:
        space: The NB201 space.
        spec: ``PATH`` or ``PATH:NAME``.
        dataset: Dataset the caller scores on (a table made for another one is warned about).
    """

    cost_s = 0.0

    def __init__(self, space: SearchSpace, spec: str, dataset: str = "cifar10") -> None:
        super().__init__(space, dataset)
        path, name = _split(spec)
        if path.is_dir():
            raise InputError(
                f"proxy table {path} is a directory; pass the .npz that `moohw proxies compute` "
                "wrote"
            )
        if space.name != "nb201":
            raise InputError(f"proxy tables index the nb201 space, not {space.name}")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise InputError(
                f"proxy table {path} is not an .npz written by `moohw proxies compute` ({e})"
            ) from None
        if "meta" in arrays and any(k.startswith("v_") for k in arrays):
            raise InputError(
                f"proxy table {path} is an unfinished partial file; finish it with "
                "`moohw proxies compute ... --resume` and pass the final .npz"
            )
        scores = {k: v for k, v in arrays.items() if v.shape == (space.size,)}
        if not scores:
            raise InputError(
                f"proxy table {path} holds no array of {space.size} scores (found "
                f"{', '.join(f'{k} {v.shape}' for k, v in arrays.items()) or 'nothing'})"
            )
        if name is None:
            if len(scores) > 1:
                raise InputError(
                    f"proxy table {path} holds {', '.join(sorted(scores))}; choose one with "
                    f"table:{path}:NAME"
                )
            name = next(iter(scores))
        if name not in scores:
            raise KeyError(
                f"proxy table {path} has no {name!r}; it holds {', '.join(sorted(scores))}"
            )
        values = scores[name].astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InputError(
                f"proxy table {path}:{name} has {bad.size} cells without a finite score (first "
                f"positions {bad[:5].tolist()}); finish it with `moohw proxies compute --resume`"
            )
        self._check_provenance(path, name)
        self.path = path
        self.column = name
        self.name = f"{PREFIX}{path}:{name}"
        self.values = values
        self.values.setflags(write=False)

    def _check_provenance(self, path: Path, name: str) -> None:
        meta_path = path.with_suffix(".json")
        if not meta_path.is_file():
            return
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError:
            return
        made_for = meta.get("dataset") if isinstance(meta, dict) else None
        if made_for and made_for != self.dataset:
            warnings.warn(
                f"proxy table {path}:{name} was computed for {made_for}, used for {self.dataset}",
                stacklevel=4,
            )

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.values[self.space.position(X)]
