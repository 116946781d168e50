"""Shared pieces of budgeted search: the archive of evaluated architectures every algorithm learns
from, termination on budget, and history-aware duplicate elimination.

Every moohw algorithm follows pymoo's ask/tell contract (the ``pop = yield X`` shape of pymoo's
``LoopwiseAlgorithm``): it proposes new architectures, and learns only from the evaluated
population pymoo hands back, whoever evaluated it (the problem inside ``minimize``, or a user
who measures on a real device outside the problem). The problem's ledger is not read for what
was measured; the budget (``problem.ledger.budget``) is the only thing read from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from moohw.problems import HWNASProblem
from pymoo.core.algorithm import Algorithm
from pymoo.core.duplicate import DefaultDuplicateElimination
from pymoo.core.population import Population
from pymoo.core.termination import Termination

from moohw.errors import InputError


class ToldArchive:
    """Mixin: the architectures and objectives told back to the algorithm, in order.

    Call :meth:`_remember` with every evaluated population (pymoo's ``advance``). ``remaining``
    is the budget minus the distinct architectures told, so the algorithm guards its budget
    itself: the same in ``minimize`` and in a plain ask/tell loop.
    """

    problem: Any

    def _reset_told(self) -> None:
        self._told_pos: dict[bytes, int] = {}
        self._told_X: list[np.ndarray] = []
        self._told_F: list[np.ndarray] = []

    @property
    def budget(self) -> int | None:
        """Target measurements allowed (``None``: unlimited); the problem's ledger holds it."""
        led = getattr(self.problem, "ledger", None)
        return None if led is None else led.budget

    @property
    def n_told(self) -> int:
        """Distinct architectures evaluated and told back so far."""
        return len(getattr(self, "_told_X", ()))

    @property
    def remaining(self) -> int | None:
        """Target measurements left (``None`` when unlimited)."""
        b = self.budget
        return None if b is None else max(0, b - self.n_told)

    def _remember(self, pop: Population | None) -> tuple[np.ndarray, np.ndarray]:
        """Add the evaluated ``pop`` to the archive; returns the new rows ``(X, F)``."""
        if not hasattr(self, "_told_pos"):
            self._reset_told()
        n_var = self.problem.n_var
        if pop is None or len(pop) == 0:
            return np.zeros((0, n_var), dtype=np.int64), np.zeros((0, 2))
        X = np.rint(np.asarray(pop.get("X"), dtype=np.float64)).astype(np.int64)
        F = np.asarray(pop.get("F"), dtype=np.float64)
        if F.ndim != 2 or len(F) != len(X) or not np.isfinite(F).all():
            raise InputError(
                f"{type(self).__name__} was told a population without finite objectives F "
                f"(shape {F.shape}); evaluate every proposed architecture before telling it"
            )
        new = []
        for i, k in enumerate(self.problem.space.keys(X)):
            if k not in self._told_pos:
                self._told_pos[k] = len(self._told_X)
                self._told_X.append(X[i].copy())
                self._told_F.append(F[i].copy())
                new.append(i)
        return X[new], F[new]

    def told(self) -> tuple[np.ndarray, np.ndarray]:
        """All told architectures ``(m, n_var)`` and objectives ``(m, 2)``, in order."""
        if not self.n_told:
            return np.zeros((0, self.problem.n_var), dtype=np.int64), np.zeros((0, 2))
        return np.array(self._told_X, dtype=np.int64), np.array(self._told_F)

    def is_told(self, X: np.ndarray) -> np.ndarray:
        """``(n,)`` bool: which architectures were already evaluated and told."""
        pos = getattr(self, "_told_pos", {})
        return np.array([k in pos for k in self.problem.space.keys(X)], dtype=bool)

    def known_F(self, X: np.ndarray) -> np.ndarray | None:
        """Objectives ``(n, 2)`` of ``X`` when every row was told, else ``None``."""
        pos = getattr(self, "_told_pos", {})
        keys = self.problem.space.keys(X)
        if not all(k in pos for k in keys):
            return None
        return np.array([self._told_F[pos[k]] for k in keys])

    def sample_fresh(self, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """Up to ``n`` distinct allowed architectures never told (nor in ``exclude``)."""
        Xt, _ = self.told()
        ex = Xt if exclude is None or not len(exclude) else np.vstack([Xt, exclude])
        return self.problem.sample(n, self.random_state, exclude=ex)  # type: ignore[attr-defined]

    def fresh(self, X: np.ndarray) -> np.ndarray:
        """Rows of ``X`` allowed, never told and unique, cut to the remaining budget."""
        problem = self.problem
        X = np.rint(np.asarray(X)).astype(np.int64).reshape(-1, problem.n_var)
        if len(X) == 0:
            return X
        ok = problem.allowed(X) & ~self.is_told(X)
        seen: set[bytes] = set()
        for i, k in enumerate(problem.space.keys(X)):
            if ok[i] and k in seen:
                ok[i] = False
            seen.add(k)
        X = X[ok]
        rem = self.remaining
        return X if rem is None else X[:rem]


class ArchiveAlgorithm(ToldArchive, Algorithm):
    """A pymoo ``Algorithm`` in the ask/tell shape: ``X = self._propose()``, evaluated by
    whoever drives the loop, then ``self._learn(X_new, F_new)`` with what came back.

    Subclasses implement :meth:`_propose` (a population of new architectures, at most
    ``remaining``; empty ends the run) and :meth:`_learn`.
    """

    def _setup(self, problem: Any, **kwargs: Any) -> None:
        self._reset_told()

    def _propose(self) -> Population:
        raise NotImplementedError

    def _learn(self, X: np.ndarray, F: np.ndarray) -> None:
        """Learn from the new evaluated architectures ``X`` ``(n, n_var)`` and ``F`` ``(n, 2)``."""

    def _ask(self) -> Population:
        pop = self._propose() if self.remaining != 0 else Population.new(X=np.zeros((0, 1)))
        X = pop.get("X") if len(pop) else np.zeros((0, self.problem.n_var))
        rem = self.remaining
        if rem is not None and len(X) > rem:
            pop = pop[:rem]
        if len(pop) == 0:
            self.termination.force_termination = True
            return Population.new(X=np.zeros((0, self.problem.n_var), dtype=np.int64))
        return pop

    def _initialize_infill(self) -> Population:
        return self._ask()

    def _infill(self) -> Population:
        return self._ask()

    def _tell(self, infills: Population | None) -> None:
        X, F = self._remember(infills)
        if infills is not None and len(infills):
            cur: Population | None = getattr(self, "pop", None)
            self.pop = infills if cur is None else Population.merge(cur, infills)
        if len(X):
            self._learn(X, F)

    def _initialize_advance(self, infills: Population | None = None, **kwargs: Any) -> None:
        self.pop = Population.empty()
        self._tell(infills)

    def _advance(self, infills: Population | None = None, **kwargs: Any) -> None:
        self._tell(infills)


class BudgetTermination(Termination):
    """Stops when the algorithm has spent its budget of target measurements.

    Reads the count from the algorithm's own archive (:class:`ToldArchive`), so it works in a
    plain ask/tell loop too; algorithms without one fall back to the problem's ledger.
    """

    def _update(self, algorithm: object) -> float:
        problem = getattr(algorithm, "problem", None)
        if not isinstance(problem, HWNASProblem):
            raise TypeError("BudgetTermination needs an HWNASProblem")
        budget = problem.ledger.budget
        if budget is None or budget == 0:
            return 1.0
        n = (
            algorithm.n_told
            if isinstance(algorithm, ToldArchive)
            else problem.ledger.n_target_measurements
        )
        return n / budget


class HistoryDuplicateElimination(DefaultDuplicateElimination):
    """Removes offspring equal to each other, to the population, *or to anything ever told*.

    Architectures the device does not cover are removed as well, so a partial table restricts
    the search to its covered cells.
    """

    def __init__(self) -> None:
        super().__init__()
        self.problem: HWNASProblem | None = None
        self.algorithm: ToldArchive | None = None

    def _do(self, pop: Population, other: Population | None, is_duplicate: np.ndarray) -> Any:
        is_duplicate = super()._do(pop, other, is_duplicate)
        if other is None and self.problem is not None:
            X = np.rint(pop.get("X")).astype(np.int64)
            told = (
                self.algorithm.is_told(X)
                if self.algorithm is not None
                else self.problem.ledger.is_measured(X)
            )
            is_duplicate |= told | ~self.problem.allowed(X)
        return is_duplicate


def check_knowledge(problem: HWNASProblem, knowledge: list[Any]) -> None:
    """Raise if the target is among the knowledge devices or one is for another space."""
    if problem.device.name in {d.name for d in knowledge}:
        raise InputError(f"target {problem.device.name} must not be a knowledge device")
    for d in knowledge:
        if d.space != problem.space:
            raise InputError(f"knowledge device {d.name} is for space {d.space.name}")
