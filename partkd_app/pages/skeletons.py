"""Skeletons: one action instance as high-quality and low-quality skeletons, animated side by side."""

from __future__ import annotations

import streamlit as st

from partkd import figures, viz
from partkd_app import state

sel = state.selection()
st.title("Skeletons: high vs low quality")
with state.readable_errors():
    pair = state.paired_dataset(sel)
    high = pair.high
    real = state.is_real_low(sel)
    if sel.clip is None:
        st.info("Pick a test clip in the sidebar (this dataset has none of the chosen class).")
        st.stop()
    index = sel.clip
    occ = sel.occ
    estimated, occluded = state.low_clip(sel, index)
    low_ds = state.estimated_dataset(sel)
    reference = state.reference_dataset(sel)

if real:
    st.caption(
        "Left: the high-quality skeleton the teacher sees. Right: the real pose detector's output for the "
        "same frames, then occluded — what the student sees. Hollow grey joints were hidden by occlusion"
        + (
            "; the faint grey skeleton is the motion capture projected into this camera (the detector's error "
            "is the gap)."
            if reference is not None
            else "."
        )
    )
else:
    st.caption(
        "Left: the high-quality skeleton the teacher sees. Right: the same instance through the simulated "
        "pose estimator, then occluded — what the student sees. Hollow grey joints were hidden by occlusion."
    )
st.caption(
    "The sidebar sets the data (estimator level), the occlusion and the clip. This page draws the raw frames "
    "with a per-clip occlusion mask; the Compare page shows the models' own inputs and predictions."
)
show_hidden = st.toggle(
    "Show occluded joints (hollow grey)",
    value=True,
    key="show_hidden",
    help="Off: occluded joints are simply left out, as the model receives them.",
)
overlay = None
if reference is not None:
    if st.toggle("Overlay the projected motion capture", value=True, key="show_reference"):
        overlay = reference.clips[index]
mask = viz.occlusion_mask(estimated, occluded)
low_view = estimated if show_hidden else occluded
source = "real detections" if real else f"{sel.spec.level} estimator"
fig = viz.side_by_side(
    high.clips[index],
    high.layout,
    low_view,
    low_ds.layout,
    low_mask=mask if show_hidden else None,
    titles=(
        f"high quality · {high.layout.name} ({high.layout.dims}D)",
        f"low quality · {low_ds.layout.name} · {source}, OP {occ.op:.2f} ({occ.mode})",
    ),
    low_reference=overlay,
)
st.plotly_chart(fig, key="skeleton_animation")
st.caption(f"Data: {sel.spec.describe()}; clip `{high.names[index]}`.")
shown = [("high quality", high.clips[index], high.layout, None), ("low quality", estimated, low_ds.layout, mask)]
grid_rows = [figures.GridRow(f"{label}\n({lay.name})", clip, lay, hid) for label, clip, lay, hid in shown]
state.downloads(
    "skeletons",
    f"skeletons_{high.names[index]}",
    lambda: figures.clip_grid_figure(
        grid_rows,
        title=f"'{high.class_names[high.labels[index]]}' · clip {high.names[index]} · OP {occ.op:.2f} ({occ.mode})",
        source=f"data: {sel.spec.describe()}; raw frames, per-clip occlusion seed from {occ.seed}",
    ),
    lambda: figures.clip_csv(shown),
)
if real:
    st.caption(f"Low-quality clip: `{low_ds.names[index]}`.")
if real and not viz.joint_valid(estimated).any():
    st.warning("The low-quality source has no clip for this high-quality clip (e.g. a camera without detections).")

present = viz.joint_valid(estimated)
total = max(int(present.any(axis=-1).sum()) * present.shape[-1], 1)  # joints of the person-frames shown
c1, c2, c3 = st.columns(3)
c1.metric("Joints missed by the estimator", f"{1 - present.sum() / total:.0%}")
c2.metric("Joints hidden by occlusion", f"{mask.sum() / total:.0%}")
c3.metric("Joints the student sees", f"{viz.joint_valid(occluded).sum() / total:.0%}")
if reference is not None and viz.joint_valid(estimated).any():
    err = state.detection_error(estimated, reference.clips[index])
    st.caption(f"Detector error against the projected motion capture on this clip: mean {err:.1f} px.")
