"""Shared pieces of the format loaders: the `FormatLoader` record, file listing, bad-item collection."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from partkd.data.dataset import SkeletonDataset, validate_clip
from partkd.errors import DataError, FlagHintError, LayoutError, where
from partkd.layouts import BUILTIN, Layout

T = TypeVar("T")
R = TypeVar("R")

#: How many bad items an error or warning names before it only gives the count.
SHOW_BAD = 3
#: Labels must be below this: far above any action dataset (Kinetics-700, NTU-120), low enough that a
#: corrupt label cannot make a loader build a class-name list of billions of entries.
MAX_CLASSES = 100_000


@dataclass(frozen=True)
class FormatLoader:
    """A named format: how to list its input files, how to parse them, and its options with defaults.

    `parse(path, files, layout, skip_bad, **options)` returns a SkeletonDataset whose meta holds
    `skipped` (messages of the items left out); `load_dataset` adds source, format and options.
    """

    name: str
    files: Callable[[Path], list[Path]]
    parse: Callable[..., SkeletonDataset]
    options: dict = field(default_factory=dict)
    description: str = ""
    citation: str = ""
    cacheable: bool = True
    #: For formats that carry both qualities: the `quality` option value of the real low-quality source.
    real_low: str | None = None


@dataclass
class Clip:
    """One parsed clip before it joins a dataset."""

    name: str
    data: np.ndarray
    label: int
    split: str
    pair_id: int | None = None


def list_files(path: Path, suffixes: tuple[str, ...], noun: str, recursive: bool = False) -> list[Path]:
    """The files with one of `suffixes` at `path` (a file, or a folder searched flat or recursively)."""
    if not path.exists():
        raise DataError(where(path, "does not exist"))
    if path.is_file():
        if path.suffix.lower() not in suffixes:
            raise DataError(where(path, f"is not a {noun} file ({'/'.join(suffixes)})"))
        return [path]
    if recursive:
        names = [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]
    else:
        with os.scandir(path) as it:
            names = [e.path for e in it if e.is_file()]
    found = [Path(n) for n in sorted(n for n in names if os.path.splitext(n)[1].lower() in suffixes)]
    if not found:
        raise DataError(where(path, f"no {noun} files ({'/'.join(suffixes)}) found"))
    return found


def list_bad(bad: list[str]) -> str:
    """The first few problem messages joined, then how many more there are."""
    more = f"; and {len(bad) - SHOW_BAD} more" if len(bad) > SHOW_BAD else ""
    return "; ".join(bad[:SHOW_BAD]) + more


def gather(
    items: Iterable[tuple[str, T]], parse_one: Callable[[T], R], source: object, skip_bad: bool, noun: str = "files"
) -> tuple[list[R], list[str]]:
    """Parse every (name, item); bad ones fail together in one DataError, or are skipped with a warning."""
    good: list[R] = []
    bad: list[str] = []
    total = 0
    for name, item in items:
        total += 1
        try:
            good.append(parse_one(item))
        except (DataError, LayoutError) as e:
            bad.append(str(e))
        except Exception as e:  # noqa: BLE001 - any parser failure means a corrupt or malformed item
            bad.append(where(name, f"cannot parse ({type(e).__name__}: {one_line(e)})"))
    if bad:
        if not skip_bad or not good:
            hint = "" if skip_bad else " (pass skip_bad=True / --skip-bad to skip them)"
            raise DataError(where(source, f"{len(bad)} of {total} {noun} are bad: {list_bad(bad)}{hint}"))
        warnings.warn(where(source, f"skipped {len(bad)} of {total} bad {noun}: {list_bad(bad)}"), stacklevel=3)
    return good, bad


def one_line(text: object) -> str:
    """`text` with every run of whitespace (newlines included) collapsed to one space, for error messages."""
    return " ".join(str(text).split())


def check_label(label: object, source: object) -> int:
    """The label as an int; DataError unless it is an integer in 0..MAX_CLASSES-1."""
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or not 0 <= label < MAX_CLASSES:
        raise DataError(where(source, f"label {one_line(repr(label))} is not an integer in 0..{MAX_CLASSES - 1}"))
    return int(label)


def finish_clip(data: np.ndarray, layout: Layout, source: object) -> np.ndarray:
    """Cast to float32 (M, T, V, 3), validate, and zero every joint of confidence 0 for 2D layouts."""
    clip = np.asarray(data, dtype=np.float32)
    validate_clip(clip, layout, str(source))
    if layout.dims == 2:
        clip = clip * (clip[..., 2:3] > 0)
    return clip


def layout_for_joints(v: int, dims: int | None, source: object) -> Layout:
    """The built-in layout with `v` joints (and `dims`, when given); DataError when there is none."""
    for layout in BUILTIN.values():
        if layout.num_joints == v and (dims is None or layout.dims == dims):
            return layout
    kind = f"{dims}D " if dims else ""
    raise FlagHintError(source, f"no built-in {kind}layout has {v} joints: pass a layout file ({{flag}})", "--layout")


def check_dims(layout: Layout, dims: int, source: object) -> None:
    """LayoutError when a layout's dimensionality does not match the data's."""
    if layout.dims != dims:
        raise LayoutError(where(source, f"layout '{layout.name}' is {layout.dims}D but the data are {dims}D"))


def build_dataset(clips: list[Clip], class_names: list[str], layout: Layout, skipped: list[str]) -> SkeletonDataset:
    """Assemble parsed clips into a SkeletonDataset (pair ids default to the clip index)."""
    pair_ids = np.array([c.pair_id if c.pair_id is not None else i for i, c in enumerate(clips)], dtype=np.int64)
    return SkeletonDataset(
        [c.data for c in clips],
        np.array([c.label for c in clips], dtype=np.int64),
        list(class_names),
        np.array([c.split for c in clips], dtype="<U16"),
        layout,
        [c.name for c in clips],
        pair_ids,
        {"skipped": skipped},
    )
