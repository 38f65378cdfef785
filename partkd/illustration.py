"""One clip drawn for a reader rather than a model (the app's Skeletons page): its raw frames occluded with a
per-clip mask, and a detector's error against the projected ground truth."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from partkd.data.occlusion import occlude
from partkd.data.transforms import present
from partkd.layouts import Layout


def clip_seed(seed: int, index: int) -> int:
    """The illustration's occlusion seed of clip `index`: one seed for the set, a different mask for every clip."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def illustrated_occlusion(
    clip: np.ndarray, layout: Layout, op: float, mode: str, parts: Sequence[str], seed: int, index: int
) -> np.ndarray:
    """Clip `index` (M, T, V, C) occluded at `op` (`mode`; `parts` in part mode, empty = each part drawn) with its
    own mask from the set's `seed` (clip_seed)."""
    chosen: list[int | str] = list(parts)
    return occlude(clip, layout, op, mode=mode, parts=chosen or None, seed=clip_seed(seed, index))


def detection_error(low: np.ndarray, reference: np.ndarray) -> float:
    """Mean 2D distance (pixels) between a detected clip and its reference over the joints present in both (NaN
    when none is)."""
    ok = present(low) & present(reference)
    if not ok.any():
        return float("nan")
    return float(np.linalg.norm(low[..., :2] - reference[..., :2], axis=-1)[ok].mean())
