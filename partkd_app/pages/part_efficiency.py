"""Part efficiency: the teacher's action × part matrix E (method.md §4) with its uncertainty, and per-clip
explanations of the selected test clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from partkd import figures, viz
from partkd.checkpoints import read_meta, stem_of
from partkd.data_fields import data_matches, spec_of
from partkd.distill.definitions import DEFAULT_EFFICIENCY, EFFICIENCIES
from partkd.distill.explain import DEFAULT_EXPLAINER, EXPLAINERS
from partkd.drawing import PART_LABELS
from partkd.efficiency_view import (
    E_VIEWS,
    SOFTMAX,
    e_caveats,
    e_definition,
    efficiency_uncertainty,
    efficiency_view,
    known_carriers,
    student_temperature,
    truth_summary,
)
from partkd.engine import jobs
from partkd.errors import CheckpointError, PartKDError, where
from partkd.layouts import PARTS
from partkd.provenance import caption
from partkd_app.datasets import paired_dataset
from partkd_app.downloads import downloads
from partkd_app.errors import readable_errors
from partkd_app.results import explanation, explanation_input
from partkd_app.state import selection

sel = selection()
st.title("Part-efficiency matrix E")
st.caption(
    "Which body parts the teacher needs for each action, measured on its high-quality training clips with parts "
    f"zeroed. Shown first: the {EFFICIENCIES[DEFAULT_EFFICIENCY].label}, the definition that named the parts "
    "carrying each action best on the synthetic data whose carriers are known (benchmarks/e_truth.py). The paper's "
    "miss rate (eq. 12) and the probability drop are one click away; the softmax over parts (eq. 13) is what "
    "weights the part-level distillation. Faded cells: the 95 % bootstrap interval over clips includes 0 or "
    "reaches the row's top part."
)

if not sel.teacher:
    st.info(
        "No teacher checkpoint is loaded: pick one in the sidebar (shipped in `checkpoints/`, or train one on "
        "the Train page)."
    )
    st.stop()

with readable_errors():
    meta = read_meta(sel.teacher)
    if meta.get("role") != "teacher":
        raise CheckpointError(
            where(sel.teacher, f"is a {meta.get('role') or 'unknown'} checkpoint; E belongs to a teacher")
        )


def _start_job(teacher: str) -> None:
    """Button callback: compute E for the teacher as a background job (partkd part-matrix)."""
    try:
        st.session_state["E_job"] = jobs.submit(["part-matrix", teacher], root=jobs.jobs_root(), name="part matrix")
    except PartKDError as e:
        st.session_state["E_job_error"] = str(e)


def _teacher_job(teacher: str) -> str | None:
    """The queued or running job whose last phase computes this teacher's E (a Train-page teacher job), if any."""
    folder = stem_of(teacher).parent.resolve()
    try:
        listed = jobs.list_jobs(jobs.jobs_root())
    except PartKDError:
        return None
    return next(
        (
            j["id"]
            for j in listed
            if j["status"] in ("queued", "running") and j.get("then") and Path(j["out_dir"]).resolve() == folder
        ),
        None,
    )


@st.fragment(run_every=1.0)
def _job_progress(job_id: str) -> None:
    """The E job's progress bar; reloads the page when it has finished."""
    job = jobs.get_job(job_id, root=jobs.jobs_root())
    prog = jobs.read_progress(job_id, root=jobs.jobs_root()) or {}
    steps = max(int(prog.get("steps") or 1), 1)
    if job["status"] == "failed":
        st.error(f"Computing E failed: {job.get('error') or 'see the job log'}", icon="⚠️")
        return
    if job["status"] == "done":
        st.session_state.pop("E_job", None)
        st.rerun()
    st.progress(
        min(int(prog.get("step") or 0) / steps, 1.0),
        text=f"{prog.get('phase') or 'part matrix'} ({job['status']}): {prog.get('step', 0)}/{steps}, job {job_id}",
    )


for caveat in e_caveats(meta):
    st.warning(caveat, icon="⚠️")
missing = [d.label for d in EFFICIENCIES.values() if d.key not in meta]
if missing:
    if "E_raw" in meta:
        st.warning(f"This teacher's stored E predates the {', '.join(missing)}: recompute it to see them.")
    else:
        st.warning("This teacher has no part-efficiency matrix stored yet.")
    if "E_job_error" in st.session_state:
        st.error(st.session_state.pop("E_job_error"), icon="⚠️")
    running = st.session_state.get("E_job") or _teacher_job(sel.teacher)
    if running:
        _job_progress(running)
    else:
        st.button(
            "Compute E (background job)",
            type="primary",
            key="compute_E",
            on_click=_start_job,
            args=(sel.teacher,),
            icon=":material/play_arrow:",
        )
    if "E_raw" not in meta:
        st.stop()

class_names = list(meta["class_names"])
views = [v for v in E_VIEWS if v == SOFTMAX or v not in missing]
c1, c2, c3, c4 = st.columns([3, 1, 1, 2])
shown = c1.radio(
    "Matrix",
    views,
    horizontal=True,
    key="E_matrix",
    help="; ".join(f"{d.label}: {d.description}" for d in EFFICIENCIES.values())
    + "; softmax: eq. 13 of the source the chosen student's loss used (miss rate when no student is loaded)",
)
view = c2.radio("View", ["heatmap", "bars per class"], horizontal=True, key="E_view")
with readable_errors():
    student = read_meta(sel.kd) if sel.kd else None
