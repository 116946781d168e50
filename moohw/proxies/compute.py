"""Precompute torch-proxy tables over all 15,625 NB201 cells with a resumable process pool.

A table is an ``.npz`` holding one float32 array ``(15625,)`` per proxy (float64 for a proxy whose
values exceed the float32 range: synflow reaches 1e40 on NB201), indexed by
``NB201Space().position`` (mixed-radix order of op ids, *not* the NB201 benchmark index), plus a
``.json`` provenance file (moohw and torch versions, batch description, seed, date and
seconds per proxy). Work is split into chunks of cells; every finished chunk is written to
``<out>.partial.npz`` at once, so an interrupted run continues where it stopped when rerun with
``resume=True``. Existing proxies in ``out`` that are not recomputed are kept.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import torch

import moohw
from moohw.errors import InputError
from moohw.proxies.batch import DEFAULT_BATCH_SIZE, DEFAULT_SEED, ProxyBatch, describe_default
from moohw.proxies.kernels import KERNELS, score_cells_many
from moohw.proxies.store import read_table
from moohw.spaces.nb201 import NB201Space

#: ``progress(done_cells, total_cells)``; cells count once per proxy.
Progress = Callable[[int, int], None]
_SPACE = NB201Space()


def _init_worker() -> None:
    torch.set_num_threads(1)


def _run_chunk(
    names: tuple[str, ...],
    positions: np.ndarray,
    dataset: str,
    seed: int,
    batch: ProxyBatch | None = None,
) -> dict[str, tuple[np.ndarray, float]]:
    return score_cells_many(names, _SPACE.from_position(positions), dataset, batch, seed)


def default_workers() -> int:
    """Processes for large proxy computations: ``$MOOHW_PROXY_WORKERS`` or the CPU count (<= 8)."""
    env = os.environ.get("MOOHW_PROXY_WORKERS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise InputError(f"MOOHW_PROXY_WORKERS must be an integer >= 0, got {env!r}") from None
        if n < 0:
            raise InputError(f"MOOHW_PROXY_WORKERS must be an integer >= 0, got {env!r}")
        return n
    return min(os.cpu_count() or 1, 8)


def score_positions(
    name: str,
    positions: np.ndarray,
    dataset: str,
    batch: ProxyBatch | None,
    seed: int,
    n_workers: int,
    chunk_size: int = 64,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Score cells by position in chunks, yielding ``(chunk positions, (m,) scores)`` as done.

    With ``n_workers >= 2`` the chunks run in a process pool (one torch thread per worker);
    otherwise in this process. Scores do not depend on the split (per-cell seeds).
    """
    positions = np.asarray(positions, dtype=np.int64)
    chunks = [positions[i : i + chunk_size] for i in range(0, len(positions), chunk_size)]
    if n_workers < 2 or len(chunks) < 2:
        for chunk in chunks:
            yield chunk, _run_chunk((name,), chunk, dataset, seed, batch)[name][0]
        return
    with ProcessPoolExecutor(min(n_workers, len(chunks)), initializer=_init_worker) as pool:
        futures = {
            pool.submit(_run_chunk, (name,), chunk, dataset, seed, batch): chunk
            for chunk in chunks
        }
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()[name][0]
        finally:
            for f in futures:
                f.cancel()


def _partial_path(out_path: Path) -> Path:
    return out_path.with_name(out_path.stem + ".partial.npz")


