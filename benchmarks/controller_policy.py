"""Does the default controller's REINFORCE pre-training earn its place? (issue 13 item 4)

The shipped ``controller`` picks each probe with a scoring policy pre-trained by REINFORCE on
synthetic devices; before training that policy scores candidates by exact EHVI alone (greedy).
Issue 8's ablation compared the two on the ND *test* devices, which cannot choose anything. This
script compares them on the selection set, the ND train (knowledge) devices, leave-one-device-out:
for each target the in-context latency prior is refitted on the other eight devices' whole-space
latencies, and both variants share it; only the policy weights differ. Each variant runs once at
the largest budget and is scored on its prefixes (the controller is seed-independent), HV ratio of
the declared front with CIFAR-10 test accuracy and the default proxy, as
``benchmarks/unseen_controller.py lodo`` scores.

The pre-trained policy saw synthetic devices drawn from a prior fitted on all nine knowledge
devices (the target included), a small leak in the trained policy's favour.

    python benchmarks/controller_policy.py --data ../shared/data --budgets 10,20,50 --out OUT

Writes ``OUT/policy.csv`` (variant, device, budget, hv_ratio, ceiling; resumable) and prints the
Markdown table of ``unseen_controller.markdown``.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from moohw.algorithms.controller.incontext import LatencyPrior, cell_features  # noqa: E402
from moohw.problems.experiment import device_by_name  # noqa: E402

from moohw.data import open_data  # noqa: E402
from moohw.proxies import DEFAULT_PROXY  # noqa: E402
from moohw.spaces import get_space  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from controller import shipped_checkpoint_copy  # noqa: E402
from unseen_controller import markdown, nd_train, run_prefixes  # noqa: E402

VARIANTS = ("trained", "greedy")


def write_checkpoint(folder: Path, variant: str, prior: LatencyPrior) -> Path:
    """The shipped default checkpoint with ``prior`` and, for ``greedy``, the untrained policy."""
    return shipped_checkpoint_copy(folder, (prior.mu, prior.cov), trained=variant == "trained")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--budgets", default="10,20,50")
    ap.add_argument("--proxy", default=DEFAULT_PROXY)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    data = open_data(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budgets = [int(b) for b in args.budgets.split(",")]
    space = get_space("nb201")
    X = space.enumerate()
    phi = cell_features(space, X)
    names = nd_train(data)
    lat = {n: np.asarray(device_by_name(n, "nb201", data).latency_ms(X)) for n in names}
    csv = out / "policy.csv"
    done = pd.read_csv(csv) if csv.is_file() else pd.DataFrame()
    for target in names:
        prior = LatencyPrior.from_latencies(phi, [v for n, v in lat.items() if n != target])
        for variant in VARIANTS:
            if len(done) and ((done.variant == variant) & (done.device == target)).any():
                continue
            folder = write_checkpoint(
                out / "ck" / f"{variant}_{target.split(':')[-1]}", variant, prior
            )
            rows = [
                {"variant": variant, **r}
                for r in run_prefixes(
                    target,
                    budgets,
                    {"checkpoint": str(folder)},
                    data,
                    algo="controller",
                    proxy=args.proxy,
                )
            ]
            done = pd.concat([done, pd.DataFrame(rows)], ignore_index=True)
            done.to_csv(csv, index=False)
            print(variant, target, [round(float(r["hv_ratio"]), 3) for r in rows], flush=True)  # type: ignore[arg-type]
    print(markdown(done))


if __name__ == "__main__":
    main()
