import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
torch = pytest.importorskip("torch")

from moohw.algorithms import run_algorithm  # noqa: E402
from moohw.algorithms.optuna_samplers import TORCH_THREADS, torch_threads  # noqa: E402
from moohw.problems import HWNASProblem  # noqa: E402

from moohw.devices import get_device  # noqa: E402
from moohw.proxies import get_proxy  # noqa: E402


def _problem(space, budget):
    device = get_device("synthetic:1", space)
    return HWNASProblem(space, device, get_proxy("params", space), budget)


def test_torch_threads_sets_and_restores_even_on_error():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None):  # None leaves torch as it is
        assert torch.get_num_threads() == before


def test_gp_asks_with_one_torch_thread_and_restores_the_count(nb201, monkeypatch):
    # The GP sampler's model work (sample_relative) runs with one torch thread; the caller's
    # thread count is back afterwards, and TPE (no torch) is left alone.
    assert TORCH_THREADS == {"tpe": None, "gp": 1}
    seen = []
    real = optuna.samplers.GPSampler.sample_relative

    def spy(self, study, trial, space):
        seen.append(torch.get_num_threads())
        return real(self, study, trial, space)

    monkeypatch.setattr(optuna.samplers.GPSampler, "sample_relative", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        r = run_algorithm("optuna-gp", _problem(nb201, 12), seed=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert r.n_target_measurements == 12 and len({x.tobytes() for x in r.X}) == 12
    assert len(seen) >= 12 and set(seen) == {1}


@pytest.mark.slow  # torch with 2 threads on a loaded 2-core machine: ~50 s
def test_gp_run_is_the_same_with_one_or_two_torch_threads(nb201, monkeypatch):
    # The thread limit is a speed setting only: with it switched off (torch's own count of 2)
    # the same seed measures the same architectures in the same order.
    from moohw.algorithms import optuna_samplers

    one = run_algorithm("optuna-gp", _problem(nb201, 14), seed=2)
    monkeypatch.setitem(optuna_samplers.TORCH_THREADS, "gp", None)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        two = run_algorithm("optuna-gp", _problem(nb201, 14), seed=2)
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(one.X, two.X) and np.array_equal(one.F, two.F)
