"""The sidebar's Data section: the built-in synthetic actions, the data the app was opened on, the datasets of the
data root by name, or a typed path; then the low-quality half (the dataset's own or the estimator simulation)."""

from __future__ import annotations

import streamlit as st

from partkd.app_options import spec_fields
from partkd.catalogue import ROLES
from partkd.data.discovery import Found, data_root, discover, recipe_data, source_fields
from partkd.data.loaders import FORMATS, detect_format
from partkd.data.synthetic import action_set
from partkd.data_fields import DataFields, FieldValue, as_fields
from partkd.engine.config import ESTIMATOR_LEVELS, LOW_SOURCES
from partkd.errors import PartKDError
from partkd_app.datasets import NO_LOW_PATH, NO_PATH
from partkd_app.defaults import APP_DATA, APP_SPEC, APP_SYNTHETIC, CONFIGS
from partkd_app.launch import launch_settings, your_data_name
from partkd_app.widgets import scope_inputs, widget

SYNTHETIC = "synthetic"
FOLDER = "folder or file"
LOW_LAYOUTS = ("coco17", "openpose18", "penn13", "same")
#: Sidebar inputs whose values belong to one data source: switching sources keeps them per source and restores them.
SCOPED = (
    "synth_classes",
    "synth_seed",
    "data_path",
    "data_format",
    "high_layout",
    "low_source",
    "high_source",
    "low_kind",
    "low_path",
    "low_file_layout",
    "data_level",
    "low_layout",
    "cls",
    "clip",
    *(f"ckpt_{role}{tail}" for role in ROLES for tail in ("", "_path")),
)
Fields = dict[str, FieldValue]


def format_choices() -> list[str]:
    """'auto-detect' plus the loaders' FORMATS (without 'synthetic', which has its own choice)."""
    return ["auto-detect", *(f for f in FORMATS if f != "synthetic")]


@st.cache_data(ttl=30, show_spinner=False)
def _discovered(root: str | None) -> list[Found]:
    return discover(data_root(root))


@st.cache_data(ttl=30, show_spinner=False)
def _recipe_data() -> dict[str, Fields]:
    return recipe_data(CONFIGS)


def data_sources() -> dict[str, Fields | None]:
    """The sidebar's Source choices before 'folder or file': synthetic (None: the generator's own inputs), the data
    the app was opened on, then each dataset under the data root with its shipped recipe's data settings."""
    settings = launch_settings()
    out: dict[str, Fields | None] = {SYNTHETIC: None}
    if settings.data:
        out[your_data_name(settings.data)] = dict(spec_fields(settings))
    recipes = _recipe_data()
    for found in _discovered(settings.data_root):
        out.setdefault(found.name, source_fields(found, recipes))
    return out


@st.cache_data(show_spinner=False)
def real_low_format(source: str, fmt: str | None) -> str | None:
    """The format name when the dataset at `source` carries its own low-quality source (h36m), else None."""
    try:
        name = fmt or detect_format(source)
    except PartKDError:
        return None
    spec = FORMATS.get(name)
    return name if spec is not None and spec.real_low is not None else None


def data_picker() -> DataFields:
    """Sidebar dataset controls; returns the DataSpec fields."""
    st.sidebar.subheader("Data")
    sources = data_sources()
    settings = launch_settings()
    source = widget(
        st.sidebar.radio,
        "Source",
        "src",
        your_data_name(settings.data) if settings.data else SYNTHETIC,
        options=[*sources, FOLDER],
        help="Built-in synthetic actions, a dataset of the data root (by name), or any dataset on disk (high "
        "quality; low quality is simulated from it unless it has its own).",
    )
    scope_inputs(source, SCOPED)
    if source == SYNTHETIC:
        return _low_quality(_synthetic_fields(), APP_DATA, simulate_only=True)
    if source == FOLDER:
        fields = _path_fields()
        if fields.get("low", "simulate") != "simulate":
            return as_fields(fields)
        return _low_quality(fields, {})
    fields = dict(sources[source] or {})
    st.sidebar.caption(f"`{fields['source']}`" + (f" · low quality `{fields['low']}`" if "low" in fields else ""))
    if fields.get("low", "simulate") not in LOW_SOURCES:
        return as_fields(fields)
    return _low_quality(fields, fields)


