"""Random search: measure distinct architectures drawn uniformly from the allowed candidates.

The baseline every method must beat. Its declared front is the non-dominated subset of the
architectures it measured.
"""

from __future__ import annotations

from typing import Any

from moohw.problems import HWNASProblem
from pymoo.core.algorithm import Algorithm
from pymoo.core.population import Population


class RandomSearch(Algorithm):
    """Uniform sampling without replacement, ``batch_size`` architectures per iteration.

    Budget-agnostic: every batch is drawn at full size and only then cut to the remaining budget,
    so a run with budget K measures exactly the first K architectures of a run with a larger
    budget (same seed), and a comparison can score the prefixes of one run.
    """

    #: Its choices never depend on the budget K (see :mod:`moohw.algorithms.grid`).
    budget_agnostic = True

    def __init__(self, batch_size: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size

    def _batch(self) -> Population:
        problem: HWNASProblem = self.problem
        rem = problem.ledger.remaining
        # Draw a full batch before cutting it: numpy's choice without replacement picks another
        # algorithm for small sizes, so drawing ``rem`` rows would change them with K.
        X = problem.sample(self.batch_size, self.random_state)
        X = X if rem is None else X[:rem]
        if len(X) == 0:
            self.termination.force_termination = True
        return Population.new(X=X)

    def _initialize_infill(self) -> Population:
        return self._batch()

    def _infill(self) -> Population:
        return self._batch()

    def _initialize_advance(self, infills: Population | None = None, **kwargs: Any) -> None:
        self.pop = infills

    def _advance(self, infills: Population | None = None, **kwargs: Any) -> None:
        if infills is not None and len(infills):
            self.pop = Population.merge(self.pop, infills)