temperature = c3.number_input(
    "Softmax temperature",
    min_value=0.01,
    max_value=10.0,
    value=student_temperature(student),
    step=0.05,
    key="E_temperature",
    disabled=shown != "softmax",
    help="eq. 13 uses 1; the default is the loaded KD student's",
)
sort_by = c4.selectbox(
    "Sort classes by part", ["(class order)", *PARTS], key="E_sort", format_func=lambda p: PART_LABELS.get(p, p)
)
with readable_errors():
    E, what, normalized = efficiency_view(meta, shown, temperature, student, sel.teacher)
    unc = efficiency_uncertainty(meta, shown)
st.caption(what)
if not data_matches(meta, dict(sel.data)):
    st.warning(
        "The sidebar's data is not the data this teacher was trained on; E below is the teacher's own, computed on "
        "its training data, not on the data selected in the sidebar.",
        icon="⚠️",
    )

try:
    teacher_data = spec_of(meta.get("data") or {}, "the teacher's data")
except PartKDError:
    teacher_data = sel.spec
shown_models = [sel.teacher] + ([sel.kd] if sel.kd and shown == SOFTMAX else [])
source = (
    f"E computed on the teacher's high-quality train clips ({sum(meta.get('E_clips') or []) or '?'} clips). "
    + caption(shown_models, teacher_data)
)
if view == "heatmap":
    fig = viz.efficiency_heatmap(
        E,
        class_names,
        normalized=normalized,
        sort_by=None if sort_by == "(class order)" else sort_by,
        label="" if normalized else shown,
        unit_range=e_definition(shown) == "miss",
        interval=None if unc is None else (unc["lo"], unc["hi"]),
        uncertain=None if unc is None else unc["uncertain"],
        none_needed=None if unc is None else unc["none_needed"],
    )
    st.plotly_chart(fig, key="E_heatmap")
    st.caption(source)
    downloads(
        "E",
        "part_efficiency",
        lambda: figures.efficiency_figure(E, class_names, normalized=normalized, source=source, label=shown),
        lambda: figures.matrix_csv(E, class_names, list(PARTS), "class"),
    )
else:
    cls = st.selectbox("Class", class_names, key="E_class")
    row = E[class_names.index(cls)]
    st.plotly_chart(
        viz.part_bars(row, title=f"'{cls}': {shown} per part", percent=e_definition(shown) == "miss"),
        key="E_bars",
    )
    st.caption(source)

for line in truth_summary(meta):
    st.markdown(line)
carriers = known_carriers(meta)
lines = []
for i, c in enumerate(class_names):
    known = f" — carriers: {', '.join(PART_LABELS.get(p, p) for p in carriers[c])}" if c in carriers else ""
    if unc is not None and unc["none_needed"][i]:
        lines.append(
            f"**{c}**: no single part is needed (every interval includes 0, or every entry is within ±0.01){known}"
        )
        continue
    j = int(np.argmax(E[i]))
    tied = unc is not None and bool(unc["contested"][i])
    lines.append(f"**{c}**: {PART_LABELS[PARTS[j]]} ({E[i, j]:.2f})" + (" — not clearly ahead" if tied else "") + known)
with st.expander(f"Most important part per class ({shown})", expanded=bool(carriers)):
    st.markdown("  \n".join(lines))

# ---------------------------------------------------------------- one clip

st.subheader("Explain one clip")
if sel.clip is None:
    st.info("The selected data has no test clip to explain.")
    st.stop()
if not data_matches(meta, dict(sel.data)):
    st.info("Pick the data this teacher was trained on in the sidebar to explain one of its clips.")
    st.stop()
high = paired_dataset(sel.data).high
with readable_errors(), st.spinner("Explaining the clip (occlusion, part Shapley, Grad-CAM)…"):
    result = explanation(sel.teacher, sel, sel.clip)
    x = explanation_input(sel.teacher, sel, sel.clip)
verdict = "correct" if result["predicted"] == result["true"] else f"wrong: predicted {result['predicted']}"
st.caption(
    f"Clip **{result['clip']}** (the sidebar's test clip), true class **{result['true']}**, p = "
    f"{result['probability']:.2f}, {verdict}. Importance per time window of the model input "
    f"({len(result['windows'])} windows over {x.shape[1]} frames): "
    + "; ".join(f"{e.name}: {e.description}" for e in EXPLAINERS.values())
    + "."
)
method = st.radio(
    "Drawn on the skeleton",
    list(EXPLAINERS),
    index=list(EXPLAINERS).index(DEFAULT_EXPLAINER),
    horizontal=True,
    key="X_method",
    help=f"{DEFAULT_EXPLAINER} first: the most faithful on the benchmark datasets (lowest deletion AUC)",
)
st.plotly_chart(
    viz.importance_animation(
        x,
        high.layout,
        np.asarray(result["methods"][method]["joints"]),
        [(a, b) for a, b in result["windows"]],
        title=f"{method}: joint importance over time (model input, normalised)",
    ),
    key="X_skeleton",
    width="content",
)
clip_source = caption([sel.teacher], sel.spec)
st.caption(f"Joint size and colour: {method} importance, 1 = the clip's largest. {clip_source}")
st.plotly_chart(viz.explanation_strips(result), key="X_strips")
st.plotly_chart(viz.deletion_figure(result), key="X_deletion")
below = [n for n, m in result["methods"].items() if m["auc"] < result["random_auc"]]
test_index = np.flatnonzero(high.split == "test").tolist().index(sel.clip)
st.caption(
    f"Faithfulness on this clip: {', '.join(below) or 'no method'} beat random order (deletion AUC below "
    f"{result['random_auc']:.3f}); the same numbers as `partkd explain TEACHER --clip {test_index}`. {clip_source}"
)
