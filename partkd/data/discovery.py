"""Dataset discovery: the data root ($PARTKD_DATA, else ../shared/data, else ./data) and the datasets in it by name,
with the data settings of the shipped recipe made for each format (configs/*_app.toml)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from partkd.data.loaders import detect_format
from partkd.errors import PartKDError
from partkd.io import load_toml

#: Where the data root is looked for when $PARTKD_DATA is unset, in order (relative to the working directory).
DEFAULT_ROOTS = ("../shared/data", "data")


@dataclass(frozen=True)
class Found:
    """A dataset under the data root: its name (the folder or file name), absolute path and detected format."""

    name: str
    path: str
    format: str


def data_root(explicit: str | Path | None = None) -> Path | None:
    """The data root: `explicit`, else $PARTKD_DATA, else the first of DEFAULT_ROOTS that exists (None if none)."""
    chosen = explicit or os.environ.get("PARTKD_DATA")
    if chosen:
        return Path(chosen).expanduser().resolve()
    for candidate in DEFAULT_ROOTS:
        if Path(candidate).is_dir():
            return Path(candidate).resolve()
    return None


def discover(root: str | Path | None) -> list[Found]:
    """Every entry of `root` (a folder, or a data file) whose format is detected, sorted by name; entries that are not
    datasets (README files, unknown folders) are skipped."""

    if root is None or not Path(root).is_dir():
        return []
    found = []
    for entry in sorted(Path(root).iterdir()):
        if entry.name.startswith(".") or (entry.is_file() and entry.suffix.lower() in (".md", ".txt", ".h5")):
            continue
        try:
            fmt = detect_format(entry)
        except PartKDError:
            continue
        found.append(Found(entry.name, str(entry.resolve()), fmt))
    return found


def recipe_data(configs: str | Path) -> dict[str, dict[str, Any]]:
    """{format: the [data] table of the shipped recipe for it} from the `*_app.toml` recipes in `configs`."""

    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(configs).glob("*_app.toml")):
        data = dict(load_toml(path).get("data", {}))
        fmt = data.get("format")
        if isinstance(fmt, str):
            out.setdefault(fmt, data)
    return out


def source_fields(found: Found, recipes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The data settings a discovered dataset opens with: its shipped recipe's [data] (level, layouts, options) on
    this path, else the path and format alone."""
    fields = dict(recipes.get(found.format, {}))
    fields.update(source=found.path, format=found.format)
    return fields
