"""Training-free scores of one initialised torch network (the per-network kernels of the proxies).

Each function takes a freshly initialised network and returns a Python float; higher is better.
The proxy classes in :mod:`moohw.proxies.zero_cost` build the networks and vectorise over
architectures. References:

- NASWOT: Mellor et al., "Neural Architecture Search without Training", ICML 2021.
- synflow: Tanaka et al., "Pruning neural networks without any data by iteratively conserving
  synaptic flow", NeurIPS 2020; as a NAS proxy: Abdelfattah et al., "Zero-Cost Proxies for
  Lightweight NAS", ICLR 2021 (also SNIP and grad-norm there).
- LogSynflow: Cavagnero et al., "FreeREA: Training-Free Evolution-based Architecture Search",
  WACV 2023, the score used by Sim-is-More (Capuano et al., 2025).
- SNIP: Lee et al., "SNIP: Single-shot Network Pruning based on Connection Sensitivity", ICLR 2019.
- Jacobian covariance: Mellor et al., arXiv:2006.04647v1 (the first NASWOT version).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

_WEIGHTED = (nn.Conv2d, nn.Linear)


def naswot(net: nn.Module, x: torch.Tensor) -> float:
    """Log-determinant of the Hamming kernel of the binary ReLU codes of a batch.

    Every ``nn.ReLU`` contributes the sign pattern (``out > 0``) of its output; for the
    concatenated codes ``c`` (B × D, 0/1) the kernel is ``K = c cᵀ + (1 − c)(1 − c)ᵀ``
    (``D`` minus the Hamming distance), and the score is ``log |det K|`` computed in float64,
    floored at 0 (singular kernels, e.g. cells whose output does not depend on the input, score
    0 instead of the reference's -inf). The forward pass runs in channels-last memory format
    (about 2x faster on CPU; codes are invariant to the column order).
    BatchNorm runs in training mode (batch statistics), as in the reference.

    Args:
        net: The network, in training mode.
        x: Input batch ``(B, 3, H, W)``.
    """
    x = x.contiguous(memory_format=torch.channels_last)
    b = x.shape[0]
    # K = c cᵀ + (1 − c)(1 − c)ᵀ = 2 c cᵀ − r 1ᵀ − 1 rᵀ + D with r the row sums of c: one
    # matmul per ReLU, accumulated in float32, which is exact for integer counts below 2**24.
    cct = torch.zeros((b, b), dtype=torch.float32)
    rows = torch.zeros(b, dtype=torch.float64)
    width = 0

    def hook(m: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal width
        c = (out > 0).flatten(1).to(torch.float32)
        cct.add_(c @ c.T)
        rows.add_(c.sum(1, dtype=torch.float64))
        width += c.shape[1]

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net.to(memory_format=torch.channels_last)(x)  # type: ignore[call-overload]
    finally:
        for h in handles:
            h.remove()
    k = 2.0 * cct.to(torch.float64) - rows[:, None] - rows[None, :] + float(width)
    sign, logdet = torch.linalg.slogdet(k)
    # K has integer entries, so a non-singular K has |det K| >= 1: 0 is the floor, and the
    # value given to a singular kernel (the reference returns -inf there).
    return max(float(logdet), 0.0) if float(sign) != 0.0 else 0.0


class _BatchNormOff:
    """Context: every BatchNorm2d acts as the identity (synflow's "BN removed" convention)."""

    def __init__(self, net: nn.Module) -> None:
        self.bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]

    def __enter__(self) -> None:
        for m in self.bns:
            m.forward = _identity  # type: ignore[method-assign,assignment]

    def __exit__(self, *exc: object) -> None:
        for m in self.bns:
            del m.forward


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def synflow(net: nn.Module, shape: tuple[int, int, int], log: bool = False) -> float:
    """Synaptic flow (or LogSynflow) with absolute weights and an all-ones input, in float64.

    The network's weights are replaced by their absolute values and cast to float64 (the network
    is modified: pass a throw-away copy), BatchNorm layers are bypassed (identity), as in the
    zero-cost-proxies and FreeREA references, and ``R = sum(net(1))`` for a single all-ones
    image is back-propagated. The score sums over Conv2d and Linear weights:
    ``Σ |θ · ∂R/∂θ|`` (synflow) or ``Σ |θ · log(∂R/∂θ + 1)|`` (LogSynflow, which tames the
    gradient's exponential growth with depth).

    Args:
        net: The network (modified in place).
        shape: ``(C, H, W)`` of one input image.
        log: LogSynflow instead of synflow.
    """
    net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    with _BatchNormOff(net):
        out = net(torch.ones((1, *shape), dtype=torch.float64))
        out.sum().backward()
    total = torch.zeros((), dtype=torch.float64)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, _WEIGHTED) and m.weight.grad is not None:
                g = torch.log1p(m.weight.grad) if log else m.weight.grad
                total += (m.weight * g).abs().sum()
    return float(total)


