"""partkd app, Home page: what the tool does, what is loaded, where to go next (`streamlit run app.py`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from partkd.catalogue import ROLES, describe_checkpoint
from partkd.data_fields import describe_data
from partkd.errors import PartKDError
from partkd_app.state import selection

sel = selection()

st.title("partkd · part-level knowledge distillation")
st.markdown(
    "Recognise actions from **low-quality skeletons** (pose-estimator output with missing and noisy joints).  \n"
    "A **teacher** trained on high-quality skeletons passes on *which body parts matter for which action* "
    "(the part-efficiency matrix E) to a **student** that only ever sees low-quality input.  \n"
    "Explore the data, train models in the background, and compare teacher and students under occlusion."
)

st.subheader("Loaded now")
if sel.issue is None:
    st.markdown(f"**Data:** {describe_data(dict(sel.data))}")
else:  # the sidebar's own line: the data is not (fully) usable
    st.markdown("**Data:**")
    sel.issue.show()
rows: list[dict[str, object]] = []
for role, label in ROLES.items():
    path = sel.models().get(role)
    if path is None:
        rows.append({"model": label, "file": "— not loaded —"})
        continue
    try:
        rows.append({"model": label, **describe_checkpoint(path)})
    except PartKDError as e:
        rows.append({"model": label, "file": path})
        st.error(str(e), icon="⚠️")


def blank_text(df: pd.DataFrame) -> pd.DataFrame:
    """Empty text cells blank rather than 'None' (number columns keep their type)."""
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].where(df[c].notna(), "")
    return df


st.dataframe(
    blank_text(pd.DataFrame(rows)),
    hide_index=True,
    column_config={"top1": st.column_config.NumberColumn("top-1 (val)", format="percent")},
)
if sel.models() and sel.issue is None:
    st.caption(sel.provenance())
if not sel.models() and sel.issue is None:
    st.info(
        "No checkpoint is loaded. Shipped models live in `checkpoints/`; train your own on the **Train** "
        "page — finished runs appear in the sidebar pickers on every page."
    )

st.subheader("Where next")
pages = [
    ("skeletons.py", "Skeletons", ":material/accessibility_new:", "high- vs low-quality skeletons, occlusion, noise"),
    ("train.py", "Train", ":material/model_training:", "start, watch, cancel and resume training runs"),
    ("part_efficiency.py", "Part efficiency", ":material/grid_on:", "the teacher's matrix E as a heatmap (Fig. 5)"),
    ("compare.py", "Compare", ":material/compare:", "the paper's Figs. 6-7: teacher vs students on one clip"),
    ("robustness.py", "Robustness", ":material/trending_down:", "accuracy vs occlusion, the paper's table 1"),
]
for target, label, icon, what in pages:
    c1, c2 = st.columns([1, 3])
    c1.page_link(f"partkd_app/pages/{target}", label=label, icon=icon)
    c2.caption(what)
