"""Exporting designed networks: ONNX and TorchScript files computing what torch computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from moohw.nets.export import (
    cache_key,
    cached_export,
    example_input,
    export_onnx,
    export_torchscript,
    reference_network,
)

ARCHS = [
    "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # no path to the output: zeros
]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOOHW_EXPORT_CACHE", str(tmp_path / "exports"))


def _torch_out(arch: str, batch: int) -> np.ndarray:
    with torch.no_grad():
        return reference_network("nb201", arch)(example_input(batch)).numpy()


def test_reference_network_is_deterministic():
    a, b = (reference_network("nb201", ARCHS[0]) for _ in range(2))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not a.training


@pytest.mark.parametrize("arch", ARCHS)
def test_torchscript_output_equals_torch(arch, tmp_path):
    path = export_torchscript("nb201", arch, tmp_path / "net.pt", batch=2)
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        got = loaded(example_input(2)).numpy()
    want = _torch_out(arch, 2)
    assert got.shape == want.shape == (2, 10)
    assert np.abs(got - want).max() <= 1e-5


@pytest.mark.parametrize("arch", ARCHS)
def test_onnx_output_equals_torch(arch, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path = export_onnx("nb201", arch, tmp_path / "net.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # a cell with no path from input to output exports a graph without an input
    feed = {i.name: example_input(1).numpy() for i in sess.get_inputs()}
    assert len(feed) == (0 if "none~0|none~1|none~2" in arch else 1)
    got = sess.run(None, feed)[0]
    want = _torch_out(arch, 1)
    assert got.shape == want.shape == (1, 10)
    assert np.abs(got - want).max() <= 1e-4


def test_cache_exports_once_and_keys_on_options(tmp_path):
    first = cached_export("nb201", ARCHS[0], "torchscript", cache_dir=tmp_path)
    mtime = first.stat().st_mtime_ns
    again = cached_export("nb201", ARCHS[0], "torchscript", cache_dir=tmp_path)
    assert again == first and again.stat().st_mtime_ns == mtime  # not re-exported
    other = cached_export("nb201", ARCHS[0], "torchscript", batch=4, cache_dir=tmp_path)
    assert other != first
    assert list(tmp_path.glob(".tmp-*")) == []  # no temporary file left behind
    keys = {
        cache_key("nb201", ARCHS[0], "onnx", 1, "cifar10", {"opset": 17}),
        cache_key("nb201", ARCHS[0], "onnx", 1, "cifar10", {"opset": 18}),
        cache_key("nb201", ARCHS[1], "onnx", 1, "cifar10", {"opset": 17}),
        cache_key("nb201", ARCHS[0], "onnx", 1, "cifar100", {"opset": 17}),
    }
    assert len(keys) == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"space": "fbnet"}, "only nb201"),
        ({"arch": "|conv~0|"}, ""),
        ({"fmt": "tflite"}, "unknown export format 'tflite'; known: onnx, torchscript"),
        ({"batch": 0}, "batch must be an int >= 1"),
        ({"dataset": "mnist"}, "unknown dataset 'mnist'"),
    ],
)
def test_bad_export_arguments_are_clear(kwargs, match, tmp_path):
    args = {"space": "nb201", "arch": ARCHS[0], "fmt": "torchscript", **kwargs}
    with pytest.raises(ValueError, match=match):
        space, arch, fmt = args.pop("space"), args.pop("arch"), args.pop("fmt")
        cached_export(space, arch, fmt, cache_dir=tmp_path, **args)


def test_export_to_a_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        export_torchscript("nb201", ARCHS[0], tmp_path)
