"""Recent training-free proxies (2021-2024), moohw's own torch code on the NB201 network.

Each kernel takes a freshly initialised network (seeded per cell, :mod:`moohw.proxies.kernels`)
and returns a float, higher is better. The data each one sees is stated; all are deterministic
(seeded weights, fixed batch, fixed Gaussian draws from a private generator).

- **MeCo** — Jiang et al., "Zero-shot NAS via the Minimum Eigenvalue of Pearson Correlation",
  NeurIPS 2023. Every module whose output is a feature map contributes the smallest eigenvalue
  of the C×C Pearson correlation between channels (over the H·W positions) of the *first image*
  of the batch; NaN/inf correlations count 0; the score is the sum. Data: the default batch
  (BatchNorm uses its statistics), first image read.
- **ZiCo** — Li et al., "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on
  Gradients", ICLR 2023. The batch is split in two halves; for each Conv2d/Linear layer, with
  the two cross-entropy gradients of every weight, ``log Σ mean|g| / std(g)`` over weights whose
  std is non-zero; summed over layers. Data: the default batch (2 × 16 images, its labels).
- **SWAP** — Peng et al., "SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS",
  ICLR 2024. Every ReLU output unit (channel × position) has a sample-wise pattern: the B bits
  ``out > 0`` over the batch; SWAP is the number of distinct patterns among all units of the
  network. The regularised score multiplies it by ``exp(-(P - mu)^2 / sigma)`` of the parameter
  count P (millions); the paper tunes mu and sigma to a target size per space; moohw uses
  mu = the largest NB201 model and sigma = the squared range of model sizes of the space (a
  choice made without accuracy data). Data: the default batch (B = 32, one bit each).
- **Zen-score** — Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Image
  Recognition", ICCV 2021. ``log ||f(x) - f(x + 0.01 eps)||_F`` (mean over the batch) of the
  pre-pooling feature map (output of the last cell stage) for Gaussian ``x`` and ``eps``, plus
  ``Σ log sqrt(mean channel variance)`` of the inputs of every BatchNorm (train mode). Data:
  16 standard-normal images from ``torch.Generator`` seed 0 (data-free). As in the paper, the
  weights are re-drawn from N(0, 1) first (conv and linear; biases 0, BatchNorm affine 1 / 0),
  from the same generator: the score does not depend on the cell's seeded init. With PyTorch's
  default init instead, the BN term flips sign and Zen ranks NB201 cells *inversely* to their
  accuracy (ρ -0.31 over all cells, benchmarks/RESULTS.md). One draw, not 32.
- **AZ-NAS** — Lee & Ham, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture
  Search", CVPR 2024. Primary blocks are the stem and the 17 entries of the cell stack.
  *Expressivity*: Σ over blocks of the entropy of the normalised eigenvalues of the channel
  covariance of the block's output (positions and images as samples). *Progressivity*: the
  smallest increase of that per-block entropy from one block to the next. *Trainability*:
  ``-mean_l (s_l + 1/s_l - 2)`` with ``s_l`` the RMS singular value of block l's Jacobian,
  ``||J^T v|| / ||v|| · sqrt(n_out / n_in)`` for a Gaussian ``v`` (seed 0). *Complexity*:
  FLOPs (:func:`moohw.proxies.analytic.nb201_flops`). The assembled score is
  ``Σ_m log(rank_m / N)`` (:class:`moohw.proxies.assembled.AZNASProxy`). Data: the default batch.
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from moohw.errors import InputError
from moohw.proxies.scores import channels_last


@contextmanager
def _hooked(modules: Iterable[nn.Module], hook: Callable[..., Any]) -> Iterator[None]:
    """Forward ``hook`` registered on every module of ``modules`` for the block, then removed."""
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


_WEIGHTED = (nn.Conv2d, nn.Linear)
#: AZ-NAS trainability of a cell with a block that passes gradients unchanged or not at all
#: (the authors' -inf, kept finite for the tables); a block's own score is 2 - s - 1/s.
UNTRAINABLE = -1e3
ZEN_ALPHA = 0.01
ZEN_BATCH = 16


def _redraw_weights(
    net: nn.Module,
    g: torch.Generator,
    kinds: tuple[type[nn.Conv2d] | type[nn.Linear], ...],
    fan_in_gain: float | None,
) -> None:
    """Re-draw the weights of ``kinds`` modules from ``g``, in module order, as a paper says.

    Weights are N(0, 1) (``fan_in_gain=None``) or N(0, gain / fan-in); biases 0; BatchNorm affine
    (1, 0).
    """
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, kinds):
                w = torch.randn(m.weight.shape, generator=g)
                if fan_in_gain is not None:
                    w *= math.sqrt(fan_in_gain / m.weight[0].numel())
                m.weight.copy_(w)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()


#: Kernels computed together by one forward pass (:func:`forward_scores`).
FORWARD = ("meco", "swap", "az_expressivity", "az_progressivity")


def forward_scores(net: nn.Module, x: torch.Tensor, names: Iterable[str]) -> dict[str, float]:
    """Score ``net`` with every proxy of ``names`` (a subset of :data:`FORWARD`) in one pass.

    One no-grad forward with the hooks of all of them: whole-space tables of the four proxies
    cost one forward per cell, not four. The batch is put in channels-last memory (NB201's
    3x3 average pooling runs 5-9x faster there on CPU; values equal the NCHW ones to float32
    rounding). Work that cannot change a score is skipped, leaving the definitions unchanged:

    - an output that is a tensor already seen (a Sequential returning its last child's
      output, an Identity) or the output of a ReLU whose input another ReLU already read
      (edges leaving the same NB201 node) repeats that MeCo term: its spectrum is computed
      once and counted as often as it occurs;
    - such a ReLU adds no SWAP pattern that is not already in the set;
    - correlations and spectra are computed in batches per shape; the B bits of a unit are
      packed into one unsigned integer (bytes of 8 samples, bitwise), and distinct codes are
      counted after one sort.
    """
    wanted = set(names)
    unknown = wanted - set(FORWARD)
    if unknown:
        raise ValueError(f"not forward-pass proxies: {sorted(unknown)}; known: {FORWARD}")
    b = x.shape[0]
    if "swap" in wanted and b > 64:
        raise InputError(f"SWAP packs a unit's pattern in 64 bits: batch must be <= 64, got {b}")
    maps: dict[tuple[int, ...], list[torch.Tensor]] = {}  # first-image maps by shape
    counts: dict[tuple[int, ...], list[int]] = {}  # how often each map occurs
    seen: dict[int, tuple[Any, ...]] = {}  # output -> (its ref, version, shape key, index)
    relu_in: dict[int, tuple[Any, ...]] = {}  # ReLU input -> (ref, version, ReLU output)
    codes: list[np.ndarray] = []
    block_outs: list[torch.Tensor] = []
    az = wanted & {"az_expressivity", "az_progressivity"}
    blocks = {id(m) for m in _blocks(net)} if az else set()

    def same(table: dict[int, tuple[Any, ...]], t: torch.Tensor | None) -> tuple[Any, ...] | None:
        """The entry of ``t`` if it is that very tensor, unmodified since (weakref, version)."""
        entry = None if t is None else table.get(id(t))
        ok = entry is not None and entry[0]() is t and entry[1] == t._version
        return entry if ok else None

    def hook(m: nn.Module, inp: tuple[torch.Tensor, ...], out: object) -> None:
        if not isinstance(out, torch.Tensor):
            return
        twin = None  # an earlier ReLU that read this ReLU's very input: equal outputs
        is_relu = isinstance(m, nn.ReLU) and not getattr(m, "inplace", False)
        if is_relu and inp and isinstance(inp[0], torch.Tensor):
            twin = same(relu_in, inp[0])
            if twin is None:
                relu_in[id(inp[0])] = (weakref.ref(inp[0]), inp[0]._version, weakref.ref(out))
        if "meco" in wanted and out.ndim == 4 and out.shape[1] >= 2:
            known = same(seen, out)
            if known is None and twin is not None:
                known = same(seen, twin[2]())
            if known is not None:
                counts[known[2]][known[3]] += 1
                seen[id(out)] = (weakref.ref(out), out._version, known[2], known[3])
            elif out.shape[2] * out.shape[3] >= 2:
                # (H*W, C): a copy of contiguous memory for channels-last maps
                f = out[0].detach().permute(1, 2, 0).reshape(-1, out.shape[1]).clone()
                key = tuple(f.shape)
                maps.setdefault(key, []).append(f)
                counts.setdefault(key, []).append(1)
                seen[id(out)] = (weakref.ref(out), out._version, key, len(maps[key]) - 1)
        if "swap" in wanted and isinstance(m, nn.ReLU) and twin is None:
            codes.append(_pack_patterns(out.detach()))
        if id(m) in blocks:
            block_outs.append(out)

    with _hooked(net.modules(), hook), torch.no_grad():
        net(x.contiguous(memory_format=torch.channels_last))
    out: dict[str, float] = {}
    if "meco" in wanted:
        total = 0.0
        for key, fs in maps.items():
            low = torch.linalg.eigvalsh(_correlations(torch.stack(fs).double()))[:, 0]
            total += float((low * torch.tensor(counts[key], dtype=low.dtype)).sum())
        out["meco"] = total
    if "swap" in wanted:
        out["swap"] = float(_count_distinct(np.concatenate(codes))) if codes else 0.0
    if blocks:
        e = [entropy_of_covariance(o) for o in block_outs]
        out["az_expressivity"] = float(sum(e))
        out["az_progressivity"] = float(min(y - z for z, y in itertools.pairwise(e)))
    return {n: out[n] for n in FORWARD if n in wanted}


def _correlations(f: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between the columns of each ``(n, S, C)`` matrix; NaN/inf -> 0."""
    z = f - f.mean(dim=1, keepdim=True)
    c = z.transpose(1, 2) @ z / (f.shape[1] - 1)
    sd = torch.diagonal(c, dim1=1, dim2=2).sqrt()
    c = (c / sd[:, :, None] / sd[:, None, :]).clip(-1.0, 1.0)
    return torch.nan_to_num(c, nan=0.0, posinf=0.0, neginf=0.0)


