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
from moohw.algorithms.controller.incontext import InContextLatency, cell_features, ehvi_2d
from moohw.algorithms.controller.latmodel import PRIOR_FILES, FamilyPriors, ProbeLatency
from moohw.algorithms.controller.policy import REF_QUANTILE, ProbeState, choose
from moohw.problems import HWNASProblem
from pymoo.core.population import Population

from moohw.errors import InputError
from moohw.metrics import non_dominated

#: Budget the policy assumes when the problem has none.
DEFAULT_HORIZON = 50
#: In-context latency prior of ``controller`` (``prior=`` option).
DEFAULT_PRIOR = "knowledge"
#: Period of the controller's scheduled exploration probes (``explore_every=`` option).
DEFAULT_EXPLORE_EVERY = 4
#: Half-width of a central 80% normal interval, in standard deviations.
_Z80 = 1.2815515655446004


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


class InContextControllerSearch(_Sequential):
    """``controller-ic``: exact 2-D EHVI on the ``InContext`` latency model, with a safeguard.

    After every probe the latency model (:class:`~.latmodel.ProbeLatency`: ``InContext``'s
    evidence-weighted runtime feature families plus a GP residual, its knowledge prior shipped in
    the checkpoint folder) is conditioned on all probes so far; its posterior mean and std feed the
    exact expected hypervolume improvement (:func:`~.incontext.ehvi_2d`) in (normalised proxy,
    latency), and the candidate with the largest EHVI is measured next.

    **Exploration safeguard.** EHVI trusts the model: a model that is confidently wrong keeps
    sending probes where it *believes* the front improves. Probe ``t`` (0-based) is an
    *exploration* probe instead when

    - ``explore_every > 0`` and ``t % explore_every == explore_every - 1`` (a fixed share of the
      probes, whatever the model says), or
    - the previous probe fell outside its own central 80% predictive interval (the model was
      surprised: its confidence is not to be trusted this step), or
    - no candidate has a positive EHVI (the model thinks the front is finished).

    An exploration probe measures, among the candidates that *could* be Pareto-optimal — the
    non-dominated set under (proxy, lower 80% bound of latency), the optimistic front — the one
    whose latency the model knows least (largest relative predictive std): where a probe is most
    informative about the front. Every rule depends only on the probes so far, never on the
    budget, so a run with budget K measures the first K cells of any longer run (anytime: more
    budget never discards a probe), and the seed does not matter.

    Args:
        checkpoint: Checkpoint folder (default: the shipped one).
        prior: ``"knowledge"`` (in-context prior fitted on the ND train devices), ``"synthetic"``
            (fitted on data-free synthetic devices only) or a path to a prior ``.npz``.
        explore_every: Period of the scheduled exploration probes (0: only the triggered ones).
    """

    seed_independent = True
    budget_agnostic = True

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        prior: str = DEFAULT_PRIOR,
        explore_every: int = DEFAULT_EXPLORE_EVERY,
        **kwargs: Any,
    ) -> None:
        super().__init__(checkpoint, **kwargs)
        if explore_every < 0:
            raise InputError(f"explore_every must be >= 0, got {explore_every}")
        self.prior = str(prior)
        self.explore_every = int(explore_every)

    def _prior_path(self) -> Path:
        if self.prior in PRIOR_FILES:
            folder = Path(self.checkpoint)
            if not folder.is_dir():
                raise FileNotFoundError(
                    f"no checkpoint folder {folder}; "
                    f"run `moohw pretrain controller --out {folder}`"
                )
            # The in-context priors are data, independent of policy training: a folder written by
            # `moohw pretrain controller` without them deploys with the shipped ones.
            own = folder / PRIOR_FILES[self.prior]
            return own if own.is_file() else SHIPPED / PRIOR_FILES[self.prior]
        p = Path(self.prior)
        if p.suffix != ".npz":
            raise InputError(
                f"prior must be one of {', '.join(sorted(PRIOR_FILES))} or a .npz file, "
                f"got {self.prior!r}"
            )
        return p

    def _setup(self, problem: HWNASProblem, **kwargs: Any) -> None:
        super()._setup(problem, **kwargs)
        priors = FamilyPriors.load(self._prior_path())
        self.model = ProbeLatency(problem.space, priors, self._cand)
        proxy = problem.query_cheap("proxy", self._cand)
        lo, hi = float(np.min(proxy)), float(np.max(proxy))
        self.f1 = (hi - proxy) / max(hi - lo, 1e-12)  # minimised, in [0, 1]
        self.r1 = float(np.quantile(self.f1, 1 - REF_QUANTILE))
        self.idx: list[int] = []
        self.lat: list[float] = []
        self.measured = np.zeros(len(self._cand), dtype=bool)
        self._pending: dict[int, tuple[float, float]] = {}  # predicted (mean, std) ms of a probe
        self.info = {
            "checkpoint": self.checkpoint,
            "prior": self.prior,
            "prior_file": str(self._prior_path()),
            "prior_fitted_on": priors.meta.get("fitted_on"),
            "explore_every": self.explore_every,
            "explored": [],
        }

    def _next(self) -> int | None:
        idx, y = self._new_measurements()
        surprised = False
        for i, v in zip(idx, y, strict=True):
            i = int(i)
            if not self.measured[i]:
                self.idx.append(i)
                self.lat.append(float(v))
                self.measured[i] = True
            if i in self._pending:
                pred_m, pred_s = self._pending.pop(i)
                surprised = abs(float(v) - pred_m) > _Z80 * pred_s
        free = np.flatnonzero(~self.measured)
        if len(free) == 0:
            return None
        mean, std = self.model.posterior(self.idx, self.lat)
        scale = max(float(mean.max()), max(self.lat, default=0.0), 1e-12)
        m, s = mean / scale, std / scale
        ref = (self.r1, 1.0)
        if self.idx:
            F = np.column_stack([self.f1[self.idx], np.array(self.lat) / scale])
            front = F[non_dominated(F)]
        else:
            front = np.zeros((0, 2))
        e = ehvi_2d(self.f1[free], m[free], s[free], front, ref)
        t = len(self.idx)
        scheduled = self.explore_every > 0 and t % self.explore_every == self.explore_every - 1
        if t > 0 and (scheduled or surprised or float(e.max()) <= 0.0):
            opt = np.column_stack([self.f1[free], m[free] - _Z80 * s[free]])
            cand = free[non_dominated(opt)]
            i = int(cand[np.argmax(s[cand] / np.maximum(m[cand], 1e-9))])
            self.info["explored"].append(t)
        else:
            i = int(free[np.argmax(e)])
        self._pending[i] = (float(mean[i]), float(std[i]))
        return i


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
