"""Part efficiency: the teacher's action-specific part-efficiency matrix E (method.md §4) as a heatmap."""
from __future__ import annotations

import numpy as np
import streamlit as st

from partkd import viz
from partkd.errors import CheckpointError, where
from partkd.layouts import PARTS
from partkd_app import state

st.set_page_config(page_title="Part efficiency · partkd", page_icon="🔥", layout="wide")
sel = state.sidebar()
st.title("Part-efficiency matrix E")
st.caption("E[c, p] = share of the teacher's training clips of class c that it misclassifies when every joint of "
           "part p is zeroed (eq. 12). The probability drop is the graded version: the mean fall of the true "
           "class's probability. The softmax over parts (eq. 13, with a temperature) weights the part-level "
           "distillation; at the paper's temperature 1 it is nearly flat, so the raw matrices are shown by default.")

if not sel.teacher:
    st.info("No teacher checkpoint is loaded: pick one in the sidebar (shipped in `checkpoints/`, or train one on "
            "the Train page).")
    st.stop()

with state.readable_errors():
    meta = state.read_meta(sel.teacher)
    if meta.get("role") != "teacher":
        raise CheckpointError(where(sel.teacher, f"is a {meta.get('role') or 'unknown'} checkpoint; "
                                                 "E belongs to a teacher"))


def _compute() -> None:
    """Compute E for the selected teacher on its own training data, with a progress bar."""
    from partkd.engine.config import data_spec_from_dict
    from partkd.engine.teacher import compute_part_matrix

    bar = st.progress(0.0, text="Occluding each part of every training clip…")

    def report(p: dict) -> None:
        steps = max(int(p.get("steps") or 1), 1)
        bar.progress(min(int(p.get("step") or 0) / steps, 1.0), text=f"Part matrix: {p.get('step')}/{steps}")

    spec = data_spec_from_dict(meta["data"], f"{sel.teacher}: data") if meta.get("data") else sel.spec
    compute_part_matrix(sel.teacher, spec, progress=report)
    bar.empty()


if "E_raw" not in meta:
    st.warning("This teacher has no part-efficiency matrix stored yet.")
    if st.button("Compute E now", type="primary", key="compute_E"):
        with state.readable_errors():
            _compute()
            st.rerun()
    st.stop()

class_names = list(meta["class_names"])
c1, c2, c3, c4 = st.columns([2, 1, 1, 2])
shown = c1.radio("Matrix", list(state.E_VIEWS), horizontal=True, key="E_matrix",
                 help="miss rate: eq. 12; probability drop: mean fall of the true class's probability; softmax: "
                      "eq. 13 of the source the chosen student's loss used (miss rate when no student is loaded)")
view = c2.radio("View", ["heatmap", "bars per class"], horizontal=True, key="E_view")
temperature = c3.number_input("Softmax temperature", min_value=0.01, max_value=10.0, value=1.0, step=0.05,
                              key="E_temperature", disabled=shown != "softmax", help="eq. 13 uses 1")
sort_by = c4.selectbox("Sort classes by part", ["(class order)", *PARTS], key="E_sort")
with state.readable_errors():
    student = state.read_meta(sel.kd) if sel.kd else None
    E, what, normalized = state.efficiency_view(meta, shown, temperature, student)
st.caption(what)

if view == "heatmap":
    fig = viz.efficiency_heatmap(E, class_names, normalized=normalized,
                                 sort_by=None if sort_by == "(class order)" else sort_by)
    st.plotly_chart(fig, key="E_heatmap")
else:
    cls = st.selectbox("Class", class_names, key="E_class")
    row = E[class_names.index(cls)]
    st.plotly_chart(viz.part_bars(row, title=f"'{cls}': {shown} per occluded part", percent=shown == "miss rate"),
                    key="E_bars")

for line in state.truth_summary(meta):
    st.markdown(line)
raw = np.asarray(meta["E_raw"], dtype=float)
top = [f"**{c}**: {PARTS[int(np.argmax(raw[i]))].replace('_', ' ')} ({raw[i].max():.0%})"
       for i, c in enumerate(class_names)]
with st.expander("Most important part per class (raw miss rate)"):
    st.markdown("  \n".join(top))
