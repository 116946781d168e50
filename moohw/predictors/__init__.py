"""Latency predictors that transfer from knowledge devices to a target from a few samples."""

from __future__ import annotations

from moohw.predictors.base import DeviceData, Knowledge, LatencyPredictor, knowledge_key
from moohw.predictors.bayes import BayesLinear, BayesOpCount
from moohw.predictors.features import one_hot, op_counts
from moohw.predictors.gp import CategoricalGP
from moohw.predictors.incontext import InContext
from moohw.predictors.linear import AdaProxy, OpCountNNLS, PerEdgeNNLS, pick_proxy
from moohw.predictors.nasflat import NASFLATGNN
from moohw.predictors.select import AutoSelect
from moohw.registry import Registry

PREDICTORS: Registry[LatencyPredictor] = Registry("predictor")
PREDICTORS.register("opcount", "op-count NNLS (target samples only)")(OpCountNNLS)
PREDICTORS.register("peredge", "per-edge/per-layer NNLS (target samples only)")(PerEdgeNNLS)
PREDICTORS.register("adaproxy", "AdaProxy: adapted linear model of the best knowledge device")(
    AdaProxy
)
PREDICTORS.register("bayes-linear", "Bayesian linear model, prior from knowledge devices")(
    BayesLinear
)
PREDICTORS.register("bayes-opcount", "Bayesian linear model on op counts, prior from knowledge")(
    BayesOpCount
)
PREDICTORS.register("gp", "BoTorch GP, categorical kernel, target samples only")(CategoricalGP)
PREDICTORS.register("nasflat-gnn", "NASFLAT-style GNN with hardware embeddings (torch)")(
    NASFLATGNN
)
PREDICTORS.register(
    "incontext", "evidence-weighted runtime-feature Bayesian linear models + GP residual"
)(InContext)
PREDICTORS.register("auto", "per-target choice among cheap models by leave-one-out")(AutoSelect)

__all__ = [
    "NASFLATGNN",
    "PREDICTORS",
    "AdaProxy",
    "AutoSelect",
    "BayesLinear",
    "BayesOpCount",
    "CategoricalGP",
    "DeviceData",
    "InContext",
    "Knowledge",
    "LatencyPredictor",
    "OpCountNNLS",
    "PerEdgeNNLS",
    "knowledge_key",
    "one_hot",
    "op_counts",
    "pick_proxy",
]
