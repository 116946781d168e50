"""The measurement protocol and the statistics of one latency measurement (no torch here).

A measurement (:func:`moohw.measure.timing.measure_model`) fixes the thread count, runs
``warmup`` untimed forward passes, then ``repeats`` timed ones, rejects outliers with the
modified z-score rule of Iglewicz & Hoaglin ("How to Detect and Handle Outliers", 1993:
``0.6745 * |x - median| / MAD > k``), and reports the median of the kept samples with robust
spreads (MAD, IQR) and the coefficient of variation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from moohw.errors import InputError

#: dtype names accepted in a protocol (torch dtypes of the same name).
DTYPES: tuple[str, ...] = ("float32", "float16", "bfloat16")
_MAD_TO_Z = 0.6745  # the 0.75 quantile of N(0, 1): makes MAD comparable to a standard deviation


class MeasureError(RuntimeError):
    """A live measurement cannot happen here (no CUDA, store unusable, fleet unreachable)."""


@dataclass(frozen=True)
class Protocol:
    """How a latency measurement is taken.

    Attributes:
        warmup: Untimed forward passes before timing (caches, allocator, lazy init).
        repeats: Timed forward passes.
        threads: ``torch.set_num_threads`` during the measurement (restored afterwards).
        batch_size: Input batch size.
        dtype: ``float32``, ``float16`` or ``bfloat16`` (model and input).
        channels_last: Use the channels-last memory format for model and input.
        device: ``cpu`` or ``cuda``.
        outlier_k: Reject samples whose modified z-score ``0.6745 |x - median| / MAD`` exceeds
            this (3.5 is Iglewicz & Hoaglin's recommendation); ``inf`` keeps every sample.
        max_cv: A series of repeats whose coefficient of variation exceeds this is unstable
            (another process took the CPU, a clock changed) and is timed again.
        attempts: Most series timed per measurement; the most stable (lowest CV) is kept.
        timer: ``wall`` (elapsed time, :func:`time.perf_counter`), ``thread`` (CPU time of the
            measuring thread, :func:`time.thread_time`; CPU with one thread only) or ``auto``
            (``thread`` where allowed, else ``wall``). While the thread runs the two agree (median
            CPU/elapsed ratio 0.99 on an NB201 cell); when other processes share the cores the
            elapsed time includes the time the measurement was descheduled, the thread time
            does not (test-retest Spearman 0.91 vs 0.985 at load 6 on 2 cores, see
            ``benchmarks/RESULTS_measure.md``). CUDA is always timed with events.
    """

    warmup: int = 10
    repeats: int = 30
    threads: int = 1
    batch_size: int = 1
    dtype: str = "float32"
    channels_last: bool = False
    device: str = "cpu"
    outlier_k: float = 3.5
    max_cv: float = 0.1
    attempts: int = 3
    timer: str = "auto"

    def __post_init__(self) -> None:
        if self.warmup < 0:
            raise InputError(f"protocol warmup must be >= 0, got {self.warmup}")
        if self.repeats < 1:
            raise InputError(f"protocol repeats must be >= 1, got {self.repeats}")
        if self.threads < 1:
            raise InputError(f"protocol threads must be >= 1, got {self.threads}")
        if self.batch_size < 1:
            raise InputError(f"protocol batch_size must be >= 1, got {self.batch_size}")
        if self.dtype not in DTYPES:
            raise InputError(
                f"protocol dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}"
            )
        if self.device not in ("cpu", "cuda"):
            raise InputError(f"protocol device must be 'cpu' or 'cuda', got {self.device!r}")
        if not self.outlier_k > 0:
            raise InputError(f"protocol outlier_k must be > 0, got {self.outlier_k}")
        if not self.max_cv > 0:
            raise InputError(f"protocol max_cv must be > 0, got {self.max_cv}")
        if self.timer not in ("auto", "wall", "thread"):
            raise InputError(
                f"protocol timer must be 'auto', 'wall' or 'thread', got {self.timer!r}"
            )
        if self.timer == "thread" and (self.device != "cpu" or self.threads != 1):
            raise InputError("protocol timer 'thread' needs device 'cpu' and threads 1")
        if self.attempts < 1:
            raise InputError(f"protocol attempts must be >= 1, got {self.attempts}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (an infinite ``outlier_k`` or ``max_cv`` becomes ``"inf"``)."""
        d = asdict(self)
        for k in ("outlier_k", "max_cv"):
            if not np.isfinite(d[k]):
                d[k] = "inf"
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Protocol:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        for k in ("outlier_k", "max_cv"):
            if k in d:
                d[k] = float(d[k])
        return cls(**d)

    @property
    def clock(self) -> str:
        """The timer in effect: ``thread`` or ``wall`` (``auto`` resolved), ``cuda`` on GPU."""
        if self.device == "cuda":
            return "cuda"
        if self.timer == "auto":
            return "thread" if self.threads == 1 else "wall"
        return self.timer

    @property
    def hash(self) -> str:
        """Stable 12-hex-digit hash of the fields (a key of the measurement store)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


@dataclass(frozen=True)
class Measurement:
    """One latency measurement of one model under a protocol.

    Attributes:
        latency_ms: Median of the kept timed repeats, ms per forward pass of one batch.
        spread_ms: Median absolute deviation of the kept repeats (unscaled), ms.
        iqr_ms: Interquartile range of the kept repeats, ms.
        mean_ms: Mean of the kept repeats, ms.
        min_ms: Fastest kept repeat, ms.
        cv: Coefficient of variation (standard deviation / mean) of the kept repeats, unitless.
        n_kept: Timed repeats kept.
        n_rejected: Timed repeats rejected as outliers.
        protocol: The protocol followed.
        n_attempts: Series of repeats timed (more than one when a series was unstable).
    """

    latency_ms: float
    spread_ms: float
    iqr_ms: float
    mean_ms: float
    min_ms: float
    cv: float
    n_kept: int
    n_rejected: int
    protocol: Protocol = field(default_factory=Protocol)
    n_attempts: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready numbers (without the protocol)."""
        return {
            "latency_ms": self.latency_ms,
            "spread_ms": self.spread_ms,
            "iqr_ms": self.iqr_ms,
            "mean_ms": self.mean_ms,
            "min_ms": self.min_ms,
            "cv": self.cv,
            "n_kept": self.n_kept,
            "n_rejected": self.n_rejected,
            "n_attempts": self.n_attempts,
        }


def summarize(samples_ms: Sequence[float] | np.ndarray, protocol: Protocol) -> Measurement:
    """Reject outliers from timed samples and summarise them.

    Args:
        samples_ms: ``(repeats,)`` per-pass times in ms.
        protocol: The protocol (its ``outlier_k`` sets the rejection threshold).

    Returns:
        The measurement. When the MAD is zero (at least half the samples identical) only samples
        different from the median are rejected if ``outlier_k`` is finite.

    Raises:
        ValueError: for no samples or non-finite / negative samples.
    """
    x = np.asarray(samples_ms, dtype=np.float64).ravel()
    if x.size == 0:
        raise InputError("no timed samples to summarise")
    if not np.isfinite(x).all() or (x < 0).any():
        raise InputError(f"timed samples must be finite and >= 0, got {x.tolist()}")
    med = float(np.median(x))
    mad = float(np.median(np.abs(x - med)))
    if np.isfinite(protocol.outlier_k):
        if mad > 0:
            keep = _MAD_TO_Z * np.abs(x - med) / mad <= protocol.outlier_k
        else:
            keep = x == med
    else:
        keep = np.ones(x.size, dtype=bool)
    k = x[keep]
    kmed = float(np.median(k))
    q1, q3 = np.percentile(k, [25, 75])
    mean = float(k.mean())
    return Measurement(
        latency_ms=kmed,
        spread_ms=float(np.median(np.abs(k - kmed))),
        iqr_ms=float(q3 - q1),
        mean_ms=mean,
        min_ms=float(k.min()),
        cv=float(k.std() / mean) if mean > 0 else 0.0,
        n_kept=int(keep.sum()),
        n_rejected=int((~keep).sum()),
        protocol=protocol,
    )
