"""Latency predictors that transfer from knowledge devices to a target from a few samples."""

from __future__ import annotations

from moohw.predictors.base import DeviceData, Knowledge, LatencyPredictor
from moohw.predictors.features import one_hot, op_counts
from moohw.predictors.linear import AdaProxy, OpCountNNLS, PerEdgeNNLS, pick_proxy
from moohw.registry import Registry

PREDICTORS: Registry[LatencyPredictor] = Registry("predictor")
PREDICTORS.register("opcount", "op-count NNLS (target samples only)")(OpCountNNLS)
PREDICTORS.register("peredge", "per-edge/per-layer NNLS (target samples only)")(PerEdgeNNLS)
PREDICTORS.register("adaproxy", "AdaProxy: adapted linear model of the best knowledge device")(
    AdaProxy
)

__all__ = [
    "PREDICTORS",
    "AdaProxy",
    "DeviceData",
    "Knowledge",
    "LatencyPredictor",
    "OpCountNNLS",
    "PerEdgeNNLS",
    "one_hot",
    "op_counts",
    "pick_proxy",
]
