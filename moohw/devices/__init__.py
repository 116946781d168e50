"""Devices, selected by name: ``kind:argument``.

Known kinds: ``help:<column>`` and ``hwnasbench:edgegpu|edgetpu`` (public tables),
``csv:PATH[:COLUMN]`` (a user's table), ``synthetic:SEED``, ``local:cpu|cuda[?options]`` (measured
on this machine) and ``ray:NAME[?options]`` (measured on a Ray fleet host advertising resource
NAME). Unknown names fail with the list of known kinds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from moohw.data import BenchmarkData, DataError
from moohw.devices.base import Device, LatencyBatch, NotCoveredError, TabularDevice
from moohw.devices.synthetic import SyntheticDevice
from moohw.errors import InputError, UnknownNameError
from moohw.registry import Registry
from moohw.spaces import SearchSpace

DEVICE_KINDS: Registry[Device] = Registry("device kind")

_HELP_FILES = {"nb201": "nb201/latency_help.csv", "fbnet": "fbnet/latency_help.csv"}
_HWNASBENCH = {"edgegpu": "edgegpu_latency_ms", "edgetpu": "edgetpu_latency_ms"}


def _need_data(data: BenchmarkData | None, name: str) -> BenchmarkData:
    if data is None:
        raise FileNotFoundError(
            f"device {name} needs the benchmark data folder; pass --data DIR or set MOOHW_DATA"
        )
    return data


def _bench_index(space: SearchSpace, data: BenchmarkData):  # type: ignore[no-untyped-def]
    if space.name == "nb201":
        return data.nb201_index()
    if space.name == "fbnet":
        return data.fbnet_index()
    raise InputError(f"no benchmark index for space {space.name}")


@DEVICE_KINDS.register("help", "HELP latency table column, e.g. help:pixel3")
def _help(arg: str, space: SearchSpace, data: BenchmarkData | None) -> Device:
    name = f"help:{arg}"
    if space.name not in _HELP_FILES:
        raise UnknownNameError(f"HELP tables exist for {', '.join(_HELP_FILES)}, not {space.name}")
    d = _need_data(data, name)
    df = d.table(_HELP_FILES[space.name])
    cols = [c for c in df.columns if c != "index"]
    if arg not in cols:
        raise UnknownNameError(
            f"unknown HELP device {arg!r} for {space.name}; known: {', '.join(cols)}"
        )
    archs = _bench_index(space, d).to_archs(df["index"].to_numpy())
    return TabularDevice(name, space, archs, df[arg].to_numpy(dtype=np.float64))


@DEVICE_KINDS.register("hwnasbench", "HW-NAS-Bench CIFAR-10 latency: edgegpu or edgetpu")
def _hwnasbench(arg: str, space: SearchSpace, data: BenchmarkData | None) -> Device:
    name = f"hwnasbench:{arg}"
    if space.name != "nb201":
        raise UnknownNameError(f"{name} is an nb201 table, not {space.name}")
    if arg not in _HWNASBENCH:
        raise UnknownNameError(
            f"unknown HW-NAS-Bench device {arg!r}; known: {', '.join(_HWNASBENCH)}"
        )
    d = _need_data(data, name)
    df = d.table("nb201/latency_hwnasbench.csv", (_HWNASBENCH[arg],))
    archs = d.nb201_index().to_archs(df["index"].to_numpy())
    return TabularDevice(name, space, archs, df[_HWNASBENCH[arg]].to_numpy(dtype=np.float64))


def _split_csv_arg(arg: str) -> tuple[Path, str | None]:
    if Path(arg).exists() or ":" not in arg:
        return Path(arg), None
    path, col = arg.rsplit(":", 1)
    return Path(path), col


def _lines(rows: np.ndarray, most: int = 8) -> str:
    """File line numbers of data rows (header = line 1), the first ``most`` of them."""
    nums = [str(int(r) + 2) for r in rows[:most]]
    more = f", … ({len(rows)} lines)" if len(rows) > most else ""
    return ", ".join(nums) + more


def _clean_table(
    path: Path, keys: list[bytes], lat: np.ndarray, col: str, labels: list[str]
) -> np.ndarray:
    """Row indices to keep from a user's table, after checking every row.

    NaN/inf and non-positive latencies are errors naming their lines; an architecture on
    several lines with the same latency is kept once, with different latencies an error.
    """
    bad = np.flatnonzero(~np.isfinite(lat))
    if len(bad):
        raise DataError(
            f"{path}: column {col!r} is empty, NaN or infinite on {len(bad)} of {len(lat)} rows "
            f"(lines {_lines(bad)}); remove those rows or fill them in"
        )
    bad = np.flatnonzero(lat <= 0)
    if len(bad):
        raise DataError(
            f"{path}: column {col!r} has non-positive latency on {len(bad)} rows (lines "
            f"{_lines(bad)}); latency must be > 0 ms"
        )
    first: dict[bytes, int] = {}
    conflicts: list[str] = []
    keep: list[int] = []
    for i, k in enumerate(keys):
        j = first.setdefault(k, i)
        if j == i:
            keep.append(i)
        elif lat[i] != lat[j]:
            conflicts.append(
                f"lines {j + 2} and {i + 2} ({labels[i]}: {lat[j]:g} vs {lat[i]:g} ms)"
            )
    if conflicts:
        shown = "; ".join(conflicts[:3]) + (
            f"; … ({len(conflicts)} in all)" if len(conflicts) > 3 else ""
        )
        raise DataError(
            f"{path}: {len(conflicts)} rows repeat an architecture with another latency: {shown}; "
            "keep one row per architecture"
        )
    return np.array(keep, dtype=np.int64)


@DEVICE_KINDS.register("csv", "your own table: csv:PATH[:COLUMN], keyed by arch_str or index")
def _csv(arg: str, space: SearchSpace, data: BenchmarkData | None) -> Device:
    path, col = _split_csv_arg(arg)
    name = f"csv:{arg}"
    if path.is_dir():
        raise DataError(
            f"csv:{path} is a directory; csv:PATH[:COLUMN] needs a CSV file with an arch_str "
            "or index column and a latency column"
        )
    if not path.is_file():
        raise FileNotFoundError(f"latency table {path} does not exist")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise DataError(f"cannot read {path} as CSV: {e}") from None
    keys = [c for c in ("arch_str", "index") if c in df.columns]
    if not keys:
        raise DataError(f"{path} needs an 'arch_str' or 'index' column; has {list(df.columns)}")
    numeric = [
        c
        for c in df.columns
        if c not in ("arch_str", "index") and pd.api.types.is_numeric_dtype(df[c])
    ]
    if col is None:
        if "latency_ms" in numeric:
            col = "latency_ms"
        elif len(numeric) == 1:
            col = numeric[0]
        else:
            raise DataError(f"{path}: name the latency column as csv:{path}:COLUMN; has {numeric}")
    if col not in numeric:
        raise DataError(f"{path}: no numeric column {col!r}; numeric columns: {numeric}")
    if "arch_str" in df.columns:
        labels = df["arch_str"].astype(str).tolist()
        archs = space.from_str(labels)
    else:
        labels = [f"index {i}" for i in df["index"].tolist()]
        archs = _bench_index(space, _need_data(data, name)).to_archs(df["index"].to_numpy())
    lat = df[col].to_numpy(dtype=np.float64)
    keep = _clean_table(path, space.keys(archs), lat, col, labels)
    return TabularDevice(name, space, archs[keep], lat[keep])


class PredictedDevice(TabularDevice):
    """Latency predicted by a surrogate (``moohw surrogate build --out DIR``), read as a table."""

    kind = "predicted"
    fidelity = "predicted"


@DEVICE_KINDS.register("predicted", "a surrogate built by `moohw surrogate build --out DIR`")
def _predicted(arg: str, space: SearchSpace, data: BenchmarkData | None) -> Device:
    path = Path(arg) / "predictions.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: predicted:DIR needs the --out folder of `moohw surrogate build`"
        )
    df = pd.read_csv(path)
    if not {"arch_str", "latency_ms"} <= set(df.columns):
        raise DataError(f"{path} needs arch_str and latency_ms columns")
    archs = space.from_str(df["arch_str"].astype(str).tolist())
    return PredictedDevice(f"predicted:{arg}", space, archs, df["latency_ms"].to_numpy(float))


def scoring_device(device: Device, data: BenchmarkData | None) -> tuple[Device, str]:
    """The device a run on ``device`` is scored against, and its name for the record.

    A table is scored against itself. A ``predicted:DIR`` surrogate is scored against the
    device it was built for (``DIR/summary.json``) when that device's table is readable here;
    otherwise against its own predictions, and the label says so.
    """
    if not isinstance(device, PredictedDevice):
        return device, device.name
    import json

    summary = Path(device.name.partition(":")[2]) / "summary.json"
    real = None
    try:
        real = json.loads(summary.read_text()).get("device")
    except (OSError, ValueError):
        pass
    if isinstance(real, str) and not real.startswith(("local:", "ray:", "predicted:")):
        try:
            dev = get_device(real, device.space, data)
        except (KeyError, ValueError, FileNotFoundError):
            dev = None
        if dev is not None and dev.exact:
            return dev, real
    return device, f"predictions ({device.name}; no table of the measured device here)"


@DEVICE_KINDS.register("synthetic", "additive synthetic device from a seed: synthetic:SEED")
def _synthetic(arg: str, space: SearchSpace, data: BenchmarkData | None) -> Device:
    try:
        seed = int(arg)
    except ValueError:
        raise InputError(f"synthetic device needs an integer seed, got {arg!r}") from None
    if seed < 0:
        raise UnknownNameError(f"synthetic device seed must be >= 0, got {seed}")
    return SyntheticDevice(f"synthetic:{seed}", space, seed)


@DEVICE_KINDS.register("local", "measured here: local:cpu or local:cuda[?batch=1&threads=1&...]")
def _local(arg: str, space: SearchSpace, data: BenchmarkData | None) -> Device:
    from moohw.devices.local import local_device  # torch and the store load on demand

    return local_device(arg, space)


@DEVICE_KINDS.register("ray", "measured on the Ray fleet host advertising resource NAME: ray:NAME")
def _ray(arg: str, space: SearchSpace, data: BenchmarkData | None) -> Device:
    from moohw.devices.ray_fleet import ray_device  # ray is an optional extra

    return ray_device(arg, space)


def get_device(name: str, space: SearchSpace, data: BenchmarkData | None = None) -> Device:
    """Build a device from its name ``kind:argument``.

    Raises:
        KeyError: unknown kind or column (the message lists the known ones).
        FileNotFoundError: a tabular device without a data folder.
    """
    kind, sep, arg = str(name).partition(":")
    if not sep or not arg:
        raise UnknownNameError(
            f"device name {name!r} must look like kind:argument; kinds: "
            + ", ".join(DEVICE_KINDS.names())
        )
    return DEVICE_KINDS.get(kind)(arg, space, data)


@dataclass(frozen=True)
class DeviceListing:
    """One row of ``moohw devices``."""

    name: str
    kind: str
    available: bool
    note: str


def list_devices(space: SearchSpace, data: BenchmarkData | None) -> list[DeviceListing]:
    """Every device name known for ``space``, with whether it is usable here and why not."""
    rows: list[DeviceListing] = []
    no_data = "needs benchmark data (--data DIR or MOOHW_DATA)"
    if space.name in _HELP_FILES:
        why = _unusable(data, _HELP_FILES[space.name])
        if data is not None and why is None:
            df = data.table(_HELP_FILES[space.name])
            for c in df.columns:
                if c != "index":
                    rows.append(DeviceListing(f"help:{c}", "tabular", True, "HELP"))
        else:
            rows.append(DeviceListing("help:<column>", "tabular", False, why or no_data))
    if space.name == "nb201":
        why = _unusable(data, "nb201/latency_hwnasbench.csv")
        for k in _HWNASBENCH:
            ok = data is not None and why is None
            note = "HW-NAS-Bench (partial coverage)" if ok else (why or no_data)
            rows.append(DeviceListing(f"hwnasbench:{k}", "tabular", ok, note))
    rows.append(DeviceListing("synthetic:<seed>", "synthetic", True, "additive, seeded"))
    rows.append(DeviceListing("csv:PATH[:COLUMN]", "tabular", True, "arch_str or index column"))
    rows.extend(_live_listings(space))
    return rows


def _unusable(data: BenchmarkData | None, rel: str) -> str | None:
    """Why the table ``rel`` cannot be used (missing, corrupt), or ``None`` when it verifies."""
    if data is None:
        return "needs benchmark data (--data DIR or MOOHW_DATA)"
    if not data.has(rel):
        return f"{rel} is missing from {data.root}"
    try:
        data.path(rel)
        if rel.startswith("nb201/"):
            data.nb201_index()
        elif rel.startswith("fbnet/"):
            data.fbnet_index()
    except (DataError, FileNotFoundError) as e:
        return f"unusable: {e}"
    return None


def _live_listings(space: SearchSpace) -> list[DeviceListing]:
    import importlib.util

    if space.name != "nb201":
        why = f"live devices measure NB201 networks; {space.name} has none"
        return [DeviceListing(n, "live", False, why) for n in ("local:cpu", "local:cuda")]
    from moohw.measure.fingerprint import cpu_model
    from moohw.measure.timing import cuda_available

    cuda = cuda_available()
    has_ray = importlib.util.find_spec("ray") is not None
    return [
        DeviceListing("local:cpu", "live", True, f"this machine's CPU ({cpu_model()})"),
        DeviceListing(
            "local:cuda", "live", cuda, "this machine's GPU" if cuda else "no CUDA here"
        ),
        DeviceListing(
            "ray:<resource>",
            "live",
            has_ray,
            "a Ray fleet host" if has_ray else 'needs the ray extra: pip install -e ".[ray]"',
        ),
    ]


def data_env_hint() -> str:
    """Where data is looked for, for messages."""
    return os.environ.get("MOOHW_DATA", "../shared/data")


__all__ = [
    "DEVICE_KINDS",
    "Device",
    "DeviceListing",
    "LatencyBatch",
    "NotCoveredError",
    "SyntheticDevice",
    "TabularDevice",
    "get_device",
    "list_devices",
]
