"""Compare: teacher on high quality vs students without and with KD on the same low-quality clip (paper figs 6-7)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from partkd import app_state, viz
from partkd.errors import PartKDError

st.set_page_config(page_title="Compare · partkd", page_icon="⚖️", layout="wide")
sel = app_state.sidebar()
st.title("Compare predictions")
st.caption("The teacher sees the high-quality skeleton; both students see the same estimated and occluded "
           "low-quality skeleton (the Skeletons page's settings). ✓ = top-1 is the true class, ✗ = wrong.")

models = sel.models()
if not models:
    st.info("No checkpoint is loaded: pick a teacher and students in the sidebar (shipped in `checkpoints/`, or "
            "train them on the Train page).")
    st.stop()

with app_state.readable_errors():
    pair = app_state.paired_dataset(sel)
    high = pair.high
    occ = app_state.occlusion_controls()


def _jump(occ: app_state.Occlusion) -> None:
    """Button callback: move the pickers to the next clip where the two students' top-1 differ."""
    try:
        a = app_state.predict_all(sel.nokd, "nokd", sel, occ).argmax(axis=1)
        b = app_state.predict_all(sel.kd, "kd", sel, occ).argmax(axis=1)
    except PartKDError as e:
        st.session_state["cmp_flash"] = ("error", str(e))
        return
    differ = np.flatnonzero(a != b)
    if not differ.size:
        st.session_state["cmp_flash"] = ("info", "The two students agree on every clip at these settings.")
        return
    current = int(app_state.kept("clip", -1))
    later = differ[differ > current]
    app_state.select_clip(high, int(later[0] if later.size else differ[0]))
    st.session_state["cmp_flash"] = ("success", f"{differ.size} of {len(a)} clips get different top-1 from the "
                                                "two students; showing the next one.")


can_jump = bool(sel.nokd and sel.kd)
st.button("Jump to a clip where the students disagree", key="cmp_jump", on_click=_jump, args=(occ,),
          disabled=not can_jump, help=None if can_jump else "Needs both a student without KD and one with KD.")
kind, text = st.session_state.pop("cmp_flash", (None, ""))
if kind:
    getattr(st, kind)(text)

with app_state.readable_errors():
    index = app_state.clip_picker(high)
    estimated, occluded = app_state.low_clip(sel, index, occ)
    low_layout = app_state.estimated_dataset(sel, occ).layout

true = int(high.labels[index])
st.markdown(f"**True action: {high.class_names[true]}** · clip `{high.names[index]}` ({high.split[index]} split)")
left, right = st.columns([3, 2])
with left:
    fig = viz.side_by_side(high.clips[index], high.layout, estimated, low_layout,
                           low_mask=viz.occlusion_mask(estimated, occluded),
                           titles=(f"teacher input · {high.layout.name}",
                                   f"student input · {low_layout.name}, OP {occ.op:.2f}"))
    st.plotly_chart(fig, key="cmp_animation")
with right:
    for role, label in app_state.ROLES.items():
        path = models.get(role)
        if path is None:
            st.info(f"{label}: not loaded (pick one in the sidebar).")
            continue
        with app_state.readable_errors(stop=False):
            probs = app_state.predict_all(path, role, sel, occ)[index]
            st.plotly_chart(viz.topk_bars(probs, high.class_names, true, k=5, title=label), key=f"cmp_top5_{role}")
