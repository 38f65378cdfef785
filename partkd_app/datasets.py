"""The sidebar's data, loaded once per data choice (cached): the paired dataset, its low-quality clips indexed like
the high-quality ones, the projected ground truth of real detections, and one clip as the Skeletons page draws it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from partkd.checkpoints import read_meta
from partkd.data.dataset import PairedDataset, SkeletonDataset
from partkd.data.inputs import dense_clip
from partkd.data_fields import DataFields, is_real_low, spec_of
from partkd.engine.data import aligned_to_high, load_paired, projected_reference
from partkd.illustration import illustrated_occlusion, students_view
from partkd.layouts import Layout
from partkd_app.errors import NotChosen
from partkd_app.state import Selection

#: The sidebar's stand-ins for a path not typed yet (a hint, not an error, when the data is loaded).
NO_PATH = "(no path given)"
NO_LOW_PATH = "(no low-quality path given)"
#: The session key of the low-quality test row the Compare page shows (a high clip can have several).
LOW_ROW = "cmp_low_clip"


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def paired_dataset(data: DataFields) -> PairedDataset:
    """The PairedDataset of the data fields (cached per choice); raises PartKDError when unreadable."""
    fields = dict(data)
    if fields.get("source") == NO_PATH:
        raise NotChosen("Type a dataset path in the sidebar (Data → Dataset path), or pick a dataset by name.")
    if fields.get("low") == NO_LOW_PATH:
        raise NotChosen("Type the low-quality data's path in the sidebar (Data → Low-quality path).")
    return load_paired(spec_of(fields))


@st.cache_resource(max_entries=4, show_spinner=False)
def estimated_dataset(data: DataFields) -> SkeletonDataset:
    """Low-quality clips indexed like the high-quality ones: the simulation at the data's level and seed, or the
    real low-quality source (an all-missing clip where it lacks one)."""
    pair = paired_dataset(data)
    return aligned_to_high(pair.high, pair.low) if is_real_low(dict(data)) else pair.low


@st.cache_resource(max_entries=2, show_spinner="Projecting the motion capture…")
def _reference(data: DataFields) -> SkeletonDataset | None:
    return projected_reference(spec_of(dict(data)), paired_dataset(data).high)


def reference_dataset(data: DataFields) -> SkeletonDataset | None:
    """The ground truth projected into the real low-quality clips' images (h36m), indexed like the high clips; None
    for simulated low-quality data or a format without one."""
    return _reference(data) if is_real_low(dict(data)) else None


@st.cache_resource(max_entries=4, show_spinner=False)
def high_of_low(data: DataFields) -> np.ndarray:
    """For each low-quality test clip, the index of its high-quality test clip (−1 when unpaired)."""
    from partkd.report import high_index_of_low  # deferred: torch

    pair = paired_dataset(data)
    return high_index_of_low(pair.high.by_split("test"), pair.low.by_split("test"))


def low_test_rows(sel: Selection) -> tuple[np.ndarray, int | None]:
    """(every low-quality test row paired with the sidebar's clip, the one shown: the Compare page's pick where it
    made one, else the first; None when the clip has no low-quality twin)."""
    if sel.clip is None:
        return np.zeros(0, dtype=np.int64), None
    high_test = np.flatnonzero(paired_dataset(sel.data).high.split == "test")
    h = int(np.searchsorted(high_test, sel.clip))
    matches = np.flatnonzero(high_of_low(sel.data) == h)
    if not matches.size:
        return matches, None
    preferred = st.session_state.get(LOW_ROW)
    return matches, int(preferred) if preferred in matches.tolist() else int(matches[0])


@dataclass(frozen=True)
class ClipView:
    """One sidebar clip as the Skeletons page draws it: high quality, estimated, occluded and the projected ground
    truth (None without one), all over the same frames, and those frames in words."""

    high: np.ndarray
    estimated: np.ndarray
    occluded: np.ndarray
    reference: np.ndarray | None
    frames: str
    #: the student whose input it follows ("kd" or "nokd"; None: raw frames with a per-clip mask)
    role: str | None


def clip_view(sel: Selection, index: int) -> ClipView:
    """High clip `index` as the students read it in time (the KD student's input length, else the other student's)
    and occluded by its row of the test set's draw, so Skeletons, Compare and Robustness hide the same joints; with
    no student loaded or no low-quality twin, the raw frames with a per-clip mask."""
    pair, est, o = paired_dataset(sel.data), estimated_dataset(sel.data), sel.occ
    ref_ds = reference_dataset(sel.data)
    high, low, ref = pair.high.clips[index], est.clips[index], None if ref_ds is None else ref_ds.clips[index]
    role = "kd" if sel.kd else "nokd" if sel.nokd else None
    drawn = sel.models().get(role) if role else None
    _, row = low_test_rows(sel)
    if drawn is None or row is None:
        hidden = illustrated_occlusion(low, est.layout, o.op, o.mode, o.parts, o.seed, index)
        why = "no student is loaded" if drawn is None else "the clip has no low-quality twin in the test split"
        return ClipView(high, low, hidden, ref, f"{low.shape[1]} frames as recorded, a per-clip mask ({why})", None)
    settings = read_meta(drawn)["input"]
    shown, hidden = students_view(low, est.layout, settings, o.op, o.mode, o.parts, o.seed, row)

    def fit(clip: np.ndarray, layout: Layout) -> np.ndarray:
        return dense_clip(clip, layout, int(settings["frames"]), int(settings["persons"]), settings["mode"], False)

    return ClipView(
        fit(high, pair.high.layout),
        shown,
        hidden,
        None if ref is None or ref_ds is None else fit(ref, ref_ds.layout),
        f"{settings['frames']} frames: the clip's {low.shape[1]} recorded frames fitted to the students' input "
        f"({settings['mode']}), the mask of test row {row} as the models are scored",
        role,
    )
