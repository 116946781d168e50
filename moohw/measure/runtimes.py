"""Deployment runtimes as measuring backends: what ``local:<target>`` runs a network with.

Targets:

- ``cpu`` / ``cuda``: PyTorch eager (``cuda_graph=1`` replays a captured CUDA graph;
  ``dtype=float16`` runs half precision);
- ``torchscript``: the traced, frozen TorchScript file of
  :func:`moohw.nets.export.export_torchscript`;
- ``onnxruntime``: the ONNX file of :func:`moohw.nets.export.export_onnx` in an ONNX Runtime
  session (CPU execution provider, or ``ep=cuda``), ``opt=all|extended|basic|none`` its graph
  optimisation level;
- ``openvino``: the same ONNX file compiled by OpenVINO for its CPU plugin (latency hint, f32).

Exported files come from the export cache (one export per architecture and options). The
runtime's name, version and options are part of the device fingerprint. With one thread (the
default) passes are timed by CPU time, as PyTorch's are: ONNX Runtime computes on the calling
thread (thread CPU time); OpenVINO may use a worker thread, so it is timed by the CPU time of the
process (on this machine the two agree within 4%, while the wall clock read 3-4x more under load).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from moohw.errors import InputError
from moohw.measure.protocol import MeasureError, Protocol

#: Targets of ``local:`` and the options each takes beyond the protocol's (value: allowed).
TARGETS: dict[str, dict[str, tuple[str, ...]]] = {
    "cpu": {},
    "cuda": {"cuda_graph": ("0", "1")},
    "torchscript": {},
    "onnxruntime": {"opt": ("all", "extended", "basic", "none"), "ep": ("cpu", "cuda")},
    "openvino": {},
}
#: Defaults of the runtime options (left out of canonical names).
DEFAULTS: dict[str, str] = {"cuda_graph": "0", "opt": "all", "ep": "cpu"}
#: Python package (import name, pip name) each runtime needs.
PACKAGES: dict[str, tuple[str, str]] = {
    "onnxruntime": ("onnxruntime", "onnxruntime"),
    "openvino": ("openvino", "openvino"),
}
_EXTRA_HINT = 'pip install -e ".[runtimes]"'


def require(target: str) -> ModuleType:
    """Import the runtime package of ``target`` or fail with one line naming the extra.

    Raises:
        MeasureError: the package (or ``onnx``, needed for export) is not installed.
    """
    mod_name, pip_name = PACKAGES[target]
    for name, pip in ((mod_name, pip_name), ("onnx", "onnx")):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            raise MeasureError(
                f"local:{target} needs the {pip} package (the runtimes extra): {_EXTRA_HINT}"
            ) from None
        if name == mod_name:
            runtime = mod
    return runtime


def runtime_info(target: str, options: Mapping[str, str]) -> dict[str, Any]:
    """Runtime name, version and options (part of the fingerprint's ``extra``)."""
    import torch

    if target in ("cpu", "cuda"):
        name, version = "torch-eager", str(torch.__version__)
    elif target == "torchscript":
        name, version = "torchscript", str(torch.__version__)
    else:
        name, version = target, str(require(target).__version__)
    return {"runtime": name, "runtime_version": version, "runtime_options": dict(options)}


def check_options(target: str, options: Mapping[str, str], protocol: Protocol) -> None:
    """Validate runtime options against the target and protocol.

    Raises:
        ValueError: an option the target does not take, a bad value, or a protocol setting the
            runtime cannot honour (half precision or channels-last outside torch).
    """
    allowed = TARGETS[target]
    for k, v in options.items():
        if k not in allowed:
            known = ", ".join(allowed) or "none"
            raise InputError(f"local:{target} has no option {k!r}; its runtime options: {known}")
        if v not in allowed[k]:
            raise InputError(f"option {k}={v!r} of local:{target} must be one of {allowed[k]}")
    if target in ("onnxruntime", "openvino", "torchscript"):
        if protocol.dtype != "float32":
            raise InputError(f"local:{target} measures float32 only, got dtype={protocol.dtype}")
        if protocol.channels_last:
            raise InputError(f"local:{target} does not take channels_last")


def build_runner(
    target: str,
    arch_str: str,
    dataset: str,
    protocol: Protocol,
    options: Mapping[str, str],
) -> Any:
    """A :class:`~moohw.measure.timing.Runner` of one NB201 architecture under a runtime.

    Args:
        target: One of :data:`TARGETS`.
        arch_str: Canonical NB201 architecture string.
        dataset: Network variant.
        protocol: Batch size, threads, dtype and device.
        options: Runtime options (validated by :func:`check_options`).
    """
    import numpy as np

    from moohw.measure.timing import Runner, torch_runner
    from moohw.nets.export import cached_export, example_input, reference_network
    from moohw.nets.nb201 import input_shape

    shape = input_shape(dataset)
    if target in ("cpu", "cuda"):
        net = reference_network("nb201", arch_str, dataset)
        return torch_runner(net, protocol, shape, cuda_graph=options.get("cuda_graph") == "1")
    batch = protocol.batch_size
    if target == "torchscript":
        import torch

        path = cached_export("nb201", arch_str, "torchscript", batch=batch, dataset=dataset)
        return torch_runner(torch.jit.load(str(path)), protocol, shape)
    x = example_input(batch, dataset).numpy().astype(np.float32)
    if target == "onnxruntime":
        ort = require(target)
        path = cached_export("nb201", arch_str, "onnx", batch=batch, dataset=dataset)
        so = ort.SessionOptions()
        so.intra_op_num_threads = protocol.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = {
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        }[options.get("opt", DEFAULTS["opt"])]
        so.log_severity_level = 3
        if options.get("ep", "cpu") == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise MeasureError(
                    "local:onnxruntime?ep=cuda needs onnxruntime-gpu with CUDA; "
                    f"this onnxruntime offers {', '.join(ort.get_available_providers())}"
                )
            providers = ["CUDAExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        sess = ort.InferenceSession(str(path), so, providers=providers)
        # a cell whose output does not depend on its input exports a graph without inputs
        feed = {i.name: x for i in sess.get_inputs()}
        clock = (
            "thread" if protocol.clock == "thread" and providers[0].startswith("CPU") else "wall"
        )
        return Runner(lambda: sess.run(None, feed), clock, keep=sess)
    if target == "openvino":
        ov = require(target)
        path = cached_export("nb201", arch_str, "onnx", batch=batch, dataset=dataset)
        core = ov.Core()
        compiled = core.compile_model(
            core.read_model(str(path)),
            "CPU",
            {
                "INFERENCE_NUM_THREADS": protocol.threads,
                "PERFORMANCE_HINT": "LATENCY",
                "NUM_STREAMS": 1,
                "INFERENCE_PRECISION_HINT": "f32",
            },
        )
        req = compiled.create_infer_request()
        feed_ov = {i: x for i in range(len(compiled.inputs))}
        # one inference thread: the CPU time of the process is the inference's (OpenVINO may
        # run it on a worker thread); more threads, or timer=wall: elapsed time
        clock = "process" if protocol.clock == "thread" else "wall"
        return Runner(lambda: req.infer(feed_ov), clock, keep=(compiled, req))
    raise InputError(f"unknown local target {target!r}; known: {', '.join(TARGETS)}")
