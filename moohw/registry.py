"""Explicit, decorator-based registries (STYLE rule 7).

A registry maps a name to a factory. Registering a name twice raises; looking up an unknown name
raises a ``KeyError`` that lists the known names. Nothing is read from disk at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from moohw.errors import UnknownNameError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])


class Registry(Generic[T]):
    """A name → factory mapping with loud errors.

    Args:
        kind: What the registry holds ("algorithm", "proxy", ...), used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._help: dict[str, str] = {}
        self._info: dict[str, Any] = {}

    def register(self, name: str, help: str = "", info: Any = None) -> Callable[[F], F]:
        """Decorator registering ``factory`` under ``name``.

        Args:
            name: The name users select the entry by.
            help: One-line description (default: the factory's first docstring line).
            info: Metadata the registry's users read with :meth:`info` (e.g. an algorithm's
                properties and typed options).

        Raises:
            ValueError: if ``name`` is already registered.
        """

        def deco(factory: F) -> F:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = factory  # type: ignore[assignment]
            doc = help or (factory.__doc__ or "").strip().splitlines()[0:1]
            self._help[name] = doc if isinstance(doc, str) else (doc[0] if doc else "")
            self._info[name] = info
            return factory

        return deco

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name``.

        Raises:
            UnknownNameError: with the sorted list of known names.
        """
        try:
            return self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories))
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def help(self, name: str) -> str:
        """One-line description of ``name``."""
        self.get(name)
        return self._help[name]

    def info(self, name: str) -> Any:
        """The metadata registered with ``name`` (``None`` if none was given)."""
        self.get(name)
        return self._info[name]

    def names(self) -> list[str]:
        """Sorted registered names."""
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


__all__ = ["Registry", "UnknownNameError"]
