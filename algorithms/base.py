"""Shared pieces of budgeted search: termination on budget, history-aware duplicate elimination."""

from __future__ import annotations

from typing import Any

import numpy as np
from moohw.problems import HWNASProblem
from pymoo.core.duplicate import DefaultDuplicateElimination
from pymoo.core.population import Population
from pymoo.core.termination import Termination


class BudgetTermination(Termination):
    """Stops when the algorithm's problem has spent its budget of target measurements.

    It reads the ledger through ``algorithm.problem`` rather than holding the problem, so pymoo
    can copy it cheaply.
    """

    def _update(self, algorithm: object) -> float:
        problem = getattr(algorithm, "problem", None)
        if not isinstance(problem, HWNASProblem):
            raise TypeError("BudgetTermination needs an HWNASProblem")
        led = problem.ledger
        if led.budget is None or led.budget == 0:
            return 1.0
        return led.n_target_measurements / led.budget


class HistoryDuplicateElimination(DefaultDuplicateElimination):
    """Removes offspring equal to each other, to the population, *or to anything ever measured*.

    Architectures the device does not cover are removed as well, so a partial table restricts
    the search to its covered cells.
    """

    def __init__(self) -> None:
        super().__init__()
        self.problem: HWNASProblem | None = None

    def _do(self, pop: Population, other: Population | None, is_duplicate: np.ndarray) -> Any:
        is_duplicate = super()._do(pop, other, is_duplicate)
        if other is None and self.problem is not None:
            X = np.rint(pop.get("X")).astype(np.int64)
            is_duplicate |= self.problem.ledger.is_measured(X) | ~self.problem.allowed(X)
        return is_duplicate


def fresh(problem: HWNASProblem, X: np.ndarray) -> np.ndarray:
    """Rows of ``X`` that are allowed, unmeasured and unique, truncated to the remaining budget."""
    X = np.rint(np.asarray(X)).astype(np.int64).reshape(-1, problem.n_var)
    if len(X) == 0:
        return X
    ok = problem.allowed(X) & ~problem.ledger.is_measured(X)
    keys = problem.space.keys(X)
    seen: set[bytes] = set()
    for i, k in enumerate(keys):
        if ok[i] and k in seen:
            ok[i] = False
        seen.add(k)
    X = X[ok]
    rem = problem.ledger.remaining
    return X if rem is None else X[:rem]


def check_knowledge(problem: HWNASProblem, knowledge: list[Any]) -> None:
    """Raise if the target is among the knowledge devices or one is for another space."""
    if problem.device.name in {d.name for d in knowledge}:
        raise ValueError(f"target {problem.device.name} must not be a knowledge device")
    for d in knowledge:
        if d.space != problem.space:
            raise ValueError(f"knowledge device {d.name} is for space {d.space.name}")
