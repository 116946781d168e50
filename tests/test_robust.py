"""The drift-robust schedule on fake visits whose machine speed drifts in a known way."""

from __future__ import annotations

import numpy as np
import pytest

from moohw.errors import InputError
from moohw.measure import Protocol
from moohw.measure.robust import measure_batch, split_half_rho

P = Protocol(rounds=6, min_rounds=2, round_repeats=3, ref_every=3, rank_rho=0.99)


class Machine:
    """Visits whose time is ``true latency * speed(clock)``, the clock counting passes."""

    def __init__(self, speed, noise: float = 0.0, seed: int = 0) -> None:
        self.speed, self.noise, self.clock = speed, noise, 0
        self.rng = np.random.default_rng(seed)

    def visit(self, latency: float):
        def run(first: bool) -> np.ndarray:
            out = []
            for _ in range(P.round_repeats):
                self.clock += 1
                e = 1 + self.noise * self.rng.random()  # contention only adds time
                out.append(latency * self.speed(self.clock) * e)
            return np.array(out)

        return run


def test_reference_removes_a_slow_stretch_that_would_reorder_cells():
    # the machine is 1.6x slower for a stretch; without correction cells timed in it rank wrong
    true = np.linspace(1.0, 2.0, 12)
    mach = Machine(lambda c: 1.6 if 60 <= c < 140 else 1.0)
    ms, rep = measure_batch(
        [mach.visit(x) for x in true], mach.visit(1.5), P, np.random.default_rng(0)
    )
    lat = np.array([m.latency_ms for m in ms])
    # corrected values are in the reference's units times its pinned (median) latency: the
    # ratio to the truth is the same for every cell, and the order is exact
    ratio = lat / true
    assert np.ptp(ratio) / ratio.mean() < 0.02
    assert np.array_equal(np.argsort(lat), np.arange(12))
    assert rep.drift_range == pytest.approx(1.6, rel=0.01)
    assert rep.pinned_reference_ms == pytest.approx(1.5, rel=0.01)


def test_stops_at_min_rounds_when_ranks_agree_and_runs_on_when_noisy():
    true = np.linspace(1.0, 3.0, 10)
    quiet = Machine(lambda c: 1.0)
    _, rep = measure_batch(
        [quiet.visit(x) for x in true], quiet.visit(2.0), P, np.random.default_rng(1)
    )
    assert rep.rounds == P.min_rounds and rep.split_half_rho == pytest.approx(1.0)
    close = np.linspace(1.0, 1.05, 10)  # 5% apart, 60% noise: ranks cannot settle
    noisy = Machine(lambda c: 1.0, noise=0.6, seed=2)
    ms, rep = measure_batch(
        [noisy.visit(x) for x in close], noisy.visit(1.0), P, np.random.default_rng(1)
    )
    assert rep.rounds == P.rounds and rep.split_half_rho < P.rank_rho
    assert all(m.n_attempts == P.rounds for m in ms)
    assert all(m.spread_ms > 0 for m in ms)  # the spread across rounds is kept


def test_pin_puts_batches_measured_at_different_speeds_on_one_scale():
    true = np.array([1.0, 2.0, 3.0])
    fast, slow = Machine(lambda c: 1.0), Machine(lambda c: 2.0)
    pinned: list[float] = []

    def pin(ms: float) -> float:
        if not pinned:
            pinned.append(ms)
        return pinned[0]

    a, _ = measure_batch(
        [fast.visit(x) for x in true], fast.visit(1.0), P, np.random.default_rng(0), pin
    )
    b, _ = measure_batch(
        [slow.visit(x) for x in true], slow.visit(1.0), P, np.random.default_rng(0), pin
    )
    assert [m.latency_ms for m in a] == pytest.approx([m.latency_ms for m in b])
    assert [m.latency_ms for m in a] == pytest.approx(true)


def test_small_batches_run_min_rounds_and_empty_is_refused():
    m = Machine(lambda c: 1.0)
    out, rep = measure_batch([m.visit(2.0)], m.visit(1.0), P, np.random.default_rng(0))
    assert rep.rounds == P.min_rounds and np.isnan(rep.split_half_rho)
    assert out[0].latency_ms == pytest.approx(2.0)
    with pytest.raises(InputError, match="at least one cell"):
        measure_batch([], m.visit(1.0), P, np.random.default_rng(0))


def test_split_half_rho_is_spearman_brown_of_the_halves():
    per_round = np.array([[1, 2, 3, 4], [1, 2, 4, 3], [1, 2, 3, 4], [1, 2, 4, 3]], dtype=float)
    # halves (rounds 0,2) and (1,3) have Spearman 0.8 -> 2*0.8/1.8
    assert split_half_rho(per_round) == pytest.approx(2 * 0.8 / 1.8)
    assert np.isnan(split_half_rho(per_round[:1]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rounds": 0}, "rounds must be >= 1"),
        ({"rounds": 3, "min_rounds": 4}, "min_rounds"),
        ({"round_repeats": 0}, "round_repeats"),
        ({"rank_rho": 2.0}, "rank_rho"),
    ],
)
def test_schedule_fields_are_validated(kwargs, match):
    with pytest.raises(InputError, match=match):
        Protocol(**kwargs)


def test_on_round_reports_each_round_and_the_expected_retest_rho():
    m = Machine(lambda c: 1.0)
    seen: list[tuple[int, float]] = []
    measure_batch(
        [m.visit(x) for x in (1.0, 2.0, 3.0)],
        m.visit(1.0),
        P,
        np.random.default_rng(0),
        on_round=lambda r, rho: seen.append((r, rho)),
    )
    assert [r for r, _ in seen] == [1, 2] and np.isnan(seen[0][1]) and seen[1][1] == 1.0
