"""How the app shows a partkd error: one readable line (a hint for an input not given yet), never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import streamlit as st

from partkd.errors import PartKDError


class Messages(Protocol):
    """Where a message goes: `st` (the page) or a container such as `st.sidebar`."""

    def info(self, body: str, *, icon: str | None = None) -> object: ...

    def error(self, body: str, *, icon: str | None = None) -> object: ...


class NotChosen(PartKDError):
    """An input the user has not given yet (an empty path): shown as a hint, not as an error."""


@contextmanager
def readable_errors(stop: bool = True, where_: Messages = st) -> Iterator[None]:
    """Show a partkd error as one st.error line in `where_` (no traceback; a NotChosen as a hint); stop the page
    unless `stop` is False."""
    try:
        yield
    except NotChosen as e:
        where_.info(str(e), icon=":material/info:")
        if stop:
            st.stop()
    except PartKDError as e:
        where_.error(str(e), icon="⚠️")
        if stop:
            st.stop()
