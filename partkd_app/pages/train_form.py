"""The Train page's form inputs, generated from the config schema (engine/schema.py): one input per option."""

from __future__ import annotations

from streamlit.delta_generator import DeltaGenerator

from partkd.engine.schema import option
from partkd_app.widgets import kept

#: A config option's value as the form returns it.
OptionValue = str | int | float | bool | tuple[str, ...]


def option_input(where_: DeltaGenerator, cls: type, name: str, key: str) -> OptionValue:
    """The form widget of a config option, from its schema: a select box for choices (a multiselect for a list of
    them), a check box for a flag, a slider for a fraction in [0, 1], else a number input within the option's
    limits; its default is the schema's, and its value is kept across pages (`kept`)."""
    o = option(cls, name)
    value = o.default
    if o.kind is tuple and o.choices:
        picked = kept(where_.multiselect, o.label, key, list(value), options=list(o.choices), help=o.help)
        return tuple(c for c in o.choices if c in picked)
    if o.choices:
        choice: str = kept(where_.selectbox, o.label, key, value, options=list(o.choices), help=o.help)
        return choice
    if o.kind is bool:
        return kept(where_.checkbox, o.label, key, bool(value), help=o.help)
    lo = None if o.low is None else o.low + ((o.step or 1) / 5 if o.low_open else 0)
    hi = None if o.high is None else o.high - ((o.step or 1) / 5 if o.high_open else 0)
    if o.kind is float and o.low == 0.0 and o.high == 1.0:
        return kept(
            where_.slider,
            o.label,
            key,
            float(value),
            min_value=0.0,
            max_value=1.0,
            step=float(o.step or 0.05),
            help=o.help,
        )
    number = float if o.kind is float else int
    return kept(
        where_.number_input,
        o.label,
        key,
        number(value),
        min_value=None if lo is None else number(lo),
        max_value=None if hi is None else number(hi),
        step=number(o.step or 1),
        help=o.help,
    )
