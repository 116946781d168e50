"""moohw's default controller: a probe-conditioned policy that chooses which cell to measure next.

Sim-is-More's controller mutates one cell at a time and is rewarded for a single good network;
users need a *front*. This policy instead looks at every unmeasured candidate in the light of the
probes taken so far and picks the next one to measure:

- the in-context state is the set of probes (cells and measured latency), summarised by the
  meta-learned Bayesian latency model of :mod:`~moohw.algorithms.controller.incontext` (posterior
  mean and std of every candidate's latency) and by the current declared front;
- each candidate gets :data:`N_FEATURES` features (expected and plug-in hypervolume improvement,
  probability of improving, relative uncertainty, proxy score, predicted latency, budget spent);
- a small MLP scores them; a softmax over the best :data:`TOP_M` candidates by EHVI is the
  policy (greedy at deployment);
- it is pre-trained by REINFORCE on synthetic devices (drawn from the prior fitted on knowledge
  devices) with the hypervolume of the declared front — in (proxy, latency) — as the return, i.e.
  the sum of per-step hypervolume gains.

Adaptation is in context only: the weights never change at deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from moohw.algorithms.controller.incontext import (
    InContextLatency,
    attainment_steps,
    ehvi_2d,
    hvi_2d,
)
from scipy.special import ndtr
from torch import nn

from moohw.metrics import non_dominated

N_FEATURES = 8
TOP_M = 128
#: Reference point of the proxy axis: the proxy's 15th percentile (as the score's accuracy axis).
REF_QUANTILE = 0.15


class ScoringPolicy(nn.Module):
    """Per-candidate scorer: a linear term plus a small MLP (zero-initialised last layer).

    Initialised to ``alpha * log EHVI``, i.e. greedy expected-hypervolume improvement; training
    moves it away from greedy only where the returns say so.
    """

    def __init__(self, hidden: int = 32, alpha: float = 8.0, seed: int | None = None) -> None:
        super().__init__()
        self.linear = nn.Linear(N_FEATURES, 1)
        self.mlp = nn.Sequential(
            nn.Linear(N_FEATURES, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
        )
        self.head = nn.Linear(hidden, 1)
        if seed is not None:  # torch's default initialisation, drawn from a private generator
            g = torch.Generator().manual_seed(seed)
            for layer in (self.linear, self.mlp[0], self.mlp[2], self.head):
                assert isinstance(layer, nn.Linear)
                nn.init.kaiming_uniform_(layer.weight, a=5**0.5, generator=g)
                bound = 1.0 / layer.in_features**0.5
                nn.init.uniform_(layer.bias, -bound, bound, generator=g)
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.zero_()
            self.linear.weight[0, 0] = alpha  # feature 0 is the scaled log-EHVI
            self.head.weight.zero_()
            self.head.bias.zero_()

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Scores ``(..., M)`` for features ``(..., M, N_FEATURES)``."""
        return (self.linear(feats) + self.head(self.mlp(feats))).squeeze(-1)


@dataclass
class Step:
    """What the policy saw at one decision (for training)."""

    feats: np.ndarray  # (M, N_FEATURES)
    choice: int  # index into feats


class ProbeState:
    """The in-context state of one search: candidates, proxy, probes, and the latency posterior.

    Args:
        model: The in-context latency model over the candidates.
        proxy: Accuracy-proxy score of every candidate (higher is better).
        budget: Number of target measurements the search may take.
    """

    def __init__(self, model: InContextLatency, proxy: np.ndarray, budget: int) -> None:
        self.model = model
        self.n = len(proxy)
        lo, hi = float(np.min(proxy)), float(np.max(proxy))
        self.f1 = (hi - proxy) / max(hi - lo, 1e-12)  # minimised, in [0, 1]
        self.r1 = float(np.quantile(self.f1, 1 - REF_QUANTILE))
        self.budget = max(int(budget), 1)
        self.idx: list[int] = []
        self.lat: list[float] = []
        self.measured = np.zeros(self.n, dtype=bool)

    def observe(self, i: int, latency_ms: float) -> None:
        """Record a probe of candidate ``i``."""
        if self.measured[i]:
            raise ValueError(f"candidate {i} was already measured")
        self.idx.append(int(i))
        self.lat.append(float(latency_ms))
        self.measured[i] = True

    def features(self) -> tuple[np.ndarray, np.ndarray]:
        """``(cand, feats)``: the top-M unmeasured candidates by EHVI and their features."""
        idx = np.array(self.idx, dtype=np.int64)
        mean, std = self.model.posterior(idx, np.array(self.lat))
        scale = max(float(mean.max()), float(max(self.lat, default=0.0)), 1e-12)
        m, s = mean / scale, std / scale
        ref = (self.r1, 1.0)
        if len(idx):
            F = np.column_stack([self.f1[idx], np.array(self.lat) / scale])
            front = F[non_dominated(F)]
        else:
            front = np.zeros((0, 2))
        free = np.flatnonzero(~self.measured)
        e = ehvi_2d(self.f1[free], m[free], s[free], front, ref)
        top = free[np.argsort(-e, kind="stable")[:TOP_M]]
        e_top = e[np.argsort(-e, kind="stable")[:TOP_M]]
        emax = max(float(e_top.max()), 1e-12) if len(e_top) else 1.0
        plug = hvi_2d(self.f1[top], m[top], front, ref)
        # Probability of improving: latency below the attainment height at the candidate's f1.
        h = hvi_height(self.f1[top], front, ref)
        z = (h - m[top]) / np.maximum(s[top], 1e-12)
        pi = ndtr(z)
        t = len(idx) / self.budget
        feats = np.column_stack(
            [
                np.log(np.maximum(e_top, 1e-12) / emax) / 10.0,
                e_top / emax,
                plug / emax,
                pi,
                s[top] / np.maximum(m[top], 1e-6),
                1.0 - self.f1[top],
                m[top],
                np.full(len(top), t),
            ]
        ).astype(np.float32)
        return top, feats


def hvi_height(f1: np.ndarray, front: np.ndarray, ref: tuple[float, float]) -> np.ndarray:
    """Attainment height ``(N,)`` of the ``(m, 2)`` front at each ``f1`` ``(N,)``.

    ``ref[1]`` where nothing dominates.
    """
    edges, heights = attainment_steps(front, ref)
    k = np.searchsorted(edges, f1, side="right") - 1
    out = np.full(len(f1), ref[1], dtype=float)
    ok = (k >= 0) & (k < len(heights))
    out[ok] = heights[k[ok]]
    return out


def choose(
    policy: ScoringPolicy,
    state: ProbeState,
    rng: np.random.Generator | None = None,
) -> tuple[int, Step]:
    """The policy's next candidate (greedy without ``rng``, sampled with it)."""
    cand, feats = state.features()
    if len(cand) == 0:
        raise ValueError("no unmeasured candidate left")
    with torch.no_grad():
        logits = policy(torch.from_numpy(feats)).numpy().astype(float)
    if rng is None:
        j = int(np.argmax(logits))
    else:
        p = np.exp(logits - logits.max())
        p /= p.sum()
        j = int(rng.choice(len(p), p=p))
    return int(cand[j]), Step(feats, j)
