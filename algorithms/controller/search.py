"""Deployment of the pre-trained controllers as pymoo Algorithms (one measurement per iteration).

Both read only the latencies told back to them (the evaluated population pymoo hands
back): the target's latency table is never looked at. Adaptation is in context (the probes so
far); no weight changes at deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from moohw.algorithms.base import ArchiveAlgorithm
from moohw.algorithms.controller.checkpoint import SHIPPED, load_default, load_faithful_model
from moohw.algorithms.controller.env import N_OPS
from moohw.algorithms.controller.faithful import observation
from moohw.algorithms.controller.incontext import InContextLatency, cell_features
from moohw.algorithms.controller.policy import ProbeState, choose
from moohw.problems import HWNASProblem
from pymoo.core.population import Population

from moohw.errors import InputError

#: Budget the policy assumes when the problem has none.
DEFAULT_HORIZON = 50


class _Sequential(ArchiveAlgorithm):
    """Proposes one architecture per iteration; subclasses implement :meth:`_next`.

    What was measured comes from the evaluated populations told back (``F[:, 1]`` is the
    target latency in ms), never from the problem's ledger: a plain ask/tell loop that measures
    outside the problem drives it the same way.
    """

    def __init__(self, checkpoint: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checkpoint = str(checkpoint) if checkpoint is not None else str(SHIPPED)
        self.info: dict[str, Any] = {}

    def _setup(self, problem: HWNASProblem, **kwargs: Any) -> None:
        if problem.space.name != "nb201":
            raise InputError(
                f"the controller is pre-trained for the nb201 space, not {problem.space.name}"
            )
        super()._setup(problem, **kwargs)
        self._cand = problem.candidates()
        self._pos = {k: i for i, k in enumerate(problem.space.keys(self._cand))}
        self._seen = 0

    def _new_measurements(self) -> tuple[np.ndarray, np.ndarray]:
        """Candidate indices ``(m,)`` and latencies ``(m,)`` in ms told since the last call."""
        X, F = self.told()
        keys = self.problem.space.keys(X[self._seen :]) if len(X) > self._seen else []
        idx = np.array([self._pos[k] for k in keys], dtype=np.int64)
        new_y = F[self._seen :, 1]
        self._seen = len(X)
        return idx, new_y

    def _next(self) -> int | None:
        raise NotImplementedError

    def _propose(self) -> Population:
        i = self._next()
        if i is None:
            return Population.new(X=np.zeros((0, self.problem.n_var), dtype=np.int64))
        return Population.new(X=self._cand[i : i + 1])


class ControllerSearch(_Sequential):
    """moohw's default controller: the probe-conditioned policy picks each next measurement.

    The policy acts greedily and its first probe is chosen from the meta-learned prior, so a run
    depends on the device and the budget only: the seed does not matter (``seed_independent``).

    Args:
        checkpoint: Checkpoint folder (default: the shipped one).
    """

    seed_independent = True

    def _setup(self, problem: HWNASProblem, **kwargs: Any) -> None:
        super()._setup(problem, **kwargs)
        ck = load_default(self.checkpoint)
        self.policy = ck.policy
        model = InContextLatency(ck.latency_prior, _features(problem, self._cand))
        proxy = problem.query_cheap("proxy", self._cand)
        budget = problem.ledger.budget or DEFAULT_HORIZON
        self.state = ProbeState(model, proxy, budget)
        self.info = {"checkpoint": self.checkpoint, "knowledge": ck.meta.get("knowledge_devices")}

    def _next(self) -> int | None:
        idx, y = self._new_measurements()
        for i, v in zip(idx, y, strict=True):
            self.state.observe(int(i), float(v))
        if self.state.measured.all():
            return None
        i, _ = choose(self.policy, self.state)
        return i


def _features(problem: HWNASProblem, cand: np.ndarray) -> np.ndarray:
    return cell_features(problem.space, cand)


class FaithfulControllerSearch(_Sequential):
    """The Sim-is-More PPO controller walked on the target (see ``faithful.py``).

    Args:
        checkpoint: Checkpoint folder (default: the shipped one).
        max_steps_per_probe: Walk at most this many steps per budgeted measurement.
    """

    def __init__(
        self, checkpoint: str | Path | None = None, max_steps_per_probe: int = 20, **kwargs: Any
    ) -> None:
        super().__init__(checkpoint, **kwargs)
        if max_steps_per_probe < 1:
            raise InputError(f"max_steps_per_probe must be >= 1, got {max_steps_per_probe}")
        self.max_steps_per_probe = max_steps_per_probe

    def _setup(self, problem: HWNASProblem, **kwargs: Any) -> None:
        super()._setup(problem, **kwargs)
        self.model = load_faithful_model(self.checkpoint)
        self._lat: dict[int, float] = {}
        self._hist: list[tuple[np.ndarray, float, int]] = []
        self._cell: int | None = None
        self._steps = 0
        self.info = {"checkpoint": self.checkpoint, "walk_steps": 0, "random_fill": 0}

    def _norm(self, lat: float) -> float:
        lo, hi = min(self._lat.values()), max(self._lat.values())
        return (lat - lo) / (hi - lo) if hi > lo else 0.0

    def _action_probs(self, cell: np.ndarray, lat: float) -> np.ndarray:
        import torch

        obs = observation(cell, self._norm(lat), self._hist)
        t, _ = self.model.policy.obs_to_tensor(obs)
        with torch.no_grad():
            p = self.model.policy.get_distribution(t).distribution.probs[0].numpy()
        return np.asarray(p, dtype=float)

    def _next(self) -> int | None:
        idx, y = self._new_measurements()
        for i, v in zip(idx, y, strict=True):
            self._lat[int(i)] = float(v)
        rng = self.random_state
        if self._cell is None:  # episode start: a random cell
            self._cell = int(rng.integers(len(self._cand)))
            return self._cell
        limit = self.max_steps_per_probe * (self.problem.ledger.budget or DEFAULT_HORIZON)
        while self._steps < limit:
            cell = self._cand[self._cell]
            lat = self._lat[self._cell]
            p = self._action_probs(cell, lat)
            a = int(rng.choice(len(p), p=p / p.sum()))
            nxt = cell.copy()
            nxt[a // N_OPS] = a % N_OPS
            self._steps += 1
            self.info["walk_steps"] = self._steps
            j = self._pos.get(self.problem.space.keys(nxt[None, :])[0])
            if j is None:  # outside the device's covered cells: stay
                continue
            self._hist.append((cell.copy(), self._norm(lat), a))
            self._cell = j
            if j not in self._lat:
                return j
        free = np.flatnonzero([i not in self._lat for i in range(len(self._cand))])
        if len(free) == 0:
            return None
        self.info["random_fill"] += 1
        return int(rng.choice(free))
