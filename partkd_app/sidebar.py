"""The sidebar, drawn once per run before the page (app.py): the data, the checkpoints that fit it, the low-quality
view (occlusion) and the class and test clip; the pages read what it picked with `state.selection()`."""

from __future__ import annotations

import numpy as np
import streamlit as st

from partkd.catalogue import ROLES, CheckpointRow, fits, role_of, split_problem
from partkd.data.dataset import PairedDataset, SkeletonDataset
from partkd.data.occlusion import OCCLUSION_MODES, OCCLUSION_WORDS
from partkd.data_fields import DataFields, spec_of
from partkd.drawing import PART_LABELS
from partkd.engine.config import DEFAULT_PRESET, StudentConfig, train_preset
from partkd.engine.schema import option
from partkd.errors import PartKDError
from partkd.layouts import PARTS
from partkd.provenance import data_name
from partkd.training_cost import training_estimate
from partkd_app.catalogue import available_checkpoints, folders
from partkd_app.datasets import paired_dataset
from partkd_app.errors import Issue, issue_of
from partkd_app.sidebar_data import data_picker
from partkd_app.state import Occlusion, Selection, remember
from partkd_app.widgets import keep_form_values, widget

NONE = "(none)"
OTHER = "other path…"


def sidebar() -> Selection:
    """Draw the sidebar: data, the checkpoints that fit it, the low-quality view and the clip; keeps the selection
    for `state.selection()`."""
    keep_form_values()
    data = data_picker()
    pair, issue = _load(data)
    if issue is not None:
        issue.show(st.sidebar)
    st.sidebar.subheader("Models")
    try:
        rows = available_checkpoints()
    except PartKDError as e:
        st.sidebar.error(str(e))
        rows = []
    sides = {"teacher": pair.high, "nokd": pair.low, "kd": pair.low} if pair is not None else {}
    picks = {role: _checkpoint_picker(role, rows, sides.get(role), issue is None) for role in ROLES}
    occ = _occlusion_controls()
    clip = _clip_picker(pair.high) if pair is not None else None
    sel = Selection(data, picks["teacher"], picks["nokd"], picks["kd"], occ, clip, issue)
    remember(sel)
    return sel


def _load(data: DataFields) -> tuple[PairedDataset | None, Issue | None]:
    """The paired dataset of the data choice and what keeps it from use: unreadable (no dataset), or without a
    train or test split (a warning: no model is trained or tested on it)."""
    try:
        pair = paired_dataset(data)
    except PartKDError as e:
        return None, issue_of(e)
    problem = split_problem(pair.high) or split_problem(pair.low)
    return pair, None if problem is None else Issue("warning", f"{data_name(spec_of(dict(data)))} {problem}.")


def _checkpoint_picker(
    role: str, rows: list[CheckpointRow], side: SkeletonDataset | None, trainable: bool
) -> str | None:
    """One sidebar select box for a model role: its checkpoints that fit the data side (none while the data is not
    loaded), none, or a typed path; its help lists the full names the narrow box cuts."""
    where = folders()
    mine = [r for r in rows if side is not None and role_of(r) == role and fits(r, side)]
    labels = {where.label(r): r["path"] for r in mine}
    options = [*labels, NONE, OTHER]
    listed = "\n".join(f"- {label}" for label in labels) or "- none fits the data"
    choice = widget(
        st.sidebar.selectbox,
        ROLES[role],
        f"ckpt_{role}",
        where.preferred(labels) or NONE,
        options=options,
        help=f"Checkpoints that fit the data (name · where from · layout):\n{listed}",
    )
    if not mine and side is not None:
        n = int((side.split == "train").sum())
        advice = (
            f": train one on the Train page ({training_estimate(n, train_preset(DEFAULT_PRESET))})."
            if trainable
            else "."
        )
        st.sidebar.caption(
            f"No {ROLES[role].lower()} fits this data ({side.layout.name}, {side.num_classes} classes){advice}"
        )
    if choice == OTHER:
        typed = widget(
            st.sidebar.text_input,
            f"{ROLES[role]}: checkpoint path",
            f"ckpt_{role}_path",
            "",
            placeholder="run folder, .safetensors or .json",
        )
        return typed.strip() or None
    return labels.get(choice)


def _occlusion_controls() -> Occlusion:
    """The sidebar's low-quality view: OP, mode, parts (part mode) and the seed of the occluded set."""
    st.sidebar.subheader("Low-quality view")
    op = widget(st.sidebar.slider, "Occlusion probability (OP)", "op", 0.3, min_value=0.0, max_value=0.9, step=0.05)
    mode = widget(
        st.sidebar.selectbox,
        "Occlusion mode",
        "occ_mode",
        str(option(StudentConfig, "occlusion").default),
        options=list(OCCLUSION_MODES),
        help="; ".join(f"{mode}: {words}" for mode, words in OCCLUSION_WORDS.items()),
    )
    no_parts: list[str] = []
    parts = widget(
        st.sidebar.multiselect,
        "Parts to occlude (part mode)",
        "occ_parts",
        no_parts,
        options=list(PARTS),
        format_func=PART_LABELS.__getitem__,
        disabled=mode != "part",
        help="Empty: each part dropped with probability OP.",
    )
    seed = widget(
        st.sidebar.number_input,
        "Occlusion seed",
        "occ_seed",
        0,
        min_value=0,
        max_value=10_000,
        step=1,
        help="One seed for the whole occluded test set, as `partkd evaluate --seed`.",
    )
    return Occlusion(float(op), str(mode), tuple(parts) if mode == "part" else (), int(seed))


def _clip_picker(high: SkeletonDataset) -> int | None:
    """Sidebar class and test-clip select boxes; the index of the clip in `high` (None without test clips)."""
    names = list(high.class_names)
    cls = widget(st.sidebar.selectbox, "Action class", "cls", names[0], options=names)
    members = [int(i) for i in np.flatnonzero((high.labels == names.index(cls)) & (high.split == "test"))]
    if not members:
        st.sidebar.caption(f"No test clip of class '{cls}' in this dataset.")
        return None
    return int(
        widget(
            st.sidebar.selectbox,
            "Test clip",
            "clip",
            members[0],
            options=members,
            format_func=lambda i: str(high.names[i]),
        )
    )


def select_clip(high: SkeletonDataset, index: int) -> None:
    """Make the sidebar's class and clip pickers show clip `index` (call from a button callback)."""
    st.session_state["w_cls"] = high.class_names[int(high.labels[index])]
    st.session_state["w_clip"] = int(index)
