"""The synthetic-device controller (Sim-is-More and moohw's default variant).

- :mod:`.env`: the gymnasium environment ``moohw/HWNAS-v0`` (the paper's MDP);
- :mod:`.faithful`: the paper's PPO controller (stable-baselines3);
- :mod:`.incontext`, :mod:`.policy`, :mod:`.train`: moohw's probe-conditioned policy, its
  meta-learned in-context latency model and its REINFORCE pre-training;
- :mod:`.checkpoint`: :func:`pretrain`, saving and loading (shipped checkpoints included);
- :mod:`.search`: deployment as pymoo Algorithms (``controller``, ``controller-faithful``).
"""

from __future__ import annotations

from moohw.algorithms.controller.checkpoint import SHIPPED, load_prior, pretrain
from moohw.algorithms.controller.env import ENV_ID, HWNASEnv, register_env

__all__ = ["ENV_ID", "SHIPPED", "HWNASEnv", "load_prior", "pretrain", "register_env"]
