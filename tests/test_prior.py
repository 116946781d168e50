import numpy as np
import pytest

from moohw.devices import get_device
from moohw.devices.prior import PriorDevice, SyntheticPrior, alive_counts, alive_edges, fit_prior
from moohw.predictors import DeviceData


def test_alive_edges_hand_cases(nb201):
    # Edge order: (0,1) (0,2) (1,2) (0,3) (1,3) (2,3); 0 = none, 3 = conv3x3.
    X = np.array(
        [
            [3, 3, 3, 3, 3, 3],  # everything connected
            [3, 0, 0, 3, 0, 0],  # 0->1 leads nowhere: dead; 0->3 alive
            [0, 3, 3, 0, 0, 3],  # 1->2 has no input (node 1 unreachable): dead
            [0, 0, 0, 0, 0, 0],  # nothing
        ]
    )
    alive = alive_edges(X)
    assert alive[0].all()
    assert alive[1].tolist() == [False, False, False, True, False, False]
    assert alive[2].tolist() == [False, True, False, False, False, True]
    assert not alive[3].any()
    assert alive_counts(X)[1].tolist() == [0, 0, 0, 1, 0]


def test_fit_prior_and_sample(nb201):
    X = nb201.enumerate()
    know = {
        f"synthetic:{s}": DeviceData(X, get_device(f"synthetic:{s}", nb201).latency_ms(X))
        for s in (21, 22, 23)
    }
    prior = fit_prior(nb201, know)
    assert prior.fitted_on == tuple(know) and len(prior.op_mean) == 5
    assert abs(sum(prior.op_mean) - 1) < 1e-6 and min(prior.op_std) >= 0
    assert SyntheticPrior.from_json(prior.to_json()) == prior
    a = PriorDevice("a", nb201, prior, 1).latency_ms(X)
    assert np.isfinite(a).all() and (a > 0).all()
    assert np.array_equal(a, PriorDevice("a", nb201, prior, 1).latency_ms(X))
    assert not np.array_equal(a, PriorDevice("b", nb201, prior, 2).latency_ms(X))
    with pytest.raises(ValueError, match="at least two"):
        fit_prior(nb201, dict(list(know.items())[:1]))


def test_prior_devices_cover_a_real_device(data, nb201):
    # Measured with benchmarks/synthetic.py: every HELP device is matched at rho >= 0.898 by one
    # of 100 prior devices fitted on the ND train split; here 30 devices and a held-out target.
    from moohw.knowledge import task_split
    from moohw.metrics import spearman

    X = nb201.enumerate()
    train = task_split(data, "nb201", "ND")["train"]
    sub = X[::8]  # a 1,954-cell sample is enough to fit the prior's few parameters
    know = {
        c: DeviceData(sub, get_device(f"help:{c}", nb201, data).latency_ms(sub)) for c in train
    }
    prior = fit_prior(nb201, know)
    y = get_device("help:fpga", nb201, data).latency_ms(X)
    best = max(spearman(PriorDevice("p", nb201, prior, s).latency_ms(X), y) for s in range(30))
    assert best > 0.9
