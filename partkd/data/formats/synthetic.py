"""The built-in synthetic data as a format: path `synthetic`, `synthetic:high` or `synthetic:low`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from partkd.data.dataset import SkeletonDataset
from partkd.data.formats.common import FormatLoader, check_dims
from partkd.data.synthetic import make_synthetic
from partkd.errors import DataError, where
from partkd.layouts import Layout

PREFIX = "synthetic"
QUALITIES = ("high", "low")
#: make_synthetic's keyword options; None keeps its own default.
OPTIONS = {
    "num_classes": None,
    "clips_per_class": None,
    "frames": None,
    "seed": None,
    "low_layout": None,
    "level": None,
}


def is_synthetic(path: str | Path) -> bool:
    """Whether a path names the synthetic source."""
    s = str(path)
    return s == PREFIX or s.startswith(PREFIX + ":")


def files(path: Path) -> list[Path]:
    """Nothing on disk: the data are generated."""
    return []


def parse(path: Path, paths: list[Path], layout: Layout | None, skip_bad: bool, **options: object) -> SkeletonDataset:
    """The high- (default) or low-quality half of `make_synthetic(**options)`."""

    quality = str(path).partition(":")[2] or "high"
    if quality not in QUALITIES:
        raise DataError(where(path, f"unknown synthetic quality '{quality}'; use synthetic:high or synthetic:low"))
    given: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    pair = make_synthetic(**given)
    ds = pair.high if quality == "high" else pair.low
    if layout is not None:
        check_dims(layout, ds.layout.dims, path)
        ds.layout = layout
        ds.check_clips()
    ds.meta = {**ds.meta, "skipped": []}
    return ds


FORMAT = FormatLoader(
    "synthetic",
    files,
    parse,
    options=OPTIONS,
    cacheable=False,
    description="generated paired data: synthetic (= synthetic:high, ntu25 3D) or synthetic:low (coco17 2D); "
    "options num_classes, clips_per_class, frames, seed, low_layout, level",
)
