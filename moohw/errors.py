"""moohw's exception types: errors that mean bad input or an unusable environment, not a bug.

The command line turns a :class:`MoohwError` into one line on stderr and exit status 2; any other
exception is a bug and prints one line plus a hint to rerun with ``--debug`` (exit status 1).
Library code raises these at its validation boundaries. Each subclass also derives from the
built-in exception a caller would catch without knowing moohw (``ValueError``, ``KeyError``).
"""

from __future__ import annotations


class MoohwError(Exception):
    """Base of every user-facing moohw error; ``str(e)`` is one line naming the bad value."""


class InputError(MoohwError, ValueError):
    """A value a user passed is invalid (the message says what is valid)."""


class OptionError(InputError):
    """An unknown algorithm option or a value of the wrong type or range."""


class BudgetError(InputError):
    """A budget below 1 or above the number of candidate architectures."""


class UnknownNameError(MoohwError, KeyError):
    """An unknown registry name; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want a readable line
        return str(self.args[0]) if self.args else ""


__all__ = ["BudgetError", "InputError", "MoohwError", "OptionError", "UnknownNameError"]
