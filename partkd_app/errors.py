"""How the app shows a partkd error: one readable line (a hint for an input not given yet), never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

import streamlit as st

from partkd.errors import PartKDError


class Messages(Protocol):
    """Where a message goes: `st` (the page) or a container such as `st.sidebar`."""

    def info(self, body: str, *, icon: str | None = None) -> object: ...

    def warning(self, body: str, *, icon: str | None = None) -> object: ...

    def error(self, body: str, *, icon: str | None = None) -> object: ...


class NotChosen(PartKDError):
    """An input the user has not given yet (an empty path): shown as a hint, not as an error."""


@dataclass(frozen=True)
class Issue:
    """What keeps the sidebar's data from use, as one line: a hint ('info': an input not given yet), a 'warning'
    (loaded, but neither trainable nor testable) or an 'error' (unreadable)."""

    kind: Literal["info", "warning", "error"]
    message: str

    def show(self, where_: Messages = st) -> None:
        """The line in `where_` (the page or the sidebar)."""
        icon = ":material/info:" if self.kind == "info" else "⚠️"
        getattr(where_, self.kind)(self.message, icon=icon)


def issue_of(e: PartKDError) -> Issue:
    """A partkd error as an Issue: a hint for a NotChosen, else an error."""
    return Issue("info" if isinstance(e, NotChosen) else "error", str(e))


@contextmanager
def readable_errors(stop: bool = True, where_: Messages = st) -> Iterator[None]:
    """Show a partkd error as one st.error line in `where_` (no traceback; a NotChosen as a hint); stop the page
    unless `stop` is False."""
    try:
        yield
    except PartKDError as e:
        issue_of(e).show(where_)
        if stop:
            st.stop()
