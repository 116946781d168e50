"""Exporting a designed network as a file a deployment runtime loads (ONNX, TorchScript).

The network is :func:`moohw.nets.build_network` of the architecture with deterministic weights
(seed 0), in eval mode, so the same architecture always exports the same file. Exports are
cached on disk under ``<user cache dir>/moohw/exports`` (or ``$MOOHW_EXPORT_CACHE``), keyed by
space, architecture, format, batch, dataset, options and the torch version: a runtime device
exports each architecture once, across processes and sessions.

Example:
    >>> from moohw.nets.export import export_onnx
    >>> path = export_onnx("nb201", "|nor_conv_3x3~0|+|none~0|skip_connect~1|+"
    ...                    "|none~0|none~1|avg_pool_3x3~2|", "net.onnx")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import platformdirs
import torch

from moohw.errors import InputError
from moohw.nets.nb201 import NB201Network, build_network, input_shape

#: Export formats and their file suffixes.
FORMATS: dict[str, str] = {"onnx": ".onnx", "torchscript": ".pt"}
#: Bump when the exported graph changes for the same inputs (invalidates the cache).
EXPORT_VERSION = "1"
_WEIGHT_SEED = 0  # weights do not change latency; a fixed seed makes exports reproducible


def export_cache_dir() -> Path:
    """``$MOOHW_EXPORT_CACHE`` if set, else ``<user cache dir>/moohw/exports``."""
    env = os.environ.get("MOOHW_EXPORT_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("moohw")) / "exports"


def reference_network(space: str, arch: str, dataset: str = "cifar10") -> NB201Network:
    """The network that is exported: ``build_network`` with seed-0 weights, in eval mode.

    Args:
        space: Search space name (only ``nb201`` has networks).
        arch: Canonical architecture string of ``space``.
        dataset: ``cifar10``, ``cifar100`` or ``imagenet16``.

    Raises:
        ValueError: an unknown space, a bad architecture string or an unknown dataset.
    """
    if space != "nb201":
        raise InputError(f"only nb201 networks can be exported, got space {space!r}")
    from moohw.spaces import get_space

    X = get_space(space).from_str([arch])
    return build_network(X[0], dataset, seed=_WEIGHT_SEED).eval()


def example_input(batch: int = 1, dataset: str = "cifar10") -> torch.Tensor:
    """The fixed input ``(batch, 3, H, W)`` used for export and output checks."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn((batch, *input_shape(dataset)), generator=gen)


def cache_key(
    space: str, arch: str, fmt: str, batch: int, dataset: str, options: dict[str, Any]
) -> str:
    """Stable 20-hex-digit key of everything that changes an exported file."""
    blob = json.dumps(
        {
            "space": space,
            "arch": arch,
            "format": fmt,
            "batch": batch,
            "dataset": dataset,
            "options": options,
            "torch": torch.__version__,
            "export": EXPORT_VERSION,
        },
        sort_keys=True,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def _check(fmt: str, batch: int, opset: int | None = None) -> None:
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    if not isinstance(batch, int) or batch < 1:
        raise InputError(f"export batch must be an int >= 1, got {batch!r}")
    if opset is not None and not 11 <= opset <= 23:
        raise InputError(f"ONNX opset must be in 11..23, got {opset}")


def _write_onnx(net: torch.nn.Module, x: torch.Tensor, path: Path, opset: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter chatter (deprecations, constant folding)
        try:
            torch.onnx.export(
                net,
                (x,),
                str(path),
                opset_version=opset,
                input_names=["input"],
                output_names=["logits"],
                dynamo=False,
            )
        except ModuleNotFoundError as e:  # the exporter needs the onnx package
            raise ModuleNotFoundError(
                f"ONNX export needs {e.name}: pip install -e '.[runtimes]'"
            ) from None


def _write_torchscript(net: torch.nn.Module, x: torch.Tensor, path: Path) -> None:
    with torch.no_grad():
        traced = torch.jit.trace(net, (x,), check_trace=False)
    traced = torch.jit.freeze(traced.eval())
    torch.jit.save(traced, str(path))


def cached_export(
    space: str,
    arch: str,
    fmt: str,
    *,
    batch: int = 1,
    dataset: str = "cifar10",
    opset: int = 17,
    cache_dir: str | Path | None = None,
) -> Path:
    """The exported file of ``arch`` in the cache, exporting it first if it is not there.

    The file is written to a temporary name and renamed into place, so concurrent processes
    exporting the same architecture never see a partial file.

    Args:
        space: Search space name (``nb201``).
        arch: Canonical architecture string.
        fmt: ``onnx`` or ``torchscript``.
        batch: Batch size baked into the exported graph.
        dataset: Network variant (input size, classes).
        opset: ONNX opset (ignored for TorchScript).
        cache_dir: Cache folder (default :func:`export_cache_dir`).

    Returns:
        Path of the cached file (do not modify it; copy it).

    Raises:
        ValueError: a bad space, architecture, format, batch, dataset or opset.
    """
    _check(fmt, batch, opset if fmt == "onnx" else None)
    options: dict[str, Any] = {"opset": opset} if fmt == "onnx" else {}
    net = reference_network(space, arch, dataset)  # validates before touching the cache
    root = Path(cache_dir).expanduser() if cache_dir is not None else export_cache_dir()
    path = root / f"{cache_key(space, arch, fmt, batch, dataset, options)}{FORMATS[fmt]}"
    if path.is_file() and path.stat().st_size > 0:
        return path
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=FORMATS[fmt])
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        x = example_input(batch, dataset)
        if fmt == "onnx":
            _write_onnx(net, x, tmp, opset)
        else:
            _write_torchscript(net, x, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _deliver(src: Path, path: str | Path) -> Path:
    out = Path(path).expanduser()
    if out.is_dir():
        raise IsADirectoryError(f"export path {out} is a directory; give a file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, out)
    return out


def export_onnx(
    space: str,
    arch: str,
    path: str | Path,
    *,
    batch: int = 1,
    dataset: str = "cifar10",
    opset: int = 17,
) -> Path:
    """Write the ONNX file of ``arch`` (input ``input``, output ``logits``) to ``path``.

    Args:
        space: Search space name (``nb201``).
        arch: Canonical architecture string.
        path: Output file.
        batch: Batch size of the graph's input ``(batch, 3, H, W)``.
        dataset: Network variant.
        opset: ONNX opset version.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: bad arguments (one line naming the value and what is valid).
        ModuleNotFoundError: the ``onnx`` package is missing (install the ``runtimes`` extra).
    """
    src = cached_export(space, arch, "onnx", batch=batch, dataset=dataset, opset=opset)
    return _deliver(src, path)


def export_torchscript(
    space: str,
    arch: str,
    path: str | Path,
    *,
    batch: int = 1,
    dataset: str = "cifar10",
) -> Path:
    """Write the frozen, traced TorchScript file of ``arch`` to ``path`` (``torch.jit.load``).

    Args:
        space: Search space name (``nb201``).
        arch: Canonical architecture string.
        path: Output file.
        batch: Batch size it was traced with (other batch sizes also run).
        dataset: Network variant.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    src = cached_export(space, arch, "torchscript", batch=batch, dataset=dataset)
    return _deliver(src, path)
