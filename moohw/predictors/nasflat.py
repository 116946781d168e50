"""A NASFLAT-style graph latency predictor (Akhauri & Abdelfattah, "On Latency Predictors for
Neural Architecture Search", MLSys 2024), shrunk to pre-train in under a minute on 2 CPU cores.

Mechanics kept from the paper (PAPERS.md §2): learned operation embeddings concatenated with a
learned 8-d **hardware embedding** per device at every node; a GNN over the architecture graph;
a **pairwise hinge ranking loss** (margin 0.1); AdamW with a cosine schedule; pre-training on the
knowledge devices; transfer by copying the hardware embedding of the knowledge device whose
latency is most Spearman-correlated with the target on the ``k`` samples into the target's slot,
then fine-tuning on the ``k`` samples.

Simplifications (said so that nobody mistakes this for the original): one GNN type (a residual
dense graph-flow layer, forward messages along the DAG, no GAT branch or second pass); a learned
position embedding per node (FBNet's 22 layers are a chain whose layers differ in resolution and
width); a sum readout (latency is close to additive); a 64-wide head instead of 200-200-200; a
fixed number of pre-training steps rather than epochs over every architecture. The ranking loss
gives scores, not milliseconds: predictions are mapped to ms by a non-negative linear fit of the
scores to the ``k`` target samples.

Graphs: NB201 uses the op-as-node form — nodes are the input, the 6 edge ops and the output; the
op on edge ``(i→j)`` receives from the ops on edges ending at node ``i`` (or the input when
``i = 0``) and the output receives from the edges ending at node 3. FBNet is a chain of 22 layer
nodes.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from moohw.metrics import spearman
from moohw.predictors.base import (
    Knowledge,
    LatencyPredictor,
    knowledge_key,
    torch_single_thread,
)
from moohw.predictors.linear import fit_nnls
from moohw.rng import SeedLike, as_generator
from moohw.spaces import SearchSpace


def graph_of(space: SearchSpace) -> tuple[np.ndarray, int]:
    """Normalised adjacency ``(n_nodes, n_nodes)`` (row ``j`` averages the predecessors of ``j``)
    and the number of op types including the special input/output node types."""
    n_ops = int(space.n_choices.max())
    if space.name == "nb201":
        from moohw.spaces import NB201_EDGES

        n = len(NB201_EDGES) + 2  # 0: input, 1..6: edge ops, 7: output
        A = np.zeros((n, n))
        for e, (i, _j) in enumerate(NB201_EDGES):
            if i == 0:
                A[e + 1, 0] = 1.0
            for f, (_a, b) in enumerate(NB201_EDGES):
                if b == i:
                    A[e + 1, f + 1] = 1.0
        for f, (_a, b) in enumerate(NB201_EDGES):
            if b == 3:
                A[n - 1, f + 1] = 1.0
        n_types = n_ops + 2
    else:
        n = space.n_var
        A = np.zeros((n, n))
        A[np.arange(1, n), np.arange(n - 1)] = 1.0
        n_types = n_ops
    deg = A.sum(axis=1, keepdims=True)
    return A / np.where(deg > 0, deg, 1.0), n_types


def node_types(space: SearchSpace, X: np.ndarray) -> np.ndarray:
    """``(n, n_nodes)`` int64 node type ids of architectures ``(n, n_var)``."""
    if space.name == "nb201":
        n_ops = int(space.n_choices.max())
        io = np.full((len(X), 1), n_ops)
        return np.concatenate([io, X, io + 1], axis=1).astype(np.int64)
    return X.astype(np.int64)


class _Net(nn.Module):
    def __init__(
        self,
        A: np.ndarray,
        n_types: int,
        n_hw: int,
        d_op: int,
        d_hw: int,
        hidden: int,
        layers: int,
    ) -> None:
        super().__init__()
        self.register_buffer("A", torch.tensor(A, dtype=torch.float32))
        n_nodes = A.shape[0]
        self.op = nn.Embedding(n_types, d_op)
        self.pos = nn.Embedding(n_nodes, d_op)
        self.hw = nn.Embedding(n_hw, d_hw)
        self.inp = nn.Linear(d_op + d_hw, hidden)
        self.self_lin = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.msg_lin = nn.ModuleList(nn.Linear(hidden, hidden, bias=False) for _ in range(layers))
        self.head = nn.Sequential(nn.Linear(hidden + d_hw, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, types: torch.Tensor, dev: torch.Tensor) -> torch.Tensor:
        """Scores ``(n,)`` for node types ``(n, n_nodes)`` on device slots ``(n,)``."""
        hw = self.hw(dev)  # (n, d_hw)
        pos = self.pos.weight[None, :, :]
        h0 = torch.cat([self.op(types) + pos, hw[:, None, :].expand(-1, types.shape[1], -1)], -1)
        h = torch.relu(self.inp(h0))
        for s, m in zip(self.self_lin, self.msg_lin):
            h = h + torch.relu(s(h) + m(torch.einsum("ij,njh->nih", self.A, h)))
        return self.head(torch.cat([h.sum(dim=1), hw], dim=-1)).squeeze(-1)


def _init(model: nn.Module, g: torch.Generator) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.zero_()
            elif "op." in name or "pos." in name or "hw." in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * math.sqrt(1.0 / p.shape[1]))


def hinge_pairs(
    s: torch.Tensor, y: np.ndarray, n_pairs: int, rng: np.random.Generator, margin: float
) -> torch.Tensor:
    """Mean pairwise hinge loss on random pairs: ``relu(margin - sign(y_i - y_j)(s_i - s_j))``."""
    n = len(y)
    i = rng.integers(0, n, size=n_pairs)
    j = rng.integers(0, n, size=n_pairs)
    sign = np.sign(y[i] - y[j])
    keep = sign != 0  # ties (whole-ms phone columns) carry no order
    if not keep.any():
        return s.sum() * 0.0
    ti, tj = torch.as_tensor(i[keep]), torch.as_tensor(j[keep])
    sg = torch.as_tensor(sign[keep], dtype=s.dtype)
    return torch.relu(margin - sg * (s[ti] - s[tj])).mean()


class NASFLATGNN(LatencyPredictor):
    """Graph predictor with hardware embeddings, pre-trained with a ranking loss.

    Pre-training is cached on the instance, keyed by the knowledge data and the integer seed, so
    refitting the same instance on other targets or budgets only fine-tunes. A Generator seed
    draws a fresh integer each fit and so pre-trains every time: pass an int to reuse it.

    Args:
        space: Search space (NB201 or FBNet-like chains).
        pretrain_steps: Pre-training steps; each samples ``batch`` architectures per device.
        batch: Architectures per knowledge device per step.
        finetune_steps: Fine-tuning steps on all pairs of the target samples.
        lr: AdamW learning rate for pre-training (fine-tuning uses ``lr / 2``).
        margin: Hinge margin.
        hidden: GNN width.
        layers: GNN layers.
    """

    name = "nasflat-gnn"

    def __init__(
        self,
        space: SearchSpace,
        pretrain_steps: int = 800,
        batch: int = 64,
        finetune_steps: int = 60,
        lr: float = 2e-3,
        margin: float = 0.1,
        hidden: int = 32,
        layers: int = 3,
    ) -> None:
        super().__init__(space)
        self.pretrain_steps = int(pretrain_steps)
        self.batch = int(batch)
        self.finetune_steps = int(finetune_steps)
        self.lr = float(lr)
        self.margin = float(margin)
        self.hidden = int(hidden)
        self.layers = int(layers)
        self._cache: tuple[object, _Net, list[str]] | None = None

    def _pretrain(self, knowledge: Knowledge, seed: int) -> tuple[_Net, list[str]]:
        key = (knowledge_key(knowledge), seed)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2]
        names = list(knowledge)
        A, n_types = graph_of(self.space)
        g = torch.Generator().manual_seed(seed)
        rng = np.random.default_rng(seed)
        net = _Net(A, n_types, len(names) + 1, 16, 8, self.hidden, self.layers)
        _init(net, g)
        if names and self.pretrain_steps > 0:
            types = [torch.as_tensor(node_types(self.space, knowledge[n].X)) for n in names]
            ys = [np.asarray(knowledge[n].latency_ms) for n in names]
            opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=1e-4)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.pretrain_steps)
            sizes = [min(self.batch, len(y)) for y in ys]
            dev = torch.cat([torch.full((b,), d, dtype=torch.long) for d, b in enumerate(sizes)])
            bounds = np.r_[0, np.cumsum(sizes)]
            for _ in range(self.pretrain_steps):
                picks = [rng.choice(len(y), size=b, replace=False) for y, b in zip(ys, sizes)]
                s = net(torch.cat([t[b] for t, b in zip(types, picks)]), dev)
                loss = torch.zeros(())
                for d, b in enumerate(picks):
                    seg = s[bounds[d] : bounds[d + 1]]
                    loss = loss + hinge_pairs(seg, ys[d][b], 4 * len(b), rng, self.margin)
                opt.zero_grad()
                (loss / len(names)).backward()
                opt.step()
                sched.step()
        self._cache = (key, net, names)
        return net, names

    def _fit(self, knowledge: Knowledge, X: np.ndarray, y_ms: np.ndarray, seed: SeedLike) -> None:
        with torch_single_thread():
            self._fit_impl(knowledge, X, y_ms, seed)

    def _fit_impl(
        self, knowledge: Knowledge, X: np.ndarray, y_ms: np.ndarray, seed: SeedLike
    ) -> None:
        rng = as_generator(seed)
        int_seed = seed if isinstance(seed, int) else int(rng.integers(2**31 - 1))
        base, names = self._pretrain(knowledge, int(int_seed))
        net = copy.deepcopy(base)
        target = len(names)
        # Transfer: the knowledge device ranking the target samples best lends its embedding.
        self.donor_ = None
        best = -np.inf
        keys = self.space.keys(X)
        for d, n in enumerate(names):
            lookup = dict(zip(self.space.keys(knowledge[n].X), knowledge[n].latency_ms.tolist()))
            if not all(k in lookup for k in keys) or len(y_ms) < 3:
                continue
            rho = spearman(np.array([lookup[k] for k in keys]), y_ms)
            if np.isfinite(rho) and rho > best:
                best, self.donor_ = rho, n
                with torch.no_grad():
                    net.hw.weight[target] = net.hw.weight[d]
        types = torch.as_tensor(node_types(self.space, X))
        dev = torch.full((len(X),), target, dtype=torch.long)
        ii, jj = np.triu_indices(len(y_ms), k=1)
        sign = np.sign(y_ms[ii] - y_ms[jj])
        keep = sign != 0
        if self.finetune_steps > 0 and keep.any():
            ti, tj = torch.as_tensor(ii[keep]), torch.as_tensor(jj[keep])
            sg = torch.as_tensor(sign[keep], dtype=torch.float32)
            opt = torch.optim.AdamW(net.parameters(), lr=self.lr / 2, weight_decay=1e-4)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.finetune_steps)
            for _ in range(self.finetune_steps):
                s = net(types, dev)
                loss = torch.relu(self.margin - sg * (s[ti] - s[tj])).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        net.eval()
        self.net_ = net
        with torch.no_grad():
            s = net(types, dev).double().numpy()
        w, c = fit_nnls(s[:, None], y_ms)
        self.w_, self.c_ = float(w[0]), c

    def _predict(self, X: np.ndarray) -> np.ndarray:
        types = torch.as_tensor(node_types(self.space, X))
        out = np.empty(len(X))
        with torch.no_grad(), torch_single_thread():
            for a in range(0, len(X), 8192):
                t = types[a : a + 8192]
                dev = torch.full((len(t),), len(self.net_.hw.weight) - 1, dtype=torch.long)
                out[a : a + 8192] = self.net_(t, dev).double().numpy()
        return self.w_ * out + self.c_
