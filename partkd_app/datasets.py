"""The sidebar's data, loaded once per data choice (cached): the paired dataset, its low-quality clips indexed like
the high-quality ones, the projected ground truth of real detections, and one clip as the Skeletons page draws it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from partkd.data.dataset import PairedDataset, SkeletonDataset
from partkd.data_fields import DataFields, is_real_low, spec_of
from partkd.engine.data import aligned_to_high, load_paired, projected_reference
from partkd.illustration import illustrated_occlusion
from partkd_app.errors import NotChosen
from partkd_app.state import Selection

#: The sidebar's stand-ins for a path not typed yet (a hint, not an error, when the data is loaded).
NO_PATH = "(no path given)"
NO_LOW_PATH = "(no low-quality path given)"


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


def low_clip(sel: Selection, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(estimated, occluded) raw low-quality frames of high clip `index` for the Skeletons page's illustration (a
    per-clip occlusion seed; the models' own inputs are on the Compare page)."""
    est = estimated_dataset(sel.data)
    clip, o = est.clips[index], sel.occ
    return clip, illustrated_occlusion(clip, est.layout, o.op, o.mode, o.parts, o.seed, index)