def _pack_patterns(out: torch.Tensor) -> np.ndarray:
    """``(units,)`` unsigned codes: bit k of a unit's code is ``out[k, unit] > 0``."""
    b = out.shape[0]
    if out.ndim == 4 and out.is_contiguous(memory_format=torch.channels_last):
        out = out.permute(0, 2, 3, 1)  # the same units in memory order, no copy
    bits = (out.reshape(b, -1).numpy() > 0).view(np.uint8)  # numpy compares 3x faster here
    nbytes = 1 << max(0, math.ceil(math.log2(max(1, -(-b // 8)))))  # 1, 2, 4 or 8
    packed = np.zeros((bits.shape[1], nbytes), dtype=np.uint8)  # little-endian bytes per unit
    for k in range(0, b, 8):
        byte = bits[k].copy()
        for j in range(k + 1, min(k + 8, b)):
            byte |= bits[j] << np.uint8(j - k)
        packed[:, k // 8] = byte
    return packed.view(f"<u{nbytes}").ravel().astype(np.uint64)


def _count_distinct(v: np.ndarray) -> int:
    s = np.sort(v)
    return int(np.count_nonzero(s[1:] != s[:-1])) + int(s.size > 0)


def meco(net: nn.Module, x: torch.Tensor) -> float:
    """MeCo: Σ over feature-map outputs of the min eigenvalue of the channel correlation."""
    return forward_scores(net, x, ("meco",))["meco"]


def zico(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """ZiCo: Σ_layers log Σ_w mean|g_w| / std(g_w) over two half-batches."""
    half = x.shape[0] // 2
    x = channels_last(net, x)
    grads: dict[int, list[torch.Tensor]] = {}
    layers = [m for m in net.modules() if isinstance(m, _WEIGHTED)]
    for part in (slice(0, half), slice(half, 2 * half)):
        net.zero_grad(set_to_none=True)
        functional.cross_entropy(net(x[part]), y[part]).backward()
        for i, m in enumerate(layers):
            if m.weight.grad is not None:
                grads.setdefault(i, []).append(m.weight.grad.detach().flatten().double())
    score = 0.0
    for g in grads.values():
        if len(g) != 2:
            continue
        stacked = torch.stack(g)
        std = stacked.std(dim=0, unbiased=False)
        mean_abs = stacked.abs().mean(dim=0)
        keep = std != 0
        s = float((mean_abs[keep] / std[keep]).sum())
        if s > 0:
            score += math.log(s)
    return score


def swap(net: nn.Module, x: torch.Tensor) -> float:
    """SWAP: number of distinct sample-wise ReLU activation patterns (B <= 64 images)."""
    return forward_scores(net, x, ("swap",))["swap"]


def zen(net: nn.Module, shape: tuple[int, int, int]) -> float:
    """Zen-score on Gaussian inputs and N(0, 1) weights (see the module docstring)."""
    g = torch.Generator().manual_seed(0)
    cl = torch.channels_last  # about 1.6x faster on CPU; equal to NCHW to float32 rounding
    x = torch.randn((ZEN_BATCH, *shape), generator=g).contiguous(memory_format=cl)
    eps = torch.randn((ZEN_BATCH, *shape), generator=g).contiguous(memory_format=cl)
    # inputs first: the classifier, drawn last, changes nothing before it
    _redraw_weights(net, g, _WEIGHTED, fan_in_gain=None)
    log_bn = 0.0

    def hook(m: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal log_bn
        var = inp[0].detach().double().var(dim=(0, 2, 3), unbiased=False).mean()
        log_bn += 0.5 * math.log(max(float(var), 1e-30))

    stages, stem = net.get_submodule("cells"), net.get_submodule("stem")
    with torch.no_grad():
        f1 = stages(stem(x))
        bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        with _hooked(bns, hook):
            f2 = stages(stem(x + ZEN_ALPHA * eps))
    delta = float((f1 - f2).flatten(1).norm(dim=1).mean())
    return math.log(max(delta, 1e-30)) + log_bn


def _cells(net: nn.Module) -> list[nn.Module]:
    cells = net.get_submodule("cells")
    return list(cells.children())


def _blocks(net: nn.Module) -> list[nn.Module]:
    return [net.get_submodule("stem"), *_cells(net)]


def entropy_of_covariance(f: torch.Tensor) -> float:
    """Entropy of the normalised eigenvalues of the channel covariance of ``(B, C, H, W)``."""
    z = f.detach().permute(0, 2, 3, 1).reshape(-1, f.shape[1]).double()  # (B*H*W, C)
    z = z - z.mean(dim=0, keepdim=True)
    cov = z.T @ z / max(z.shape[0] - 1, 1)
    eig = torch.linalg.eigvalsh(cov).clamp_min(0.0)
    total = float(eig.sum())
    if total <= 0.0:
        return 0.0
    p = eig / total
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def az_expressivity(net: nn.Module, x: torch.Tensor) -> float:
    """AZ-NAS expressivity: Σ over primary blocks of the covariance-eigenvalue entropy."""
    return forward_scores(net, x, ("az_expressivity",))["az_expressivity"]


def az_progressivity(net: nn.Module, x: torch.Tensor) -> float:
    """AZ-NAS progressivity: the smallest block-to-block increase of that entropy."""
    return forward_scores(net, x, ("az_progressivity",))["az_progressivity"]


def _block_trainability(a: torch.Tensor, b: torch.Tensor, g: torch.Generator) -> float:
    """``2 - s - 1/s`` for one block, ``s`` the top singular value of E[g_in g_out^T]."""
    if not (a.requires_grad and b.requires_grad):
        return UNTRAINABLE  # output independent of the input (an all-none cell, or after one)
    g_out = torch.randint(0, 2, b.shape, generator=g).to(b.dtype) * 2.0 - 1.0  # Rademacher
    (g_in,) = torch.autograd.grad(b, a, g_out, retain_graph=True, allow_unused=True)
    if g_in is None or (g_in.shape == g_out.shape and torch.equal(g_in, g_out)):
        return UNTRAINABLE  # no path, or the block passes gradients unchanged (identity)
    if g_in.shape[2] != g_out.shape[2]:  # a reduction block: fold 2x2 positions into channels
        g_in = functional.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    go = g_out.permute(0, 2, 3, 1).reshape(-1, g_out.shape[1]).double()
    gi = g_in.permute(0, 2, 3, 1).reshape(-1, g_in.shape[1]).double()
    s = float(torch.linalg.svdvals(gi.T @ go / go.shape[0]).max())
    return 2.0 - s - 1.0 / (s + 1e-6)


def az_trainability(net: nn.Module, x: torch.Tensor) -> float:
    """AZ-NAS trainability as the authors' code computes it (see the module docstring)."""
    g = torch.Generator().manual_seed(0)
    # the authors' Kaiming-normal fan-in init; the classifier is never read (CIFAR-100 == CIFAR-10)
    _redraw_weights(net, g, (nn.Conv2d,), fan_in_gain=2.0)
    ins: list[torch.Tensor] = []
    outs: list[torch.Tensor] = []

    def hook(m: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        ins.append(inp[0])
        outs.append(out)

    xi = channels_last(net, x).clone().requires_grad_(True)
    with _hooked(_cells(net), hook):
        net(xi)
    per_block = [_block_trainability(a, b, g) for a, b in zip(ins, outs, strict=True)]
    return UNTRAINABLE if UNTRAINABLE in per_block else float(np.mean(per_block))
