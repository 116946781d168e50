"""The faithful Sim-is-More controller: PPO (stable-baselines3) over mutation actions.

Follows the authors' public code (PAPERS.md §1): ``MultiInputPolicy`` (64-64 MLP), gamma 0.6,
learning rate 3e-4, about 1e5 steps, episodes of 10-50 steps from a random cell, an action sets one
edge to one op, the observation holds the current cell, its normalised latency and the last 5
(cell, latency, action) steps, and the reward is ``tf * (1e-3 + norm_latency) ** -0.3 - 1`` with
``tf`` the mean of min-max NASWOT, LogSynflow and skip scores. Two flaws of that code are avoided:
synthetic devices come from a correctly truncated prior fitted on knowledge devices only
(:mod:`moohw.devices.prior`).

Deployment walks the policy on the target: every new cell it visits is a target measurement
(revisits are free), latency is min-max normalised over the latencies measured so far (the
target's table is never read), actions are sampled from the policy (a deterministic policy
cycles between a few cells), and the walk stops when the budget is spent or after
``max_steps_per_probe * K`` steps, after which random unmeasured cells fill the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from moohw.algorithms.controller.env import N_EDGES, N_OPS, HWNASEnv

from moohw.devices.prior import PriorDevice, SyntheticPrior
from moohw.errors import InputError
from moohw.spaces import NB201Space

#: The paper's PPO settings.
PPO_KWARGS: dict[str, Any] = {"gamma": 0.6, "learning_rate": 3e-4, "n_steps": 1024}
EPISODE_LEN = (10, 50)


def _sampler(prior: SyntheticPrior) -> Callable[[np.random.Generator], PriorDevice]:
    space = NB201Space()

    def draw(rng: np.random.Generator) -> PriorDevice:
        return PriorDevice("prior", space, prior, seed=int(rng.integers(0, 2**31 - 1)))

    return draw


class _RandomLengthEnv(HWNASEnv):
    """:class:`HWNASEnv` whose episode length is drawn in ``EPISODE_LEN`` at every reset."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        obs, info = super().reset(seed=seed, options=options)
        self.episode_len = int(self.np_random.integers(EPISODE_LEN[0], EPISODE_LEN[1] + 1))
        return obs, info


@contextmanager
def confined_global_state() -> Iterator[None]:
    """Restore Python's, NumPy's and torch's global RNG states and torch's thread count on exit.

    stable-baselines3's ``PPO(seed=)`` seeds ``random``, ``np.random`` and ``torch`` globally,
    and training runs on one thread; neither may leak into the caller's process.
    """
    import random

    import torch

    npy = np.random.get_state()  # noqa: NPY002 (saved to be restored, not used)
    py, th = random.getstate(), torch.get_rng_state()
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)  # noqa: NPY002
        torch.set_rng_state(th)
        torch.set_num_threads(threads)


def train_faithful(
    prior: SyntheticPrior,
    steps: int = 100_000,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """Train the faithful PPO controller on synthetic devices; returns the SB3 model."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    with confined_global_state():
        torch.set_num_threads(1)
        return _train(prior, steps, seed, progress, PPO, BaseCallback)


def _train(
    prior: SyntheticPrior,
    steps: int,
    seed: int,
    progress: Callable[[int], None] | None,
    PPO: Any,
    BaseCallback: Any,
) -> Any:
    env = _RandomLengthEnv(device_sampler=_sampler(prior))
    env.reset(seed=seed)

    class _Progress(BaseCallback):
        def _on_step(self) -> bool:
            if progress is not None and self.num_timesteps % 1000 == 0:
                progress(self.num_timesteps)
            return True

    kwargs = dict(PPO_KWARGS)
    kwargs["n_steps"] = min(int(kwargs["n_steps"]), max(steps, 64))
    model = PPO("MultiInputPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)
    model.learn(total_timesteps=steps, callback=_Progress())
    return model


def observation(
    cell: np.ndarray,
    latency: float,
    history: list[tuple[np.ndarray, float, int]],
    n_history: int = 5,
) -> dict[str, np.ndarray]:
    """The environment's observation for a cell, its normalised latency and the past steps."""
    cells = np.zeros((n_history, N_EDGES), dtype=np.int64)
    lats = np.zeros(n_history, dtype=np.float32)
    acts = np.full(n_history, N_EDGES * N_OPS, dtype=np.int64)
    for i, (c, lat, a) in enumerate(history[-n_history:]):
        cells[i], lats[i], acts[i] = c, lat, a
    return {
        "cell": np.asarray(cell, dtype=np.int64).copy(),
        "latency": np.array([latency], dtype=np.float32),
        "history_cells": cells.reshape(-1),
        "history_latency": lats,
        "history_actions": acts,
    }
