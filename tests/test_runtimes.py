"""Deployment runtimes as live devices: local:torchscript, local:onnxruntime, local:openvino."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from moohw.devices import get_device
from moohw.devices.local import LocalDevice, parse_local_name
from moohw.errors import InputError
from moohw.measure import MeasureError, MeasurementStore

FAST = "warmup=1&rounds=2&min_rounds=2&round_repeats=2"


@pytest.fixture(autouse=True)
def _private(tmp_path, monkeypatch):
    monkeypatch.setenv("MOOHW_STORE", str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("MOOHW_EXPORT_CACHE", str(tmp_path / "exports"))


def test_names_split_runtime_options_from_protocol_options():
    target, p, ds, opts = parse_local_name("onnxruntime?threads=2&opt=basic&dataset=cifar100")
    assert (target, p.threads, p.device, ds, opts) == (
        "onnxruntime",
        2,
        "cpu",
        "cifar100",
        {"opt": "basic"},
    )
    assert parse_local_name("onnxruntime?ep=cuda")[1].device == "cuda"


@pytest.mark.parametrize(
    "name, match",
    [
        ("local:onnxruntime?opt=max", r"opt='max'.*\('all', 'extended', 'basic', 'none'\)"),
        ("local:openvino?opt=all", "unknown option 'opt'"),
        ("local:torchscript?dtype=float16", "float32 only"),
        ("local:tpu", "known: cpu, cuda, torchscript, onnxruntime, openvino"),
    ],
)
def test_bad_runtime_names_are_one_line_errors(nb201, name, match):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    with pytest.raises(InputError, match=match):
        get_device(name, nb201)


@pytest.mark.parametrize(
    "target, module", [("onnxruntime", "onnxruntime"), ("openvino", "openvino")]
)
def test_missing_runtime_names_the_extra(nb201, monkeypatch, target, module):
    monkeypatch.setitem(sys.modules, module, None)  # import -> ImportError
    with pytest.raises(MeasureError, match=r'runtimes extra\): pip install -e "\.\[runtimes\]"'):
        get_device(f"local:{target}", nb201)


@pytest.mark.parametrize("target", ["torchscript", "onnxruntime", "openvino"])
def test_runtime_device_measures_and_ranks_heavy_above_light(nb201, tmp_path, target):
    if target != "torchscript":
        pytest.importorskip("onnx")
        pytest.importorskip(target)
    st = MeasurementStore(tmp_path / f"{target}.sqlite")
    dev = get_device(f"local:{target}?{FAST}", nb201)
    assert isinstance(dev, LocalDevice) and dev.target == target
    dev.store = st
    heavy = nb201.from_str(
        [
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
        ]
    )
    light = nb201.from_str(
        [
            "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
        ]
    )
    lat = dev.latency_ms(np.vstack([heavy, light]))
    assert np.isfinite(lat).all() and (lat > 0).all()
    assert lat[0] > 2 * lat[1]
    # the runtime is part of the fingerprint: eager torch on the same cells is another device
    eager = get_device(f"local:cpu?{FAST}", nb201)
    assert eager.fingerprint != dev.fingerprint
    assert dev.describe()["runtime"]["runtime"] == (
        "torchscript" if target == "torchscript" else target
    )
    # stored: a second device object on the same store measures nothing
    again = get_device(f"local:{target}?{FAST}", nb201)
    again.store = st
    assert np.array_equal(again.latency_ms(np.vstack([heavy, light])), lat)
    assert again.measurement_counts() == (0, 2)