def channels_last(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Move ``net`` (in place) and a 4-D ``x`` to channels-last memory; returns ``x``.

    About 1.5-2x faster convolutions and pooling on CPU; values equal NCHW to float32 rounding.
    """
    net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


def _loss_grads(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    x = channels_last(net, x)
    net.zero_grad(set_to_none=True)
    functional.cross_entropy(net(x), y).backward()


#: Kernels computed together from one loss gradient (:func:`loss_grad_scores`).
LOSS_GRAD = ("snip", "grad_norm")


def loss_grad_scores(
    net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: tuple[str, ...] = LOSS_GRAD
) -> dict[str, float]:
    """SNIP and grad-norm (a subset of :data:`LOSS_GRAD`) from one forward and backward pass.

    Equal to :func:`snip` and :func:`grad_norm` called one at a time (same gradients), at half
    the cost when both are wanted.
    """
    unknown = set(names) - set(LOSS_GRAD)
    if unknown:
        raise ValueError(f"not loss-gradient proxies: {sorted(unknown)}; known: {LOSS_GRAD}")
    _loss_grads(net, x, y)
    out = dict.fromkeys(names, 0.0)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, _WEIGHTED) and m.weight.grad is not None:
                if "snip" in out:
                    out["snip"] += float((m.weight * m.weight.grad).abs().sum())
                if "grad_norm" in out:
                    out["grad_norm"] += float(m.weight.grad.norm())
    return out


def snip(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """SNIP saliency ``Σ |θ · ∂L/∂θ|`` over Conv2d and Linear weights (cross-entropy loss).

    Args:
        net: The network, in training mode.
        x: Input batch ``(B, 3, H, W)``.
        y: Labels ``(B,)``.
    """
    return loss_grad_scores(net, x, y, ("snip",))["snip"]


def grad_norm(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Sum over Conv2d and Linear layers of the L2 norm of the loss gradient of the weights.

    Args:
        net: The network, in training mode.
        x: Input batch ``(B, 3, H, W)``.
        y: Labels ``(B,)``.
    """
    return loss_grad_scores(net, x, y, ("grad_norm",))["grad_norm"]


def jacov(net: nn.Module, x: torch.Tensor) -> float:
    """Jacobian covariance score: ``−Σ_i log(λ_i + k) + 1/(λ_i + k)``, ``k = 1e-5``.

    ``λ`` are the eigenvalues of the correlation matrix (B × B) of the per-image input gradients
    of the summed logits; well-separated (uncorrelated) Jacobians score higher.

    Args:
        net: The network, in training mode.
        x: Input batch ``(B, 3, H, W)``.
    """
    xi = channels_last(net, x).clone().requires_grad_(True)
    net.zero_grad(set_to_none=True)
    out = net(xi).sum()
    # a cell whose output ignores the input has a zero Jacobian (and no graph to the input)
    grad = torch.autograd.grad(out, xi, allow_unused=True)[0]
    jac = (torch.zeros_like(xi) if grad is None else grad).flatten(1).to(torch.float64)
    corr = torch.corrcoef(jac)
    corr = torch.nan_to_num(corr, nan=0.0)
    eig = torch.linalg.eigvalsh(corr).clamp_min(0.0)  # round-off can go slightly negative
    k = 1e-5
    return float(-(torch.log(eig + k) + 1.0 / (eig + k)).sum())
