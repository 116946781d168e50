"""``auto``: per-target model selection by leave-one-out on the ``k`` target samples.

Each candidate predictor is refitted ``k`` times, each time without one target sample, and
predicts the left-out sample; the candidate with the lowest leave-one-out error is then fitted on
all ``k`` samples. No information about the target beyond its samples is used (no oracle).
The error is the mean absolute log ratio ``|log(pred / y)|`` (a scale-free MAPE that punishes
non-positive predictions), ties broken by candidate order. Candidates default to the cheap models
(milliseconds per fit), as PAPERS.md §6 found leave-one-out choice between simple models
competitive with NASFLAT (Akhauri & Abdelfattah, MLSys 2024).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from moohw.errors import InputError
from moohw.predictors.base import Knowledge, LatencyPredictor
from moohw.rng import SeedLike
from moohw.spaces import SearchSpace

#: Candidates of ``auto`` (all fit in well under a second).
DEFAULT_CANDIDATES: tuple[str, ...] = (
    "opcount",
    "peredge",
    "bayes-linear",
    "bayes-opcount",
    "adaproxy",
)


def loo_error(
    predictor: LatencyPredictor,
    knowledge: Knowledge,
    X: np.ndarray,
    y_ms: np.ndarray,
    seed: SeedLike = None,
) -> float:
    """Leave-one-out mean ``|log(pred / y)|`` of ``predictor`` on ``k`` samples ``(k, n_var)``.

    Non-positive predictions count as an error of ``log(1e3)``.
    """
    errs = np.empty(len(y_ms))
    for i in range(len(y_ms)):
        m = np.arange(len(y_ms)) != i
        predictor.fit(knowledge, X[m], y_ms[m], seed=seed)
        p = float(predictor.predict(X[i : i + 1])[0])
        errs[i] = abs(np.log(p / y_ms[i])) if p > 0 and y_ms[i] > 0 else np.log(1e3)
    return float(errs.mean())


class AutoSelect(LatencyPredictor):
    """Choose among ``candidates`` per target by leave-one-out error on the target samples.

    Candidates that cannot be fitted with the given knowledge (e.g. ``adaproxy`` without any
    knowledge device) are skipped.

    Args:
        space: Search space.
        candidates: Registered predictor names.
    """

    name = "auto"

    def __init__(self, space: SearchSpace, candidates: Sequence[str] = DEFAULT_CANDIDATES) -> None:
        super().__init__(space)
        from moohw.predictors import PREDICTORS

        if not candidates:
            raise InputError("auto needs at least one candidate")
        self.candidates = tuple(candidates)
        self._models = {c: PREDICTORS.get(c)(space) for c in self.candidates}

    def _fit(self, knowledge: Knowledge, X: np.ndarray, y_ms: np.ndarray, seed: SeedLike) -> None:
        self.loo_: dict[str, float] = {}
        if len(y_ms) < 3:
            usable = [c for c in self.candidates if c != "adaproxy" or knowledge]
            self.choice_ = usable[0] if usable else self.candidates[0]
        else:
            for c, model in self._models.items():
                try:
                    self.loo_[c] = loo_error(model, knowledge, X, y_ms, seed)
                except (ValueError, KeyError):
                    continue
            if not self.loo_:
                raise InputError(f"no candidate of {self.candidates} could be fitted")
            self.choice_ = min(self.loo_, key=lambda c: self.loo_[c])
        self.model_ = self._models[self.choice_].fit(knowledge, X, y_ms, seed=seed)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)
