"""Part efficiency: the teacher's action-specific part-efficiency matrix E (method.md §4) as a heatmap."""
from __future__ import annotations

import numpy as np
import streamlit as st

from partkd import app_state, viz
from partkd.errors import CheckpointError, where
from partkd.layouts import PARTS

st.set_page_config(page_title="Part efficiency · partkd", page_icon="🔥", layout="wide")
sel = app_state.sidebar()
st.title("Part-efficiency matrix E")
st.caption("E[c, p] = share of the teacher's training clips of class c that it misclassifies when every joint of "
           "part p is zeroed (eq. 12). The softmax over parts (eq. 13) weights the part-level distillation; with "
           "values in [0, 1] it is nearly flat, so the raw miss rate is shown by default.")

if not sel.teacher:
    st.info("No teacher checkpoint is loaded: pick one in the sidebar (shipped in `checkpoints/`, or train one on "
            "the Train page).")
    st.stop()

with app_state.readable_errors():
    meta = app_state.read_meta(sel.teacher)
    if meta.get("role") != "teacher":
        raise CheckpointError(where(sel.teacher, f"is a {meta.get('role') or 'unknown'} checkpoint; "
                                                 "E belongs to a teacher"))


def _compute() -> None:
    """Compute E for the selected teacher on its own training data, with a progress bar."""
    from partkd.engine.config import data_spec_from_dict
    from partkd.engine.train import compute_part_matrix

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
        with app_state.readable_errors():
            _compute()
            st.rerun()
    st.stop()

class_names = list(meta["class_names"])
raw = np.asarray(meta["E_raw"], dtype=float)
soft = np.asarray(meta["E"], dtype=float) if "E" in meta else None
c1, c2, c3 = st.columns([1, 1, 2])
normalized = c1.toggle("Softmax over parts (eq. 13)", value=False, key="E_softmax", disabled=soft is None)
view = c2.radio("View", ["heatmap", "bars per class"], horizontal=True, key="E_view")
sort_by = c3.selectbox("Sort classes by part", ["(class order)", *PARTS], key="E_sort")
E = soft if normalized and soft is not None else raw

if view == "heatmap":
    fig = viz.efficiency_heatmap(E, class_names, normalized=normalized,
                                 sort_by=None if sort_by == "(class order)" else sort_by)
    st.plotly_chart(fig, key="E_heatmap")
else:
    cls = st.selectbox("Class", class_names, key="E_class")
    row = E[class_names.index(cls)]
    st.plotly_chart(viz.part_bars(row, title=f"'{cls}': {'softmax weight' if normalized else 'miss rate'} per "
                                              f"occluded part", percent=not normalized), key="E_bars")

top = [f"**{c}**: {PARTS[int(np.argmax(raw[i]))].replace('_', ' ')} ({raw[i].max():.0%})"
       for i, c in enumerate(class_names)]
with st.expander("Most important part per class (raw miss rate)"):
    st.markdown("  \n".join(top))
