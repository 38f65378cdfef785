"""partkd app entrypoint (`streamlit run app.py`): one navigation, one sidebar drawn once per run, then the page."""
from __future__ import annotations

import streamlit as st

from partkd_app.sidebar import sidebar

PAGES = "partkd_app/pages"

st.set_page_config(page_title="partkd", page_icon=":material/accessibility_new:", layout="wide")
navigation = st.navigation([
    st.Page(f"{PAGES}/home.py", title="Home", icon=":material/home:", default=True),
    st.Page(f"{PAGES}/skeletons.py", title="Skeletons", icon=":material/accessibility_new:"),
    st.Page(f"{PAGES}/train.py", title="Train", icon=":material/model_training:"),
    st.Page(f"{PAGES}/part_efficiency.py", title="Part efficiency", icon=":material/grid_on:"),
    st.Page(f"{PAGES}/compare.py", title="Compare", icon=":material/compare:"),
    st.Page(f"{PAGES}/robustness.py", title="Robustness", icon=":material/trending_down:"),
    st.Page(f"{PAGES}/video.py", title="Your video", icon=":material/videocam:"),
])
sidebar()
navigation.run()
