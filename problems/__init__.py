"""pymoo problems built from (space, device, proxy); installed as ``moohw.problems``."""

from __future__ import annotations

from moohw.problems.hwnas import HWNASProblem

__all__ = ["HWNASProblem"]
