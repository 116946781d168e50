"""A gymnasium environment for architecture search on a (synthetic or real) device.

Follows the MDP of Capuano et al., "Sim-is-More" (2025): the state is the current NB201 cell and
its normalised latency plus a history of the last ``history`` (cell, latency, action) steps — the
history is what lets a policy adapt in context to an unseen device; an action sets one edge to
one op (30 actions); episodes start from a random cell and last ``episode_len`` steps. The reward
is the paper's main-branch fitness minus one,
``tf * (1e-3 + norm_latency) ** -0.3 - 1``, with ``tf`` the accuracy proxy normalised to [0, 1]
(``simismore`` by default). Latency is min-max normalised over the space for devices whose table is
free to read, and over the latencies seen so far otherwise.

A ``device_sampler`` draws a new device at every reset (meta-training over synthetic devices); a
fixed ``device`` gives deployment. Usable by any RL library through ``gymnasium.make(ENV_ID)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from moohw.devices import Device
from moohw.proxies import AccuracyProxy, get_proxy
from moohw.spaces import NB201Space

ENV_ID = "moohw/HWNAS-v0"
N_EDGES, N_OPS = 6, 5


def register_env() -> None:
    """Register ``moohw/HWNAS-v0`` with gymnasium (idempotent)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="moohw.algorithms.controller.env:HWNASEnv")


class HWNASEnv(gym.Env[dict[str, np.ndarray], int]):
    """NB201 cell search on one device per episode.

    Args:
        device: The device to search on (used when ``device_sampler`` is None).
        device_sampler: ``rng -> Device`` drawing a device at every reset.
        proxy: Accuracy proxy scaled to [0, 1] over the space (default ``simismore``).
        episode_len: Steps per episode.
        history: Number of past (cell, latency, action) steps in the observation.
        latency_exponent: The fitness exponent (the paper's -0.3).
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium declares it on the instance)

    def __init__(
        self,
        device: Device | None = None,
        device_sampler: Callable[[np.random.Generator], Device] | None = None,
        proxy: AccuracyProxy | None = None,
        episode_len: int = 20,
        history: int = 5,
        latency_exponent: float = -0.3,
    ) -> None:
        if device is None and device_sampler is None:
            raise ValueError("HWNASEnv needs a device or a device_sampler")
        if episode_len < 1 or history < 0:
            raise ValueError(
                f"episode_len must be >= 1 and history >= 0, got {episode_len}, {history}"
            )
        self.space = NB201Space()
        self.fixed_device = device
        self.device_sampler = device_sampler
        self.proxy = proxy if proxy is not None else get_proxy("simismore", self.space)
        all_scores = self.proxy.score(self.space.enumerate())
        self._tf = (all_scores - all_scores.min()) / max(np.ptp(all_scores), 1e-12)
        self.episode_len = episode_len
        self.history = history
        self.latency_exponent = latency_exponent
        self.action_space = spaces.Discrete(N_EDGES * N_OPS)  # type: ignore[assignment]
        self.observation_space = spaces.Dict(  # type: ignore[assignment]
            {
                "cell": spaces.MultiDiscrete([N_OPS] * N_EDGES),
                "latency": spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32),
                # Flat (history * 6,): stable-baselines3 flattens only 1-D MultiDiscrete spaces.
                "history_cells": spaces.MultiDiscrete(np.full(max(history, 1) * N_EDGES, N_OPS)),
                "history_latency": spaces.Box(
                    0.0, 1.0, shape=(max(history, 1),), dtype=np.float32
                ),
                "history_actions": spaces.MultiDiscrete(
                    np.full(max(history, 1), N_EDGES * N_OPS + 1)
                ),
            }
        )
        self.device: Device | None = None
        self._lat_all: np.ndarray | None = None

    # -- helpers -----------------------------------------------------------------------------
    def _norm_latency(self, cell: np.ndarray) -> float:
        assert self.device is not None
        if self._lat_all is not None:
            lat = float(self._lat_all[self.space.position(cell)[0]])
        else:
            lat = float(self.device.latency_ms(cell[None, :])[0])
            self._seen.append(lat)
        lo, hi = (
            (self._lo, self._hi)
            if self._lat_all is not None
            else (min(self._seen), max(self._seen))
        )
        return float(np.clip((lat - lo) / (hi - lo), 0.0, 1.0)) if hi > lo else 0.0

    def reward_of(self, cell: np.ndarray, norm_latency: float) -> float:
        """The Sim-is-More fitness minus one for a cell and its normalised latency."""
        tf = float(self._tf[self.space.position(cell)[0]])
        return tf * (1e-3 + norm_latency) ** self.latency_exponent - 1.0

    def _obs(self) -> dict[str, np.ndarray]:
        h = max(self.history, 1)
        cells = np.zeros((h, N_EDGES), dtype=np.int64)
        lats = np.zeros(h, dtype=np.float32)
        acts = np.full(h, N_EDGES * N_OPS, dtype=np.int64)  # N_EDGES*N_OPS = "no action yet"
        for i, (c, lat, a) in enumerate(self._hist[-self.history :] if self.history else []):
            cells[i], lats[i], acts[i] = c, lat, a
        return {
            "cell": self._cell.copy(),
            "latency": np.array([self._lat], dtype=np.float32),
            "history_cells": cells.reshape(-1),
            "history_latency": lats,
            "history_actions": acts,
        }

    # -- gymnasium API -----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        rng = self.np_random
        self.device = self.device_sampler(rng) if self.device_sampler else self.fixed_device
        assert self.device is not None
        if self.device.space != self.space:
            raise ValueError(f"device {self.device.name} is not an NB201 device")
        self._seen: list[float] = []
        if self.device.exact and self.device.coverage() is None:
            self._lat_all = self.device.latency_ms(self.space.enumerate())
            self._lo, self._hi = float(self._lat_all.min()), float(self._lat_all.max())
        else:
            self._lat_all = None
        self._cell = rng.integers(0, N_OPS, size=N_EDGES).astype(np.int64)
        self._lat = self._norm_latency(self._cell)
        self._hist: list[tuple[np.ndarray, float, int]] = []
        self._t = 0
        return self._obs(), {"device": self.device.name}

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action must be in [0, {N_EDGES * N_OPS - 1}], got {action}")
        self._hist.append((self._cell.copy(), self._lat, int(action)))
        edge, op = divmod(int(action), N_OPS)
        self._cell[edge] = op
        self._lat = self._norm_latency(self._cell)
        self._t += 1
        reward = self.reward_of(self._cell, self._lat)
        truncated = self._t >= self.episode_len
        info = {"arch_str": self.space.to_str(self._cell[None, :])[0], "norm_latency": self._lat}
        return self._obs(), reward, False, truncated, info
