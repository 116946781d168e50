"""Convert a moohw <= 0.1 controller checkpoint folder (pickles) to tensors + JSON.

Kept out of the installed package on purpose: it unpickles, so it runs only when a person runs
it, on a folder they trust. moohw itself refuses such folders
(:class:`moohw.algorithms.controller.checkpoint.UnsafeCheckpointError`).

Usage::

    python tools/convert_legacy.py LEGACY_DIR [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import moohw.algorithms.controller.checkpoint as ck
import torch


def convert_legacy(folder: str | Path, out: str | Path | None = None) -> list[Path]:
    """Rewrite a moohw <= 0.1 checkpoint folder as tensors + JSON.

    **This unpickles** ``default.pt`` (``weights_only=False``) and ``faithful.zip``
    (``PPO.load``): use it only on folders you trust (moohw converted its shipped ones with it).

    Args:
        folder: The legacy folder.
        out: Where to write the converted files (default: ``folder``; the legacy files are kept).

    Returns:
        The files written.
    """
    src, dst = Path(folder), Path(out) if out is not None else Path(folder)
    dst.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if (src / "default.pt").is_file():
        blob = torch.load(src / "default.pt", map_location="cpu", weights_only=False)
        torch.save(
            ck._default_blob(blob["policy"], int(blob["hidden"]), blob["mu"], blob["cov"]),
            dst / "default.pt",
        )
        written.append(dst / "default.pt")
    if (src / "faithful.zip").is_file():
        from stable_baselines3 import PPO

        model = PPO.load(str(src / "faithful.zip"), device="cpu")
        torch.save(ck._faithful_blob(model), dst / "faithful.pt")
        written.append(dst / "faithful.pt")
    for name in ("prior.json", "default.json", "faithful.json"):
        if (src / name).is_file() and src.resolve() != dst.resolve():
            (dst / name).write_text((src / name).read_text())
    ck.load_default.cache_clear()
    ck.load_faithful_model.cache_clear()
    return written


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    for f in convert_legacy(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None):
        print(f)
