"""The Streamlit app over the partkd engine: `app.py` draws the sidebar (`sidebar.py`, `sidebar_data.py`) and runs
a page of `pages/`; the pages read the selection (`state.py`), the cached data and model results (`datasets.py`,
`results.py`), and share the inputs, errors and downloads helpers. partkd itself imports no Streamlit."""
