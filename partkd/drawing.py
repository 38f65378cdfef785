"""What the Plotly figures (partkd.viz) and the matplotlib ones (partkd.figures) share, with neither library: the
part colours, which joints a clip holds, how a skeleton is turned to face the viewer, a modality's magnitude and a
run's training curves."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from partkd.data.transforms import present
from partkd.layouts import PARTS, Layout

PART_COLORS: dict[str, str] = {
    "head": "#1f77b4",
    "left_arm": "#2ca02c",
    "right_arm": "#d62728",
    "left_leg": "#ff7f0e",
    "right_leg": "#9467bd",
}
PART_LABELS: dict[str, str] = {p: p.replace("_", " ") for p in PARTS}
OCCLUDED_COLOR = "#9e9e9e"
CORRECT_COLOR = "#2e7d32"
WRONG_COLOR = "#c62828"
OTHER_COLOR = "#b0bec5"
REFERENCE_COLOR = "rgba(60, 60, 60, 0.35)"


def occlusion_mask(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(M, T, V) joints present in `before` and removed in `after` (an occluded copy of the same clip)."""
    return present(before) & ~present(after)


def visible_extent(clip: np.ndarray) -> tuple[list[int], int]:
    """Persons with any joint present and the number of frames up to the last non-empty one."""
    valid = present(clip)
    persons = [m for m in range(clip.shape[0]) if valid[m].any()] or [0]
    frames_with_data = np.flatnonzero(valid.any(axis=(0, 2)))
    length = int(frames_with_data[-1]) + 1 if frames_with_data.size else clip.shape[1]
    return persons, max(length, 1)


def drawing_axes(clip: np.ndarray, layout: Layout) -> tuple[list[int], np.ndarray]:
    """Coordinate axes to plot and their signs: 3D puts the head-to-feet axis last ('up', pointing to the head)
    and mirrors the horizontal axis so a subject facing the camera shows its left side on the viewer's right,
    as in an image; 2D keeps (x, y) and signals image coordinates (y down) with a negative y sign."""
    valid = present(clip)
    parts = np.asarray(layout.parts)
    head, legs = valid & (parts == 0), valid & ((parts == 3) | (parts == 4))
    left, right = valid & ((parts == 1) | (parts == 3)), valid & ((parts == 2) | (parts == 4))
    dims = 3 if layout.dims == 3 else 2
    if not head.any() or not legs.any():
        return ([0, 2, 1], np.ones(3)) if dims == 3 else ([0, 1], np.ones(2))
    xyz = clip[..., :dims]
    up_vec = xyz[head].mean(axis=0) - xyz[legs].mean(axis=0)
    if dims == 2:
        return [0, 1], np.array([1.0, -1.0 if up_vec[1] < 0 else 1.0])
    up = int(np.argmax(np.abs(up_vec)))
    rest = [a for a in range(3) if a != up]
    side = xyz[left].mean(axis=0) - xyz[right].mean(axis=0) if left.any() and right.any() else np.ones(3)
    across = rest[int(np.argmax(np.abs(side[rest])))]
    depth = rest[0] if across == rest[1] else rest[1]
    return [across, depth, up], np.array([1.0 if side[across] >= 0 else -1.0, 1.0, 1.0 if up_vec[up] >= 0 else -1.0])


#: A derived modality's unit from the coordinates' unit `{u}` (data/modalities.py: positions and bones in it, motions
#: per frame, accelerations per frame squared, bone angles as direction cosines).
MODALITY_UNITS: dict[str, str] = {
    "j": "{u}",
    "b": "{u}",
    "jm": "{u}/frame",
    "bm": "{u}/frame",
    "ja": "{u}/frame²",
    "ba": "direction cosines, unitless",
}


def modality_unit(name: str, coordinates: str) -> str:
    """The unit of modality `name`'s magnitude for coordinates in `coordinates` (m, px, model input...)."""
    return MODALITY_UNITS.get(name, "{u}").format(u=coordinates)


def modality_magnitude(values: np.ndarray, layout: Layout) -> np.ndarray:
    """(T, V) length of a derived modality's coordinate vector (person 0 of a (M, T, V, C) clip); NaN where the value
    is missing (all-zero), so a missing bone or motion shows as a gap rather than as zero."""
    v = np.asarray(values, dtype=float)[0]
    d = 3 if layout.dims == 3 else 2
    norm = np.linalg.norm(v[..., :d], axis=-1)
    return np.where(present(v), norm, np.nan)


class HistorySeries(NamedTuple):
    """One training curve: its name, the panel it belongs to ('loss' or 'accuracy'), every epoch, and the value at
    each (None where the epoch has none, e.g. not validated)."""

    name: str
    panel: str
    epochs: list[float | None]
    values: list[float | None]


#: The curves of a run's history rows: (row key, panel, curve name).
HISTORY_CURVES: tuple[tuple[str, str, str], ...] = (
    ("loss", "loss", "loss"),
    ("train_acc", "accuracy", "train"),
    ("val_acc", "accuracy", "validation"),
)


def history_series(history: Sequence[Mapping[str, float | None]]) -> list[HistorySeries]:
    """The training curves of a run's history rows (history.jsonl: epoch, loss, train_acc, val_acc), each with at
    least one value; a None or NaN entry is missing."""
    epochs = [h.get("epoch") for h in history]
    out = []
    for key, panel, name in HISTORY_CURVES:
        values = [None if v is None or math.isnan(v) else v for v in (h.get(key) for h in history)]
        if any(v is not None for v in values):
            out.append(HistorySeries(name, panel, epochs, values))
    return out
