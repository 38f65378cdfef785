"""The Streamlit app over the partkd engine: the sidebar, cached data and models, and what the pages share
(`state.py`); the pages themselves are `app.py` and `pages/`. partkd itself imports no Streamlit."""
