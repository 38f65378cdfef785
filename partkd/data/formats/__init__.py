"""One module per on-disk skeleton format; each exposes `FORMAT`, a `FormatLoader` (see common.py), declared here
so that configs and the CLI list the formats without importing their modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from partkd.errors import DataError
from partkd.registry import Registry

if TYPE_CHECKING:
    from partkd.data.formats.common import FormatLoader

#: name -> FormatLoader, in the order commands list them.
FORMATS: Registry[FormatLoader] = Registry("format", error=DataError)
for _name in ("penn_action", "nw_ucla", "h36m", "ntu", "pyskl", "kinetics", "npz", "synthetic"):
    FORMATS.declare(_name, f"partkd.data.formats.{_name}:FORMAT")

__all__ = ["FORMATS"]