def _synthetic_fields() -> Fields:
    """The built-in generator's settings with the sidebar's class count and seed."""
    fields: Fields = dict(APP_SYNTHETIC)
    fields["num_classes"] = int(
        widget(
            st.sidebar.number_input,
            "Synthetic classes",
            "synth_classes",
            APP_SPEC.num_classes,
            min_value=2,
            max_value=len(action_set(APP_SPEC.synth_motion)),
            step=1,
            help="Must match the checkpoints' class set.",
        )
    )
    fields["seed"] = int(
        widget(st.sidebar.number_input, "Synthetic seed", "synth_seed", 0, min_value=0, max_value=10_000, step=1)
    )
    return fields


def _path_fields() -> Fields:
    """'folder or file': a typed dataset path, its format and layout, and (optionally) a low-quality file."""
    path = widget(
        st.sidebar.text_input,
        "Dataset path",
        "data_path",
        "",
        placeholder="a dataset folder or file (.npz, .pkl, .json…)",
    )
    fmt = widget(st.sidebar.selectbox, "Format", "data_format", "auto-detect", options=format_choices())
    source, chosen = path.strip() or NO_PATH, None if fmt == "auto-detect" else fmt
    fields: Fields = {"source": source, "format": chosen}
    layout = widget(
        st.sidebar.text_input,
        "High-quality layout (optional)",
        "high_layout",
        "",
        placeholder="built-in name or layout.json",
        help="The layout of these files when they neither embed one nor have a built-in joint "
        "count; a layout file may alias joints and declare up / units "
        "(docs/bring_your_own_data.md).",
    )
    if layout.strip():
        fields["high_layout"] = layout.strip()
    if source == NO_PATH or real_low_format(source, chosen):
        return fields
    kind = widget(
        st.sidebar.radio,
        "Low quality",
        "low_kind",
        "simulate",
        options=["simulate", "file"],
        horizontal=True,
        help="simulate: the estimator simulation of the high-quality data; file: "
        "your own low-quality data, paired by pair id.",
    )
    if kind == "file":
        low_path = widget(st.sidebar.text_input, "Low-quality path", "low_path", "", placeholder="low.npz")
        low_layout = widget(
            st.sidebar.text_input,
            "Low-quality layout (optional)",
            "low_file_layout",
            "",
            placeholder="built-in name or layout.json",
        )
        fields["low"] = low_path.strip() or NO_LOW_PATH
        if low_layout.strip():
            fields["low_layout"] = low_layout.strip()
    return fields


def _own_low_quality(fields: Fields) -> bool:
    """Whether the typed or named dataset carries its own low-quality source (h36m)."""
    source, fmt = str(fields["source"]), fields.get("format")
    return source != NO_PATH and real_low_format(source, fmt if isinstance(fmt, str) else None) is not None


def _low_quality(fields: Fields, defaults: Fields, simulate_only: bool = False) -> DataFields:
    """The low-quality half: the dataset's own detections or the estimator simulation (level, layout), with the
    source's defaults (its shipped recipe's); returns the DataSpec fields."""
    if not simulate_only and _own_low_quality(fields):
        default_low = defaults.get("low", "real")
        low = widget(
            st.sidebar.radio,
            "Low quality",
            "low_source",
            default_low if default_low in ("real", "simulate") else "real",
            options=["real", "simulate"],
            horizontal=True,
            help="real: the dataset's own pose-detector output (Human3.6M: "
            "Stacked-Hourglass detections); simulate: the estimator simulation.",
        )
        fields["low"] = low
        high_src = widget(
            st.sidebar.radio,
            "High quality",
            "high_source",
            defaults.get("high_source") or "mocap",
            options=["mocap", "projected"],
            horizontal=True,
            help="mocap: 3D motion capture (heterogeneous with the 2D detections); projected: "
            "the motion capture projected into the camera in the detector's joints "
            "(homogeneous).",
        )
        fields.pop("high_source", None)
        if high_src != "mocap":
            fields["high_source"] = high_src
        if low == "real":
            fields.pop("level", None)
            return as_fields(fields)
    fields["level"] = widget(
        st.sidebar.selectbox,
        "Low quality: estimator simulation",
        "data_level",
        defaults.get("level", "medium"),
        options=list(ESTIMATOR_LEVELS),
        help="How the dataset's low-quality half is simulated (used for evaluation and training).",
    )
    layout = defaults.get("low_layout", "coco17")
    fields["low_layout"] = widget(
        st.sidebar.selectbox,
        "Low-quality layout",
        "low_layout",
        layout if layout in LOW_LAYOUTS else "coco17",
        options=list(LOW_LAYOUTS),
        help="'same' keeps the high-quality layout (homogeneous; 2D sources only).",
    )
    return as_fields(fields)
