"""Synthetic NB201 devices grounded in measured runtimes (issue 13 item 3).

:class:`~moohw.devices.prior.PriorDevice` draws per-op costs and switches structural families on
at fixed odds. Real runtimes differ in *how much* each structure matters: a graph runtime drops
dead work and fuses ops, an eager one runs everything, batch-1 inference pays a launch cost per
op. This generator takes those amounts from devices that were measured, not from a guess:

- every knowledge device (HELP ND-train columns, plus runtime configurations measured on this
  machine as *knowledge*, kept apart from the validation tables) is fitted by least squares on
  mean-normalised latency with the runtime features of
  :mod:`moohw.predictors.runtime_features`: live op one-hot per edge position, dead op counts,
  tensor additions, zero cell, op interactions (conv·conv terms, conv→conv chains), the op counts
  a dead-code-eliminating runtime still runs (ops that feed the output from a node the input
  never reaches, which a traced TorchScript graph executes on a zero tensor) and a constant
  (launch cost); the rows of fitted weights are the prior's *anchors*;
- a drawn device is, with probability ``p_kernel``, an anchor chosen uniformly plus a Gaussian
  perturbation ``bandwidth * L z`` (``L L^T`` = the anchors' covariance), i.e. a kernel density
  estimate over real runtimes in weight space; otherwise a :class:`PriorDevice` from the
  additive prior fitted on the same knowledge (so devices unlike any anchor stay possible);
- multiplicative log-normal noise per architecture, with a sigma up to the anchors' median
  residual.

``bandwidth`` and ``p_kernel`` are chosen by leave-one-device-out coverage on the knowledge
devices (``benchmarks/synthetic.py --grounded``), never on a validation device.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache

import numpy as np

from moohw.devices.base import Device
from moohw.devices.prior import PriorDevice, SyntheticPrior, fit_prior
from moohw.errors import InputError
from moohw.predictors.base import DeviceData
from moohw.predictors.runtime_features import nb201_parts
from moohw.rng import SeedLike, as_generator
from moohw.spaces import SearchSpace

#: Feature blocks of a grounded device (:func:`moohw.predictors.runtime_features.nb201_parts`).
GROUNDED_PARTS = ("edge", "dead", "adds", "zero", "inter", "used")
#: Latency floor of a drawn device as a fraction of its median cell (a perturbed anchor may
#: otherwise predict a non-positive latency for a few cells).
FLOOR = 0.05


def grounded_features(space: SearchSpace, X: np.ndarray) -> np.ndarray:
    """``(n, D)`` float64 features of a grounded device: :data:`GROUNDED_PARTS` and a constant."""
    if space.name != "nb201":
        raise InputError(f"grounded synthetic devices are defined for nb201, not {space.name}")
    parts = nb201_parts(space.validate(X))
    return np.concatenate([*(parts[p] for p in GROUNDED_PARTS), np.ones((len(X), 1))], axis=1)


@lru_cache(maxsize=2)
def _space_features(space: SearchSpace) -> np.ndarray:
    F = grounded_features(space, space.enumerate())
    F.setflags(write=False)
    return F


@dataclass(frozen=True)
class GroundedPrior:
    """Parameters of the grounded generator (JSON-serialisable; module docstring).

    Attributes:
        anchors: ``(devices, D)`` fitted mean-normalised weights, one row per knowledge device.
        devices: Knowledge device names, in ``anchors`` order.
        cov: ``(D, D)`` covariance of the anchors (with a small ridge).
        bandwidth: Kernel scale on ``cov``'s Cholesky factor.
        p_kernel: Probability that a device is a perturbed anchor (else a ``PriorDevice``).
        noise_sigma: Upper bound of the per-architecture log-normal noise sigma.
        base: The additive prior of the fallback ``PriorDevice`` draws.
    """

    anchors: tuple[tuple[float, ...], ...]
    devices: tuple[str, ...]
    cov: tuple[tuple[float, ...], ...]
    bandwidth: float
    p_kernel: float
    noise_sigma: float
    base: SyntheticPrior

    @cached_property
    def chol(self) -> np.ndarray:
        """Lower Cholesky factor of :attr:`cov` (once per prior, not per drawn device)."""
        return np.linalg.cholesky(np.array(self.cov))

    def to_json(self) -> str:
        """JSON text of the prior."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> GroundedPrior:
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        base = SyntheticPrior.from_json(json.dumps(d.pop("base")))
        return cls(
            anchors=tuple(tuple(r) for r in d["anchors"]),
            devices=tuple(d["devices"]),
            cov=tuple(tuple(r) for r in d["cov"]),
            bandwidth=float(d["bandwidth"]),
            p_kernel=float(d["p_kernel"]),
            noise_sigma=float(d["noise_sigma"]),
            base=base,
        )


