"""A measurement schedule that survives a shared machine (no torch here).

On a machine shared with other work the speed of the CPU drifts: whole stretches of consecutive
cells run slower or faster together (cache and memory-bandwidth contention, a sibling hardware
thread, frequency changes), and no per-pass timer removes that, since the thread really runs
slower. Following the "reliable dataset generation" of ESM (Bouzidi et al., 2023), a batch of
cells is measured so that drift cannot pass for a difference between cells:

1. **Randomised, interleaved rounds.** Each round visits every cell of the batch once, in a fresh
   random order; a visit runs one untimed pass (``warmup`` on the first visit) then times
   ``round_repeats`` passes and keeps their minimum (contention only ever adds time). Drift then
   spreads over all cells instead of hitting a block of them.
2. **A reference cell, re-measured periodically.** A fixed reference network is timed at the
   start of every round, after every ``ref_every`` cells and at the end. Its latency, interpolated
   in time between its visits, is the machine's speed at that moment; each visit's value is
   divided by it and multiplied by a pinned reference latency, so values stay in ms and batches
   measured at different times (by any worker sharing the store) are on one scale.
3. **Repeats until the rank is stable.** From ``min_rounds`` on, the rounds are split in two
   halves (odd / even) and the Spearman correlation ``r`` of the halves' per-cell medians is
   stepped up to the full length with the Spearman-Brown formula ``2r / (1 + r)`` (the expected
   test-retest correlation of the whole batch); the batch stops when that reaches ``rank_rho``,
   or after ``rounds`` rounds.
4. **The spread is kept.** A cell's corrected per-round values are summarised with the protocol's
   outlier rule (:func:`~moohw.measure.protocol.summarize`): ``latency_ms`` is their median,
   ``spread_ms``/``iqr_ms``/``cv`` their spread across rounds, ``n_attempts`` the rounds.

The estimator (per-visit minimum, drift-corrected, median over rounds) and the stopping rule were
chosen on an exploration set of 100 cells (seed 100), kept apart from the 200 cells (seed 1) whose
test-retest correlation is reported in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import spearmanr

from moohw.errors import InputError
from moohw.measure.protocol import Measurement, Protocol, summarize

#: ``visit(first)`` times one visit of a cell: ``(round_repeats,)`` per-pass ms.
Visit = Callable[[bool], np.ndarray]


@dataclass(frozen=True)
class BatchReport:
    """How a batch was measured.

    Attributes:
        n_cells: Cells in the batch.
        rounds: Rounds run.
        split_half_rho: Spearman-Brown-corrected split-half Spearman after the last round
            (``nan`` for fewer than 3 cells or 2 rounds).
        reference_ms: ``(n_ref_visits,)`` reference latency of each reference visit, ms.
        pinned_reference_ms: The reference latency the corrected values are scaled to, ms.
        drift_range: max / min of the reference visits (1.0 = no drift seen).
    """

    n_cells: int
    rounds: int
    split_half_rho: float
    reference_ms: np.ndarray
    pinned_reference_ms: float
    drift_range: float


def split_half_rho(per_round: np.ndarray) -> float:
    """Expected test-retest Spearman of a batch from its own rounds.

    Args:
        per_round: ``(rounds, n_cells)`` corrected per-visit latencies.

    Returns:
        ``2r / (1 + r)`` where ``r`` is the Spearman correlation of the per-cell medians of the
        odd and even rounds; ``nan`` with fewer than 2 rounds or 3 cells; 1.0 when both halves
        are constant (nothing to disagree on).
    """
    r, n = per_round.shape
    if r < 2 or n < 3:
        return float("nan")
    a = np.median(per_round[0::2], axis=0)
    b = np.median(per_round[1::2], axis=0)
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    rho = float(spearmanr(a, b).statistic)
    return 2 * rho / (1 + rho) if rho > -1 else -1.0


def measure_batch(
    visits: Sequence[Visit],
    reference: Visit,
    protocol: Protocol,
    rng: np.random.Generator,
    pin: Callable[[float], float] | None = None,
    on_round: Callable[[int, float], None] | None = None,
) -> tuple[list[Measurement], BatchReport]:
    """Measure a batch of cells with drift correction and a rank-stability stopping rule.

    Args:
        visits: One visit function per cell (``n_cells`` of them).
        reference: Visit function of the reference cell.
        protocol: Its ``rounds``, ``min_rounds``, ``ref_every`` and ``rank_rho`` set the
            schedule; ``outlier_k`` the summary.
        rng: Order of the cells in each round.
        pin: Maps this batch's median reference latency to the scale of the corrected values
            (e.g. the reference latency pinned by the device's first batch); ``None`` keeps
            this batch's median.
        on_round: Called after each round with the rounds run so far and the expected
            test-retest Spearman (``nan`` before ``min_rounds``), for progress displays.

    Returns:
        One measurement per cell (same order as ``visits``) and the batch report.
    """
    n = len(visits)
    if n == 0:
        raise InputError("measure_batch needs at least one cell")
    first = np.ones(n, dtype=bool)
    ref_first = True
    visit_min: list[list[float]] = [[] for _ in range(n)]  # per cell: min of each visit
    visit_t: list[list[int]] = [[] for _ in range(n)]  # per cell: time index of each visit
    ref_t: list[int] = []
    ref_ms: list[float] = []
    t = 0

    def visit_ref() -> None:
        nonlocal ref_first, t
        ref_ms.append(float(np.min(reference(ref_first))))
        ref_first = False
        ref_t.append(t)
        t += 1

    rounds = 0
    rho = float("nan")
    while rounds < protocol.rounds:
        for k, i in enumerate(rng.permutation(n)):
            if k % protocol.ref_every == 0:
                visit_ref()
            samples = np.asarray(visits[i](bool(first[i])), dtype=np.float64)
            first[i] = False
            visit_min[i].append(float(samples.min()))
            visit_t[i].append(t)
            t += 1
        rounds += 1
        visit_ref()  # closes the round: every cell visit lies between two reference visits
        if rounds >= protocol.min_rounds:
            rho = split_half_rho(_corrected(visit_min, visit_t, ref_t, ref_ms))
        if on_round is not None:
            on_round(rounds, rho)
        if rounds >= protocol.min_rounds and (not np.isfinite(rho) or rho >= protocol.rank_rho):
            break
    ref = np.asarray(ref_ms)
    pinned = float(np.median(ref))
    if pin is not None:
        pinned = float(pin(pinned))
    per_round = _corrected(visit_min, visit_t, ref_t, ref_ms) * pinned
    out = [replace(summarize(per_round[:, i], protocol), n_attempts=rounds) for i in range(n)]
    report = BatchReport(
        n_cells=n,
        rounds=rounds,
        split_half_rho=rho,
        reference_ms=ref,
        pinned_reference_ms=pinned,
        drift_range=float(ref.max() / ref.min()) if ref.min() > 0 else float("inf"),
    )
    return out, report


def _corrected(
    visit_min: list[list[float]], visit_t: list[list[int]], ref_t: list[int], ref_ms: list[float]
) -> np.ndarray:
    """``(rounds, n)`` visit minima divided by the interpolated reference (reference units)."""
    speed = np.interp(np.asarray(visit_t, dtype=np.float64), ref_t, ref_ms)
    return (np.asarray(visit_min) / speed).T
