"""Coordinate conventions: 3D data declared z-up (or any axis) and in mm / cm become partkd's y-up metres.

partkd works y-up: augmentation rotates 3D clips about y and the estimator simulation projects with a y-up camera
(method.md §7). A layout file's `up` and `units` say how its data are given; loaders convert at read time.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from partkd.data.dataset import SkeletonDataset
from partkd.layouts import UNITS, UP_AXES, Layout

#: Proper rotations (det +1) taking each declared up axis onto +y: the row i of R gives new coordinate i.
UP_ROTATIONS: dict[str, np.ndarray] = {
    "y": np.eye(3),
    "z": np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=float),  # (x, y, z) -> (x, z, -y)
    "x": np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=float),  # (x, y, z) -> (-y, x, z)
    "-y": np.array([[1, 0, 0], [0, -1, 0], [0, 0, -1]], dtype=float),  # (x, y, z) -> (x, -y, -z)
    "-z": np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float),  # (x, y, z) -> (x, -z, y)
    "-x": np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]], dtype=float),  # (x, y, z) -> (y, -x, z)
}
assert set(UP_ROTATIONS) == set(UP_AXES)


def needs_conversion(layout: Layout) -> bool:
    """True for a 3D layout declared other than y-up metres."""
    return layout.dims == 3 and (layout.up not in (None, "y") or layout.units not in (None, "m"))


def convert_clip(clip: np.ndarray, up: str | None, units: str | None) -> np.ndarray:
    """One (M, T, V, 3) clip rotated so that `up` becomes +y and scaled to metres; missing joints stay zero."""
    m = UP_ROTATIONS[up or "y"] * UNITS[units or "m"]
    return (clip.astype(np.float64) @ m.T).astype(np.float32)


def to_partkd_axes(ds: SkeletonDataset) -> SkeletonDataset:
    """`ds` in y-up metres, its layout re-declared so (up 'y', units 'm'); unchanged when nothing to convert. A clip
    list is converted in place (loaders pass their fresh parse)."""
    lay = ds.layout
    if not needs_conversion(lay):
        return ds
    clips = ds.clips if isinstance(ds.clips, list) else list(ds.clips)
    for i, c in enumerate(clips):  # in place, one clip at a time: a loader's parse never holds two copies
        clips[i] = convert_clip(c, lay.up, lay.units)
    converted = dataclasses.replace(lay, up="y", units="m", _cache={})
    meta = {**ds.meta, "converted_from": {"up": lay.up or "y", "units": lay.units or "m"}}
    return SkeletonDataset(clips, ds.labels, ds.class_names, ds.split, converted, ds.names, ds.pair_ids, meta)


__all__ = ["UP_ROTATIONS", "needs_conversion", "convert_clip", "to_partkd_axes"]
