"""Training-free accuracy proxies, selected by name through :data:`PROXIES`.

Every factory takes ``(space, dataset)`` and returns an :class:`AccuracyProxy`; all proxies
here are defined for the NB201 space only and raise ``ValueError`` for any other space.
"""

from __future__ import annotations

from collections.abc import Callable

from moohw.errors import InputError
from moohw.proxies.analytic import FlopsProxy, ParamsProxy, nb201_flops, nb201_params
from moohw.proxies.assembled import (
    AZExpressivityProxy,
    AZNASProxy,
    AZProgressivityProxy,
    AZTrainabilityProxy,
    MeCoProxy,
    RankMixProxy,
    RankMixZiCoProxy,
    SwapProxy,
    SwapRawProxy,
    ZenProxy,
    ZiCoProxy,
)
from moohw.proxies.base import DATASETS, AccuracyProxy
from moohw.proxies.table import PREFIX as TABLE_PREFIX
from moohw.proxies.table import TableProxy
from moohw.proxies.zero_cost import (
    GradNormProxy,
    JacovProxy,
    LogSynflowProxy,
    NaswotProxy,
    SimIsMoreProxy,
    SkipProxy,
    SnipProxy,
    SynflowProxy,
    TorchProxy,
    TunedProxy,
    skip_score,
)
from moohw.registry import Registry, UnknownNameError
from moohw.spaces import NB201Space, SearchSpace

PROXIES: Registry[AccuracyProxy] = Registry("proxy")


def _nb201_only(cls: type[AccuracyProxy]) -> Callable[..., AccuracyProxy]:
    def factory(space: SearchSpace, dataset: str = "cifar10") -> AccuracyProxy:
        if space.name != "nb201":
            raise InputError(
                f"proxy {cls.name!r} is defined for the nb201 space, not {space.name}"
            )
        return cls(space, dataset)

    factory.__doc__ = cls.__doc__
    return factory


PROXIES.register("params", "parameters (millions), analytic")(_nb201_only(ParamsProxy))
PROXIES.register("flops", "multiply-accumulates (millions), analytic")(_nb201_only(FlopsProxy))
PROXIES.register("naswot", "NASWOT: log-det of the Hamming kernel of ReLU codes")(
    _nb201_only(NaswotProxy)
)
PROXIES.register("synflow", "synflow: sum |w * dR/dw|, all-ones input, BN off, float64")(
    _nb201_only(SynflowProxy)
)
PROXIES.register("logsynflow", "LogSynflow: synflow with log(grad + 1) (FreeREA)")(
    _nb201_only(LogSynflowProxy)
)
PROXIES.register("snip", "SNIP: sum |w * dL/dw| on a batch")(_nb201_only(SnipProxy))
PROXIES.register("grad_norm", "grad-norm: sum of per-layer loss-gradient norms")(
    _nb201_only(GradNormProxy)
)
PROXIES.register("jacov", "Jacobian covariance of input gradients")(_nb201_only(JacovProxy))
PROXIES.register("skip", "skip score: mean layers jumped by skip connections (FreeREA)")(
    _nb201_only(SkipProxy)
)
PROXIES.register("simismore", "Sim-is-More: mean of min-max naswot, logsynflow, skip")(
    _nb201_only(SimIsMoreProxy)
)
PROXIES.register("tuned", "moohw: .5 naswot + .2 logsynflow + .1 skip + .2 params (min-max)")(
    _nb201_only(TunedProxy)
)
PROXIES.register("meco", "MeCo: min eigenvalues of channel correlations (NeurIPS 2023)")(
    _nb201_only(MeCoProxy)
)
PROXIES.register("zico", "ZiCo: inverse coefficient of variation of gradients (ICLR 2023)")(
    _nb201_only(ZiCoProxy)
)
PROXIES.register("swap", "SWAP: distinct sample-wise activation patterns x size (ICLR 2024)")(
    _nb201_only(SwapProxy)
)
PROXIES.register("swap_raw", "SWAP without its model-size regulariser")(_nb201_only(SwapRawProxy))
PROXIES.register("zen", "Zen-score: log feature change under input noise + BN (ICCV 2021)")(
    _nb201_only(ZenProxy)
)
PROXIES.register("aznas", "AZ-NAS: sum of log ranks of 4 components (CVPR 2024)")(
    _nb201_only(AZNASProxy)
)
PROXIES.register("az_expressivity", "AZ-NAS expressivity component")(
    _nb201_only(AZExpressivityProxy)
)
PROXIES.register("az_progressivity", "AZ-NAS progressivity component")(
    _nb201_only(AZProgressivityProxy)
)
PROXIES.register("az_trainability", "AZ-NAS trainability component")(
    _nb201_only(AZTrainabilityProxy)
)


PROXIES.register("rankmix", "moohw default: log-rank sum of MeCo, SWAP, skip, params (1/4 each)")(
    _nb201_only(RankMixProxy)
)
PROXIES.register("rankmix_zico", "log-rank sum of MeCo, ZiCo, skip, params (1/4 each)")(
    _nb201_only(RankMixZiCoProxy)
)

#: The proxy searches use unless told otherwise: the combination chosen on knowledge devices
#: (its exhaustive front keeps 0.943-0.974 of the true front's hypervolume on the ND test
#: devices and edgegpu with CIFAR-10, where ``tuned`` keeps 0.898-0.973).
DEFAULT_PROXY = "rankmix"


def get_proxy(name: str, space: SearchSpace, dataset: str = "cifar10") -> AccuracyProxy:
    """Build the proxy ``name`` for ``space`` (``KeyError`` lists the known names).

    ``table:PATH[:NAME]`` reads a table written by ``moohw proxies compute``
    (:class:`~moohw.proxies.table.TableProxy`).
    """
    if name.startswith(TABLE_PREFIX):
        return TableProxy(space, name[len(TABLE_PREFIX) :], dataset)
    try:
        factory = PROXIES.get(name)
    except UnknownNameError as e:
        raise UnknownNameError(f"{e}; or table:PATH[:NAME] (`moohw proxies compute`)") from None
    return factory(space, dataset)


def table_backed(name: str, dataset: str) -> bool:
    """Whether the NB201 proxy ``name`` scores every cell of ``dataset`` without computing.

    True when each torch part it reads comes from a shipped table (its nominal cost is then 0);
    analytic proxies are always table-backed.
    """
    return get_proxy(name, NB201Space(), dataset).cost_s == 0.0


__all__ = [
    "DATASETS",
    "DEFAULT_PROXY",
    "PROXIES",
    "AZExpressivityProxy",
    "AZNASProxy",
    "AZProgressivityProxy",
    "AZTrainabilityProxy",
    "AccuracyProxy",
    "FlopsProxy",
    "GradNormProxy",
    "JacovProxy",
    "LogSynflowProxy",
    "MeCoProxy",
    "NaswotProxy",
    "ParamsProxy",
    "RankMixProxy",
    "RankMixZiCoProxy",
    "SimIsMoreProxy",
    "SkipProxy",
    "SnipProxy",
    "SwapProxy",
    "SwapRawProxy",
    "SynflowProxy",
    "TableProxy",
    "TorchProxy",
    "TunedProxy",
    "ZenProxy",
    "ZiCoProxy",
    "get_proxy",
    "nb201_flops",
    "nb201_params",
    "skip_score",
    "table_backed",
]
