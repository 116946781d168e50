"""The controller: in-context latency model, EHVI, policy, pre-training, deployment."""

from __future__ import annotations

import numpy as np
import pytest
from moohw.algorithms import search
from moohw.algorithms.controller import SHIPPED, load_prior, pretrain
from moohw.algorithms.controller.incontext import (
    InContextLatency,
    LatencyPrior,
    cell_features,
    ehvi_2d,
    hvi_2d,
)
from moohw.algorithms.controller.policy import ProbeState, ScoringPolicy, choose
from moohw.algorithms.controller.train import fit_latency_prior, run_episode, synthetic_latencies

from moohw.devices import get_device
from moohw.devices.base import Device
from moohw.devices.prior import PriorDevice
from moohw.metrics import hypervolume, non_dominated, spearman
from moohw.proxies import get_proxy
from moohw.spaces import NB201Space

SPACE = NB201Space()
X_ALL = SPACE.enumerate()


@pytest.fixture(scope="module")
def prior():  # type: ignore[no-untyped-def]
    return load_prior()


@pytest.fixture(scope="module")
def latency_prior(prior):  # type: ignore[no-untyped-def]
    return fit_latency_prior(prior, n_devices=60)


def test_hvi_matches_hypervolume_difference() -> None:
    rng = np.random.default_rng(0)
    F = rng.random((12, 2))
    front = F[non_dominated(F)]
    ref = (1.1, 1.2)
    pts = rng.random((30, 2))
    base = hypervolume(front, np.array(ref))
    want = [hypervolume(np.vstack([front, p]), np.array(ref)) - base for p in pts]
    np.testing.assert_allclose(hvi_2d(pts[:, 0], pts[:, 1], front, ref), want, atol=1e-12)


def test_ehvi_matches_monte_carlo() -> None:
    rng = np.random.default_rng(1)
    front = np.array([[0.1, 0.8], [0.3, 0.5], [0.6, 0.2]])
    ref = (1.0, 1.0)
    f1 = np.array([0.05, 0.2, 0.5, 0.9])
    mean, std = np.array([0.7, 0.4, 0.3, 0.1]), np.array([0.1, 0.2, 0.05, 0.3])
    draws = mean[None, :] + std[None, :] * rng.standard_normal((40_000, 4))
    mc = np.mean([hvi_2d(f1, d, front, ref) for d in draws[:4000]], axis=0)
    exact = ehvi_2d(f1, mean, std, front, ref)
    np.testing.assert_allclose(exact, mc, rtol=0.05, atol=2e-4)
    # Empty front: the expected volume of the point alone.
    assert ehvi_2d(np.array([0.0]), np.array([0.5]), np.array([1e-9]), np.zeros((0, 2)), ref)[
        0
    ] == pytest.approx(0.5, rel=1e-6)


def test_latency_prior_needs_two_devices() -> None:
    Phi = cell_features(SPACE, X_ALL[:50])
    with pytest.raises(ValueError, match="at least two"):
        LatencyPrior.from_latencies(Phi, [np.ones(50)])


def test_in_context_model_learns_a_device_from_probes(prior, latency_prior) -> None:  # type: ignore[no-untyped-def]
    dev = PriorDevice("t", SPACE, prior, seed=424242)
    lat = dev.latency_ms(X_ALL)
    model = InContextLatency(latency_prior, cell_features(SPACE, X_ALL))
    mean0, _ = model.posterior(np.zeros(0, int), np.zeros(0))
    idx = np.random.default_rng(0).choice(len(X_ALL), 30, replace=False)
    mean, std = model.posterior(idx, lat[idx])
    assert spearman(mean, lat) > max(0.95, spearman(mean0, lat))
    # Probes are fitted closely, and the scale is learned (ms, not normalised units).
    assert np.median(np.abs(mean[idx] / lat[idx] - 1)) < 0.05
    assert np.all(std > 0)


def test_probe_state_refuses_a_second_measurement(latency_prior) -> None:  # type: ignore[no-untyped-def]
    model = InContextLatency(latency_prior, cell_features(SPACE, X_ALL))
    st = ProbeState(model, np.linspace(0, 1, len(X_ALL)), budget=5)
    st.observe(3, 1.0)
    with pytest.raises(ValueError, match="already measured"):
        st.observe(3, 1.0)


def test_policy_beats_random_on_synthetic_devices(prior, latency_prior) -> None:  # type: ignore[no-untyped-def]
    proxy = get_proxy("tuned", SPACE).score(X_ALL)
    model = InContextLatency(latency_prior, cell_features(SPACE, X_ALL))
    policy = ScoringPolicy()
    from moohw.algorithms.controller.train import proxy_hv_ratio

    ours, rand = [], []
    f1 = (proxy.max() - proxy) / np.ptp(proxy)
    for s, lat in enumerate(synthetic_latencies(prior, [777_000 + i for i in range(4)])):
        _, hv = run_episode(policy, model, proxy, lat, budget=10)
        ours.append(hv)
        picks = np.random.default_rng(s).choice(len(X_ALL), 10, replace=False)
        rand.append(proxy_hv_ratio(f1, lat, picks))
    assert min(ours) > 0.8
    assert np.mean(ours) > np.mean(rand) + 0.2


