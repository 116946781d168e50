"""Pre-training of moohw's default controller on synthetic devices (REINFORCE, torch).

Each iteration draws one synthetic device from the prior fitted on knowledge devices, runs
``episodes`` searches on it with the sampled policy, and scores each by the hypervolume ratio of
its declared front in (proxy, latency) — the return is the sum of per-step hypervolume gains. The
advantage is the return minus the mean over the iteration's episodes on the same device (a
paired baseline that removes the device's difficulty), and the policy-gradient step uses the
log-probabilities of the choices actually made.

Reference: Williams, "Simple statistical gradient-following algorithms for connectionist
reinforcement learning" (REINFORCE), Machine Learning 8, 1992.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from moohw.algorithms.controller.incontext import InContextLatency, LatencyPrior, cell_features
from moohw.algorithms.controller.policy import (
    REF_QUANTILE,
    ProbeState,
    ScoringPolicy,
    Step,
    choose,
)

from moohw.devices.prior import PriorDevice, SyntheticPrior
from moohw.metrics import hypervolume, non_dominated
from moohw.spaces import NB201Space

#: Budgets drawn during pre-training (the policy sees the fraction spent as a feature).
TRAIN_BUDGETS = (10, 15, 20, 30)


def synthetic_latencies(prior: SyntheticPrior, seeds: range | list[int]) -> list[np.ndarray]:
    """Whole-space latency of synthetic devices drawn from ``prior``.

    One ``(15625,)`` array (ms) per seed, in NB201 enumeration order.
    """
    space = NB201Space()
    X = space.enumerate()
    return [PriorDevice(f"prior:{s}", space, prior, seed=s).latency_ms(X) for s in seeds]


def fit_latency_prior(
    prior: SyntheticPrior,
    n_devices: int = 400,
    seed: int = 0,
    knowledge: Mapping[str, np.ndarray] | None = None,
) -> LatencyPrior:
    """The in-context model's weight prior.

    From the knowledge devices' whole-space latencies when given (measured on the ND test
    devices, K = 10: HV ratio 0.886-0.938 against 0.800-0.925 from synthetic devices), else from
    ``n_devices`` synthetic devices drawn from ``prior``.
    """
    space = NB201Space()
    Phi = cell_features(space, space.enumerate())
    if knowledge:
        return LatencyPrior.from_latencies(Phi, list(knowledge.values()))
    base = 1_000_000 + 10_000 * seed  # disjoint from the training devices' seeds
    return LatencyPrior.from_latencies(
        Phi, synthetic_latencies(prior, range(base, base + n_devices))
    )


def proxy_hv_ratio(f1: np.ndarray, lat: np.ndarray, picked: np.ndarray) -> float:
    """HV ratio in (normalised proxy, latency) of the picked cells against all cells."""
    ref = np.array([float(np.quantile(f1, 1 - REF_QUANTILE)), float(lat.max())])
    F = np.column_stack([f1, lat])
    full = hypervolume(F[non_dominated(F)], ref)
    return hypervolume(F[picked], ref) / full if full > 0 else 0.0


def run_episode(
    policy: ScoringPolicy,
    model: InContextLatency,
    proxy: np.ndarray,
    lat: np.ndarray,
    budget: int,
    rng: np.random.Generator | None = None,
) -> tuple[list[Step], float]:
    """One simulated search on a device with known latency; returns its steps and HV ratio."""
    state = ProbeState(model, proxy, budget)
    steps = []
    for _ in range(min(budget, len(proxy))):
        i, step = choose(policy, state, rng)
        state.observe(i, float(lat[i]))
        steps.append(step)
    return steps, proxy_hv_ratio(state.f1, lat, np.array(state.idx))


@dataclass
class TrainLog:
    """Per-iteration mean return, for the checkpoint's training record."""

    returns: list[float] = field(default_factory=list)


def train_default(
    prior: SyntheticPrior,
    proxy: np.ndarray,
    iterations: int = 200,
    episodes: int = 4,
    seed: int = 0,
    lr: float = 3e-3,
    progress: Callable[[int, float], None] | None = None,
    knowledge: Mapping[str, np.ndarray] | None = None,
) -> tuple[ScoringPolicy, LatencyPrior, TrainLog]:
    """Pre-train the default policy on synthetic devices.

    Args:
        prior: Synthetic-device prior (fitted on knowledge devices only).
        proxy: Accuracy-proxy score of every NB201 cell (the policy sees only ranks of it).
        iterations: Policy-gradient iterations (one synthetic device each).
        episodes: Searches per device per iteration.
        seed: Seed of devices, budgets, sampling and initialisation.
        lr: Adam learning rate.
        progress: Called with ``(iteration, mean HV ratio)`` after each iteration.
        knowledge: Whole-space latency of knowledge devices for the in-context model's prior
            (see :func:`fit_latency_prior`); synthetic devices when ``None``.
    """
    if iterations < 0 or episodes < 2:
        raise ValueError(f"need iterations >= 0 and episodes >= 2, got {iterations}, {episodes}")
    rng = np.random.default_rng(seed)
    space = NB201Space()
    Phi = cell_features(space, space.enumerate())
    lprior = fit_latency_prior(prior, seed=seed, knowledge=knowledge)
    model = InContextLatency(lprior, Phi)
    policy = ScoringPolicy(seed=seed)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    log = TrainLog()
    for it in range(iterations):
        lat = synthetic_latencies(prior, [int(rng.integers(0, 2**31 - 1))])[0]
        budget = int(rng.choice(TRAIN_BUDGETS))
        runs = [run_episode(policy, model, proxy, lat, budget, rng) for _ in range(episodes)]
        R = np.array([r for _, r in runs])
        adv = (R - R.mean()) / (R.std() + 1e-6)
        loss = torch.zeros(())
        for (steps, _), a in zip(runs, adv, strict=True):
            if a == 0:
                continue
            logp = sum(
                torch.log_softmax(policy(torch.from_numpy(s.feats)), dim=-1)[s.choice]
                for s in steps
            )
            loss = loss - float(a) * logp / len(steps)
        opt.zero_grad()
        (loss / episodes).backward()
        opt.step()
        log.returns.append(float(R.mean()))
        if progress:
            progress(it + 1, float(R.mean()))
    return policy, lprior, log
