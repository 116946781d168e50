"""The ``moohw`` command line (typer + rich), a package on top of core, problems and algorithms.

Bad input (unknown algorithm, device, space or proxy, negative budget, unreadable CSV) exits with
status 2 and one clear line on stderr, no traceback. One module per command group; this module
only assembles them, in the order ``moohw --help`` lists them.
"""

from __future__ import annotations

from typing import Annotated

import typer
from moohw.cli.catalog import algorithms, data_app, devices, spaces
from moohw.cli.common import DEBUG, sub_app
from moohw.cli.compare import compare
from moohw.cli.controller import pretrain_app
from moohw.cli.deliver import register
from moohw.cli.figures import monotonicity, plot
from moohw.cli.measure import measure_cmd, store_app
from moohw.cli.optimize import optimize
from moohw.cli.predictors import predictor_app, surrogate_app
from moohw.cli.proxies import proxies_app

__all__ = ["app", "main"]

app = sub_app("moohw: hardware-aware NAS as multi-objective optimisation.")

for _command in (optimize, compare, plot, devices, monotonicity, algorithms, spaces):
    app.command()(_command)
app.add_typer(data_app, name="data")
app.command("measure")(measure_cmd)
app.add_typer(store_app, name="store")
app.add_typer(pretrain_app, name="pretrain")
app.add_typer(predictor_app, name="predictor")
app.add_typer(surrogate_app, name="surrogate")
app.add_typer(proxies_app, name="proxies")
register(app)  # export, report


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")
    ] = False,
) -> None:
    """moohw: hardware-aware NAS as multi-objective optimisation."""
    DEBUG["on"] = debug


def main() -> None:
    """Console-script entry point."""
    app()
