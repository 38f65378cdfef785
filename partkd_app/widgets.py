"""Inputs whose values live in the session state: sidebar inputs reset to their default when their options change,
page form inputs that keep their values while another page is shown, and sidebar inputs kept per data source."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar, cast

import streamlit as st

T = TypeVar("T")
#: The session key of the set of `kept` inputs.
KEPT = "_partkd_kept"
#: The session keys of the data source the scoped inputs now belong to, and of each source's kept values.
SCOPE = "_partkd_scope"
SCOPE_MEMORY = "_partkd_scope_memory"


def _draw(fn: Callable[..., object], label: str, key: str, default: T, **kwargs: object) -> T:
    """Draw an input under `key` with its value from the session (the default when absent or no longer among its
    options) and return the value, of the default's type; the default is never passed to the widget, so the session
    value always wins without a warning."""
    options = kwargs.get("options")
    value = st.session_state.get(key, default)
    if isinstance(options, Iterable) and value not in list(options):
        if not (isinstance(value, list) and set(value) <= set(options)):
            value = default
    st.session_state[key] = value
    return cast(T, fn(label, key=key, **kwargs))


def widget(fn: Callable[..., object], label: str, key: str, default: T, **kwargs: object) -> T:
    """Draw a sidebar input under key `w_<key>` with a default, reset to it when its options no longer hold the
    value (fn: st.sidebar.selectbox, st.sidebar.slider, ...)."""
    return _draw(fn, label, f"w_{key}", default, **kwargs)


def kept(fn: Callable[..., object], label: str, key: str, default: T, **kwargs: object) -> T:
    """A page's form input (fn: st.selectbox, a column's number_input, ...) that keeps its value while the user is
    on other pages (Streamlit forgets a widget's value when its page is not drawn; `keep_form_values` re-asserts
    it on every run)."""
    st.session_state.setdefault(KEPT, set()).add(key)
    return _draw(fn, label, key, default, **kwargs)


def keep_form_values() -> None:
    """Re-assert every `kept` input's value (the sidebar calls this first on every run, on every page)."""
    ss = st.session_state
    for key in ss.get(KEPT, set()):
        if key in ss:
            ss[key] = ss[key]


def scope_inputs(source: str, keys: Iterable[str]) -> None:
    """Keep the values of the sidebar inputs `keys` (w_<key>) of the source just left and restore those of `source`
    (their defaults when it is new): each data source keeps its own settings."""
    ss = st.session_state
    previous = ss.get(SCOPE)
    if previous == source:
        return
    memory = ss.setdefault(SCOPE_MEMORY, {})
    names = [f"w_{k}" for k in keys]
    if previous is not None:
        memory[previous] = {k: ss[k] for k in names if k in ss}
        for k in names:
            ss.pop(k, None)
        ss.update(memory.get(source, {}))
    ss[SCOPE] = source
