"""The NAS-Bench-201 ``TinyNetwork`` in torch (Dong & Yang, "NAS-Bench-201", ICLR 2020).

Layout, for a cell genotype of 6 edge ops (edge order of :mod:`moohw.spaces.nb201`):

- stem: Conv3x3(3 → 16, bias=False) + BatchNorm;
- three stages of five cells with C = 16, 32, 64; between stages a ResNet basic block with
  stride 2: ReLU-Conv3x3(stride 2)-BN, ReLU-Conv3x3-BN, plus a shortcut AvgPool2d(2) + Conv1x1
  (no BN), the two branches added;
- a cell has 4 nodes; node 0 is the cell input and node j is the sum of ``op(node i)`` over its
  incoming edges (i < j); the cell output is node 3. Ops: ``nor_conv_kxk`` is
  ReLU-Conv(bias=False)-BN(affine); ``skip_connect`` the identity; ``avg_pool_3x3`` is
  AvgPool2d(3, 1, 1, count_include_pad=False); ``none`` is the zero map;
- head: BatchNorm + ReLU, global average pooling, Linear(64 → classes).

``none`` edges are not executed: the reference multiplies by zero, which adds nothing (and has
no parameters, FLOPs or ReLUs); a node whose incoming edges are all ``none`` is a zero tensor.
Edges whose output never reaches node 3 *are* executed, as in the reference, so their ReLUs are
visible to activation-based proxies (NASWOT) and their weights are counted in the parameters.

Weights are initialised like PyTorch's defaults (Kaiming-uniform with ``a = sqrt(5)`` for
conv/linear weights, uniform(±1/sqrt(fan_in)) for the classifier bias, BN weight 1 and bias 0),
but drawn from a ``torch.Generator`` so that a seed fixes the network without touching the
global RNG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from moohw.spaces.nb201 import NB201_EDGES, NB201Space

#: (number of classes, input side in pixels) per dataset; the same as
#: ``moohw.proxies.analytic.DATASET_SHAPES`` (kept here so that the network does not import the
#: proxies package, which imports the network; a test checks they agree).
DATASET_SHAPES: dict[str, tuple[int, int]] = {
    "cifar10": (10, 32),
    "cifar100": (100, 32),
    "imagenet16": (120, 16),
}

_STAGE_C = (16, 32, 64)
_CELLS_PER_STAGE = 5
_SPACE = NB201Space()


def _relu_conv_bn(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(c_out, affine=True),
    )


def _make_op(op: int, c: int) -> nn.Module | None:
    if op == 0:
        return None
    if op == 1:
        return nn.Identity()
    if op == 2:
        return _relu_conv_bn(c, c, 1)
    if op == 3:
        return _relu_conv_bn(c, c, 3)
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


class NB201Cell(nn.Module):
    """One NB201 cell (channels preserved, stride 1).

    Args:
        arch: The 6 op ids of the cell.
        c: Channels.
    """

    def __init__(self, arch: Sequence[int], c: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList()
        # (source node, target node, index into self.ops) of the edges that are executed
        self._edges: list[tuple[int, int, int]] = []
        for (src, dst), op in zip(NB201_EDGES, arch, strict=True):
            module = _make_op(int(op), c)
            if module is not None:
                self._edges.append((src, dst, len(self.ops)))
                self.ops.append(module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` → ``(B, C, H, W)``."""
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for src, dst, k in self._edges:
            inp = nodes[src]
            if inp is None:
                inp = torch.zeros_like(x)
                nodes[src] = inp
            out = self.ops[k](inp)
            prev = nodes[dst]
            nodes[dst] = out if prev is None else prev + out
        last = nodes[3]
        return torch.zeros_like(x) if last is None else last


class ResNetReduction(nn.Module):
    """Stride-2 residual block between stages: ``(B, c_in, H, W)`` → ``(B, c_out, H/2, W/2)``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = _relu_conv_bn(c_in, c_out, 3, stride=2)
        self.conv_b = _relu_conv_bn(c_out, c_out, 3)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual sum of the two-conv branch and the pooled 1x1 shortcut."""
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


