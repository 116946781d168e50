"""The controller on unseen hardware (issue 13 item 4): shipped priors and the selection runs.

Two commands:

- ``priors``: fit the controller's in-context latency priors and write them into the checkpoint
  folder: ``incontext_knowledge.npz`` on the whole-space latencies of the ND train devices
  (needs ``--data``), ``incontext_synthetic.npz`` on data-free synthetic devices (reads nothing).

      python benchmarks/unseen_controller.py priors --data ../shared/data \\
          --out-dir algorithms/controller/checkpoints

- ``lodo``: the selection set. Each ND train (knowledge) device is the target once, its prior
  fitted on the other eight (leave-one-device-out); the synthetic prior is data-free anyway.
  Every variant ``NAME=PRIOR:EXPLORE_EVERY`` runs once at the largest budget and is scored on its
  prefixes (the controller is budget-agnostic and seed-independent), exactly as
  ``benchmarks/search.py`` scores (HV ratio of the declared front, CIFAR-10 test accuracy).
  The only split on which anything about the controller is chosen.

      python benchmarks/unseen_controller.py lodo --data ../shared/data --budgets 10,20,50 \\
          --variants kn4=knowledge:4,kn0=knowledge:0,syn4=synthetic:4 --out OUT

Writes ``OUT/lodo.csv`` (variant, device, budget, hv_ratio, ceiling) and prints a Markdown table
of the per-device values and the mean per (variant, K).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402
from moohw.algorithms.anytime import PaidSnapshot, paid_snapshot, prefix  # noqa: E402
from moohw.algorithms.api import run_algorithm  # noqa: E402
from moohw.algorithms.controller.checkpoint import SHIPPED  # noqa: E402
from moohw.algorithms.controller.latmodel import (  # noqa: E402
    PRIOR_FILES,
    fit_family_priors,
    synthetic_priors,
)
from moohw.problems.experiment import attach_scores, build_problem, device_by_name  # noqa: E402

from moohw.data import BenchmarkData, open_data  # noqa: E402
from moohw.knowledge import task_split  # noqa: E402
from moohw.spaces import get_space  # noqa: E402


def nd_train(data: BenchmarkData) -> list[str]:
    """The ND train split (knowledge devices) as ``help:`` device names."""
    return [f"help:{d}" for d in task_split(data, "nb201", "ND")["train"]]


def knowledge_priors(data: BenchmarkData, names: list[str], path: Path) -> None:
    """Fit the family priors on the whole-space latencies of ``names`` and save them."""
    space = get_space("nb201")
    X = space.enumerate()
    lat = {n: device_by_name(n, "nb201", data).latency_ms(X) for n in names}
    fit_family_priors(space, X, lat, {"fitted_on": names}).save(path)


def cmd_priors(args: argparse.Namespace) -> None:
    out = Path(args.out_dir)
    t0 = time.perf_counter()
    synthetic_priors(get_space("nb201"), args.n_synthetic, seed=0).save(
        out / PRIOR_FILES["synthetic"]
    )
    print(f"synthetic prior: {time.perf_counter() - t0:.1f} s")
    if args.data is not None or args.knowledge:
        data = open_data(args.data)
        t0 = time.perf_counter()
        knowledge_priors(data, nd_train(data), out / PRIOR_FILES["knowledge"])
        print(f"knowledge prior: {time.perf_counter() - t0:.1f} s")


def run_prefixes(
    device: str,
    budgets: list[int],
    options: dict[str, object],
    data: BenchmarkData,
    algo: str = "controller-ic",
    proxy: str = "tuned",
) -> list[dict[str, object]]:
    """One controller run at ``max(budgets)``, scored on every prefix (as ``prefix_runs``)."""
    kmax = max(budgets)
    problem = build_problem(device, kmax, "nb201", proxy, data, "cifar10")
    snaps: list[PaidSnapshot] = []
    t0 = time.perf_counter()
    problem.ledger.on_paid = lambda n: snaps.append(paid_snapshot(problem.ledger, t0))
    full = run_algorithm(algo, problem, 0, options=options, data=data)
    wall = time.perf_counter() - t0
    rows = []
    for k in sorted(set(budgets)):
        r = attach_scores(full if k == kmax else prefix(full, snaps, k), problem.device, data)
        rows.append(
            {
                "device": device,
                "budget": k,
                "hv_ratio": r.scores.get("hv_ratio"),
                "ceiling": r.scores.get("ceiling_hv_ratio"),
                "n_explored": sum(t < k for t in full.info.get("explored", [])),
                "wall_s_at_kmax": wall,
            }
        )
    return rows


def cmd_lodo(args: argparse.Namespace) -> None:
    data = open_data(args.data)
    out = Path(args.out)
    (out / "priors").mkdir(parents=True, exist_ok=True)
    budgets = [int(b) for b in args.budgets.split(",")]
    names = nd_train(data)
    targets = [t for t in names if not args.devices or t in args.devices.split(",")]
    variants = {v.split("=", 1)[0]: v.split("=", 1)[1] for v in args.variants.split(",")}
    csv = out / "lodo.csv"
    done = pd.read_csv(csv) if csv.is_file() else pd.DataFrame()
    for target in targets:
        lodo = out / "priors" / f"lodo_{target.replace(':', '_')}.npz"
        if not lodo.is_file():
            knowledge_priors(data, [n for n in names if n != target], lodo)
        for vname, spec in variants.items():
            if len(done) and ((done.variant == vname) & (done.device == target)).any():
                continue
            prior, every = spec.split(":")
            opts = {
                "prior": str(lodo) if prior == "knowledge" else prior,
                "explore_every": int(every),
            }
            done = run_variant(done, csv, vname, target, budgets, opts, data)
    print(markdown(done))


def run_variant(
    done: pd.DataFrame,
    csv: Path,
    vname: str,
    target: str,
    budgets: list[int],
    opts: dict[str, Any],
    data: Any,
) -> pd.DataFrame:
    """Run one (variant, device), append its rows to ``done`` and save it (resumable)."""
    rows = [{"variant": vname, **r} for r in run_prefixes(target, budgets, opts, data)]
    done = pd.concat([done, pd.DataFrame(rows)], ignore_index=True)
    done.to_csv(csv, index=False)
    print(vname, target, [round(float(r["hv_ratio"]), 3) for r in rows], flush=True)
    return done


def cmd_report(args: argparse.Namespace) -> None:
    """Shipped priors on report devices (ND test, edgegpu, validation tables): no choice here."""
    data = open_data(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budgets = [int(b) for b in args.budgets.split(",")]
    variants = {v.split("=", 1)[0]: v.split("=", 1)[1] for v in args.variants.split(",")}
    csv = out / "report.csv"
    done = pd.read_csv(csv) if csv.is_file() else pd.DataFrame()
    for target in args.devices.split(","):
        for vname, spec in variants.items():
            if len(done) and ((done.variant == vname) & (done.device == target)).any():
                continue
            prior, every = spec.split(":")
            opts = {"prior": prior, "explore_every": int(every)}
            done = run_variant(done, csv, vname, target, budgets, opts, data)
    print(markdown(done))


def markdown(df: pd.DataFrame) -> str:
    """Per-device HV ratio per (variant, K) and the mean over devices."""
    piv = df.pivot_table(index=["device"], columns=["variant", "budget"], values="hv_ratio")
    lines = ["| device | " + " | ".join(f"{c[0]} K={c[1]}" for c in piv.columns) + " |"]
    lines.append("|---" * (len(piv.columns) + 1) + "|")
    for dev, row in piv.iterrows():
        lines.append(f"| {dev} | " + " | ".join(f"{x:.3f}" for x in row) + " |")
    lines.append("| **mean** | " + " | ".join(f"{x:.3f}" for x in piv.mean()) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("priors")
    p.add_argument("--data", default=None)
    p.add_argument("--knowledge", action="store_true", help="also fit the knowledge prior")
    p.add_argument("--out-dir", default=str(SHIPPED))
    p.add_argument("--n-synthetic", type=int, default=200)
    p.set_defaults(func=cmd_priors)
    p = sub.add_parser("lodo")
    p.add_argument("--data", default=None)
    p.add_argument("--budgets", default="10,20,50")
    p.add_argument("--variants", default="kn4=knowledge:4")
    p.add_argument("--devices", default="", help="restrict to these ND train devices")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_lodo)
    p = sub.add_parser("report")
    p.add_argument("--data", default=None)
    p.add_argument("--budgets", default="10,20,50")
    p.add_argument("--variants", default="knowledge=knowledge:4,synthetic=synthetic:4")
    p.add_argument("--devices", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_report)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