def _save_partial(
    path: Path, values: dict[str, np.ndarray], seconds: dict[str, float], meta: dict[str, object]
) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    arrays: dict[str, Any] = {f"v_{k}": v for k, v in values.items()}
    arrays.update({f"s_{k}": np.array(s) for k, s in seconds.items()})
    np.savez(tmp, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    os.replace(tmp, path)


def _load_partial(
    path: Path, names: Sequence[str], meta: dict[str, object]
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    with np.load(path) as z:
        old = json.loads(str(z["meta"]))
        if old != meta:
            raise InputError(
                f"{path} was made with {old}, not {meta}; delete it or pass resume=False"
            )
        values = {n: z[f"v_{n}"] for n in names if f"v_{n}" in z}
        seconds = {n: float(z[f"s_{n}"]) for n in names if f"s_{n}" in z}
    return values, seconds


def compute_table(
    names: Sequence[str],
    dataset: str,
    out_path: str | os.PathLike[str],
    n_workers: int = 1,
    progress: Progress | None = None,
    resume: bool = True,
    seed: int = DEFAULT_SEED,
    chunk_size: int = 125,
    positions: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Compute torch proxies for every NB201 cell and write ``out_path`` (+ ``.json``).

    Args:
        names: Torch proxies to compute (keys of :data:`moohw.proxies.kernels.KERNELS`).
        dataset: ``cifar10``, ``cifar100`` or ``imagenet16``.
        out_path: The ``.npz`` to write; its provenance goes next to it with suffix ``.json``.
        n_workers: Processes (each uses one torch thread); 0 computes in this process.
        progress: Called with ``(done, total)`` after every chunk.
        resume: Continue from ``<out>.partial.npz`` if present (it must match the arguments).
        seed: Weight-init and default-batch seed.
        chunk_size: Cells per task (also the granularity of resuming).
        positions: Only these cell positions (for tests and partial runs); the others stay NaN
            and the final table is not written (only the partial file).

    Returns:
        ``{name: (15625,) float64}`` scores by position (NaN where not computed).
    """
    names = tuple(dict.fromkeys(names))
    unknown = [n for n in names if n not in KERNELS]
    if unknown:
        raise KeyError(f"unknown torch proxies {unknown}; known: {', '.join(sorted(KERNELS))}")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_path(out)
    meta: dict[str, object] = {
        "dataset": dataset,
        "seed": int(seed),
        "batch_size": DEFAULT_BATCH_SIZE,
        "chunk_size": int(chunk_size),
    }
    values = {n: np.full(_SPACE.size, np.nan) for n in names}
    seconds = dict.fromkeys(names, 0.0)
    if resume and partial.exists():
        old_v, old_s = _load_partial(partial, names, meta)
        values.update(old_v)
        seconds.update(old_s)
    wanted = np.arange(_SPACE.size) if positions is None else np.unique(np.asarray(positions))
    chunks = [wanted[i : i + chunk_size] for i in range(0, len(wanted), chunk_size)]
    todo: list[tuple[tuple[str, ...], np.ndarray]] = []
    for chunk in chunks:
        missing = tuple(n for n in names if np.isnan(values[n][chunk]).any())
        if missing:
            todo.append((missing, chunk))
    total = len(wanted) * len(names)
    done = total - sum(len(c) * len(m) for m, c in todo)
    if progress is not None:
        progress(done, total)

    def record(result: dict[str, tuple[np.ndarray, float]], chunk: np.ndarray) -> None:
        nonlocal done
        for name, (v, s) in result.items():
            values[name][chunk] = v
            seconds[name] += s
            done += len(chunk)
        _save_partial(partial, values, seconds, meta)
        if progress is not None:
            progress(done, total)

    if n_workers <= 0:
        for missing, chunk in todo:
            record(_run_chunk(missing, chunk, dataset, seed), chunk)
    else:
        with ProcessPoolExecutor(n_workers, initializer=_init_worker) as pool:
            futures = {
                pool.submit(_run_chunk, missing, chunk, dataset, seed): chunk
                for missing, chunk in todo
            }
            for fut in as_completed(futures):
                record(fut.result(), futures[fut])

    if positions is None:
        _write_final(out, values, seconds, dataset, seed)
        partial.unlink(missing_ok=True)
    return values


def _compact(v: np.ndarray) -> np.ndarray:
    """``v`` as float32 when it fits that range, else float64 (never silently ``inf``)."""
    finite_max = float(np.nanmax(np.abs(v[np.isfinite(v)]), initial=0.0))
    return (
        v.astype(np.float32)
        if finite_max < float(np.finfo(np.float32).max)
        else v.astype(np.float64)
    )


def _write_final(
    out: Path,
    values: dict[str, np.ndarray],
    seconds: dict[str, float],
    dataset: str,
    seed: int,
) -> None:
    arrays: dict[str, Any] = {}
    prov: dict[str, object] = {}
    if out.exists():
        arrays = read_table(out)
        meta_path = out.with_suffix(".json")
        if meta_path.exists():
            prov = json.loads(meta_path.read_text())
    arrays.update({n: _compact(v) for n, v in values.items()})
    np.savez_compressed(out, **arrays)
    per_proxy = dict(prov.get("proxies", {}))  # type: ignore[call-overload]
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    for n in values:
        per_proxy[n] = {
            "seconds_total": round(seconds[n], 1),
            "seconds_per_cell": round(seconds[n] / _SPACE.size, 5),
            "date": now,
            "help": KERNELS[n].help,
            "needs_batch": KERNELS[n].needs_batch,
        }
    prov.update(
        {
            "space": "nb201",
            "dataset": dataset,
            "index": "NB201Space().position (mixed-radix order of op ids), not the NB201 index",
            "dtype": {n: str(a.dtype) for n, a in sorted(arrays.items())},
            "moohw_version": moohw.__version__,
            "torch_version": torch.__version__,
            "seed": int(seed),
            "weight_init": "PyTorch default init from torch.Generator(cell_seed(seed, position))",
            "batch": describe_default(dataset, DEFAULT_BATCH_SIZE, seed),
            "machine": f"{platform.machine()} {os.cpu_count()} CPU, 1 torch thread per worker",
            "command": f"moohw proxies compute --space nb201 --dataset {dataset} "
            f"--proxies {','.join(sorted(per_proxy))}",
            "proxies": per_proxy,
        }
    )
    out.with_suffix(".json").write_text(json.dumps(prov, indent=2, sort_keys=True) + "\n")
