"""Optuna's multi-objective samplers as moohw search methods: the baselines users would pick.

``optuna-tpe`` (multi-objective TPE; Ozaki et al., "Multiobjective Tree-Structured Parzen
Estimator for Computationally Expensive Optimization Problems", GECCO 2020) and ``optuna-gp``
(Optuna's Gaussian-process sampler with log-EHVI acquisition for several objectives) drive an
Optuna study over the architecture's categorical variables. Each iteration asks the study for
one trial; an architecture already measured is answered from the algorithm's own archive
(free, no target measurement) and one the device does not cover is told as failed, so the
sampler learns and asks again. Only new architectures are proposed to pymoo, whose evaluated
population is told back to the study: the same ask/tell contract as every moohw method.

Needs the ``optuna`` extra (``pip install "moohw[optuna]"``). Budget-agnostic: one architecture
at a time and the budget is never read, so a run with budget K measures the first K
architectures of any longer run with the same seed.

``optuna-gp`` asks its trials with torch limited to one intra-op thread (restored after each
ask): the sampler's GP and acquisition work on tensors of a few dozen rows, where a second
thread only adds synchronisation (on a shared 2-core machine a K = 50 run took 376 s with
torch's default of 2 threads and 58 s with one; benchmarks/RESULTS.md). The sampler's
algorithm is unchanged and a run's trials are the same with either thread count.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from moohw.algorithms.base import ArchiveAlgorithm
from moohw.problems import HWNASProblem
from pymoo.core.population import Population

from moohw.errors import InputError

#: moohw name → Optuna sampler class name.
SAMPLERS = {"tpe": "TPESampler", "gp": "GPSampler"}
#: torch intra-op threads while a sampler that computes with torch asks a trial (None: as is).
TORCH_THREADS: dict[str, int | None] = {"tpe": None, "gp": 1}


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with torch limited to ``n`` intra-op threads, restoring the count after."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise InputError(
            'the optuna baselines need the optuna extra: pip install "moohw[optuna]"'
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class OptunaSearch(ArchiveAlgorithm):
    """An Optuna multi-objective sampler over the space's categorical variables.

    Args:
        sampler: ``tpe`` or ``gp``.
        n_startup_trials: Random trials before the sampler's model is used.
        max_asks: Trials asked per new architecture before falling back to a random
            unmeasured one (a sampler stuck on measured architectures cannot block the run).
    """

    budget_agnostic = True

    def __init__(
        self,
        sampler: str = "tpe",
        n_startup_trials: int = 10,
        max_asks: int = 50,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if sampler not in SAMPLERS:
            raise InputError(f"sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
        if n_startup_trials < 0 or max_asks < 1:
            raise InputError(
                f"need n_startup_trials >= 0 and max_asks >= 1, got {n_startup_trials}, {max_asks}"
            )
        self.sampler = sampler
        self.n_startup_trials = int(n_startup_trials)
        self.max_asks = int(max_asks)
        self.info: dict[str, Any] = {}

    def _setup(self, problem: HWNASProblem, **kwargs: Any) -> None:
        super()._setup(problem, **kwargs)
        optuna = _import_optuna()
        seed = int(self.random_state.integers(2**31 - 1))
        cls = getattr(optuna.samplers, SAMPLERS[self.sampler])
        smp = cls(seed=seed, n_startup_trials=self.n_startup_trials)
        self._study = optuna.create_study(directions=["minimize", "minimize"], sampler=smp)
        self._dists = {
            f"x{i}": optuna.distributions.CategoricalDistribution(list(range(int(c))))
            for i, c in enumerate(problem.space.n_choices)
        }
        self._pending: dict[bytes, Any] = {}  # architecture key -> its open trial
        self.info = {"sampler": self.sampler, "trials": 0, "answered_from_archive": 0}

    def _propose(self) -> Population:
        problem: HWNASProblem = self.problem
        if self.remaining == 0:
            return Population.new(X=np.zeros((0, problem.n_var), dtype=np.int64))
        optuna = _import_optuna()
        for _ in range(self.max_asks):
            with torch_threads(TORCH_THREADS[self.sampler]):
                trial = self._study.ask(self._dists)
            self.info["trials"] += 1
            x = np.array([trial.params[f"x{i}"] for i in range(problem.n_var)], dtype=np.int64)
            key = problem.space.keys(x[None])[0]
            if not problem.allowed(x[None])[0] or key in self._pending:
                self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            known = self.known_F(x[None])
            if known is not None:
                self._study.tell(trial, known[0].tolist())
                self.info["answered_from_archive"] += 1
                continue
            self._pending[key] = trial
            return Population.new(X=x[None])
        X = self.sample_fresh(1)  # stuck: a random unmeasured architecture, told as a trial
        if len(X):
            params = {f"x{i}": int(v) for i, v in enumerate(X[0])}
            with torch_threads(TORCH_THREADS[self.sampler]):
                trial = self._study.ask(self._dists)
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
            self._pending[problem.space.keys(X)[0]] = ("fixed", params)
        return Population.new(X=X)

    def _learn(self, X: np.ndarray, F: np.ndarray) -> None:
        optuna = _import_optuna()
        for key, f in zip(self.problem.space.keys(X), F, strict=True):
            trial = self._pending.pop(key, None)
            if trial is None:
                continue
            if isinstance(trial, tuple):  # a random fill: add it as a finished trial
                self._study.add_trial(
                    optuna.trial.create_trial(
                        params=trial[1], distributions=self._dists, values=f.tolist()
                    )
                )
            else:
                self._study.tell(trial, f.tolist())


__all__ = ["SAMPLERS", "TORCH_THREADS", "OptunaSearch", "torch_threads"]
