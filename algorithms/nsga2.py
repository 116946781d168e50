"""NSGA-II (Deb et al., 2002) for categorical architectures, on a budget of target measurements.

pymoo's NSGA-II with categorical operators: uniform crossover and op-reset mutation (each variable
is reset to a *different* choice with probability ``1/n_var``, at least one per child). Offspring
equal to anything ever measured are eliminated (not just the current population), so every
evaluation buys a new target measurement; the last generation is truncated so the budget is never
exceeded, and topped up with random unmeasured architectures when mating cannot find new ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.mutation import Mutation
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.operators.crossover.ux import UniformCrossover

from moohw.algorithms.base import HistoryDuplicateElimination, fresh
from moohw.problems import HWNASProblem


class OpResetMutation(Mutation):
    """Reset each variable to a different random choice with probability ``prob_var``.

    Args:
        prob_var: Per-variable probability; ``None`` means ``1 / n_var``.
    """

    def __init__(self, prob_var: float | None = None) -> None:
        super().__init__()
        self.per_var = prob_var

    def _do(
        self,
        problem: Problem,
        X: np.ndarray,
        random_state: np.random.Generator | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        assert random_state is not None
        X = np.rint(np.asarray(X, dtype=np.float64)).astype(np.int64)
        n, m = X.shape
        p = 1.0 / m if self.per_var is None else self.per_var
        mask = random_state.random((n, m)) < p
        none = ~mask.any(axis=1)
        mask[none, random_state.integers(0, m, size=int(none.sum()))] = True
        n_choices = (np.asarray(problem.xu) - np.asarray(problem.xl) + 1).astype(np.int64)
        # A shift in [1, n_choices) guarantees a different choice.
        shift = random_state.integers(1, np.maximum(n_choices, 2)[None, :], size=(n, m))
        out = X.copy()
        out[mask] = ((X + shift) % n_choices[None, :])[mask]
        return out


def default_pop_size(budget: int | None) -> int:
    """Population size for a budget: a fifth of it, within [8, 40] (100 if unlimited)."""
    if budget is None:
        return 100
    return int(np.clip(budget // 5, 8, 40))


class BudgetedNSGA2(NSGA2):
    """NSGA-II that spends exactly its budget of distinct target measurements.

    Args:
        pop_size: Population (and offspring) size.
        prob_crossover: Probability of uniform crossover per mating.
        prob_mutation_var: Per-variable op-reset probability (``None`` = ``1/n_var``).
    """

    def __init__(
        self,
        pop_size: int = 20,
        prob_crossover: float = 0.9,
        prob_mutation_var: float | None = None,
        **kwargs: Any,
    ) -> None:
        if pop_size < 2:
            raise ValueError(f"pop_size must be >= 2, got {pop_size}")
        self._dup = HistoryDuplicateElimination()
        super().__init__(
            pop_size=pop_size,
            n_offsprings=pop_size,
            crossover=UniformCrossover(prob=prob_crossover),
            mutation=OpResetMutation(prob_mutation_var),
            eliminate_duplicates=self._dup,
            **kwargs,
        )

    def _setup(self, problem: Problem, **kwargs: Any) -> None:
        super()._setup(problem, **kwargs)
        self._dup.problem = problem  # type: ignore[assignment]

    def _initialize_infill(self) -> Population:
        problem: HWNASProblem = self.problem
        rem = problem.ledger.remaining
        n = self.pop_size if rem is None else min(self.pop_size, rem)
        return Population.new(X=problem.sample(n, self.random_state))

    def _infill(self) -> Population | None:
        problem: HWNASProblem = self.problem
        rem = problem.ledger.remaining
        want = self.n_offsprings if rem is None else min(self.n_offsprings, rem)
        off = self.mating.do(problem, self.pop, want, algorithm=self, random_state=self.random_state)
        X = fresh(problem, off.get("X") if len(off) else np.zeros((0, problem.n_var)))[:want]
        if len(X) < want:  # mating is stuck: random immigrants keep the budget in use
            extra = problem.sample(want - len(X), self.random_state, exclude=X)
            X = np.vstack([X, extra]) if len(extra) else X
        if len(X) == 0:
            self.termination.force_termination = True
            return None
        return Population.new(X=X)
