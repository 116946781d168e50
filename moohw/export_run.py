"""Picked networks of a run as deployable files, each with a JSON card and a check.

For each picked architecture: build the NB201 network (:func:`moohw.nets.build_network`, weights
initialised from seed 0: the search never trains), write it as ONNX or TorchScript, and check

- that the file computes what the PyTorch network computes (max absolute output difference on a
  fixed random batch), and
- for a run on a ``local:*`` device of this machine, that the network timed again on that
  device (its runtime, its protocol, the store bypassed) agrees with the stored measurement:
  ``|Δ| <= 3 × 1.4826 × hypot(MAD_stored, MAD_new)``, about three standard deviations of the
  difference of two timed passes (1.4826 scales a MAD to a standard deviation under
  normality). A TorchScript file is also timed under the same protocol and reported beside it
  (another runtime than PyTorch eager). Tabular devices cannot be re-measured.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moohw.errors import InputError
from moohw.nets import input_shape
from moohw.recommend import PickRule, short_arch
from moohw.rundir import RunView, live_store_info
from moohw.spaces import get_space

FORMATS: tuple[str, ...] = ("onnx", "torchscript")
_SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
_MAD_TO_SD = 1.4826


def check_format(fmt: str) -> None:
    """Raise a one-line error for an unknown format, or for ONNX without its packages."""
    if fmt not in FORMATS:
        raise InputError(f"unknown --format {fmt!r}; valid: {', '.join(FORMATS)}")
    if fmt == "onnx":
        import importlib.util

        missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
        if missing:
            raise InputError(
                f"--format onnx needs {' and '.join(missing)}: install the runtimes extra "
                '(pip install -e ".[runtimes]" -c constraints.txt)'
            )


def write_network(space: str, arch_str: str, fmt: str, path: Path, dataset: str) -> Path:
    """Write the network of ``arch_str`` to ``path`` (:mod:`moohw.nets.export`, cached)."""
    from moohw.nets.export import export_onnx, export_torchscript

    if fmt == "onnx":
        return export_onnx(space, arch_str, path, dataset=dataset)
    return export_torchscript(space, arch_str, path, dataset=dataset)


def run_file(path: Path, fmt: str, x: Any) -> np.ndarray:
    """Outputs of an exported file on input ``x`` (ONNX Runtime CPU, or TorchScript)."""
    import torch

    if fmt == "torchscript":
        m = torch.jit.load(str(path)).eval()
        with torch.no_grad():
            return np.asarray(m(x).numpy())
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # a cell with no input->output path exports a graph without inputs
    return np.asarray(sess.run(None, {i.name: x.numpy() for i in sess.get_inputs()})[0])


def agrees(
    stored_ms: float, stored_mad: float, new_ms: float, new_mad: float
) -> tuple[bool, float]:
    """Whether two medians agree within their spreads; returns ``(agrees, tolerance_ms)``."""
    mad = math.hypot(stored_mad if stored_mad == stored_mad else 0.0, new_mad)
    tol = 3.0 * _MAD_TO_SD * mad
    return abs(new_ms - stored_ms) <= tol, tol


def _latency_check(view: RunView, dev: Any, fmt: str, path: Path, row: pd.Series) -> Any:
    """Time the network again on the run's device and compare, or say why it cannot be.

    The device times the network in its own runtime (``local:cpu``: PyTorch eager), so the check
    re-measures the card's rebuilt network through the device, bypassing the store. A
    TorchScript file is also timed under the same protocol and reported beside it: it is another
    runtime, whose latency (and ranking) can differ from the one the search measured.
    """
    from moohw.devices.local import LiveDevice, LocalDevice

    info = view.device
    if info.get("kind") != "live":
        return (
            f"not re-measured: {info.get('name')} is a {info.get('kind')} device "
            "(latency read from a table or a model, not timed)"
        )
    if not isinstance(dev, LiveDevice) or str(info.get("name", "")).startswith("ray:"):
        return f"not re-measured: {info.get('name')} is not a device of this machine"
    if info.get("fingerprint") and dev.fingerprint != info.get("fingerprint"):
        return "not re-measured: this machine's fingerprint differs from the run's device"
    arch = get_space("nb201").from_str([str(row["arch_str"])])[0]
    m, _ = dev._measure(arch)
    stored = float(row["latency_ms"])
    ok, tol = agrees(stored, float(row["spread_ms"]), m.latency_ms, m.spread_ms)
    diff = m.latency_ms - stored
    out: dict[str, Any] = {
        "what": f"the rebuilt network timed again on {info.get('name')} (same protocol)",
        "latency_ms": m.latency_ms,
        "spread_ms": m.spread_ms,
        "cv": m.cv,
        "difference_ms": diff,
        "tolerance_ms": tol,
        "agrees": bool(ok),
        "note": f"{100 * diff / stored:+.1f}%, tolerance ±{tol:.2g} ms",
    }
    if fmt == "torchscript" and isinstance(dev, LocalDevice):
        import torch

        from moohw.measure.timing import measure_model

        f = measure_model(torch.jit.load(str(path)), dev.protocol, input_shape(dev.dataset))
        out["file"] = {
            "runtime": "TorchScript",
            "latency_ms": f.latency_ms,
            "spread_ms": f.spread_ms,
            "vs_stored": f"{100 * (f.latency_ms - stored) / stored:+.1f}%",
            "note": f"another runtime than the run's device ({info.get('name')} times PyTorch "
            "eager): its latency, and the front's ranking, can differ",
        }
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _card(
    view: RunView, row: pd.Series, rule: PickRule, fmt: str, path: Path, dataset: str
) -> dict[str, Any]:
    r, space = view.record, str(view.record.get("space", "nb201"))
    arch = get_space(space).from_str([str(row["arch_str"])])[0]
    card: dict[str, Any] = {
        "file": path.name,
        "format": fmt,
        "pick": rule.label,
        "arch_str": str(row["arch_str"]),
        "arch": [int(a) for a in arch],
        "space": space,
        "dataset": dataset,
        "cell": str(row["cell"]),
        "degenerate": bool(row["degenerate"]),
        "proxy": {"name": r.get("proxy"), "score": float(row["proxy"]), "higher_is_better": True},
        "latency": {
            "latency_ms": float(row["latency_ms"]),
            "spread_ms": None if pd.isna(row["spread_ms"]) else float(row["spread_ms"]),
            "cv": None if pd.isna(row["cv"]) else float(row["cv"]),
            "statistic": _statistic(view.device.get("protocol")),
        },
        "device": {k: v for k, v in view.device.items() if k != "accuracy_column"},
        "weights": "untrained: initialised from seed 0 (train before deploying)",
        "input": {"name": "input", "shape": [1, *input_shape(dataset)]},
        "rebuild": (
            "from moohw.nets import build_network\n"
            "from moohw.spaces import get_space\n"
            f"net = build_network(get_space({space!r}).from_str([{str(row['arch_str'])!r}]), "
            f"dataset={dataset!r}, seed=0)"
        ),
        "run": {
            "dir": str(view.run_dir),
            "algo": r.get("algo"),
            "seed": r.get("seed"),
            "budget": r.get("budget"),
        },
        "sha256": _sha256(path),
    }
    if view.accuracy_column is not None and not pd.isna(row["accuracy"]):
        card["benchmark"] = {
            "accuracy_column": view.accuracy_column,
            "accuracy_percent": float(row["accuracy"]),
            "nb201_index": int(row["bench_index"]),
            "note": "NAS-Bench-201 accuracy of this cell trained 200 epochs; not these weights",
        }
    return card


def export_picks(
    view: RunView,
    rows: pd.DataFrame,
    rule: PickRule,
    fmt: str,
    out: str | Path,
    check: bool = True,
) -> list[dict[str, Any]]:
    """Write each picked network and its card ``<name>.json`` into ``out``; returns the cards.

    Args:
        view: The run (:func:`moohw.rundir.describe_run`).
        rows: Front rows to export (:func:`moohw.recommend.pick`).
        rule: The pick that chose them (recorded in the cards).
        fmt: ``onnx`` or ``torchscript``.
        out: Output folder.
        check: Re-measure latency on the run's device when possible.
    """
    import torch

    from moohw.nets.export import example_input, reference_network

    check_format(fmt)
    space = str(view.record.get("space", "nb201"))
    if space != "nb201":
        raise InputError(f"export builds NB201 networks; this run searched {space}")
    out = Path(out)
    dataset = str(view.device.get("dataset", "cifar10"))
    dev = None
    if check:
        _, dev = live_store_info(str(view.record["device"]), space, None)
    x = example_input(1, dataset)
    cards = []
    for _, row in rows.iterrows():
        arch_str = str(row["arch_str"])
        arch = get_space(space).from_str([arch_str])[0]
        slug = rule.label.replace(" ", "_") if len(rows) == 1 else "front"
        name = f"{slug}_{short_arch(arch).replace('|', '_')}"
        path = write_network(space, arch_str, fmt, out / (name + _SUFFIX[fmt]), dataset)
        with torch.no_grad():
            ref = reference_network(space, arch_str, dataset)(x).numpy()
        got = run_file(path, fmt, x)
        card = _card(view, row, rule, fmt, path, dataset)
        card["check"] = {
            "max_abs_diff": float(np.max(np.abs(got - ref))),
            "outputs_compared": f"logits of a fixed random batch {tuple(x.shape)}",
            "latency": _latency_check(view, dev, fmt, path, row) if check else "not requested",
        }
        (out / (name + ".json")).write_text(json.dumps(card, indent=2, default=str) + "\n")
        cards.append(card)
    return cards


def _statistic(protocol: object) -> str:
    """What ``latency_ms`` and ``spread_ms`` of a card are, for the device's protocol."""
    if isinstance(protocol, dict) and int(protocol.get("rounds", 1)) > 1:
        return (
            "median over interleaved rounds of the drift-corrected fastest pass; "
            "spread = median absolute deviation across rounds"
        )
    return "median of timed passes; spread = median absolute deviation"
