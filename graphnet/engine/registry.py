"""Name -> instance tables for the things task files and plugins name: node types, cells, data generators."""

from __future__ import annotations

import re
from typing import Callable, Generic, TypeVar

from ..errors import GraphnetError

T = TypeVar("T")


class Registry(Generic[T]):
    """Classes registered by name, each kept as one (stateless) instance.

    Examples
    --------
    >>> shapes = Registry("shape", GraphnetError)
    >>> @shapes.register("square")
    ... class Square:
    ...     '''Four equal sides.'''
    >>> shapes.get("square").description
    'Four equal sides.'
    """

    def __init__(self, what: str, error: type[GraphnetError], check: Callable[[type], str | None] | None = None) -> None:
        self.what, self.error, self.check = what, error, check  # check(cls): what is wrong with a class, or None
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[type], type]:
        """Class decorator: register ``cls()`` under ``name``; a name taken by another class is refused."""

        def decorate(cls: type) -> type:
            taken = self._items.get(name)
            if taken is not None and type(taken) is not cls:
                raise self.error(f"{self.what} {name!r} is already registered by {type(taken).__module__}")
            wrong = self.check(cls) if self.check else None
            if wrong:
                raise self.error(f"{self.what} {name!r} ({cls.__module__}): {wrong}")
            cls.name = name
            if not getattr(cls, "description", "") and cls.__doc__:
                # The docstring's first line, as words: ``fill`` and :class:`X` markup read as fill and X.
                first = cls.__doc__.strip().splitlines()[0]
                cls.description = re.sub(r"(?::\w+:)?`+([^`]*)`+", r"\1", first)
            self._items[name] = cls()
            return cls

        return decorate

    def unregister(self, name: str) -> None:
        """Forget ``name`` (a notebook or a test that defines a throwaway class); unknown names are ignored."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        """The instance registered as ``name``."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise self.error(f"unknown {self.what} {name!r}; known {self.what}s: {known}") from None

    def all(self) -> dict[str, T]:
        """Everything registered, by name (a copy)."""
        return dict(self._items)
