"""Skeletons: one action instance as high-quality and low-quality skeletons, animated side by side."""
from __future__ import annotations

import streamlit as st

from partkd import app_state, viz

st.set_page_config(page_title="Skeletons · partkd", page_icon="🦴", layout="wide")
sel = app_state.sidebar()
st.title("Skeletons: high vs low quality")
st.caption("Left: the high-quality skeleton the teacher sees. Right: the same instance through the simulated "
           "pose estimator, then occluded — what the student sees. Hollow grey joints were hidden by occlusion.")

with app_state.readable_errors():
    pair = app_state.paired_dataset(sel)
    high = pair.high
    index = app_state.clip_picker(high)
    occ = app_state.occlusion_controls()
    estimated, occluded = app_state.low_clip(sel, index, occ)
    low_layout = app_state.estimated_dataset(sel, occ).layout

show_hidden = st.toggle("Show occluded joints (hollow grey)", value=True, key="show_hidden",
                        help="Off: occluded joints are simply left out, as the model receives them.")
mask = viz.occlusion_mask(estimated, occluded)
low_view = estimated if show_hidden else occluded
fig = viz.side_by_side(high.clips[index], high.layout, low_view, low_layout, low_mask=mask if show_hidden else None,
                       titles=(f"high quality · {high.layout.name} ({high.layout.dims}D)",
                               f"low quality · {low_layout.name} · {occ.level} estimator, OP {occ.op:.2f} "
                               f"({occ.mode})"))
st.plotly_chart(fig, key="skeleton_animation")

present = viz.joint_valid(estimated)
total = max(int(present.any(axis=-1).sum()) * present.shape[-1], 1)  # joints of the person-frames shown
c1, c2, c3 = st.columns(3)
c1.metric("Joints missed by the estimator", f"{1 - present.sum() / total:.0%}")
c2.metric("Joints hidden by occlusion", f"{mask.sum() / total:.0%}")
c3.metric("Joints the student sees", f"{viz.joint_valid(occluded).sum() / total:.0%}")
