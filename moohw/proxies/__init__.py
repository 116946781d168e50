"""Training-free accuracy proxies, selected by name through :data:`PROXIES`."""

from __future__ import annotations

from moohw.proxies.analytic import FlopsProxy, ParamsProxy, nb201_flops, nb201_params
from moohw.proxies.base import DATASETS, AccuracyProxy
from moohw.registry import Registry
from moohw.spaces import SearchSpace

PROXIES: Registry[AccuracyProxy] = Registry("proxy")


def _nb201_only(cls: type[AccuracyProxy]) -> type[AccuracyProxy]:
    def factory(space: SearchSpace, dataset: str = "cifar10") -> AccuracyProxy:
        if space.name != "nb201":
            raise ValueError(
                f"proxy {cls.name!r} is defined for the nb201 space, not {space.name}"
            )
        return cls(space, dataset)

    factory.__doc__ = cls.__doc__
    return factory  # type: ignore[return-value]


PROXIES.register("params", "parameters (millions), analytic")(_nb201_only(ParamsProxy))
PROXIES.register("flops", "multiply-accumulates (millions), analytic")(_nb201_only(FlopsProxy))


def get_proxy(name: str, space: SearchSpace, dataset: str = "cifar10") -> AccuracyProxy:
    """Build the proxy ``name`` for ``space`` (``KeyError`` lists the known names)."""
    return PROXIES.get(name)(space, dataset)


__all__ = [
    "DATASETS",
    "PROXIES",
    "AccuracyProxy",
    "FlopsProxy",
    "ParamsProxy",
    "get_proxy",
    "nb201_flops",
    "nb201_params",
]
