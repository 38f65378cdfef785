"""Compare: teacher on high quality vs students without and with KD on the same low-quality clip (paper figs 6-7)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from partkd import viz
from partkd.errors import PartKDError
from partkd_app import state

st.set_page_config(page_title="Compare · partkd", page_icon="⚖️", layout="wide")
sel = state.sidebar()
st.title("Compare predictions")
st.caption("The teacher sees the high-quality skeleton; both students see the same estimated and occluded "
           "low-quality skeleton (the Skeletons page's settings). ✓ = top-1 is the true class, ✗ = wrong.")

models = sel.models()
if not models:
    st.info("No checkpoint is loaded: pick a teacher and students in the sidebar (shipped in `checkpoints/`, or "
            "train them on the Train page).")
    st.stop()

with state.readable_errors():
    pair = state.paired_dataset(sel)
    high = pair.high
    occ = state.occlusion_controls()


def _jump(occ: state.Occlusion) -> None:
    """Button callback: move the pickers to the next clip where the two students' top-1 differ."""
    try:
        a = state.predict_all(sel.nokd, "nokd", sel, occ).argmax(axis=1)
        b = state.predict_all(sel.kd, "kd", sel, occ).argmax(axis=1)
    except PartKDError as e:
        st.session_state["cmp_flash"] = ("error", str(e))
        return
    differ = np.flatnonzero(a != b)
    if not differ.size:
        st.session_state["cmp_flash"] = ("info", "The two students agree on every clip at these settings.")
        return
    current = int(state.kept("clip", -1))
    later = differ[differ > current]
    state.select_clip(high, int(later[0] if later.size else differ[0]))
    st.session_state["cmp_flash"] = ("success", f"{differ.size} of {len(a)} clips get different top-1 from the "
                                                "two students; showing the next one.")


can_jump = bool(sel.nokd and sel.kd)
st.button("Jump to a clip where the students disagree", key="cmp_jump", on_click=_jump, args=(occ,),
          disabled=not can_jump, help=None if can_jump else "Needs both a student without KD and one with KD.")
kind, text = st.session_state.pop("cmp_flash", (None, ""))
if kind:
    getattr(st, kind)(text)

with state.readable_errors():
    index = state.clip_picker(high)
    estimated, occluded = state.low_clip(sel, index, occ)
    low_layout = state.estimated_dataset(sel, occ).layout

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
    for role, label in state.ROLES.items():
        path = models.get(role)
        if path is None:
            st.info(f"{label}: not loaded (pick one in the sidebar).")
            continue
        with state.readable_errors(stop=False):
            probs = state.predict_all(path, role, sel, occ)[index]
            st.plotly_chart(viz.topk_bars(probs, high.class_names, true, k=5, title=label), key=f"cmp_top5_{role}")
