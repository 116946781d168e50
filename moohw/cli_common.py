"""Pieces shared by the ``moohw`` command and its sub-apps: one-line errors, progress, options."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from moohw.data import DataError
from moohw.errors import MoohwError
from moohw.measure.protocol import MeasureError

F = TypeVar("F", bound=Callable[..., Any])

err = Console(stderr=True)

#: Exceptions that mean bad input or an unusable environment, not a bug (exit status 2).
#: Anything else is a bug: one line, a hint to rerun with ``--debug``, exit status 1.
USER_ERRORS: tuple[type[Exception], ...] = (MoohwError, DataError, MeasureError, FileNotFoundError)

#: Set by the ``--debug`` flag of the ``moohw`` command: show tracebacks of unexpected errors.
DEBUG = {"on": False}

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Benchmark data folder (default: $MOOHW_DATA or ../shared/data)."),
]


def fail(msg: str) -> typer.Exit:
    """Print ``msg`` as one error line on stderr; return the exit to raise (status 2)."""
    err.print(f"[red]error:[/red] {escape(msg)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


@contextmanager
def user_errors() -> Iterator[None]:
    """Expected user errors inside the block become one line on stderr and exit status 2."""
    try:
        yield
    except USER_ERRORS as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        raise fail(str(msg)) from None
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except Exception as e:
        if DEBUG["on"]:
            raise
        line = f"{type(e).__name__}: {e}".splitlines()[0]
        err.print(
            f"[red]internal error:[/red] {escape(line)} (rerun with --debug for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None


def friendly(fn: F) -> F:
    """Decorator form of :func:`user_errors` for typer commands (no traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with user_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def progress() -> Progress:
    """A transient progress bar on stderr with count and ETA."""
    cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    return Progress(*cols, TimeRemainingColumn(), console=err, transient=True)


def sub_app(help: str) -> typer.Typer:
    """A typer sub-app configured like the main app."""
    return typer.Typer(
        help=help, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
    )
