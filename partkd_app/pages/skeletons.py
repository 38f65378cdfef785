"""Skeletons: one action instance as high-quality and low-quality skeletons, animated side by side."""

from __future__ import annotations

import numpy as np
import streamlit as st

from partkd import figures, viz
from partkd.data.dataset import coordinate_unit
from partkd.data.modalities import MODALITY_NAMES, modality
from partkd.data.transforms import present as joint_present
from partkd.drawing import modality_unit
from partkd.illustration import detection_error
from partkd_app.datasets import clip_view, estimated_dataset, paired_dataset, reference_dataset
from partkd_app.downloads import downloads
from partkd_app.errors import readable_errors
from partkd_app.state import selection

sel = selection()
st.title("Skeletons: high vs low quality")
with readable_errors():
    pair = paired_dataset(sel.data)
    high = pair.high
    real = sel.real_low
    if sel.issue is not None:
        sel.issue.show()
        st.stop()
    if sel.clip is None:
        st.info("Pick a test clip in the sidebar (this dataset has none of the chosen class).")
        st.stop()
    index = sel.clip
    occ = sel.occ
    view = clip_view(sel, index)
    estimated, occluded = view.estimated, view.occluded
    low_ds = estimated_dataset(sel.data)
    reference = reference_dataset(sel.data)

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
    f"The sidebar sets the data (estimator level), the occlusion and the clip. Shown: {view.frames}, so the "
    "Compare and Robustness pages hide the same joints; Compare shows the models' predictions."
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
        overlay = view.reference
mask = viz.occlusion_mask(estimated, occluded)
low_view = estimated if show_hidden else occluded
source = "real detections" if real else f"{sel.spec.level} estimator"
fig = viz.side_by_side(
    view.high,
    high.layout,
    low_view,
    low_ds.layout,
    low_mask=mask if show_hidden else None,
    titles=(
        f"high quality · {high.layout.name} ({high.layout.dims}D)",
        f"low quality · {low_ds.layout.name} · {source}, OP {occ.op:.2f} ({occ.mode})",
    ),
    low_reference=overlay,
    units=(coordinate_unit(high), coordinate_unit(low_ds)),
)
st.plotly_chart(fig, key="skeleton_animation")
source = sel.provenance(roles=(view.role,) if view.role else (), occlusion=sel.protocol(per_clip=view.role is None))
st.caption(f"Clip `{high.names[index]}`. {source}")
shown = [("high quality", view.high, high.layout, None), ("low quality", estimated, low_ds.layout, mask)]
grid_rows = [figures.GridRow(f"{label}\n({lay.name})", clip, lay, hid) for label, clip, lay, hid in shown]
downloads(
    "skeletons",
    f"skeletons_{high.names[index]}",
    lambda: figures.clip_grid_figure(
        grid_rows,
        title=f"'{high.class_names[high.labels[index]]}' · clip {high.names[index]} · OP {occ.op:.2f} ({occ.mode})",
        source=f"{view.frames}; {source}",
    ),
    lambda: figures.clip_csv(shown),
)
if real:
    st.caption(f"Low-quality clip: `{low_ds.names[index]}`.")
if real and not joint_present(estimated).any():
    st.warning("The low-quality source has no clip for this high-quality clip (e.g. a camera without detections).")

present = joint_present(estimated)
total = max(int(present.any(axis=-1).sum()) * present.shape[-1], 1)  # joints of the person-frames shown
c1, c2, c3 = st.columns(3)
c1.metric("Joints missed by the estimator", f"{1 - present.sum() / total:.0%}")
c2.metric("Joints hidden by occlusion", f"{mask.sum() / total:.0%}")
c3.metric("Joints the student sees", f"{joint_present(occluded).sum() / total:.0%}")
if view.reference is not None and joint_present(estimated).any():
    err = detection_error(estimated, view.reference)
    st.caption(f"Detector error against the projected motion capture on this clip: mean {err:.1f} px.")

st.subheader("Derived modalities")
st.caption(
    "What each stream of a multi-stream model reads (`--modalities`; derived from the joints inside the model, "
    "docs/modalities.md). Each cell is the length of the modality's vector at a frame and joint; blank cells are "
    "missing: a bone is missing when either of its joints is, a motion when either of its frames is — so occlusion "
    "removes more of the derived modalities than of the joints. The centre joint's bone has zero length (blank in "
    "3D; in 2D it keeps its confidence), the last frame has no motion."
)
name = st.selectbox(
    "Modality",
    [m for m in MODALITY_NAMES if m != "j"],
    format_func=lambda m: f"{m}: {MODALITY_NAMES[m]}",
    key="sk_modality",
)
derived = modality(name)
panels = [
    (f"high quality · {high.layout.name}", derived(view.high, high.layout), high.layout),
    (f"low quality, as the student sees it · OP {occ.op:.2f}", derived(occluded, low_ds.layout), low_ds.layout),
]
label = f"|{name}|"
units = [modality_unit(name, coordinate_unit(ds)) for ds in (high, low_ds)]
st.plotly_chart(viz.modality_heatmaps(panels, label, units), key="modality_heatmaps")
missing = [float(np.isnan(viz.modality_magnitude(v, lay)).mean()) for _, v, lay in panels]
st.caption(
    f"Missing {MODALITY_NAMES[name]} values: high quality {missing[0]:.0%}, student's input {missing[1]:.0%} "
    f"(clip `{high.names[index]}`, person 1). {source}"
)
downloads(
    "modality",
    f"modality_{name}_{high.names[index]}",
    lambda: figures.modality_figure(
        panels,
        label,
        title=f"{MODALITY_NAMES[name]} · clip {high.names[index]} · OP {occ.op:.2f} ({occ.mode})",
        source=source,
        units=units,
    ),
    lambda: figures.clip_csv([(t, v, lay, None) for t, v, lay in panels]),
)
