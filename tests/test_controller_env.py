import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from moohw.algorithms.controller import ENV_ID, HWNASEnv, register_env

from moohw.devices import get_device
from moohw.proxies import get_proxy
from moohw.spaces import NB201Space

SPACE = NB201Space()


def sampler(rng):
    return get_device(f"synthetic:{int(rng.integers(0, 50))}", SPACE)


@pytest.fixture(scope="module")
def params_proxy():
    return get_proxy("params", SPACE)  # analytic: keeps the test fast and offline


def test_gymnasium_checker_passes(params_proxy):
    env = HWNASEnv(device_sampler=sampler, proxy=params_proxy, episode_len=5)
    check_env(env, skip_render_check=True)


def test_registered_and_makeable(params_proxy):
    register_env()
    env = gym.make(ENV_ID, device=get_device("synthetic:1", SPACE), proxy=params_proxy)
    obs, info = env.reset(seed=0)
    assert info["device"] == "synthetic:1" and obs["cell"].shape == (6,)


def test_step_applies_action_and_reward_formula(params_proxy):
    dev = get_device("synthetic:2", SPACE)
    env = HWNASEnv(device=dev, proxy=params_proxy, episode_len=3, history=2)
    _obs, _ = env.reset(seed=3)
    obs2, r, term, trunc, _info = env.step(3 * 5 + 3)  # edge 3 -> conv3x3
    assert obs2["cell"][3] == 3 and not term and not trunc
    # Oracle: recompute fitness from the definition.
    X = SPACE.enumerate()
    lat = dev.latency_ms(X)
    tf = params_proxy.score(X)
    tf = (tf - tf.min()) / np.ptp(tf)
    pos = SPACE.position(obs2["cell"][None, :])[0]
    nl = (lat[pos] - lat.min()) / np.ptp(lat)
    assert r == pytest.approx(tf[pos] * (1e-3 + nl) ** -0.3 - 1)
    assert obs2["history_actions"][0] == 18 and obs2["history_actions"][1] == 30
    env.step(0)
    *_, trunc = env.step(1)[:4]
    assert trunc  # episode_len 3


def test_resets_are_seeded_and_draw_new_devices(params_proxy):
    env = HWNASEnv(device_sampler=sampler, proxy=params_proxy)
    a = [env.reset(seed=s)[1]["device"] for s in range(6)]
    b = [env.reset(seed=s)[1]["device"] for s in range(6)]
    assert a == b and len(set(a)) > 1
    with pytest.raises(ValueError, match="action"):
        env.step(30)
    with pytest.raises(ValueError, match="device"):
        HWNASEnv(proxy=params_proxy)
