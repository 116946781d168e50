"""CompositeProxy: weighted sums of whole-space-normalised proxies (issue 16 item 3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from moohw.proxies.analytic import ParamsProxy
from moohw.proxies.assembled import CompositeProxy, log_rank
from moohw.proxies.zero_cost import SkipProxy, skip_score
from moohw.spaces import NB201Space

SPACE = NB201Space()
ALL = SPACE.enumerate()


class _Mix(CompositeProxy):
    name = "mix"
    members = ((ParamsProxy, 0.7), (SkipProxy, 0.3))


def _whole() -> tuple[np.ndarray, np.ndarray]:
    return ParamsProxy(SPACE).score(ALL), skip_score(ALL)


def test_logrank_matches_scipy_ranks_over_the_whole_space() -> None:
    p, s = _whole()
    want = 0.7 * np.log(rankdata(p) / len(p)) + 0.3 * np.log(rankdata(s) / len(s))
    idx = np.random.default_rng(0).choice(SPACE.size, 300, replace=False)
    np.testing.assert_allclose(_Mix(SPACE).score(ALL[idx]), want[idx], rtol=1e-12)
    # a cell's score does not depend on which other cells are scored with it
    assert _Mix(SPACE).score(ALL[idx[:1]])[0] == pytest.approx(want[idx[0]], rel=1e-12)


def test_minmax_uses_whole_space_bounds() -> None:
    class MinMax(_Mix):
        aggregation = "minmax"

    p, s = _whole()
    want = 0.7 * (p - p.min()) / (p.max() - p.min()) + 0.3 * (s - s.min()) / (s.max() - s.min())
    np.testing.assert_allclose(MinMax(SPACE).score(ALL[:50]), want[:50], rtol=1e-12)
    assert MinMax(SPACE).score(ALL).max() <= 1.0 + 1e-12


def test_log_rank_averages_ties() -> None:
    ref = np.sort(np.array([1.0, 2.0, 2.0, 3.0]))
    got = log_rank(np.array([2.0, 3.0, 0.5]), ref)
    np.testing.assert_allclose(got, np.log([2.5 / 4, 1.0, 1 / 4]))
