"""Choosing a proxy device from a few target probes, robustly to ties.

One-proxy reuse (Lu et al., SIGMETRICS 2022) picks the knowledge device whose latency ranks the
target's probes best. With the 3-5 probes a small budget allows, Spearman's ρ takes only a few
values (``{-1, -0.5, 0.5, 1}`` for 3 probes), so several devices tie at the top and an arg-max
picks whichever is listed first: a device that ranks three cells correctly can rank the rest of
the space badly. moohw treats every device within a tolerance of the best ρ as equally
supported by the evidence and **pools** them: the proxy latency is the geometric mean of their
mean-normalised latencies, a consensus device whose ranking errors average out instead of being
bet on. The tolerance shrinks as probes accumulate (``1 / (k - 1)``, at most 0.5), so with many
probes the choice is the single best device again. Ties within the pool are not broken by list
order, so the result does not depend on how the knowledge devices are listed.

The probes also cannot certify monotonicity: ``ρ = 1`` on 3 cells happens by chance for a
device that is poorly monotone over the space. :func:`needs_adaptation` therefore adapts
whenever fewer than ``min_trust`` probes were measured, whatever their ρ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from moohw.errors import InputError


def tie_tolerance(k: int) -> float:
    """ρ tolerance within which devices count as tied, for ``k`` probes: ``min(0.5, 1/(k-1))``."""
    return 0.5 if k <= 2 else min(0.5, 1.0 / (k - 1))


@dataclass(frozen=True)
class ProxyChoice:
    """The pooled proxy device chosen from the probes.

    Attributes:
        names: The pooled knowledge devices, best ρ first (ties ordered by name).
        rhos: Spearman ρ of every usable device on the probes (NaN mapped to -1).
        rho: Spearman ρ of the pooled latency on the probes.
        tolerance: The tie tolerance used.
    """

    names: tuple[str, ...]
    rhos: Mapping[str, float] = field(repr=False)
    rho: float
    tolerance: float

    @property
    def name(self) -> str:
        """A display name: the device, or ``pool(a,b,...)``."""
        return self.names[0] if len(self.names) == 1 else f"pool({','.join(self.names)})"


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return -1.0
    r = float(stats.spearmanr(a, b).statistic)
    return r if np.isfinite(r) else -1.0


def pooled_latency(latency: Mapping[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    """Geometric mean of the mean-normalised latencies ``(n,)`` of ``names`` (unitless).

    Every array in ``latency`` is ``(n,)`` ms over the same architectures; one device returns
    its own latency divided by its mean (the ranking is what a proxy device provides).
    """
    logs = [
        np.log(np.maximum(latency[n], 1e-9) / max(float(np.mean(latency[n])), 1e-12))
        for n in names
    ]
    return np.exp(np.mean(logs, axis=0))


def choose_proxy(
    probe_latency: Mapping[str, np.ndarray],
    y_ms: np.ndarray,
    tolerance: float | None = None,
) -> ProxyChoice:
    """Pool the knowledge devices whose probe ρ is within ``tolerance`` of the best.

    Args:
        probe_latency: Device name → ``(k,)`` latency (ms) of the ``k`` probes on that device.
        y_ms: ``(k,)`` latency (ms) measured on the target for the same probes.
        tolerance: ρ tolerance; ``None`` uses :func:`tie_tolerance` of ``k``.

    Raises:
        ValueError: if ``probe_latency`` is empty or an array's length is not ``k``.
    """
    y = np.asarray(y_ms, dtype=np.float64)
    if not probe_latency:
        raise InputError("no knowledge device to choose a proxy from")
    for name, lat in probe_latency.items():
        if len(lat) != len(y):
            raise InputError(f"device {name!r}: {len(lat)} probe latencies for {len(y)} probes")
    tol = tie_tolerance(len(y)) if tolerance is None else float(tolerance)
    rhos = {name: _rho(np.asarray(lat, np.float64), y) for name, lat in probe_latency.items()}
    best = max(rhos.values())
    names = tuple(sorted((n for n in rhos if rhos[n] >= best - tol), key=lambda n: (-rhos[n], n)))
    pooled = pooled_latency(probe_latency, names)
    return ProxyChoice(names=names, rhos=rhos, rho=_rho(pooled, y), tolerance=tol)


def needs_adaptation(choice: ProxyChoice, k: int, threshold: float, min_trust: int = 6) -> bool:
    """Adapt the proxy when its probe ρ is below ``threshold`` or ``k < min_trust`` probes.

    Adaptation needs at least 3 probes.
    """
    return k >= 3 and (choice.rho < threshold or k < min_trust)
