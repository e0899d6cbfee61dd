"""A name -> value mapping whose values are made on first look-up: the registries of optional families
(sinks, converters) that load a family's module, and its client library, only when a config names it."""

from __future__ import annotations

import importlib
from typing import Callable, Hashable, Iterator, Mapping


def load(path: str):
    """The object a ``"package.module.Name"`` path names, its module imported."""
    module, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


class LazyMapping(Mapping):
    """Reads like a dict of name -> value; each name maps to a key, and a key's value is made by
    ``make(key)`` on the first look-up of any name mapping to it, then shared by all of them (aliases).
    Iterating, ``len`` and ``in`` list the names without making anything."""

    def __init__(self, names: Mapping[str, Hashable], make: Callable[[Hashable], object]):
        self._names = dict(names)
        self._make = make
        self._made: dict = {}

    def __getitem__(self, name: str):
        key = self._names[name]
        try:
            return self._made[key]
        except KeyError:
            value = self._made[key] = self._make(key)
            return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names
