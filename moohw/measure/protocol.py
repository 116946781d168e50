"""The measurement protocol and the statistics of one latency measurement (no torch here).

A measurement (:func:`moohw.measure.timing.measure_model`) fixes the thread count, runs
``warmup`` untimed forward passes, then ``repeats`` timed ones, rejects outliers with the
modified z-score rule of Iglewicz & Hoaglin ("How to Detect and Handle Outliers", 1993:
``0.6745 * |x - median| / MAD > k``), and reports the median of the kept samples with robust
spreads (MAD, IQR) and the coefficient of variation.

With ``rounds > 1`` (the default) a live device measures the cells it has to measure in batches
with the drift-robust schedule of :mod:`moohw.measure.robust`: randomised interleaved rounds, a
reference cell re-timed every ``ref_every`` cells to correct drift, rounds repeated until the
rank of the batch is stable (split-half Spearman >= ``rank_rho``) or ``rounds`` were run.
``rounds=1`` is the single-series protocol (``repeats`` passes, up to ``attempts`` series).
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
_SCHEDULE_FIELDS = (
    "rounds",
    "min_rounds",
    "round_repeats",
    "ref_every",
    "rank_rho",
    "batch_cells",
)
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
        rounds: Most rounds of the drift-robust schedule; 1 = one series per cell (the
            single-series protocol: ``repeats``, ``attempts`` and ``max_cv`` apply).
        min_rounds: Rounds always run before the rank-stability check (>= 2 to have halves);
            a batch of fewer than 3 cells runs exactly this many.
        round_repeats: Timed passes of one cell in one round (their minimum is kept).
        ref_every: The reference cell is timed at the start of each round and after every this
            many cells.
        rank_rho: A batch stops once its expected test-retest Spearman (the split-half Spearman
            of its odd- and even-round medians, Spearman-Brown corrected) reaches this.
        batch_cells: Most cells measured together in one batch (their models are kept in
            memory while the batch runs; a run killed mid-batch loses that batch).
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
    rounds: int = 12
    min_rounds: int = 4
    round_repeats: int = 5
    ref_every: int = 10
    rank_rho: float = 0.99
    batch_cells: int = 100

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
        if self.rounds < 1:
            raise InputError(f"protocol rounds must be >= 1, got {self.rounds}")
        if self.rounds > 1 and not 1 <= self.min_rounds <= self.rounds:
            raise InputError(
                f"protocol min_rounds must be in 1..rounds ({self.rounds}), got {self.min_rounds}"
            )
        for name in ("round_repeats", "ref_every", "batch_cells"):
            if getattr(self, name) < 1:
                raise InputError(f"protocol {name} must be >= 1, got {getattr(self, name)}")
        if not -1 <= self.rank_rho <= 1:
            raise InputError(f"protocol rank_rho must be in [-1, 1], got {self.rank_rho}")

    @property
    def robust(self) -> bool:
        """Whether live devices use the drift-robust batch schedule (``rounds > 1``)."""
        return self.rounds > 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (an infinite ``outlier_k`` or ``max_cv`` becomes ``"inf"``).

        The schedule fields are left out for ``rounds=1``, so the single-series protocol keeps
        the hash (and the stored measurements) it had before the schedule existed.
        """
        d = asdict(self)
        if self.rounds == 1:
            for k in _SCHEDULE_FIELDS:
                del d[k]
        for k in ("outlier_k", "max_cv"):
            if not np.isfinite(d[k]):
                d[k] = "inf"
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Protocol:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d.setdefault("rounds", 1)  # written before the schedule existed
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
