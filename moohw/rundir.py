"""A run folder read for delivery: every measured network with its spread, cell kind and accuracy.

``moohw optimize`` writes ``run.json``, ``evaluations.csv`` and ``front.csv``
(:func:`moohw.runs.write_run`); :func:`describe_run` adds what a user needs to choose and ship a
network, in files of its own:

- ``measured.csv``: one row per measured architecture (``arch_str, proxy, latency_ms, spread_ms,
  cv, on_front, cell, degenerate, accuracy, bench_index``), in measurement order;
- ``front.csv`` rewritten with the same extra columns (the first three are unchanged);
- ``device.json``: what measured them (device name, kind, fingerprint, hardware, protocol, store).

Spreads of live devices are read from the measurement store (nothing is measured again); tabular
devices have none. Benchmark accuracy and the official NB201 index are filled in when the
benchmark data is found (an evaluation oracle: they are never used by the search).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moohw.accuracy import DEFAULT_ACCURACY, BenchmarkAccuracy
from moohw.data import BenchmarkData, DataError
from moohw.errors import InputError
from moohw.recommend import capped_front, nb201_cell_kind
from moohw.runs import RunResult
from moohw.spaces import get_space

MEASURED_COLUMNS = (
    "arch_str",
    "proxy",
    "latency_ms",
    "spread_ms",
    "cv",
    "on_front",
    "cell",
    "degenerate",
    "accuracy",
    "bench_index",
)


@dataclass(frozen=True)
class RunView:
    """A run folder as delivery sees it.

    Attributes:
        run_dir: The folder.
        record: ``run.json``.
        measured: One row per measured architecture (:data:`MEASURED_COLUMNS`).
        device: ``device.json`` (name, kind, fingerprint, hardware, protocol, ...).
        accuracy_column: The benchmark accuracy column in ``accuracy`` (``None``: unknown).
    """

    run_dir: Path
    record: dict[str, Any]
    measured: pd.DataFrame
    device: dict[str, Any]
    accuracy_column: str | None

    @property
    def front(self) -> pd.DataFrame:
        """The declared front, fastest first."""
        f = self.measured[self.measured["on_front"].astype(bool)]
        return f.sort_values("latency_ms", kind="stable")

    @property
    def max_latency_ms(self) -> float | None:
        """The run's latency cap (``--max-latency``), if any."""
        v = self.record.get("max_latency_ms")
        return None if v is None else float(v)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        out = json.loads(path.read_text())
    except FileNotFoundError:
        msg = f"{path} not found: is {path.parent} a `moohw optimize` folder?"
        raise FileNotFoundError(msg) from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(out, dict):
        raise InputError(f"{path} must hold a JSON object")
    return out


def _table_from_result(result: RunResult) -> pd.DataFrame:
    space = get_space(result.space)
    on_front = np.zeros(len(result.X), dtype=bool)
    on_front[result.front] = True
    return pd.DataFrame(
        {
            "arch_str": space.to_str(result.X) if len(result.X) else [],
            "proxy": -result.F[:, 0],
            "latency_ms": result.F[:, 1],
            "on_front": on_front,
        }
    )


def _table_from_files(run_dir: Path, record: dict[str, Any]) -> pd.DataFrame:
    """Measured rows rebuilt from ``evaluations.csv`` (paid rows) and the cap of ``run.json``."""
    path = run_dir / "evaluations.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a `moohw optimize` folder?")
    ev = pd.read_csv(path)
    paid = ev[ev["kind"] == "target"].drop_duplicates("arch_str")
    t = paid[["arch_str", "proxy", "latency_ms"]].reset_index(drop=True)
    F = np.column_stack([-t["proxy"].to_numpy(float), t["latency_ms"].to_numpy(float)])
    on_front = np.zeros(len(t), dtype=bool)
    on_front[capped_front(F, record.get("max_latency_ms"))] = True
    t["on_front"] = on_front
    return t


def live_store_info(
    device_name: str, space: str, data: BenchmarkData | None
) -> tuple[dict[str, Any], Any]:
    """``device.json`` content and the device object (``None`` when it cannot be rebuilt here).

    Live devices (``local:*``) are rebuilt from their name to read the store under this machine's
    fingerprint; Ray and table devices are described by name and kind only.
    """
    from moohw.devices import get_device
    from moohw.devices.local import LiveDevice

    info: dict[str, Any] = {"name": device_name}
    if device_name.startswith("ray:"):
        info.update(kind="live", note="a Ray fleet device: not re-measured from here")
        return info, None
    try:
        dev = get_device(device_name, get_space(space), data)
    except (KeyError, ValueError, FileNotFoundError, DataError) as e:
        info.update(kind="unknown", note=f"cannot rebuild the device here: {e}")
        return info, None
    info["kind"] = dev.kind
    if isinstance(dev, LiveDevice):
        from moohw.measure.fingerprint import hostname

        info.update(
            fingerprint=dev.fingerprint,
            hardware=dev._identity(),
            protocol=dev.protocol.to_dict(),
            dataset=dev.dataset,
            store=None if dev.store is None else str(dev.store.path),
            host=hostname(),
        )
        runtime = getattr(dev, "_runtime", None)  # local devices: runtime name, version, options
        if isinstance(runtime, dict):
            info["runtime"] = runtime
    return info, dev


