"""What the app was opened on: the launch flags after `--` (`streamlit run app.py -- FLAGS`, `partkd app FLAGS`) or
$PARTKD_APP_CONFIG, read once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

from partkd.app_options import AppSettings, parse_app_args
from partkd_app.errors import readable_errors


@st.cache_resource(show_spinner=False)
def _settings(argv: tuple[str, ...], config: str | None) -> AppSettings:
    return parse_app_args(list(argv), {"PARTKD_APP_CONFIG": config} if config else {})


def launch_settings() -> AppSettings:
    """The settings the app was opened with; a bad flag or file stops the app with one readable line."""
    argv = tuple(sys.argv[1:]) if Path(sys.argv[0]).name == "app.py" else ()
    with readable_errors():
        return _settings(argv, os.environ.get("PARTKD_APP_CONFIG"))
    raise AssertionError("unreachable")  # readable_errors stops the script


def your_data_name(data: str) -> str:
    """The Source choice of the data the app was opened on (--data)."""
    return f"{Path(data).name} (--data)"