class NB201Network(nn.Module):
    """The NB201 ``TinyNetwork`` for one cell genotype (see the module docstring).

    Args:
        arch: The 6 op ids of the cell (shared by all 15 cells).
        num_classes: Classifier outputs.
    """

    def __init__(self, arch: Sequence[int], num_classes: int) -> None:
        super().__init__()
        self.arch = tuple(int(a) for a in arch)
        self.stem = nn.Sequential(
            nn.Conv2d(3, _STAGE_C[0], 3, padding=1, bias=False), nn.BatchNorm2d(_STAGE_C[0])
        )
        layers: list[nn.Module] = []
        c_prev = _STAGE_C[0]
        for s, c in enumerate(_STAGE_C):
            if s > 0:
                layers.append(ResNetReduction(c_prev, c))
            layers.extend(NB201Cell(self.arch, c) for _ in range(_CELLS_PER_STAGE))
            c_prev = c
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, 3, H, W)`` → logits ``(B, num_classes)``."""
        out = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(out).flatten(1))


@torch.no_grad()
def init_network(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise ``net`` in place like PyTorch's defaults, drawing from ``generator``.

    Args:
        net: Any module made of Conv2d, Linear and BatchNorm2d layers.
        generator: The source of randomness (CPU generator).

    Returns:
        ``net`` itself.
    """
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in = m.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in)
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def build_network(
    arch: Sequence[int] | np.ndarray,
    dataset: str = "cifar10",
    seed: int | torch.Generator | None = None,
) -> NB201Network:
    """Build the NB201 network of one cell genotype.

    Args:
        arch: 6 op ids, shape ``(6,)`` or ``(1, 6)`` (validated with :class:`NB201Space`).
        dataset: ``cifar10`` (10 classes, 32x32), ``cifar100`` (100, 32x32) or ``imagenet16``
            (120 classes, 16x16 input).
        seed: If given, weights are re-initialised from a ``torch.Generator`` seeded with it
            (or from the generator passed); if ``None`` they keep PyTorch's default init.

    Returns:
        The network in training mode, float32, on the CPU.

    Raises:
        ValueError: on a bad architecture or unknown dataset.
    """
    X = _SPACE.validate(np.asarray(arch))
    if X.shape[0] != 1:
        raise ValueError(f"build_network takes one architecture, got {X.shape[0]}")
    if dataset not in DATASET_SHAPES:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASET_SHAPES)}")
    net = NB201Network(X[0].tolist(), DATASET_SHAPES[dataset][0])
    if seed is not None:
        gen = seed if isinstance(seed, torch.Generator) else seeded_generator(seed)
        init_network(net, gen)
    return net


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with the non-negative int ``seed``."""
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    gen = torch.Generator()
    gen.manual_seed(int(seed))
    return gen


def input_shape(dataset: str) -> tuple[int, int, int]:
    """``(channels, height, width)`` of one input image for ``dataset``."""
    if dataset not in DATASET_SHAPES:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASET_SHAPES)}")
    side = DATASET_SHAPES[dataset][1]
    return (3, side, side)


def count_params(net: nn.Module) -> int:
    """Number of trainable parameters of ``net``."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def count_macs(net: nn.Module, shape: tuple[int, int, int]) -> int:
    """Multiply-accumulates of one forward pass at batch 1, counted with forward hooks.

    Counts Conv2d (output elements × input channels per group × kernel area) and Linear
    (in × out) layers only, the convention of :func:`moohw.proxies.analytic.nb201_flops`.

    Args:
        net: The network (not modified; hooks are removed afterwards).
        shape: ``(C, H, W)`` of one input image.
    """
    total = 0

    def hook(m: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            total += out[0].numel() * (m.in_channels // m.groups) * k
        elif isinstance(m, nn.Linear):
            total += m.in_features * m.out_features

    handles = [
        m.register_forward_hook(hook)
        for m in net.modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    ]
    try:
        was_training = net.training
        net.eval()
        with torch.no_grad():
            net(torch.zeros((1, *shape)))
        net.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return total
