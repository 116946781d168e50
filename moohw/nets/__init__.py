"""Torch networks that realise architectures (for proxies and live latency)."""

from moohw.nets.nb201 import (
    NB201Network,
    build_network,
    count_macs,
    count_params,
    init_network,
    input_shape,
    seeded_generator,
)

__all__ = [
    "NB201Network",
    "build_network",
    "count_macs",
    "count_params",
    "init_network",
    "input_shape",
    "seeded_generator",
]
