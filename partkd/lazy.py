"""Lazy package exports (PEP 562): a package names where each public name lives and imports it on first use, so
that light modules (configs, registries) can be read without loading torch."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, home: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` resolving each name of `home` (name -> module) on first access."""

    def __getattr__(name: str) -> Any:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home[name]), name)

    return __getattr__
