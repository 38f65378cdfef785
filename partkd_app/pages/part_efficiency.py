"""Part efficiency: the teacher's action-specific part-efficiency matrix E (method.md §4) as a heatmap."""

from __future__ import annotations

import numpy as np
import streamlit as st

from partkd import figures, viz
from partkd.errors import CheckpointError, PartKDError, where
from partkd.layouts import PARTS
from partkd_app import state

sel = state.selection()
st.title("Part-efficiency matrix E")
st.caption(
    "E[c, p] = share of the teacher's training clips of class c that it misclassifies when every joint of "
    "part p is zeroed (eq. 12). The probability drop is the graded version: the mean fall of the true "
    "class's probability. The softmax over parts (eq. 13, with a temperature) weights the part-level "
    "distillation; at the paper's temperature 1 it is nearly flat, so the raw matrices are shown by default."
)

if not sel.teacher:
    st.info(
        "No teacher checkpoint is loaded: pick one in the sidebar (shipped in `checkpoints/`, or train one on "
        "the Train page)."
    )
    st.stop()

with state.readable_errors():
    meta = state.read_meta(sel.teacher)
    if meta.get("role") != "teacher":
        raise CheckpointError(
            where(sel.teacher, f"is a {meta.get('role') or 'unknown'} checkpoint; E belongs to a teacher")
        )


def _start_job(teacher: str) -> None:
    """Button callback: compute E for the teacher as a background job (partkd part-matrix)."""
    from partkd.engine import jobs

    try:
        st.session_state["E_job"] = jobs.submit(["part-matrix", teacher], root=state.jobs_root(), name="part matrix")
    except PartKDError as e:
        st.session_state["E_job_error"] = str(e)


@st.fragment(run_every=1.0)
def _job_progress(job_id: str) -> None:
    """The E job's progress bar; reloads the page when it has finished."""
    from partkd.engine import jobs

    job = jobs.get_job(job_id, root=state.jobs_root())
    prog = jobs.read_progress(job_id, root=state.jobs_root()) or {}
    steps = max(int(prog.get("steps") or 1), 1)
    if job["status"] == "failed":
        st.error(f"Computing E failed: {job.get('error') or 'see the job log'}", icon="⚠️")
        return
    if job["status"] == "done":
        st.session_state.pop("E_job", None)
        st.rerun()
    st.progress(
        min(int(prog.get("step") or 0) / steps, 1.0),
        text=f"Part matrix ({job['status']}): {prog.get('step', 0)}/{steps} clips, job {job_id}",
    )


if "E_raw" not in meta:
    st.warning("This teacher has no part-efficiency matrix stored yet.")
    if "E_job_error" in st.session_state:
        st.error(st.session_state.pop("E_job_error"), icon="⚠️")
    if st.session_state.get("E_job"):
        _job_progress(st.session_state["E_job"])
    else:
        st.button(
            "Compute E (background job)",
            type="primary",
            key="compute_E",
            on_click=_start_job,
            args=(sel.teacher,),
            icon=":material/play_arrow:",
        )
    st.stop()

class_names = list(meta["class_names"])
c1, c2, c3, c4 = st.columns([2, 1, 1, 2])
shown = c1.radio(
    "Matrix",
    list(state.E_VIEWS),
    horizontal=True,
    key="E_matrix",
    help="miss rate: eq. 12; probability drop: mean fall of the true class's probability; softmax: "
    "eq. 13 of the source the chosen student's loss used (miss rate when no student is loaded)",
)
view = c2.radio("View", ["heatmap", "bars per class"], horizontal=True, key="E_view")
temperature = c3.number_input(
    "Softmax temperature",
    min_value=0.01,
    max_value=10.0,
    value=1.0,
    step=0.05,
    key="E_temperature",
    disabled=shown != "softmax",
    help="eq. 13 uses 1",
)
sort_by = c4.selectbox("Sort classes by part", ["(class order)", *PARTS], key="E_sort")
with state.readable_errors():
    student = state.read_meta(sel.kd) if sel.kd else None
    E, what, normalized = state.efficiency_view(meta, shown, temperature, student)
st.caption(what)

if view == "heatmap":
    fig = viz.efficiency_heatmap(
        E, class_names, normalized=normalized, sort_by=None if sort_by == "(class order)" else sort_by
    )
    st.plotly_chart(fig, key="E_heatmap")
    source = f"teacher {sel.teacher} ({meta.get('preset', '?')} preset); data: {sel.spec.describe()}"
    st.caption(source)
    state.downloads(
        "E",
        "part_efficiency",
        lambda: figures.efficiency_figure(E, class_names, normalized=normalized, source=source),
        lambda: figures.matrix_csv(E, class_names, list(PARTS), "class"),
    )
else:
    cls = st.selectbox("Class", class_names, key="E_class")
    row = E[class_names.index(cls)]
    st.plotly_chart(
        viz.part_bars(row, title=f"'{cls}': {shown} per occluded part", percent=shown == "miss rate"), key="E_bars"
    )

for line in state.truth_summary(meta):
    st.markdown(line)
raw = np.asarray(meta["E_raw"], dtype=float)
top = [
    f"**{c}**: {PARTS[int(np.argmax(raw[i]))].replace('_', ' ')} ({raw[i].max():.0%})"
    for i, c in enumerate(class_names)
]
with st.expander("Most important part per class (raw miss rate)"):
    st.markdown("  \n".join(top))
