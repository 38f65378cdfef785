"""One clip drawn for a reader rather than a model (the app's Skeletons page): the clip as the students read it in
time, occluded by its row of the engine's set-wide draw (so Skeletons, Compare and Robustness hide the same joints),
or its raw frames with a per-clip mask where it has no row; and a detector's error against the projected ground
truth."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from partkd.data.inputs import LazyInputs, dense_clip, occlude_set
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


class _AtRow(LazyInputs):
    """A set whose row `row` is `clip` (the rows before it are never read): OccludedInputs then draws that row's
    mask exactly as for the whole set."""

    def __init__(self, clip: np.ndarray, row: int) -> None:
        self.clip = clip
        self.shape = (row + 1, *clip.shape)

    def rows(self, idx: np.ndarray) -> np.ndarray:
        return np.repeat(self.clip[None], len(idx), axis=0)


def students_view(
    clip: np.ndarray,
    layout: Layout,
    settings: dict,
    op: float,
    mode: str,
    parts: Sequence[str],
    seed: int,
    row: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(shown, occluded): the clip fitted to the students' input (`settings`: frames, persons, frame mode), in its
    recorded coordinates, and the same occluded by row `row` of the test set's draw (occlude_set, as scored)."""
    shown = dense_clip(clip, layout, int(settings["frames"]), int(settings["persons"]), str(settings["mode"]), False)
    return shown, np.asarray(occlude_set(_AtRow(shown, row), layout, op, mode, seed, list(parts) or None)[row])


def detection_error(low: np.ndarray, reference: np.ndarray) -> float:
    """Mean 2D distance (pixels) between a detected clip and its reference over the joints present in both (NaN
    when none is)."""
    ok = present(low) & present(reference)
    if not ok.any():
        return float("nan")
    return float(np.linalg.norm(low[..., :2] - reference[..., :2], axis=-1)[ok].mean())