def test_choose_is_greedy_without_rng_and_samples_with_it(latency_prior) -> None:  # type: ignore[no-untyped-def]
    model = InContextLatency(latency_prior, cell_features(SPACE, X_ALL))
    proxy = get_proxy("tuned", SPACE).score(X_ALL)
    st = ProbeState(model, proxy, budget=10)
    a, _ = choose(ScoringPolicy(), st)
    b, _ = choose(ScoringPolicy(), st)
    assert a == b
    picks = {choose(ScoringPolicy(alpha=0.0), st, np.random.default_rng(i))[0] for i in range(8)}
    assert len(picks) > 1  # a flat policy samples different candidates


class _Counting(Device):
    """Wraps a tabular device and counts the architectures whose latency is read."""

    kind = "synthetic"
    exact = True

    def __init__(self, inner: Device) -> None:
        super().__init__(inner.name, inner.space)
        self.inner = inner
        self.read = 0

    def _latency_ms(self, X: np.ndarray) -> np.ndarray:
        self.read += len(X)
        return self.inner.latency_ms(X)


def _run(algo: str, dev: Device, budget: int, seed: int = 0, **options: object):  # type: ignore[no-untyped-def]
    from moohw.algorithms.api import run_algorithm
    from moohw.problems import HWNASProblem

    problem = HWNASProblem(SPACE, dev, get_proxy("tuned", SPACE), budget=budget)
    return run_algorithm(algo, problem, seed, dict(options))


def test_controller_reads_only_what_it_measures() -> None:
    dev = _Counting(get_device("synthetic:3", SPACE))
    r = _run("controller", dev, budget=12)
    assert r.n_target_measurements == 12
    assert dev.read == 12  # the target's table is never looked at
    assert len(r.front) >= 3


def test_controller_is_deterministic_and_respects_the_budget() -> None:
    a = search("controller", "synthetic:5", budget=8, seed=1, proxy="tuned")
    b = search("controller", "synthetic:5", budget=8, seed=1, proxy="tuned")
    assert a.n_target_measurements == 8
    np.testing.assert_array_equal(a.X, b.X)


def test_controller_rejects_other_spaces() -> None:
    with pytest.raises((ValueError, KeyError)):
        search("controller", "synthetic:0", budget=5, space="fbnet", proxy="params")


def test_controller_beats_random_on_synthetic_devices() -> None:
    from moohw.metrics import Scorer

    wins = 0
    for s in range(3):
        dev = get_device(f"synthetic:{10 + s}", SPACE)
        proxy = get_proxy("tuned", SPACE).score(X_ALL)
        scorer = Scorer(proxy, dev.latency_ms(X_ALL))
        ours = _run("controller", dev, budget=10)
        rnd = _run("random", dev, budget=10, seed=s)
        hv = [scorer.score(-r.front_F[:, 0], r.front_F[:, 1]).hv_ratio for r in (ours, rnd)]
        wins += hv[0] > hv[1]
    assert wins == 3


def test_shipped_checkpoints_record_their_knowledge_devices() -> None:
    import json

    for variant in ("default", "faithful"):
        meta = json.loads((SHIPPED / f"{variant}.json").read_text())
        assert meta["knowledge_devices"], variant
        assert not any("titan_rtx" in d or "edgegpu" in d for d in meta["knowledge_devices"])


def test_pretrain_validates_its_arguments(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="variant"):
        pretrain("nope", out=tmp_path)
    with pytest.raises(ValueError, match="steps"):
        pretrain("default", steps=0, out=tmp_path)


def test_pretrain_default_and_deploy_from_the_new_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = pretrain("default", steps=2, seed=3, out=tmp_path)
    assert path.is_file() and (tmp_path / "default.json").is_file()
    r = search(
        "controller",
        "synthetic:1",
        budget=6,
        proxy="tuned",
        options={"checkpoint": str(tmp_path)},
    )
    assert r.n_target_measurements == 6
    assert r.info["checkpoint"] == str(tmp_path)


def test_faithful_controller_walks_and_spends_the_budget(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("stable_baselines3")
    pretrain("faithful", steps=128, seed=0, out=tmp_path)
    dev = _Counting(get_device("synthetic:2", SPACE))
    r = _run("controller-faithful", dev, budget=7, checkpoint=str(tmp_path))
    assert r.n_target_measurements == 7
    assert dev.read == 7
    # Each new cell is reached by at least one mutation of the walk (or filled at random).
    assert r.info["walk_steps"] + r.info["random_fill"] >= 6


def test_missing_checkpoint_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError, match="pretrain controller"):
        search("controller", "synthetic:0", budget=3, options={"checkpoint": str(tmp_path)})


def test_pretraining_is_reproducible(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import torch

    a = pretrain("default", steps=2, seed=7, out=tmp_path / "a")
    b = pretrain("default", steps=2, seed=7, out=tmp_path / "b")
    c = pretrain("default", steps=2, seed=8, out=tmp_path / "c")
    wa, wb, wc = (torch.load(p, weights_only=True)["policy"] for p in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_controller_on_a_users_csv_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    X = SPACE.sample(300, np.random.default_rng(0))
    lat = get_device("synthetic:4", SPACE).latency_ms(X)
    f = tmp_path / "lat.csv"
    pd.DataFrame({"arch_str": SPACE.to_str(X), "ms": lat}).to_csv(f, index=False)
    r = search("controller", f"csv:{f}:ms", budget=9, proxy="tuned")
    assert r.n_target_measurements == 9
    assert r.restricted_to == 300
    keys = set(SPACE.keys(X))
    assert all(k in keys for k in SPACE.keys(r.X))  # only cells the table covers
