import numpy as np

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