def _spreads(dev: Any, space: str, strs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    spread = np.full(len(strs), np.nan)
    cv = np.full(len(strs), np.nan)
    store = getattr(dev, "store", None)
    if store is None or not strs:
        return spread, cv
    got = store.get(dev.fingerprint, space, dev.protocol, strs)
    for i, s in enumerate(strs):
        m = got.get(s)
        if m is not None:
            spread[i], cv[i] = m.spread_ms, m.cv
    return spread, cv


def _enrich(
    t: pd.DataFrame,
    space_name: str,
    dev: Any,
    data: BenchmarkData | None,
    accuracy: str | None,
) -> tuple[pd.DataFrame, str | None]:
    t = t.copy()
    strs = t["arch_str"].astype(str).tolist()
    t["spread_ms"], t["cv"] = _spreads(dev, space_name, strs)
    t["accuracy"] = np.nan
    t["bench_index"] = pd.array([pd.NA] * len(t), dtype="Int64")
    acc_col = None
    if space_name == "nb201" and len(t):
        space = get_space(space_name)
        X = space.from_str(strs)
        kinds = nb201_cell_kind(X)
        t["cell"] = kinds
        t["degenerate"] = [k != "conv" for k in kinds]
        if data is not None and accuracy:
            acc = BenchmarkAccuracy(space, data, accuracy)
            t["accuracy"] = acc(X)
            t["bench_index"] = pd.array(data.nb201_index().to_index(X), dtype="Int64")
            acc_col = accuracy
    else:
        t["cell"] = ""
        t["degenerate"] = False
    return t[list(MEASURED_COLUMNS)], acc_col


def describe_run(
    run_dir: str | Path,
    data: BenchmarkData | None = None,
    accuracy: str | None = DEFAULT_ACCURACY,
    result: RunResult | None = None,
    refresh: bool = False,
) -> RunView:
    """Read (and on first use write) the delivery files of a run folder.

    Args:
        run_dir: A folder written by ``moohw optimize`` (or :func:`moohw.runs.write_run`).
        data: Benchmark data for accuracy and the official index (``None``: left unknown).
        accuracy: Accuracy column of ``nb201/accuracy.csv``.
        result: The run itself, when the caller has it (``moohw optimize``); otherwise the
            measured set is rebuilt from ``evaluations.csv``.
        refresh: Rebuild ``measured.csv`` and ``device.json`` even if they exist.

    Returns:
        The run as delivery sees it; ``measured.csv``, ``front.csv`` and ``device.json`` are
        written when they were built here.
    """
    run_dir = Path(run_dir)
    record = _read_json(run_dir / "run.json")
    mpath, dpath = run_dir / "measured.csv", run_dir / "device.json"
    if mpath.exists() and dpath.exists() and not refresh and result is None:
        measured = pd.read_csv(mpath, dtype={"bench_index": "Int64"})
        measured["on_front"] = measured["on_front"].astype(bool)
        measured["degenerate"] = measured["degenerate"].astype(bool)
        device = _read_json(dpath)
        return RunView(run_dir, record, measured, device, device.get("accuracy_column"))
    t = _table_from_result(result) if result is not None else _table_from_files(run_dir, record)
    space = str(record.get("space", "nb201"))
    device, dev = live_store_info(str(record["device"]), space, data)
    measured, acc_col = _enrich(t, space, dev, data, accuracy)
    device["accuracy_column"] = acc_col
    device["spread_source"] = (
        "measurement store" if measured["spread_ms"].notna().any() else "none (not measured here)"
    )
    measured.to_csv(mpath, index=False)
    front = measured[measured["on_front"]].sort_values("latency_ms", kind="stable")
    front.drop(columns=["on_front"]).to_csv(run_dir / "front.csv", index=False)
    dpath.write_text(json.dumps(device, indent=2, default=str) + "\n")
    return RunView(run_dir, record, measured, device, acc_col)


def export_format(device_name: object) -> str:
    """Export format to suggest for a run's device: ONNX for ONNX runtimes, else TorchScript."""
    name = str(device_name or "")
    return "onnx" if name.startswith(("local:onnxruntime", "local:openvino")) else "torchscript"