def fit_anchor(space: SearchSpace, data: DeviceData) -> tuple[np.ndarray, float]:
    """Least-squares weights of one device on mean-normalised latency, and the std of its log
    residual (where prediction and latency are positive)."""
    X, y = space.validate(data.X), np.asarray(data.latency_ms, float)
    if len(y) < 50:
        raise InputError(f"a knowledge device needs at least 50 measured cells, got {len(y)}")
    yn = y / max(float(np.mean(y)), 1e-12)
    F = grounded_features(space, X)
    w = np.linalg.lstsq(F, yn, rcond=None)[0]
    pred = F @ w
    ok = (pred > 0) & (yn > 0)
    resid = float(np.std(np.log(yn[ok] / pred[ok]))) if ok.sum() > 10 else 0.0
    return w, resid


def fit_grounded_prior(
    space: SearchSpace,
    knowledge: Mapping[str, DeviceData],
    bandwidth: float = 0.3,
    p_kernel: float = 0.8,
) -> GroundedPrior:
    """Fit the grounded prior on knowledge devices (full or partial NB201 tables).

    Args:
        space: The NB201 space.
        knowledge: Knowledge device name → latency samples (never a validation or target device).
        bandwidth: Kernel scale (module docstring).
        p_kernel: Probability of an anchor draw (the rest are ``PriorDevice`` draws).

    Raises:
        InputError: fewer than two devices, a bandwidth < 0 or ``p_kernel`` outside [0, 1].
    """
    if len(knowledge) < 2:
        raise InputError("fit_grounded_prior needs at least two knowledge devices")
    if bandwidth < 0 or not 0.0 <= p_kernel <= 1.0:
        raise InputError(
            f"need bandwidth >= 0 and 0 <= p_kernel <= 1, got {bandwidth} and {p_kernel}"
        )
    fits = [fit_anchor(space, d) for d in knowledge.values()]
    W = np.array([w for w, _ in fits])
    C = np.cov(W, rowvar=False)
    C = C + 1e-6 * max(float(np.trace(C)) / len(C), 1e-12) * np.eye(len(C))
    return GroundedPrior(
        anchors=tuple(tuple(float(v) for v in w) for w in W),
        devices=tuple(knowledge),
        cov=tuple(tuple(float(v) for v in r) for r in C),
        bandwidth=float(bandwidth),
        p_kernel=float(p_kernel),
        noise_sigma=float(np.clip(np.median([r for _, r in fits]), 0.0, 0.05)),
        base=fit_prior(space, knowledge),
    )


class GroundedDevice(Device):
    """A synthetic NB201 device drawn from a :class:`GroundedPrior`.

    Args:
        name: Device name.
        space: The NB201 space.
        prior: The fitted prior.
        seed: Seed or Generator for the device's parameters.

    Attributes:
        anchor: The knowledge device this one was drawn around (``None`` for a ``PriorDevice``
            draw).
    """

    kind = "synthetic"
    exact = True

    def __init__(
        self, name: str, space: SearchSpace, prior: GroundedPrior, seed: SeedLike = 0
    ) -> None:
        super().__init__(name, space)
        if space.name != "nb201":
            raise InputError(f"grounded devices are defined for nb201, not {space.name}")
        rng = as_generator(seed)
        self.anchor: str | None = None
        self._base: PriorDevice | None = None
        self.weights = np.zeros(len(prior.cov))
        if rng.random() < prior.p_kernel:
            i = int(rng.integers(len(prior.anchors)))
            self.anchor = prior.devices[i]
            z = rng.standard_normal(len(prior.cov))
            self.weights = np.array(prior.anchors[i]) + prior.bandwidth * (prior.chol @ z)
        else:
            self._base = PriorDevice(name, space, prior.base, seed=rng)
        sigma = rng.uniform(0.0, prior.noise_sigma) if prior.noise_sigma > 0 else 0.0
        noise = np.exp(rng.normal(0.0, sigma, size=space.size))
        self._table: np.ndarray | None = None
        if self._base is None:  # the whole space at once (position order)
            lat = _space_features(space) @ self.weights
            lat = np.maximum(lat, FLOOR * max(float(np.median(lat)), 1e-6))
            # 6 units for a mean cell, as PriorDevice; anchors are mean-normalised (mean 1)
            self._table = 6.0 * lat * noise

    def _latency_ms(self, X: np.ndarray) -> np.ndarray:
        if self._table is None:
            assert self._base is not None
            return self._base.latency_ms(X)
        return self._table[self.space.position(X)]
