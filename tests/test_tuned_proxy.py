import numpy as np
import pytest

from moohw.proxies import get_proxy, nb201_params


def _minmax(v, full):
    return (v - full.min()) / (full.max() - full.min())


def test_tuned_is_the_documented_weighted_mean(nb201):
    X = nb201.enumerate()
    sub = X[::997]
    parts = {n: get_proxy(n, nb201).score(X) for n in ("naswot", "logsynflow")}
    skip = get_proxy("skip", nb201).score(sub)
    expect = (
        0.5 * _minmax(get_proxy("naswot", nb201).score(sub), parts["naswot"])
        + 0.2 * _minmax(get_proxy("logsynflow", nb201).score(sub), parts["logsynflow"])
        + 0.1 * skip / 2.0
        + 0.2 * _minmax(nb201_params(sub), nb201_params(X))
    )
    assert np.allclose(get_proxy("tuned", nb201).score(sub), expect)


def test_tuned_front_beats_simismore_on_a_test_device(data, nb201):
    # benchmarks/RESULTS.md: exhaustive-front HV ratio on gold_6226 0.973 (tuned) vs 0.921.
    from moohw.accuracy import BenchmarkAccuracy
    from moohw.devices import get_device
    from moohw.metrics import Scorer

    X = nb201.enumerate()
    sc = Scorer(
        BenchmarkAccuracy(nb201, data)(X), get_device("help:gold_6226", nb201, data).latency_ms(X)
    )
    tuned = sc.proxy_ceiling(get_proxy("tuned", nb201).score(X)).hv_ratio
    sim = sc.proxy_ceiling(get_proxy("simismore", nb201).score(X)).hv_ratio
    assert tuned > sim + 0.03


def test_rankmix_is_the_documented_log_rank_sum(nb201):
    from scipy.stats import rankdata

    X = nb201.enumerate()
    full = [get_proxy(n, nb201).score(X) for n in ("meco", "swap_raw", "skip", "params")]
    expect = sum(0.25 * np.log(rankdata(v) / len(v)) for v in full)
    sub = np.arange(0, nb201.size, 613)
    np.testing.assert_allclose(get_proxy("rankmix", nb201).score(X[sub]), expect[sub], rtol=1e-12)


def test_rankmix_front_beats_tuned_on_edgegpu(data, nb201):
    # benchmarks/RESULTS.md: exhaustive-front HV ratio on edgegpu 0.968 (rankmix) vs 0.898.
    from moohw.accuracy import BenchmarkAccuracy
    from moohw.devices import get_device
    from moohw.metrics import Scorer

    dev = get_device("hwnasbench:edgegpu", nb201, data)
    X = nb201.enumerate()
    X = X[dev.covers(X)]
    sc = Scorer(BenchmarkAccuracy(nb201, data)(X), dev.latency_ms(X))
    ceil = {
        n: sc.proxy_ceiling(get_proxy(n, nb201).score(X)).hv_ratio for n in ("rankmix", "tuned")
    }
    assert ceil["rankmix"] > ceil["tuned"] + 0.05


def test_rankmix_zico_is_the_documented_log_rank_sum(nb201):
    from scipy.stats import rankdata

    from moohw.proxies.store import shipped_table

    if shipped_table("zico", "cifar10") is None:
        pytest.skip("no ZiCo table shipped")
    X = nb201.enumerate()
    full = [get_proxy(n, nb201).score(X) for n in ("meco", "zico", "skip", "params")]
    expect = sum(0.25 * np.log(rankdata(v) / len(v)) for v in full)
    sub = np.arange(0, nb201.size, 613)
    got = get_proxy("rankmix_zico", nb201).score(X[sub])
    np.testing.assert_allclose(got, expect[sub], rtol=1e-12)
