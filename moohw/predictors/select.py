"""``auto``: per-target model selection by leave-one-out on the ``k`` target samples.

Each candidate predictor is refitted ``k`` times, each time without one target sample, and
predicts the left-out sample; the candidate with the lowest leave-one-out error is then fitted on
all ``k`` samples. No information about the target beyond its samples is used (no oracle).
The error is the mean absolute log ratio ``|log(pred / y)|`` (a scale-free MAPE that punishes
non-positive predictions), ties broken by candidate order. Candidates default to the cheap models
(milliseconds per fit), as PAPERS.md §6 found leave-one-out choice between simple models
competitive with NASFLAT (Akhauri & Abdelfattah, MLSys 2024).

A guard keeps ``auto`` from collapsing onto a degenerate fit (issue 13 item 5: ``bayes-linear``
once reached rho 0.08 with ``auto`` and more samples made ``auto`` worse): the chosen candidate,
fitted on all ``k`` samples, predicts a fixed reference set of architectures (256 drawn with a
fixed seed, plus the samples); it is refused when a prediction is non-finite, when more than
``max_nonpositive`` of them are not positive (a few cells near zero latency are no reason: on
``pixel3`` refusing any non-positive prediction pushed ``auto`` to a 31-weight per-edge fit on 5
samples, rho -0.06), when its predictions are constant, when its leave-one-out error is worse
than the op-count baseline's (``opcount`` is always scored), or when its ranking of the
reference set agrees with the op-count fit's by Spearman rho below ``min_agreement`` while
op-count's own leave-one-out error is no worse than ``agreement_loo`` (only a trustworthy
baseline can veto). A refused
candidate gives way to the next by leave-one-out error; if all are refused, ``opcount``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from moohw.errors import InputError
from moohw.metrics import spearman
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
# ``incontext`` was tried as a sixth candidate and left out: on the knowledge devices
# (leave-one-device-out among the ND train split, 3 seeds, k = 5/10/20) it did not help,
# mean rho 0.946 with it vs 0.947 without (benchmarks/RESULTS.md, "Unseen hardware: in-context
# latency model"). Pass ``candidates=(*DEFAULT_CANDIDATES, "incontext")`` to include it.
#: The baseline every candidate must beat and the guard's fallback.
BASELINE = "opcount"


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
        candidates: Registered predictor names, or predictor instances (known by their ``name``).
        guard: Refuse degenerate fits (module docstring).
        min_agreement: Spearman rho with the op-count fit below which a candidate is refused.
        agreement_loo: The op-count leave-one-out error up to which it may veto by agreement.
        max_nonpositive: Largest tolerated fraction of non-positive reference predictions.

    Attributes (after fit):
        choice_: The chosen candidate.
        loo_: Candidate → leave-one-out error.
        refused_: Candidate → why the guard refused it.
    """

    name = "auto"

    def __init__(
        self,
        space: SearchSpace,
        candidates: Sequence[str | LatencyPredictor] = DEFAULT_CANDIDATES,
        guard: bool = True,
        min_agreement: float = 0.5,
        agreement_loo: float = 0.1,
        max_nonpositive: float = 0.05,
    ) -> None:
        super().__init__(space)
        from moohw.predictors import PREDICTORS

        if not candidates:
            raise InputError("auto needs at least one candidate")
        given = {c.name if isinstance(c, LatencyPredictor) else c: c for c in candidates}
        self.candidates = tuple(given)
        self.guard = bool(guard)
        self.min_agreement = float(min_agreement)
        self.agreement_loo = float(agreement_loo)
        self.max_nonpositive = float(max_nonpositive)
        if guard and BASELINE not in given:
            given[BASELINE] = BASELINE
        self._models = {
            n: c if isinstance(c, LatencyPredictor) else PREDICTORS.get(c)(space)
            for n, c in given.items()
        }
        self._reference = space.sample(256, seed=0)

    def _fit(self, knowledge: Knowledge, X: np.ndarray, y_ms: np.ndarray, seed: SeedLike) -> None:
        self.loo_: dict[str, float] = {}
        self.refused_: dict[str, str] = {}
        if len(y_ms) < 3:
            usable = [c for c in self.candidates if c != "adaproxy" or knowledge]
            self.choice_ = usable[0] if usable else self.candidates[0]
            self.model_ = self._models[self.choice_].fit(knowledge, X, y_ms, seed=seed)
            return
        for c, model in self._models.items():
            try:
                self.loo_[c] = loo_error(model, knowledge, X, y_ms, seed)
            except (ValueError, KeyError):
                continue
        ranked = sorted((c for c in self.candidates if c in self.loo_), key=lambda c: self.loo_[c])
        if not ranked:
            raise InputError(f"no candidate of {self.candidates} could be fitted")
        if not self.guard:
            self.choice_ = ranked[0]
            self.model_ = self._models[self.choice_].fit(knowledge, X, y_ms, seed=seed)
            return
        R = np.concatenate([self._reference, X])
        base = self._models[BASELINE].fit(knowledge, X, y_ms, seed=seed).predict(R)
        for c in ranked:
            model = self._models[c].fit(knowledge, X, y_ms, seed=seed)
            why = self._refuse(c, model.predict(R), base)
            if why is None:
                self.choice_, self.model_ = c, model
                return
            self.refused_[c] = why
        self.choice_ = BASELINE
        self.model_ = self._models[BASELINE].fit(knowledge, X, y_ms, seed=seed)

    def _refuse(self, c: str, pred: np.ndarray, base: np.ndarray) -> str | None:
        """Why candidate ``c`` with reference predictions ``pred`` is refused, or ``None``."""
        if not np.isfinite(pred).all():
            return "non-finite predictions"
        if (pred <= 0).mean() > self.max_nonpositive:
            return f"more than {self.max_nonpositive:.0%} non-positive predictions"
        if np.ptp(pred) <= 1e-9 * max(float(np.abs(pred).mean()), 1e-12):
            return "constant predictions"
        if c == BASELINE:
            return None
        if BASELINE in self.loo_ and self.loo_[c] > self.loo_[BASELINE]:
            return (
                f"leave-one-out error {self.loo_[c]:.3g} > {BASELINE}'s {self.loo_[BASELINE]:.3g}"
            )
        if self.loo_.get(BASELINE, np.inf) <= self.agreement_loo and np.ptp(base) > 0:
            rho = spearman(pred, base)
            if not rho >= self.min_agreement:
                return f"ranks disagree with {BASELINE} (rho {rho:.2f} < {self.min_agreement})"
        return None

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)
