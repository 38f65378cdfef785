"""partkd app, Home page: what the tool does, what is loaded, where to go next (`streamlit run app.py`)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from partkd.errors import PartKDError
from partkd_app import state

st.set_page_config(page_title="partkd", page_icon="🦴", layout="wide")
sel = state.sidebar()

st.title("partkd · part-level knowledge distillation")
st.markdown(
    "Recognise actions from **low-quality skeletons** (pose-estimator output with missing and noisy joints).  \n"
    "A **teacher** trained on high-quality skeletons passes on *which body parts matter for which action* "
    "(the part-efficiency matrix E) to a **student** that only ever sees low-quality input.  \n"
    "Explore the data, train models in the background, and compare teacher and students under occlusion.")

st.subheader("Loaded now")
st.markdown(f"**Data:** {state.spec_summary(sel.data)}")
rows = []
for role, label in state.ROLES.items():
    path = sel.models().get(role)
    if path is None:
        rows.append({"model": label, "file": "— not loaded —"})
        continue
    try:
        rows.append({"model": label, **state.describe_checkpoint(path)})
    except PartKDError as e:
        rows.append({"model": label, "file": path})
        st.error(str(e), icon="⚠️")
st.dataframe(pd.DataFrame(rows), hide_index=True,
             column_config={"top1": st.column_config.NumberColumn("top-1 (val)", format="percent")})
if not sel.models():
    st.info("No checkpoint is loaded. Shipped models live in `checkpoints/`; train your own on the **Train** "
            "page — finished runs appear in the sidebar pickers on every page.")

st.subheader("Where next")
pages = [
    ("pages/1_Skeletons.py", "Skeletons", "🦴", "high- vs low-quality skeletons, occlusion and estimator noise"),
    ("pages/2_Train.py", "Train", "🏋️", "start, watch, cancel and resume training runs"),
    ("pages/3_Part_efficiency.py", "Part efficiency", "🔥", "the teacher's matrix E as a heatmap"),
    ("pages/4_Compare.py", "Compare", "⚖️", "teacher vs students on one clip, top-5 predictions"),
    ("pages/5_Robustness.py", "Robustness", "📉", "accuracy vs occlusion probability, the paper's table 1"),
]
for target, label, icon, what in pages:
    c1, c2 = st.columns([1, 3])
    c1.page_link(target, label=label, icon=icon)
    c2.caption(what)
