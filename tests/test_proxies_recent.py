"""MeCo, ZiCo, SWAP, Zen-score and AZ-NAS (issue 16 item 1): definitions and determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from moohw.errors import InputError
from moohw.proxies import get_proxy
from moohw.proxies.analytic import nb201_flops, nb201_params
from moohw.proxies.assembled import AZNASProxy, SwapProxy
from moohw.proxies.kernels import score_cells, score_cells_many
from moohw.proxies.recent import (
    FORWARD,
    UNTRAINABLE,
    az_trainability,
    entropy_of_covariance,
    forward_scores,
    meco,
    swap,
    zico,
)
from moohw.proxies.scores import loss_grad_scores
from moohw.spaces import NB201Space
from moohw.spaces.nb201 import NB201_OPS

SPACE = NB201Space()
NEW = ["meco", "zico", "swap_raw", "zen", "az_expressivity", "az_progressivity", "az_trainability"]
KERNEL = {"swap_raw": "swap"}
# Cheap cells (one or no conv); the second has every edge none (no path to the output).
CHEAP = np.array([[1, 2, 4, 1, 0, 0], [0, 0, 0, 0, 0, 0]])


@pytest.fixture(autouse=True)
def _one_torch_thread():  # type: ignore[no-untyped-def]
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("name", NEW)
def test_new_proxies_are_deterministic_and_seeded(name: str) -> None:
    k = KERNEL.get(name, name)
    a = score_cells(k, CHEAP[:1])
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, score_cells(k, CHEAP[:1]))
    p = get_proxy(name, SPACE, "cifar100")
    s = p.score(CHEAP)
    assert s.shape == (2,) and np.isfinite(s).all()
    one_conv = np.array([[0, 0, 0, 2, 0, 0]])  # CHEAP[0]'s cell is the identity
    if name != "zen":  # the others read the seeded weights or the seeded batch
        assert score_cells(k, one_conv, seed=5)[0] != score_cells(k, one_conv)[0]
    else:  # Zen re-draws weights and inputs from a fixed generator (the paper's N(0, 1) init)
        assert score_cells(k, one_conv, seed=5)[0] == score_cells(k, one_conv)[0]


def test_zen_grows_with_depth_under_the_papers_init() -> None:
    # Zen-NAS's BN term sums log std of every BN input; with N(0, 1) weights each conv scales the
    # variance up by its fan-in, so more convolutions score higher. Under PyTorch's default init
    # the sign flips, which made Zen rank NB201 cells against their accuracy (rho -0.31).
    conv = NB201_OPS.index("nor_conv_3x3")
    one, many = np.zeros((1, 6), dtype=int), np.full((1, 6), conv)
    one[0, 0] = one[0, 2] = one[0, 5] = conv  # a chain of three convs, nothing else
    assert score_cells("zen", many)[0] > score_cells("zen", one)[0]


def _codes_net() -> tuple[nn.Module, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 1), nn.ReLU())
    for p in net.parameters():
        with torch.no_grad():
            p.copy_(torch.randn(p.shape, generator=g))
    return net, torch.randn(6, 3, 5, 5, generator=g)


def test_swap_counts_distinct_activation_patterns() -> None:
    net, x = _codes_net()
    h1 = net[1](net[0](x)) > 0
    h2 = net[3](net[2](net[1](net[0](x)))) > 0
    cols = torch.cat([h1.flatten(1), h2.flatten(1)], dim=1).T  # (units, B) patterns
    brute = len({tuple(c.tolist()) for c in cols})
    assert swap(net, x) == brute
    assert 1 < brute < cols.shape[0]


def test_meco_is_the_sum_of_min_correlation_eigenvalues() -> None:
    net, x = _codes_net()
    feats = [net[0](x)]
    feats.append(net[1](feats[-1]))
    feats.append(net[2](feats[-1]))
    feats.append(net[3](feats[-1]))  # the Sequential's own output repeats the last one
    feats.append(feats[-1])
    ref = 0.0
    for f in feats:
        c = np.nan_to_num(np.corrcoef(f[0].detach().flatten(1).double().numpy()))
        ref += float(np.linalg.eigvalsh(c)[0])
    # moohw runs the batch in channels-last memory: equal to float32 rounding, not bitwise
    assert meco(net, x) == pytest.approx(ref, rel=1e-6, abs=1e-9)


class _Fork(nn.Module):
    """Two ReLUs read one tensor (edges leaving one NB201 node); then an in-place change."""

    def __init__(self, bump: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.a, self.b, self.c = nn.ReLU(), nn.ReLU(), nn.ReLU()
        self.bump = bump

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        y = self.a(h) + self.b(h)  # equal outputs: one SWAP set, two MeCo terms
        if self.bump:
            h.sub_(0.3)  # in place: c's output differs from a's although its input is h
        return y + self.c(h)


def _brute(net: nn.Module, x: torch.Tensor) -> tuple[float, int]:
    """MeCo and SWAP from every module output, copied when produced, without any shortcut."""
    outs: list[tuple[nn.Module, torch.Tensor]] = []
    handles = [
        m.register_forward_hook(lambda m, i, o: outs.append((m, o.detach().clone())))
        for m in net.modules()
    ]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    meco_ref, patterns = 0.0, set()
    for m, o in outs:
        if o.ndim == 4 and o.shape[1] >= 2:
            c = np.nan_to_num(np.corrcoef(o[0].flatten(1).double().numpy()))
            meco_ref += float(np.linalg.eigvalsh(c)[0])
        if isinstance(m, nn.ReLU):
            patterns |= {tuple(col.tolist()) for col in (o > 0).flatten(1).T}
    return meco_ref, len(patterns)


@pytest.mark.parametrize("bump", [False, True])
def test_shared_relu_inputs_are_counted_once_for_swap_and_each_time_for_meco(bump: bool) -> None:
    torch.manual_seed(0)
    net = _Fork(bump)
    x = torch.randn(40, 3, 6, 6, generator=torch.Generator().manual_seed(2))  # 40 bits: 8 bytes
    got = forward_scores(net, x, ("meco", "swap"))
    meco_ref, swap_ref = _brute(net, x)
    assert got["swap"] == swap_ref
    assert got["meco"] == pytest.approx(meco_ref, rel=1e-6, abs=1e-9)
    with pytest.raises(InputError, match="<= 64"):
        forward_scores(net, torch.zeros(65, 3, 6, 6), ("swap",))


def test_one_forward_pass_gives_each_proxys_own_score() -> None:
    X = np.array([[0, 0, 0, 2, 0, 0], [3, 1, 2, 4, 3, 1]])
    together = score_cells_many(FORWARD, X)
    for name in FORWARD:
        np.testing.assert_array_equal(together[name][0], score_cells(name, X))
        assert together[name][1] > 0
    assert len(set(FORWARD)) == 4 and np.isfinite(together["meco"][0]).all()
    with pytest.raises(ValueError, match="not forward-pass"):
        forward_scores(nn.Identity(), torch.zeros(2, 3, 4, 4), ["zico"])


def test_snip_and_grad_norm_share_one_backward_pass() -> None:
    X = np.array([[0, 0, 0, 2, 0, 0], [3, 1, 2, 4, 3, 1]])
    together = score_cells_many(("grad_norm", "snip", "meco"), X)
    assert list(together) == ["grad_norm", "snip", "meco"]
    for name in ("snip", "grad_norm", "meco"):
        np.testing.assert_array_equal(together[name][0], score_cells(name, X))
    assert together["snip"][0][1] != together["grad_norm"][0][1]
    with pytest.raises(ValueError, match="not loss-gradient"):
        loss_grad_scores(nn.Identity(), torch.zeros(2, 3), torch.zeros(2), ("meco",))


def test_zico_matches_its_formula_on_a_linear_model() -> None:
    g = torch.Generator().manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3, bias=False))
    x, y = torch.randn(8, 3, 2, 2, generator=g), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    grads = []
    for part in (slice(0, 4), slice(4, 8)):
        net.zero_grad()
        nn.functional.cross_entropy(net(x[part]), y[part]).backward()
        grads.append(net[1].weight.grad.flatten().double().clone())
    gs = torch.stack(grads)
    ref = math.log(float((gs.abs().mean(0) / gs.std(0, unbiased=False)).sum()))
    assert zico(net, x, y) == pytest.approx(ref, rel=1e-9)


def test_expressivity_entropy_is_log_channels_for_isotropic_features() -> None:
    f = torch.randn(64, 8, 16, 16, generator=torch.Generator().manual_seed(0))
    assert entropy_of_covariance(f) == pytest.approx(math.log(8), abs=2e-3)
    f[:, 1:] = 0.0  # one direction only
    assert entropy_of_covariance(f) == pytest.approx(0.0, abs=1e-9)


def test_trainability_follows_the_authors_definition() -> None:
    class Toy(nn.Module):
        def __init__(self, scale: float) -> None:
            super().__init__()
            self.stem = nn.Identity()
            self.cells = nn.Sequential(*[_Scale(scale) for _ in range(3)])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.cells(self.stem(x))

    x = torch.randn(64, 3, 16, 16)
    # blocks that pass gradients unchanged: the authors' -inf
    assert az_trainability(Toy(1.0), x) == UNTRAINABLE
    # g_in = 2 g_out, so E[g_in g_out^T] = 2 E[g_out g_out^T] ~ 2 I: s ~ 2, score ~ 2 - 2 - 1/2
    assert az_trainability(Toy(2.0), x) == pytest.approx(-0.5, abs=0.05)
    assert az_trainability(Toy(2.0), x) < az_trainability(Toy(1.25), x) < 0.0
    # a reduction block is compared after folding 2x2 positions into channels
    pooled = Toy(1.0)
    pooled.cells = nn.Sequential(nn.AvgPool2d(2))
    assert az_trainability(pooled, x) == pytest.approx(2 - 0.5 - 2, abs=0.05)  # s = |(1/4,)*4|


class _Scale(nn.Module):
    def __init__(self, s: float) -> None:
        super().__init__()
        self.s = s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.s * x


def test_swap_regulariser_prefers_the_target_size() -> None:
    p = SwapProxy(SPACE, "cifar100")
    raw = p.raw.score(CHEAP)
    reg = np.exp(-((nb201_params(CHEAP, "cifar100") - p.mu) ** 2) / p.sigma)
    np.testing.assert_allclose(p.score(CHEAP), raw * reg)
    assert (reg > math.exp(-1) - 1e-12).all() and (reg <= 1).all()


def test_aznas_sums_log_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    X = SPACE.from_position(np.array([3, 100, 2000, 9000]))
    ds = "imagenet16"  # no shipped AZ-NAS tables for this shape (CIFAR-10/100 have them)
    p = AZNASProxy(SPACE, ds)
    cols = [q.score(X) for q in p.parts] + [nb201_flops(X, ds)]
    with pytest.warns(UserWarning, match="ranks are taken among the scored cells"):
        s = p.score(X)
    from scipy.stats import rankdata

    np.testing.assert_allclose(s, sum(np.log(rankdata(c) / 4) for c in cols))
    # With whole-space components (here: stand-in tables), ranks are against the space.
    rng = np.random.default_rng(0)
    for q in p.parts:
        monkeypatch.setattr(q, "table", rng.normal(size=SPACE.size))
    full = [q.table for q in p.parts] + [nb201_flops(SPACE.enumerate(), ds)]
    pos = SPACE.position(X)
    ref = sum(np.log(rankdata(f)[pos] / SPACE.size) for f in full)
    got = p.score(X)
    np.testing.assert_allclose(got, ref)
    np.testing.assert_allclose(p.score(X[::-1]), got[::-1])
