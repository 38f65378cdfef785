"""Robustness: accuracy vs occlusion probability for every loaded model, the paper's table 1, part sensitivity."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamlit as st

from partkd import figures, viz
from partkd.errors import PartKDError
from partkd.layouts import PARTS
from partkd.report import CURVE_OPS
from partkd_app import state

sel = state.selection()
st.title("Robustness to occlusion")
st.caption(
    "Test split of the selected data: the teacher on high-quality clips, students on the low-quality half; each OP "
    f"uses one occlusion seed for the whole set (the sidebar's mode '{sel.occ.mode}' and seed {sel.occ.seed}), so "
    "every model sees the same degraded test set and the numbers equal `partkd evaluate --op ... --seed`. Curves "
    "are kept on disk by checkpoint, data, mode and seed."
)

models = sel.models()
if not models:
    st.info(
        "No checkpoint is loaded: pick a teacher and students in the sidebar (shipped in `checkpoints/`, or "
        "train them on the Train page)."
    )
    st.stop()

curves: dict[str, list[dict]] = {}
drops: dict[str, list[float]] = {}
with state.readable_errors():
    n_test = len(state.paired_dataset(sel).low.by_split("test"))
started = time.monotonic()
bar = st.progress(0.0, text="Evaluating…")
for n, (role, path) in enumerate(models.items()):
    label = state.ROLES[role]

    def report(p: dict, n: int = n, label: str = label) -> None:
        frac = (n + p.get("step", 0) / max(p.get("steps", 1), 1)) / len(models)
        bar.progress(min(frac, 1.0), text=f"{label}: OP {p.get('step')}/{p.get('steps')}")

    try:
        curves[label] = state.op_curve(path, role, sel, list(CURVE_OPS), progress=report)
    except PartKDError as e:
        st.error(f"{label}: {e}", icon="⚠️")
bar.empty()
if not curves:
    st.stop()
source = f"data: {sel.spec.describe()}; checkpoints: " + ", ".join(f"{state.ROLES[r]} {p}" for r, p in models.items())
st.plotly_chart(viz.accuracy_vs_op_figure(curves, teacher=state.ROLES["teacher"]), key="rob_curves")
st.caption(
    f"{n_test} test clips (one clip = {100 / max(n_test, 1):.2f} points); {time.monotonic() - started:.1f} s. {source}."
)
state.downloads(
    "curves",
    "accuracy_vs_op",
    lambda: figures.accuracy_figure(curves, source=source),
    lambda: figures.curves_csv(curves),
)

st.subheader("Table 1 form (top-1 %)")
table = figures.table1_rows(curves, teacher=state.ROLES["teacher"])
st.dataframe(
    pd.DataFrame(
        [{k: "" if v is None else f"{v:.2f}" if isinstance(v, float) else v for k, v in r.items()} for r in table]
    ),
    hide_index=True,
)
c1, c2, c3 = st.columns(3)
c1.download_button("Markdown", figures.table_markdown(table), "table1.md", "text/markdown", key="dl_t1_md")
c2.download_button("CSV", figures.table_csv(table), "table1.csv", "text/csv", key="dl_t1_csv")
c3.download_button("LaTeX", figures.table_latex(table, source), "table1.tex", "application/x-tex", key="dl_t1_tex")
st.caption(
    "As in the paper, the teacher is reported on clean high-quality data only (OP 0). Paper, Penn Action: "
    "teacher 90.54; w/o KD 83.43 / 78.18 / 70.51; w/ KD 87.08 / 84.74 / 80.52. Simulated low-quality data "
    "are expected to match the shape (KD closes most of the gap, more so at high OP), not the numbers."
)

st.subheader("Per-part occlusion sensitivity")
with st.spinner("Removing each part from every test clip…"):
    for role, path in models.items():
        if state.ROLES[role] in curves:
            drops[state.ROLES[role]] = state.part_sensitivity(path, sel)
st.plotly_chart(
    viz.part_bars(
        {k: np.asarray(v) for k, v in drops.items()},
        title="Top-1 drop when one part is removed in every frame",
        ylabel="top-1 drop",
        percent=True,
    ),
    key="rob_parts",
)
state.downloads(
    "parts",
    "part_sensitivity",
    lambda: figures.sensitivity_figure(drops, source=source),
    lambda: figures.matrix_csv(np.asarray(list(drops.values())), list(drops), list(PARTS), "model"),
)
