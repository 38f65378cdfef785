"""One registry type for every named choice (backbones, KD methods, E definitions, explainers, formats, layouts,
modalities): register, get, names, and one error naming the known entries.

An entry may be declared lazily as "module:attribute", so a light module (a config, the CLI's choices) can list
the names without importing the module that holds the entry (formats, backbones).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from partkd.errors import ConfigError, PartKDError, where

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, in registration order; a name is registered once."""

    def __init__(self, kind: str, error: type[PartKDError] = ConfigError, hint: str = "") -> None:
        self.kind, self.error, self.hint = kind, error, hint
        self._entries: dict[str, T | str] = {}

    def register(self, name: str, entry: T) -> T:
        """Add `entry` under `name`; the error when the name is taken."""
        if name in self._entries:
            raise self.error(where(f"{self.kind} registry", f"'{name}' is already registered"))
        self._entries[name] = entry
        return entry

    def declare(self, name: str, target: str) -> None:
        """Add an entry that `get` imports on first use from `target` ("package.module:attribute")."""
        self.register(name, target)  # type: ignore[arg-type]

    def decorator(self, name: str) -> Callable[[T], T]:
        """A decorator registering what it decorates under `name` (fills a declared entry of the same name)."""

        def add(entry: T) -> T:
            if isinstance(self._entries.get(name), str):
                self._entries[name] = entry
                return entry
            return self.register(name, entry)

        return add

    def get(self, name: str) -> T:
        """The entry called `name`; the registry's error naming the known entries otherwise."""
        if name not in self._entries:
            known = ", ".join(self._entries)
            raise self.error(where(self.kind, f"unknown {self.kind} '{name}' (known: {known}{self.hint})"))
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            loaded = getattr(importlib.import_module(module), attr)
            if isinstance(self._entries[name], str):  # importing the module may have registered it already
                self._entries[name] = loaded
            entry = self._entries[name]
        return entry  # type: ignore[return-value]

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order (nothing is imported)."""
        return tuple(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs, loading lazy entries."""
        return [(n, self.get(n)) for n in self._entries]

    def values(self) -> list[T]:
        """The entries, loading lazy ones."""
        return [self.get(n) for n in self._entries]

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"


__all__ = ["Registry"]
