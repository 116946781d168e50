"""Building a latency surrogate for a new device: the ESM workflow (Nasir, Shoaib, Hanif,
Shafique, "ESM", DAC 2025, arXiv 2508.01505; PAPERS.md §4).

1. Measure a random validation set (``n_val`` architectures, default 100) once; it is never
   trained on. (With 50, validation noise let pixel2/raspi4 "reach" ρ 0.95 while the whole-space
   ρ was 0.89-0.91; with 100 they stop on a plateau at about 0.90, as they should.)
2. Measure ``start`` architectures chosen by a sampler (default ``balanced``: strata of a
   feature-derived size score at first, then strata of the current surrogate's predicted latency,
   so the measured set covers the latency range rather than the architecture space uniformly).
3. Fit the predictor, score it on the validation set (MAPE, Spearman ρ), record a curve point.
4. Stop when the validation ρ reaches ``target_srcc``, when the validation MAPE has not improved
   by ``min_rel_improvement`` for ``patience`` rounds (the dataset stopped paying), or at
   ``max_samples``; otherwise measure ``step`` more and go to 3.

Every measurement goes through the :class:`~moohw.devices.Device` API, so live devices read from
and write to the measurement store (an interrupted build re-measures nothing), and tabular
devices stand in for real ones (simulated measurement). Device time is the wall time spent
inside ``Device.latency_ms``; the nominal cost ``n_measured * device.cost_s`` is reported too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from moohw.errors import InputError
from moohw.metrics import spearman
from moohw.predictors.base import Knowledge, LatencyPredictor
from moohw.predictors.samplers import sample
from moohw.rng import SeedLike, as_generator

if TYPE_CHECKING:  # predictors sit below devices; the type only
    from moohw.devices.base import Device


@dataclass(frozen=True)
class CurvePoint:
    """One round of the learning curve.

    Attributes:
        n_train: Training samples measured so far.
        n_measured: All measurements so far (training + validation).
        val_mape: Validation MAPE in %.
        val_spearman: Validation Spearman ρ.
        space_spearman: ρ over every candidate (exact devices only, NaN otherwise).
        model: The predictor used (for ``auto``, the model it chose).
        device_s: Cumulative wall time spent measuring, in s.
    """

    n_train: int
    n_measured: int
    val_mape: float
    val_spearman: float
    space_spearman: float
    model: str
    device_s: float


@dataclass(frozen=True)
class SurrogateResult:
    """Outcome of :func:`build_surrogate`.

    Attributes:
        device: Device name.
        curve: Learning curve, one point per round.
        predictor: The final fitted predictor.
        X_train: ``(n, n_var)`` measured training architectures; ``y_train_ms`` ``(n,)``.
        X_val: ``(n_val, n_var)`` validation architectures; ``y_val_ms`` ``(n_val,)``.
        stop_reason: ``target``, ``plateau``, ``max_samples`` or ``candidates``.
        nominal_cost_s: ``n_measured * device.cost_s``.
    """

    device: str
    curve: tuple[CurvePoint, ...]
    predictor: LatencyPredictor
    X_train: np.ndarray
    y_train_ms: np.ndarray
    X_val: np.ndarray
    y_val_ms: np.ndarray
    stop_reason: str
    nominal_cost_s: float

    @property
    def reached(self) -> bool:
        """Whether the validation ρ reached the target."""
        return self.stop_reason == "target"

    def curve_frame(self) -> pd.DataFrame:
        """The learning curve as a DataFrame (one row per round)."""
        return pd.DataFrame([p.__dict__ for p in self.curve])


def _candidates(device: Device, pool: int, rng: np.random.Generator) -> np.ndarray:
    cov = device.coverage()
    if cov is not None:
        return cov
    if device.space.enumerable:
        return device.space.enumerate()
    return device.space.sample(pool, rng)


def build_surrogate(
    device: Device,
    target_srcc: float = 0.95,
    start: int = 10,
    step: int = 10,
    max_samples: int = 200,
    n_val: int = 100,
    sampler: str = "balanced",
    model: str = "auto",
    knowledge: Knowledge | None = None,
    patience: int = 3,
    min_rel_improvement: float = 0.02,
    pool: int = 20_000,
    seed: SeedLike = None,
) -> SurrogateResult:
    """Grow a measured dataset until a surrogate is good enough (module docstring).

    Args:
        device: Device to model (tabular, synthetic or live).
        target_srcc: Validation Spearman ρ at which to stop.
        start: Training samples of the first round.
        step: Samples added per round.
        max_samples: Most training samples to measure.
        n_val: Validation architectures (measured once, random).
        sampler: Sampler name (:mod:`moohw.predictors.samplers`).
        model: Registered predictor name.
        knowledge: Other devices' data for transfer predictors (default: none).
        patience: Rounds without MAPE improvement before stopping.
        min_rel_improvement: Relative MAPE decrease that counts as improvement.
        pool: Candidate pool size for spaces that cannot be enumerated.
        seed: Seed or Generator.

    Returns:
        The curve, the final predictor and the measured data.
    """
    from moohw.predictors import PREDICTORS

    if not 0 < target_srcc <= 1:
        raise InputError(f"target_srcc must lie in (0, 1], got {target_srcc}")
    if start < 2 or step < 1 or max_samples < start or n_val < 3:
        raise InputError(
            f"need start >= 2, step >= 1, max_samples >= start, n_val >= 3; got "
            f"start={start}, step={step}, max_samples={max_samples}, n_val={n_val}"
        )
    predictor = PREDICTORS.get(model)(device.space)
    knowledge = knowledge or {}
    rng = as_generator(seed)
    space = device.space
    C = _candidates(device, pool, rng)
    if len(C) < n_val + start:
        raise InputError(f"device covers {len(C)} architectures; need n_val + start")
    spent = [0.0]

    def measure(X: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        y = device.latency_ms(X)
        spent[0] += time.perf_counter() - t
        return y

    free = np.ones(len(C), dtype=bool)
    vi = rng.choice(len(C), size=n_val, replace=False)
    free[vi] = False
    Xv, yv = C[vi], measure(C[vi])
    y_all = _exact_latency(device, C)
    ti = np.flatnonzero(free)[sample(sampler, space, C[free], start, seed=rng)]
    free[ti] = False
    Xt, yt = C[ti], measure(C[ti])
    curve: list[CurvePoint] = []
    best, stale, reason = np.inf, 0, "max_samples"
    while True:
        predictor.fit(knowledge, Xt, yt, seed=rng)
        pv = predictor.predict(Xv)
        mape = float(np.mean(np.abs(pv - yv) / np.abs(yv))) * 100
        rho = spearman(pv, yv)
        rho_space = spearman(predictor.predict(C), y_all) if y_all is not None else float("nan")
        used = str(getattr(predictor, "choice_", model))
        curve.append(CurvePoint(len(yt), len(yt) + n_val, mape, rho, rho_space, used, spent[0]))
        if np.isfinite(rho) and rho >= target_srcc:
            reason = "target"
            break
        stale = 0 if mape < best * (1 - min_rel_improvement) else stale + 1
        best = min(best, mape)
        if stale >= patience:
            reason = "plateau"
            break
        n_next = min(step, max_samples - len(yt), int(free.sum()))
        if n_next <= 0:
            reason = "max_samples" if len(yt) >= max_samples else "candidates"
            break
        ref = predictor.predict(C[free])
        new = np.flatnonzero(free)[
            sample(sampler, space, C[free], n_next, seed=rng, reference_latency=ref)
        ]
        free[new] = False
        Xt = np.concatenate([Xt, C[new]])
        yt = np.concatenate([yt, measure(C[new])])
    return SurrogateResult(
        device.name,
        tuple(curve),
        predictor,
        Xt,
        yt,
        Xv,
        yv,
        reason,
        (len(yt) + n_val) * float(device.cost_s),
    )


def _exact_latency(device: Device, C: np.ndarray) -> np.ndarray | None:
    """True latency ``(N,)`` of every candidate when the device is exact (free to read)."""
    return device.latency_ms(C) if device.exact else None


def plot_curve(
    result: SurrogateResult, path: str | Path, target_srcc: float | None = None
) -> None:
    """Save the learning curve (samples vs validation MAPE and Spearman ρ) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = result.curve_frame()
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ax[0].plot(df["n_train"], df["val_mape"], "o-")
    ax[0].set_xlabel("training samples")
    ax[0].set_ylabel("validation MAPE (%)")
    ax[1].plot(df["n_train"], df["val_spearman"], "o-", label="validation")
    if df["space_spearman"].notna().any():
        ax[1].plot(df["n_train"], df["space_spearman"], "s--", label="whole space")
    if target_srcc is not None:
        ax[1].axhline(target_srcc, color="grey", lw=0.8, ls=":")
    ax[1].set_xlabel("training samples")
    ax[1].set_ylabel("Spearman ρ")
    ax[1].legend()
    fig.suptitle(f"surrogate for {result.device} ({result.stop_reason})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_scatter(result: SurrogateResult, path: str | Path) -> None:
    """Predicted vs measured latency on the held-out validation architectures (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pred = result.predictor.predict(result.X_val)
    y = result.y_val_ms
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.scatter(y, pred, s=10, alpha=0.7)
    lo = float(min(y.min(), pred.min()))
    hi = float(max(y.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
    if lo > 0:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("measured latency (ms)")
    ax.set_ylabel("predicted latency (ms)")
    ax.set_title(f"held-out: Spearman {spearman(pred, y):.3f}", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_result(
    result: SurrogateResult, out: str | Path, candidates: np.ndarray | None = None
) -> list[Path]:
    """Write ``curve.csv``, ``measured.csv`` and (given candidates) ``predictions.csv``.

    ``predictions.csv`` has columns ``arch_str, latency_ms``: usable as the device
    ``csv:OUT/predictions.csv``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    space = result.predictor.space
    paths = [out / "curve.csv", out / "measured.csv"]
    result.curve_frame().to_csv(paths[0], index=False)
    rows: list[pd.DataFrame] = []
    for split, X, y in (
        ("train", result.X_train, result.y_train_ms),
        ("val", result.X_val, result.y_val_ms),
    ):
        rows.append(pd.DataFrame({"arch_str": space.to_str(X), "latency_ms": y, "split": split}))
    pd.concat(rows).to_csv(paths[1], index=False)
    if candidates is not None:
        pred = result.predictor.predict(candidates)
        paths.append(out / "predictions.csv")
        pd.DataFrame({"arch_str": space.to_str(candidates), "latency_ms": pred}).to_csv(
            paths[-1], index=False
        )
    return paths


__all__ = [
    "CurvePoint",
    "SurrogateResult",
    "build_surrogate",
    "plot_curve",
    "plot_scatter",
    "write_result",
]
