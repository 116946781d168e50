"""Proxy objects for the recent proxies of :mod:`moohw.proxies.recent`, and their assemblies.

Single-kernel proxies (MeCo, ZiCo, raw SWAP, Zen-score, the AZ-NAS components) are
:class:`~moohw.proxies.zero_cost.TorchProxy` subclasses (shipped table, persistent cache,
process pool). Two proxies combine scores:

- :class:`SwapProxy`: SWAP regularised by model size (Peng et al., ICLR 2024);
- :class:`AZNASProxy`: AZ-NAS (Lee & Ham, CVPR 2024), ``Σ_m log(rank_m / N)`` over expressivity,
  progressivity, trainability and complexity (FLOPs). Ranks are taken against the whole NB201
  space when every component is known for all 15,625 cells (shipped table or a complete
  persistent cache), which makes a cell's score independent of what else is scored; otherwise
  against the cells scored in the call, with a warning (as the paper ranks its candidate pool).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import rankdata

from moohw.proxies.analytic import nb201_flops, nb201_params
from moohw.proxies.base import AccuracyProxy
from moohw.proxies.batch import DEFAULT_SEED, ProxyBatch
from moohw.proxies.zero_cost import TorchProxy
from moohw.spaces import SearchSpace


class MeCoProxy(TorchProxy):
    """MeCo (Jiang et al., NeurIPS 2023); see :func:`moohw.proxies.recent.meco`."""

    name = kernel = "meco"
    cost_s = 0.1


class ZiCoProxy(TorchProxy):
    """ZiCo (Li et al., ICLR 2023); see :func:`moohw.proxies.recent.zico`."""

    name = kernel = "zico"
    cost_s = 0.3


class SwapRawProxy(TorchProxy):
    """SWAP without its size regulariser (Peng et al., ICLR 2024)."""

    name = "swap_raw"
    kernel = "swap"
    cost_s = 0.1


class ZenProxy(TorchProxy):
    """Zen-score (Lin et al., ICCV 2021); see :func:`moohw.proxies.recent.zen`."""

    name = kernel = "zen"
    cost_s = 0.1


class AZExpressivityProxy(TorchProxy):
    """AZ-NAS expressivity component."""

    name = kernel = "az_expressivity"
    cost_s = 0.1


class AZProgressivityProxy(TorchProxy):
    """AZ-NAS progressivity component."""

    name = kernel = "az_progressivity"
    cost_s = 0.1


class AZTrainabilityProxy(TorchProxy):
    """AZ-NAS trainability component."""

    name = kernel = "az_trainability"
    cost_s = 0.3


class SwapProxy(AccuracyProxy):
    """Regularised SWAP: ``SWAP · exp(-(P - mu)^2 / sigma)``, P the parameters in millions.

    ``mu`` is the largest model of the space and ``sigma`` the squared range of model sizes
    (moohw's choice, made without accuracy data; the paper tunes both to a target size).
    """

    name = "swap"

    def __init__(
        self,
        space: SearchSpace,
        dataset: str = "cifar10",
        batch: ProxyBatch | None = None,
        seed: int = DEFAULT_SEED,
    ) -> None:
        super().__init__(space, dataset)
        self.raw = SwapRawProxy(space, dataset, batch, seed)
        self.cost_s = self.raw.cost_s
        p = nb201_params(space.enumerate(), dataset)
        self.mu = float(p.max())
        self.sigma = float(p.max() - p.min()) ** 2

    def _score(self, X: np.ndarray) -> np.ndarray:
        reg = np.exp(-((nb201_params(X, self.dataset) - self.mu) ** 2) / self.sigma)
        return self.raw.score(X) * reg


class AZNASProxy(AccuracyProxy):
    """AZ-NAS: sum of log normalised ranks of its four components (see the module docstring)."""

    name = "aznas"

    def __init__(
        self,
        space: SearchSpace,
        dataset: str = "cifar10",
        batch: ProxyBatch | None = None,
        seed: int = DEFAULT_SEED,
    ) -> None:
        super().__init__(space, dataset)
        self.parts: tuple[TorchProxy, ...] = (
            AZExpressivityProxy(space, dataset, batch, seed),
            AZProgressivityProxy(space, dataset, batch, seed),
            AZTrainabilityProxy(space, dataset, batch, seed),
        )
        self.cost_s = sum(p.cost_s for p in self.parts)

    def _reference(self) -> list[np.ndarray] | None:
        """Sorted whole-space values of every component, if all are known."""
        cols = []
        for p in self.parts:
            full = p.table if p.table is not None else (p.disk.load() if p.disk else None)
            if full is None or np.isnan(full).any():
                return None
            cols.append(np.sort(np.asarray(full, dtype=np.float64)))
        cols.append(np.sort(nb201_flops(self.space.enumerate(), self.dataset)))
        return cols

    def _score(self, X: np.ndarray) -> np.ndarray:
        values = [p.score(X) for p in self.parts] + [nb201_flops(X, self.dataset)]
        ref = self._reference()
        out = np.zeros(len(X), dtype=np.float64)
        if ref is None:
            warnings.warn(
                f"aznas: components not known for the whole space ({self.dataset}); ranks are "
                "taken among the scored cells only, so scores of different calls differ",
                stacklevel=3,
            )
            for v in values:
                out += np.log(rankdata(v) / len(v))
            return out
        for v, r in zip(values, ref, strict=True):
            lo = np.searchsorted(r, v, side="left")
            hi = np.searchsorted(r, v, side="right")
            rank = np.maximum((lo + hi + 1) / 2.0, 1.0)  # average rank among ties, 1-based
            out += np.log(rank / len(r))
        return out
