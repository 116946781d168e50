"""Controller checkpoints: pre-training entry point, saving, and loading the shipped models.

A checkpoint folder holds ``prior.json`` (the synthetic-device prior and the knowledge devices it
was fitted on), ``default.pt`` + ``default.json`` (moohw's policy, its meta-learned latency prior
and its training record) and ``faithful.zip`` + ``faithful.json`` (the Sim-is-More PPO model and
its record). The shipped folder is ``moohw/algorithms/controller/checkpoints``; ``moohw pretrain
controller --out DIR`` writes a new one and ``--option checkpoint=DIR`` deploys it.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from moohw.algorithms.controller.incontext import LatencyPrior
from moohw.algorithms.controller.policy import ScoringPolicy

from moohw.devices.prior import SyntheticPrior
from moohw.errors import InputError
from moohw.proxies import get_proxy
from moohw.spaces import NB201Space

SHIPPED = Path(__file__).with_name("checkpoints")
VARIANTS = ("default", "faithful")
#: Proxy the default policy is pre-trained with (it sees only normalised scores, so it deploys
#: with any proxy).
TRAIN_PROXY = "tuned"


def load_prior(folder: str | Path = SHIPPED) -> SyntheticPrior:
    """The synthetic-device prior stored in a checkpoint folder."""
    f = Path(folder) / "prior.json"
    if not f.is_file():
        raise FileNotFoundError(f"no synthetic prior at {f}")
    return SyntheticPrior.from_json(f.read_text())


@dataclass(frozen=True)
class DefaultCheckpoint:
    """moohw's default controller: the scoring policy and its in-context latency prior."""

    policy: ScoringPolicy
    latency_prior: LatencyPrior
    meta: dict[str, Any]


@lru_cache(maxsize=4)
def load_default(folder: str = str(SHIPPED)) -> DefaultCheckpoint:
    """Load ``default.pt`` from a checkpoint folder (cached per folder)."""
    f = Path(folder) / "default.pt"
    if not f.is_file():
        raise FileNotFoundError(
            f"no default controller at {f}; run `moohw pretrain controller --out {folder}`"
        )
    blob = torch.load(f, map_location="cpu", weights_only=False)
    policy = ScoringPolicy(hidden=int(blob["hidden"]))
    policy.load_state_dict(blob["policy"])
    policy.eval()
    prior = LatencyPrior(mu=np.asarray(blob["mu"]), cov=np.asarray(blob["cov"]))
    meta = json.loads((Path(folder) / "default.json").read_text())
    return DefaultCheckpoint(policy, prior, meta)


@lru_cache(maxsize=4)
def load_faithful_model(folder: str = str(SHIPPED)) -> Any:
    """Load ``faithful.zip`` (stable-baselines3 PPO) from a checkpoint folder (cached)."""
    from moohw.algorithms.controller.faithful import load_faithful

    f = Path(folder) / "faithful.zip"
    if not f.is_file():
        raise FileNotFoundError(
            f"no faithful controller at {f}; run "
            f"`moohw pretrain controller --variant faithful --out {folder}`"
        )
    return load_faithful(f)


def _record(variant: str, prior: SyntheticPrior, config: dict[str, Any], wall: float) -> str:
    import moohw

    return json.dumps(
        {
            "variant": variant,
            "config": config,
            "knowledge_devices": list(prior.fitted_on),
            "train_seconds": round(wall, 1),
            "machine": f"{platform.machine()} {platform.system()}, torch {torch.__version__}",
            "moohw": moohw.__version__,
            "date": time.strftime("%Y-%m-%d"),
        },
        indent=2,
    )


def pretrain(
    variant: str = "default",
    steps: int | None = None,
    seed: int = 0,
    out: str | Path = "checkpoints/controller",
    prior: SyntheticPrior | None = None,
    progress: Callable[[int, int], None] | None = None,
    knowledge: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Pre-train a controller on synthetic devices and save it in ``out``.

    Args:
        variant: ``default`` (moohw's probe-conditioned policy, REINFORCE) or ``faithful``
            (Sim-is-More PPO).
        steps: ``default``: policy-gradient iterations (one synthetic device each, default 300);
            ``faithful``: PPO environment steps (default 100,000).
        seed: Seed of everything random in training.
        out: Folder for the checkpoint (created; ``prior.json`` is written beside it).
        prior: Synthetic-device prior (default: the shipped one, fitted on the ND train split).
        progress: Called with ``(done, total)``.
        knowledge: Knowledge device name → whole-space NB201 latency (ms); the default policy's
            in-context latency model takes its prior from them (from synthetic devices without).

    Returns:
        The path of the written model file.
    """
    if variant not in VARIANTS:
        raise InputError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if steps is not None and steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    prior = prior if prior is not None else load_prior()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prior.json").write_text(prior.to_json() + "\n")
    t0 = time.perf_counter()
    if variant == "default":
        from moohw.algorithms.controller.train import train_default

        n = 300 if steps is None else int(steps)
        space = NB201Space()
        proxy = get_proxy(TRAIN_PROXY, space).score(space.enumerate())
        policy, lprior, log = train_default(
            prior,
            proxy,
            iterations=n,
            seed=seed,
            progress=(lambda i, _r: progress(i, n)) if progress else None,
            knowledge=knowledge,
        )
        path = folder / "default.pt"
        torch.save(
            {
                "policy": policy.state_dict(),
                "hidden": policy.head.in_features,
                "mu": lprior.mu,
                "cov": lprior.cov,
            },
            path,
        )
        config = {
            "iterations": n,
            "seed": seed,
            "proxy": TRAIN_PROXY,
            "latency_prior_from": sorted(knowledge) if knowledge else "synthetic devices",
            "returns": [round(r, 4) for r in log.returns],
        }
    else:
        from moohw.algorithms.controller.faithful import PPO_KWARGS, train_faithful

        n = 100_000 if steps is None else int(steps)
        model = train_faithful(
            prior, steps=n, seed=seed, progress=(lambda i: progress(i, n)) if progress else None
        )
        path = folder / "faithful.zip"
        model.save(str(path))
        config = {"steps": n, "seed": seed, "proxy": "simismore", "ppo": PPO_KWARGS}
    (folder / f"{variant}.json").write_text(
        _record(variant, prior, config, time.perf_counter() - t0) + "\n"
    )
    load_default.cache_clear()
    load_faithful_model.cache_clear()
    return path
