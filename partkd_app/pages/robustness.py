"""Robustness: accuracy vs occlusion probability for every loaded model, the paper's table 1, part sensitivity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from partkd import figures, viz
from partkd.catalogue import ROLES
from partkd.data.occlusion import describe_protocol
from partkd.errors import PartKDError
from partkd.layouts import PARTS
from partkd.paper import TABLE_OPS, table1_line
from partkd.provenance import OcclusionProtocol
from partkd.report import CURVE_OPS
from partkd_app.downloads import downloads
from partkd_app.errors import readable_errors
from partkd_app.results import Progress, checkpoint, op_curve, part_sensitivity
from partkd_app.state import selection

#: Above this many (model × test clip) evaluations per OP, the 10-OP curves and the part sensitivity wait for a
#: click (the table at OP 0 / 0.3 / 0.6 is always drawn); the built-in synthetic data (3 × 300) draws at once.
AUTO_CLIP_PASSES = 1000
#: What the curves can be held against, by data format: the paper's numbers only where they belong (Penn Action).
PAPER_CONTEXT = {
    "penn_action": f"Paper, Penn Action (Table 1): {table1_line('Penn Action')}. Here the low-quality clips are "
    "simulated, so the shape is what compares (KD closes more of the gap as OP grows), not the numbers.",
    "h36m": "The paper reports no Human3.6M numbers. Its 15 actions differ more by context (objects, a chair, a "
    "phone) than by body motion, so a skeleton teacher reads about 36 % top-1 here; the low-quality clips are the "
    "dataset's real Stacked-Hourglass detections.",
    "nw_ucla": "The paper reports no NW-UCLA numbers; the low-quality clips are simulated from the Kinect v1 "
    "skeletons.",
    "synthetic": "The built-in synthetic set (not in the paper): actions whose carrier parts are known, low-quality "
    "clips simulated; the shape is what compares, not the numbers.",
}

sel = selection()
st.title("Robustness to occlusion")
st.caption(
    "Test split of the selected data: the teacher on high-quality clips, students on the low-quality half. "
    f"Protocol: {describe_protocol(sel.occ.mode, sel.occ.seed)} (the sidebar's mode and seed), one draw for the "
    "whole set, so every model sees the same degraded test set and the numbers equal `partkd evaluate --op ... "
    "--mode ... --seed`. The shipped models' numbers come precomputed with them; others are kept on disk once drawn."
)

if sel.issue is not None:
    sel.issue.show()
    st.stop()
models = sel.models()
if not models:
    st.info(
        "No checkpoint is loaded: pick a teacher and students in the sidebar (shipped in `checkpoints/`, or "
        "train them on the Train page)."
    )
    st.stop()

drops: dict[str, list[float]] = {}
with readable_errors():
    loaded = {role: checkpoint(path) for role, path in models.items()}
trained_op = {
    ROLES[role]: float(m.meta["degradation"]["op"])
    for role, m in loaded.items()
    if m.role == "student" and isinstance(m.meta.get("degradation"), dict)
}


def evaluated(ops: tuple[float, ...], what: str) -> dict[str, list[dict[str, float]]]:
    """Each loaded model's top-1/top-5 at `ops` (cached per point on disk), under a progress bar."""
    out: dict[str, list[dict[str, float]]] = {}
    bar = st.progress(0.0, text=f"{what}…")
    for n, (role, path) in enumerate(models.items()):
        label = ROLES[role]

        def report(p: Progress, n: int = n, label: str = label) -> None:
            frac = (n + p["step"] / max(p["steps"], 1)) / len(models)
            bar.progress(min(frac, 1.0), text=f"{what}: {label}, OP {p['step']}/{p['steps']}")

        try:
            out[label] = op_curve(path, role, sel, list(ops), progress=report)
        except PartKDError as e:
            st.error(f"{label}: {e}", icon="⚠️")
    bar.empty()
    return out


