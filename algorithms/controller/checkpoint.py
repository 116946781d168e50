"""Controller checkpoints: pre-training entry point, saving, and loading the shipped models.

A checkpoint folder holds ``prior.json`` (the synthetic-device prior and the knowledge devices it
was fitted on), ``default.pt`` + ``default.json`` (moohw's policy, its meta-learned latency prior
and its training record) and ``faithful.pt`` + ``faithful.json`` (the Sim-is-More PPO policy's
weights and its record, PPO settings included). The shipped folder is
``moohw/algorithms/controller/checkpoints``; ``moohw pretrain controller --out DIR`` writes a new
one and ``--option checkpoint=DIR`` deploys it.

Checkpoints are data, not code: ``*.pt`` files hold only tensors, ints and dicts and are read with
``torch.load(weights_only=True)``, whose unpickler refuses every other global, so a crafted folder
cannot run anything on load (it is refused with :class:`UnsafeCheckpointError`). The faithful
policy's weights are loaded into a PPO built from the recorded settings, never by ``PPO.load``
(which unpickles). Folders written by moohw <= 0.1 (pickled numpy arrays, an SB3 ``.zip``) are
refused too; ``python tools/convert_legacy.py DIR`` (a repository script, not installed with the
package, since it unpickles) rewrites one that you trust.
"""

from __future__ import annotations

import json
import platform
import re
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


class UnsafeCheckpointError(InputError):
    """A checkpoint file that is not plain tensor data (it could run code when unpickled)."""


_LEGACY_HINT = (
    "re-create it with `moohw pretrain controller --out DIR`, or, only if you trust it, convert "
    "it with `python tools/convert_legacy.py DIR` from the moohw repository"
)


def _load_tensors(f: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """A dict of tensors/ints read with the restricted unpickler; one-line errors otherwise."""
    try:
        blob = torch.load(f, map_location="cpu", weights_only=True)
    except Exception as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f"it references {found.group(1)}" if found else f"{type(e).__name__}"
        raise UnsafeCheckpointError(
            f"refused to load {f}: not plain tensor data ({what}); {_LEGACY_HINT}"
        ) from None
    if not isinstance(blob, dict) or any(k not in blob for k in keys):
        raise InputError(f"malformed checkpoint {f}: expected a dict with keys {', '.join(keys)}")
    return blob


def _load_state(module: torch.nn.Module, state: Any, f: Path) -> None:
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"malformed checkpoint {f}: {first}") from None


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
    blob = _load_tensors(f, ("policy", "hidden", "mu", "cov"))
    policy = ScoringPolicy(hidden=int(blob["hidden"]))
    _load_state(policy, blob["policy"], f)
    policy.eval()
    prior = LatencyPrior(
        mu=torch.as_tensor(blob["mu"]).numpy(), cov=torch.as_tensor(blob["cov"]).numpy()
    )
    meta = _read_json(Path(folder) / "default.json")
    return DefaultCheckpoint(policy, prior, meta)


def _read_json(f: Path) -> dict[str, Any]:
    try:
        meta = json.loads(f.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no training record at {f}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"malformed checkpoint record {f}: {e}") from None
    if not isinstance(meta, dict):
        raise InputError(f"malformed checkpoint record {f}: expected a JSON object")
    return meta


def build_faithful_ppo(ppo_kwargs: Mapping[str, Any]) -> Any:
    """An untrained stable-baselines3 PPO with the faithful controller's spaces and settings.

    Built on the environment's observation and action spaces (a synthetic device stands in for
    the environment, which a policy never reads at deployment); its initial weights come from a
    forked torch RNG, so loading does not move the global one.
    """
    from moohw.algorithms.controller.env import HWNASEnv
    from stable_baselines3 import PPO

    from moohw.devices import get_device
    from moohw.proxies import get_proxy

    space = NB201Space()
    env = HWNASEnv(device=get_device("synthetic:0", space), proxy=get_proxy("params", space))
    kwargs = {k: v for k, v in ppo_kwargs.items() if k in ("gamma", "learning_rate", "n_steps")}
    with torch.random.fork_rng(devices=[]):
        return PPO("MultiInputPolicy", env, device="cpu", verbose=0, **kwargs)


@lru_cache(maxsize=4)
def load_faithful_model(folder: str = str(SHIPPED)) -> Any:
    """The faithful PPO controller of a checkpoint folder (cached): ``faithful.pt`` weights.

    Raises:
        UnsafeCheckpointError: For a pickled file, a legacy ``faithful.zip`` included.
    """
    f = Path(folder) / "faithful.pt"
    if not f.is_file():
        if (Path(folder) / "faithful.zip").is_file():
            raise UnsafeCheckpointError(
                f"refused to load {Path(folder) / 'faithful.zip'}: a pickled stable-baselines3 "
                f"archive can run code on load; {_LEGACY_HINT}"
            )
        raise FileNotFoundError(
            f"no faithful controller at {f}; run "
            f"`moohw pretrain controller --variant faithful --out {folder}`"
        )
    blob = _load_tensors(f, ("policy",))
    meta = _read_json(Path(folder) / "faithful.json")
    ppo = meta.get("config", {}).get("ppo")
    if not isinstance(ppo, dict):
        raise InputError(
            f"malformed checkpoint record {Path(folder) / 'faithful.json'}: no config.ppo"
        )
    model = build_faithful_ppo(ppo)
    _load_state(model.policy, blob["policy"], f)
    model.policy.set_training_mode(False)
    return model


def _default_blob(
    policy: Mapping[str, torch.Tensor], hidden: int, mu: Any, cov: Any
) -> dict[str, Any]:
    return {
        "policy": {k: v.detach().clone() for k, v in policy.items()},
        "hidden": int(hidden),
        "mu": torch.as_tensor(np.asarray(mu, dtype=np.float64)),
        "cov": torch.as_tensor(np.asarray(cov, dtype=np.float64)),
    }


def _faithful_blob(model: Any) -> dict[str, Any]:
    return {"policy": {k: v.detach().clone() for k, v in model.policy.state_dict().items()}}


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
        raise InputError(f"steps must be >= 1, got {steps}")
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
            _default_blob(policy.state_dict(), policy.head.in_features, lprior.mu, lprior.cov),
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
        path = folder / "faithful.pt"
        torch.save(_faithful_blob(model), path)
        config = {"steps": n, "seed": seed, "proxy": "simismore", "ppo": PPO_KWARGS}
    (folder / f"{variant}.json").write_text(
        _record(variant, prior, config, time.perf_counter() - t0) + "\n"
    )
    load_default.cache_clear()
    load_faithful_model.cache_clear()
    return path
