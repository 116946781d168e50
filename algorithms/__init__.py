"""Search methods as pymoo Algorithms; installed as ``moohw.algorithms``.

Every method is run through :func:`run_algorithm` (or :func:`search`, which also builds the
problem from names and scores the result).
"""

from __future__ import annotations

from moohw.algorithms.api import ALGORITHMS, run_algorithm, score_run, search
from moohw.algorithms.base import BudgetTermination, HistoryDuplicateElimination
from moohw.algorithms.nsga2 import BudgetedNSGA2, OpResetMutation
from moohw.algorithms.random import RandomSearch

__all__ = [
    "ALGORITHMS",
    "BudgetTermination",
    "BudgetedNSGA2",
    "HistoryDuplicateElimination",
    "OpResetMutation",
    "RandomSearch",
    "run_algorithm",
    "score_run",
    "search",
]
