"""``moohw pretrain``: pre-train a controller on synthetic devices."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from moohw.cli.common import DataOpt, check_out_dir, friendly, progress, sub_app
from rich.console import Console

from moohw.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from moohw.devices.prior import SyntheticPrior

pretrain_app = sub_app("Pre-train search methods on synthetic devices.")
console = Console()


@pretrain_app.command("controller")
@friendly
def pretrain_controller(
    variant: Annotated[
        str,
        typer.Option(
            "--variant", help="default (moohw's probe-conditioned policy) or faithful (PPO)."
        ),
    ] = "default",
    steps: Annotated[
        int | None,
        typer.Option(
            "--steps",
            help="default: policy-gradient iterations (300); faithful: PPO steps (100000).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Checkpoint folder.")] = Path(
        "checkpoints/controller"
    ),
    data: DataOpt = None,
    task: Annotated[
        str, typer.Option("--task", help="Task whose train devices fit the prior (with --data).")
    ] = "ND",
) -> None:
    """Pre-train a controller; deploy with `moohw optimize --algo controller -o checkpoint=OUT`.

    Without --data the shipped synthetic-device prior (fitted on the ND train devices) is used and
    the in-context latency model's prior comes from synthetic devices; with --data both are fitted
    on the --task train devices (never on test devices).
    """
    from moohw.algorithms.controller import load_prior, pretrain

    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    if steps is not None and steps < 1:
        raise InputError(f"--steps must be >= 1, got {steps}")
    check_out_dir(out)
    prior, knowledge = load_prior(), None
    if data is not None:
        prior, knowledge = _fit_prior(data, task)
    with progress() as prog:
        bar = prog.add_task(f"pre-training controller ({variant})", total=None)
        path = pretrain(
            variant,
            steps=steps,
            seed=seed,
            out=out,
            prior=prior,
            knowledge=knowledge,
            progress=lambda i, n: prog.update(bar, completed=i, total=n),
        )
    console.print(f"wrote {path} (prior fitted on {len(prior.fitted_on)} knowledge devices)")


def _fit_prior(data: Path, task: str) -> tuple[SyntheticPrior, dict[str, np.ndarray]]:
    from moohw.data import open_data
    from moohw.devices import get_device
    from moohw.devices.prior import fit_prior
    from moohw.knowledge import task_split
    from moohw.predictors import DeviceData
    from moohw.spaces import NB201Space

    bench = open_data(data)
    space = NB201Space()
    X = space.enumerate()
    names = task_split(bench, "nb201", task)["train"]
    lat = {f"help:{c}": get_device(f"help:{c}", space, bench).latency_ms(X) for c in names}
    return fit_prior(space, {k: DeviceData(X, v) for k, v in lat.items()}), lat
