"""Pieces shared by the ``moohw`` command and its sub-apps: one-line errors, progress, options."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from moohw.data import DataError
from moohw.errors import InputError, MoohwError
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
SpaceOpt = Annotated[
    str,
    typer.Option(
        "--space", help="Search space: nb201, or fbnet (predictors and monotonicity; no search)."
    ),
]
ProxyOpt = Annotated[str, typer.Option("--proxy", help="Accuracy proxy (see `moohw proxies`).")]
AccOpt = Annotated[
    str, typer.Option("--accuracy", help="Benchmark accuracy column used for scoring only.")
]


def split_list(value: str, cast: Callable[[str], Any] = str) -> list[Any]:
    """``"a, b"`` → ``["a", "b"]``, each passed through ``cast``; empty or bad: InputError."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise InputError(f"expected a comma-separated list, got {value!r}")
    try:
        return [cast(v) for v in items]
    except ValueError:
        raise InputError(f"bad list {value!r}: expected {cast.__name__} values") from None


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


def sub_app(help: str) -> typer.Typer:
    """A typer sub-app configured like the main app."""
    return typer.Typer(
        help=help, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
    )


# --------------------------------------------------------------------------------------------
# Progress that also works in logs (issue 17): a rich bar on a terminal, else a plain line on
# stderr every MOOHW_PROGRESS_EVERY seconds (default 10).

PROGRESS_ENV = "MOOHW_PROGRESS_EVERY"
DEFAULT_PROGRESS_EVERY = 10.0


def progress_every() -> float:
    """Seconds between progress lines when stderr is not a terminal (``$MOOHW_PROGRESS_EVERY``)."""
    raw = os.environ.get(PROGRESS_ENV, "").strip()
    if not raw:
        return DEFAULT_PROGRESS_EVERY
    try:
        every = float(raw)
    except ValueError:
        raise InputError(f"{PROGRESS_ENV} must be a number of seconds, got {raw!r}") from None
    if not every > 0:
        raise InputError(f"{PROGRESS_ENV} must be > 0 seconds, got {raw!r}")
    return every


@dataclass
class _LogTask:
    description: str
    total: float | None
    completed: float = 0.0


class LogProgress:
    """The part of :class:`rich.progress.Progress` the commands use, as timed log lines.

    One line per task every ``every`` seconds (``desc: 12/50 (24%), 31 s elapsed, ~98 s
    left``), and a last line on exit for any task that printed before, so a log shows both
    that the job is alive and how it ended.
    """

    def __init__(self, every: float, console: Console = err) -> None:
        self.every = every
        self.console = console
        self.tasks: list[_LogTask] = []
        self._t0 = time.monotonic()
        self._last: dict[int, float] = {}

    def __enter__(self) -> LogProgress:
        self._t0 = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        for i in list(self._last):
            self._line(i, final=True)

    def add_task(self, description: str, total: float | None = None, **_: Any) -> TaskID:
        self.tasks.append(_LogTask(description, total))
        return TaskID(len(self.tasks) - 1)

    def update(
        self,
        task: TaskID,
        *,
        completed: float | None = None,
        total: float | None = None,
        advance: float | None = None,
        description: str | None = None,
        **_: Any,
    ) -> None:
        t = self.tasks[task]
        if total is not None:
            t.total = total
        if completed is not None:
            t.completed = completed
        if advance is not None:
            t.completed += advance
        if description is not None:
            t.description = description
        self._maybe(task)

    def advance(self, task: TaskID, advance: float = 1) -> None:
        self.update(task, advance=advance)

    def _maybe(self, i: int) -> None:
        now = time.monotonic()
        if now - self._last.get(i, self._t0) >= self.every:
            self._line(i)

    def _line(self, i: int, final: bool = False) -> None:
        t = self.tasks[i]
        now = time.monotonic()
        self._last[i] = now
        el = now - self._t0
        done = f"{t.completed:g}" + ("" if t.total is None else f"/{t.total:g}")
        pct = ""
        eta = ""
        if t.total:
            frac = min(1.0, t.completed / t.total)
            pct = f" ({100 * frac:.0f}%)"
            if 0 < frac < 1 and not final:
                eta = f", ~{el / frac - el:.0f} s left"
        word = "finished" if final else "elapsed"
        self.console.print(
            f"{escape(t.description)}: {done}{pct}, {el:.0f} s {word}{eta}",
            highlight=False,
            soft_wrap=True,
        )


def progress() -> Progress | LogProgress:
    """Progress on stderr: a transient bar with count and ETA on a terminal, else timed lines.

    When stderr is not a terminal (a log file, CI, ``nohup``) rich draws nothing, so a line is
    printed every ``$MOOHW_PROGRESS_EVERY`` seconds instead (default 10).
    """
    if err.is_terminal:
        cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
        return Progress(*cols, TimeRemainingColumn(), console=err, transient=True)
    return LogProgress(progress_every())


# --------------------------------------------------------------------------------------------
# Input checks shared by the commands (issue 17): budgets, output paths, list options.


def check_budget(
    budget: int, n_candidates: int | None = None, where: str = "", flag: str = "--budget"
) -> int:
    """``budget`` as a number of target measurements: >= 1 and at most ``n_candidates``.

    Raises:
        ValueError: one line naming the value and the valid range.
    """
    if budget < 1:
        raise InputError(f"{flag} must be >= 1 target measurement, got {budget}")
    if n_candidates is not None and budget > n_candidates:
        raise InputError(
            f"{flag} {budget} is more than the {n_candidates:,} candidate architectures"
            f"{' of ' + where if where else ''}: use at most {n_candidates}"
        )
    return budget


def n_candidates(device: Any) -> int:
    """How many distinct architectures a search on ``device`` can measure."""
    cov = device.coverage()
    if cov is None:
        return int(device.space.size)
    return len(set(device.space.keys(cov)))


def check_out_dir(path: Path | None, flag: str = "--out") -> None:
    """Fail before any work when an output folder is an existing file (or lies under one)."""
    if path is None:
        return
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise InputError(f"{flag} {path}: {p} is a file, not a folder; pass a folder path")


def check_out_file(path: Path, flag: str = "--out") -> None:
    """Fail before any work when an output file is a folder or lies under a file."""
    if path.is_dir():
        raise InputError(f"{flag} {path} is a folder; pass a file path such as {path / 'out.csv'}")
    for p in path.parents:
        if p.exists() and not p.is_dir():
            raise InputError(f"{flag} {path}: {p} is a file, not a folder")


def unique(items: list[Any], flag: str) -> list[Any]:
    """``items`` without repeats (first order kept); a note on stderr names what was merged."""
    out = list(dict.fromkeys(items))
    if len(out) < len(items):
        dup = [x for x in out if items.count(x) > 1]
        err.print(
            f"note: {flag} lists {', '.join(map(str, dup))} more than once; each runs once",
            highlight=False,
            soft_wrap=True,
        )
    return out
