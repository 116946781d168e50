"""Random search: measure distinct architectures drawn uniformly from the allowed candidates.

The baseline every method must beat. Its declared front is the non-dominated subset of the
architectures it measured.
"""

from __future__ import annotations

from typing import Any

from moohw.algorithms.base import ArchiveAlgorithm
from pymoo.core.population import Population

from moohw.errors import InputError


class RandomSearch(ArchiveAlgorithm):
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
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size

    def _propose(self) -> Population:
        # Draw a full batch before cutting it: numpy's choice without replacement picks another
        # algorithm for small sizes, so drawing ``remaining`` rows would change them with K.
        return Population.new(X=self.fresh(self.sample_fresh(self.batch_size)))
