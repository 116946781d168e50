"""The synthetic-device controller (Sim-is-More): environment first; policies are open work."""

from __future__ import annotations

from moohw.algorithms.controller.env import ENV_ID, HWNASEnv, register_env

__all__ = ["ENV_ID", "HWNASEnv", "register_env"]
