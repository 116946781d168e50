"""What the registry knows about each algorithm: its properties and its typed options.

Every registered algorithm carries an :class:`AlgorithmInfo`: whether its choices depend on the
budget K (``budget_agnostic``), whether it needs knowledge devices, whether the seed changes its
run (``seed_independent``), which search spaces it supports, and its options with type, default
and help. :func:`validate_options` turns user input (``-o key=value`` strings from the command
line, or Python values) into typed keyword arguments, or raises one :class:`OptionError` line
that lists what is valid.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moohw.errors import OptionError

#: Option types: how a value is checked and how a string is parsed.
TYPES = ("int", "float", "bool", "str", "list[str]")

_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


@dataclass(frozen=True)
class Option:
    """One typed option of an algorithm.

    Attributes:
        name: Keyword the algorithm's constructor takes.
        type: One of :data:`TYPES`.
        default: Default value (``None``: the algorithm picks one, e.g. from the budget).
        help: One line for ``moohw algorithms``.
        min: Smallest valid value (numbers only), inclusive.
        max: Largest valid value (numbers only), inclusive.
        choices: Valid values (strings only).
    """

    name: str
    type: str
    default: Any = None
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"option {self.name}: type must be one of {TYPES}, got {self.type!r}")

    def describe(self) -> str:
        """``name: type = default`` with its range or choices, for listings and errors."""
        rng = ""
        if self.choices:
            rng = " in {" + ", ".join(self.choices) + "}"
        elif self.min is not None or self.max is not None:
            lo = "" if self.min is None else f"{self.min:g} <= "
            hi = "" if self.max is None else f" <= {self.max:g}"
            rng = f" ({lo}x{hi})"
        return f"{self.name}: {self.type} = {self.default!r}{rng}"

    def parse(self, value: Any, algo: str) -> Any:
        """``value`` (a string from the command line, or a Python value) as this option's type.

        Raises:
            OptionError: naming the option, the bad value and the expected type or range.
        """
        bad = OptionError(f"option {self.name} of {algo} must be {self.describe()}, got {value!r}")
        if value is None:
            if self.default is None:
                return None
            raise bad
        if self.type == "list[str]":
            if isinstance(value, str):
                items = [v.strip() for v in value.split(",") if v.strip()]
            elif isinstance(value, Sequence):
                items = list(value)
            else:
                raise bad
            if not items:
                raise bad
            return items
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _BOOL:
                return _BOOL[value.strip().lower()]
            raise bad
        if self.type == "str":
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise bad
            text = str(value)
            if self.choices and text not in self.choices:
                raise bad
            return text
        out: float | int
        try:
            if isinstance(value, bool):
                raise ValueError
            if self.type == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                out = int(value) if not isinstance(value, str) else int(value.strip())
            else:
                out = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if out != out or (self.min is not None and out < self.min):
            raise bad
        if self.max is not None and out > self.max:
            raise bad
        return out


@dataclass(frozen=True)
class AlgorithmInfo:
    """The properties and options of one registered algorithm.

    Attributes:
        options: Typed options, in the order ``moohw algorithms`` lists them.
        budget_agnostic: Its choices never depend on the budget K: with the same seed a run with
            budget K measures the first K architectures of any longer run (anytime scoring).
        needs_knowledge: It learns from knowledge devices (other devices' latency), given by its
            ``knowledge`` option or filled in from the benchmark data.
        seed_independent: The seed does not change its run, so a comparison runs it once per
            (device, K) and copies the row to every seed.
        spaces: Search spaces it supports (empty: every space).
        requires: Python packages it needs beyond moohw's own (an extra, e.g. ``optuna``).
    """

    options: tuple[Option, ...] = ()
    budget_agnostic: bool = False
    needs_knowledge: bool = False
    seed_independent: bool = False
    spaces: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        """Whether every package in :attr:`requires` is installed."""
        return all(importlib.util.find_spec(p) is not None for p in self.requires)

    def option(self, name: str) -> Option | None:
        """The option called ``name``, or ``None``."""
        return next((o for o in self.options if o.name == name), None)

    def supports(self, space: str) -> bool:
        """Whether the algorithm can search ``space``."""
        return not self.spaces or space in self.spaces


def validate_options(algo: str, info: AlgorithmInfo, options: Mapping[str, Any]) -> dict[str, Any]:
    """Typed keyword options for ``algo`` from ``options``.

    Values may be strings (parsed by the option's type) or Python values (checked). Options left
    out are left out: the algorithm's own defaults apply. ``knowledge`` may hold device objects.

    Raises:
        OptionError: for an unknown key (lists the valid options) or a bad value.
    """
    out: dict[str, Any] = {}
    for key, value in options.items():
        opt = info.option(key)
        if opt is None:
            valid = ", ".join(o.describe() for o in info.options) or "none"
            raise OptionError(f"unknown option {key!r} for {algo}; valid options: {valid}")
        if key == "knowledge" and _all_devices(value):
            out[key] = list(value)
            continue
        out[key] = opt.parse(value, algo)
    return out


def _all_devices(value: Any) -> bool:
    # Device objects (not names) passed through the Python API.
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) > 0
        and all(hasattr(v, "latency_ms") for v in value)
    )


__all__ = ["TYPES", "AlgorithmInfo", "Option", "validate_options"]


#: Options of ``controller-ic`` beyond its checkpoint (``algorithms/controller/search.py``).
IC_OPTIONS = (
    Option("prior", "str", "knowledge", "latency prior: knowledge, synthetic or a .npz path"),
    Option("explore_every", "int", 4, "period of exploration probes (0: none)", 0),
)