source = sel.provenance(occlusion=sel.protocol(tuple(CURVE_OPS)))
st.subheader("Table 1 form (top-1 %)")
table_curves = evaluated(TABLE_OPS, "Table 1")
if not table_curves:
    st.stop()
n_test = max(int(p["n"]) for pts in table_curves.values() for p in pts)
table = figures.table1_rows(table_curves, teacher=ROLES["teacher"])
st.dataframe(
    pd.DataFrame(
        [{k: "" if v is None else f"{v:.2f}" if isinstance(v, float) else v for k, v in r.items()} for r in table]
    ),
    hide_index=True,
)
st.caption(
    f"{n_test} test clips (one clip = {100 / max(n_test, 1):.2f} points). "
    + sel.provenance(occlusion=sel.protocol(TABLE_OPS))
)
c1, c2, c3 = st.columns(3)
c1.download_button("Markdown", figures.table_markdown(table), "table1.md", "text/markdown", key="dl_t1_md")
c2.download_button("CSV", figures.table_csv(table), "table1.csv", "text/csv", key="dl_t1_csv")
c3.download_button("LaTeX", figures.table_latex(table, source), "table1.tex", "application/x-tex", key="dl_t1_tex")
context = PAPER_CONTEXT.get("synthetic" if sel.spec.is_synthetic else str(sel.spec.format), "")
st.caption("As in the paper, the teacher is reported on clean high-quality data only (OP 0). " + context)

st.subheader("Accuracy vs occlusion")
more = len(models) * (len(CURVE_OPS) - len(TABLE_OPS) + len(PARTS))  # passes over the test split
wanted = f"rob_more:{sel.data}:{sorted(models.items())}"
if len(models) * n_test > AUTO_CLIP_PASSES and not st.session_state.get(wanted):
    st.caption(
        f"The curves at {len(CURVE_OPS)} OPs and the per-part sensitivity take {more} more passes over the "
        f"{n_test} test clips; each point is kept on disk once drawn."
    )
    if not st.button("Draw the curves and the part sensitivity", key="rob_more", icon=":material/show_chart:"):
        st.stop()
    st.session_state[wanted] = True
curves = evaluated(tuple(CURVE_OPS), "Curves")
st.plotly_chart(viz.accuracy_vs_op_figure(curves, teacher=ROLES["teacher"], trained_op=trained_op), key="rob_curves")
uniform = [
    ROLES[role]
    for role, m in loaded.items()
    if m.role == "student" and (m.meta.get("degradation") or {}).get("op_sampling") == "uniform"
]
ranged = (
    f" (for {', '.join(uniform)}: the top of the range [0, OP] its training OPs were drawn from)" if uniform else ""
)
st.caption(
    "Bars: 95 % Wilson interval of each point over the test clips; a star marks the OP each student was trained "
    f"at{ranged}. {source}"
)
downloads(
    "curves",
    "accuracy_vs_op",
    lambda: figures.accuracy_figure(curves, source=source),
    lambda: figures.curves_csv(curves),
)

st.subheader("Per-part occlusion sensitivity")
part_bar = st.progress(0.0, text="Removing each part from every test clip…")
for n, (role, path) in enumerate(models.items()):
    if ROLES[role] in curves:
        part_bar.progress(n / len(models), text=f"Removing each part from every test clip: {ROLES[role]}")
        drops[ROLES[role]] = part_sensitivity(path, sel)
part_bar.empty()
st.plotly_chart(
    viz.part_bars(
        {k: np.asarray(v) for k, v in drops.items()},
        title="Top-1 drop when one part is removed in every frame",
        ylabel="top-1 drop",
        percent=True,
    ),
    key="rob_parts",
)
st.caption(
    "Each body part removed in every frame of every test clip (the models' own inputs). "
    + sel.provenance(occlusion=OcclusionProtocol(0.0, "part", sel.occ.seed))
)
downloads(
    "parts",
    "part_sensitivity",
    lambda: figures.sensitivity_figure(drops, source=source),
    lambda: figures.matrix_csv(np.asarray(list(drops.values())), list(drops), list(PARTS), "model"),
)
