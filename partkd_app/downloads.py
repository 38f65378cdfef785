"""Download buttons under a figure: the figure as PNG, PDF and SVG (partkd.figures, drawn only when clicked) and its
numbers as CSV."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from matplotlib.figure import Figure

from partkd.figures import IMAGE_FORMATS, figure_bytes

#: The session key of each figure's download payloads (what the page showed last), by figure key.
DOWNLOADS = "_partkd_downloads"
MIME = {"png": "image/png", "pdf": "application/pdf", "svg": "image/svg+xml", "csv": "text/csv"}


def _image(figure: Callable[[], Figure], fmt: str) -> Callable[[], bytes]:
    """The payload of one image format: the figure drawn and encoded when the button is clicked."""
    return lambda: figure_bytes(figure(), fmt)


def downloads(key: str, stem: str, figure: Callable[[], Figure], numbers: Callable[[], str]) -> None:
    """Download buttons under a figure: PNG (200 dpi), PDF and SVG drawn by partkd.figures only when clicked, and
    the figure's numbers as CSV. The payloads are kept per key in the session (what the page showed last)."""
    payloads: dict[str, Callable[[], bytes] | Callable[[], str]] = {fmt: _image(figure, fmt) for fmt in IMAGE_FORMATS}
    payloads["csv"] = numbers
    st.session_state.setdefault(DOWNLOADS, {})[key] = payloads
    cols = st.columns(len(payloads) + 2)
    for col, (fmt, data) in zip(cols, payloads.items()):
        col.download_button(
            fmt.upper(),
            data=data,
            file_name=f"{stem}.{fmt}",
            mime=MIME[fmt],
            key=f"dl_{key}_{fmt}",
            on_click="ignore",
            icon=":material/download:",
        )
