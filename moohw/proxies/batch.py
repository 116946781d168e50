"""Input batches for data-dependent proxies, built offline from images shipped with scikit-learn.

The default batch (:func:`default_batch`) is made of random square crops of the two sample photos
that ship with scikit-learn (``china.jpg`` and ``flower.jpg``, 427×640 RGB, read by
``sklearn.datasets.load_sample_images``): for image ``i`` of the batch, photo ``i mod 2``, a
crop side drawn uniformly in [64, 256] px and a uniformly random position inside the photo,
resized to the dataset's input side (32 px, 16 px for imagenet16) with PIL bilinear
resampling, a horizontal flip with probability 1/2, scaled to [0, 1] and normalised with the
CIFAR-10 per-channel mean/std for every dataset. Labels are uniform random class ids. All draws
come from one ``numpy.random.Generator`` seeded with ``seed``; no network access is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from moohw.proxies.analytic import DATASET_SHAPES

CIFAR_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)
DEFAULT_BATCH_SIZE = 32  # 64 costs 0.33 s/cell for NASWOT on one core, 32 costs 0.16 s
DEFAULT_SEED = 0
_CROP_MIN, _CROP_MAX = 64, 256


@dataclass(frozen=True)
class ProxyBatch:
    """A batch for data-dependent proxies.

    Attributes:
        x: Images ``(B, 3, H, W)`` float32, normalised.
        y: Labels ``(B,)`` int64 in ``[0, classes)``.
        description: How the batch was made (recorded in table provenance).
    """

    x: torch.Tensor
    y: torch.Tensor
    description: str


def describe_default(dataset: str, size: int, seed: int) -> str:
    """The provenance string of :func:`default_batch` for these arguments."""
    side = DATASET_SHAPES[dataset][1]
    return (
        f"{size} random crops (side U[{_CROP_MIN},{_CROP_MAX}] px, random flip) of "
        f"sklearn.datasets.load_sample_images (china.jpg, flower.jpg) resized bilinear to "
        f"{side}x{side}, CIFAR-10 mean/std normalised, uniform random labels; numpy seed {seed}"
    )


@lru_cache(maxsize=8)
def _default_arrays(dataset: str, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    classes, side = DATASET_SHAPES[dataset]
    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    out = np.empty((size, side, side, 3), dtype=np.float32)
    for i in range(size):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        crop = int(rng.integers(_CROP_MIN, _CROP_MAX + 1))
        top = int(rng.integers(0, h - crop + 1))
        left = int(rng.integers(0, w - crop + 1))
        img = Image.fromarray(photo[top : top + crop, left : left + crop])
        arr = np.asarray(img.resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32)
        if rng.random() < 0.5:
            arr = arr[:, ::-1]
        out[i] = arr / 255.0
    normed = (out - np.array(CIFAR_MEAN, np.float32)) / np.array(CIFAR_STD, np.float32)
    labels = rng.integers(0, classes, size=size)
    return np.ascontiguousarray(normed.transpose(0, 3, 1, 2)), labels.astype(np.int64)


def default_batch(
    dataset: str = "cifar10", size: int = DEFAULT_BATCH_SIZE, seed: int = DEFAULT_SEED
) -> ProxyBatch:
    """The default proxy batch (see the module docstring for exactly how it is made).

    Args:
        dataset: ``cifar10``, ``cifar100`` or ``imagenet16`` (sets side and label range).
        size: Number of images ``B``.
        seed: Seed of the crops, flips and labels.

    Returns:
        A :class:`ProxyBatch` with ``x`` ``(B, 3, side, side)`` and ``y`` ``(B,)``.
    """
    if dataset not in DATASET_SHAPES:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASET_SHAPES)}")
    if size < 2:
        raise ValueError(f"batch size must be >= 2, got {size}")
    x, y = _default_arrays(dataset, int(size), int(seed))
    return ProxyBatch(
        torch.from_numpy(x.copy()),
        torch.from_numpy(y.copy()),
        describe_default(dataset, size, seed),
    )


def user_batch(
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor | None = None,
    classes: int = 10,
    seed: int = DEFAULT_SEED,
    description: str = "user batch",
) -> ProxyBatch:
    """Wrap a user's images (already normalised) as a :class:`ProxyBatch`.

    Args:
        x: Images ``(B, 3, H, W)``.
        y: Labels ``(B,)``; uniform random labels in ``[0, classes)`` drawn with ``seed`` if
            ``None``.
        classes: Number of classes (used only when ``y`` is ``None``).
        seed: Seed for the random labels.
        description: Provenance text.
    """
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if xt.ndim != 4 or xt.shape[1] != 3:
        raise ValueError(f"x must have shape (B, 3, H, W), got {tuple(xt.shape)}")
    if y is None:
        y = np.random.default_rng(seed).integers(0, classes, size=xt.shape[0])
    yt = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    if yt.shape != (xt.shape[0],):
        raise ValueError(f"y must have shape ({xt.shape[0]},), got {tuple(yt.shape)}")
    return ProxyBatch(xt, yt, description)
