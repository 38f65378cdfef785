"""Helpers the Streamlit pages share: the sidebar pickers, cached data/checkpoint loading, occlusion settings."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from partkd.checkpoints import kd_method
from partkd.data.degrade import OCCLUSION_MODES
from partkd.data.inputs import Inputs
from partkd.engine.config import ESTIMATOR_LEVELS
from partkd.errors import CheckpointError, PartKDError, where
from partkd.layouts import PARTS

ROOT = Path(__file__).resolve().parent.parent  # the repository: checkpoints/, configs/
CHECKPOINT_DIR = ROOT / "checkpoints"
#: The recipe of the shipped checkpoints; its [data] is the app's built-in synthetic data (10 classes x 100 clips:
#: 300 test clips, so one clip is a third of a point).
APP_RECIPE = ROOT / "configs" / "app_default.toml"


def _app_data() -> dict[str, Any]:
    from partkd.engine.config import load_toml

    return dict(load_toml(APP_RECIPE)["data"])


APP_DATA = _app_data()
#: The generator's settings of the built-in data (the sidebar adds the class count, seed, level and L layout).
APP_SYNTHETIC = {k: v for k, v in APP_DATA.items() if k not in ("source", "low_layout", "level")}
NONE = "(none)"
OTHER = "other path…"
LOW_LAYOUTS = ("coco17", "openpose18", "penn13", "same")
ROLES = {"teacher": "Teacher (high quality)", "nokd": "Student without KD", "kd": "Student with KD"}


@dataclass(frozen=True)
class Occlusion:
    """The low-quality view the Skeletons and Compare pages share (sidebar): occlusion probability, mode, parts and
    the seed of the occluded set."""

    op: float = 0.3
    mode: str = "joint"
    parts: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class Selection:
    """What the sidebar picked: a DataSpec as plain fields, checkpoint paths (None = not loaded), the low-quality
    view and the clip (an index into the high-quality clips; a test clip, None when the data has none)."""

    data: tuple[tuple[str, Any], ...]
    teacher: str | None
    nokd: str | None
    kd: str | None
    occ: Occlusion = Occlusion()
    clip: int | None = None

    @property
    def spec(self) -> Any:
        """The engine DataSpec these fields describe."""
        from partkd.engine.config import data_spec_from_dict

        return data_spec_from_dict(dict(self.data), "app data")

    def models(self) -> dict[str, str]:
        """{role: path} of the checkpoints picked (teacher, nokd, kd), skipping empty pickers."""
        return {r: p for r, p in (("teacher", self.teacher), ("nokd", self.nokd), ("kd", self.kd)) if p}


# ---------------------------------------------------------------- widgets


def _draw(fn: Callable[..., Any], label: str, key: str, default: Any, **kwargs: Any) -> Any:
    """Draw an input under `key` with its value from the session (the default when absent or no longer among its
    options); the default is never passed to the widget, so the session value always wins without a warning."""
    options = kwargs.get("options")
    value = st.session_state.get(key, default)
    if options is not None and value not in list(options):
        if not (isinstance(value, list) and set(value) <= set(options)):
            value = default
    st.session_state[key] = value
    return fn(label, key=key, **kwargs)


def widget(fn: Callable[..., Any], label: str, key: str, default: Any, **kwargs: Any) -> Any:
    """Draw a sidebar input under key `w_<key>` with a default, reset to it when its options no longer hold the
    value (fn: st.sidebar.selectbox, st.sidebar.slider, ...)."""
    return _draw(fn, label, f"w_{key}", default, **kwargs)


KEPT = "_partkd_kept"


def kept(fn: Callable[..., Any], label: str, key: str, default: Any, **kwargs: Any) -> Any:
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


# ---------------------------------------------------------------- errors


class NotChosen(PartKDError):
    """An input the user has not given yet (an empty path): shown as a hint, not as an error."""


@contextmanager
def readable_errors(stop: bool = True, where_: Any = st) -> Iterator[None]:
    """Show a partkd error as one st.error line (no traceback; a NotChosen as a hint); stop the page unless `stop`
    is False."""
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


# ---------------------------------------------------------------- cached loading


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def _paired(data: tuple[tuple[str, Any], ...]) -> Any:
    from partkd.engine.config import data_spec_from_dict
    from partkd.engine.data import load_paired

    fields = dict(data)
    if fields.get("source") == NO_PATH:
        raise NotChosen("Type a dataset path in the sidebar (Data → Dataset path), or pick a dataset by name.")
    if fields.get("low") == NO_LOW_PATH:
        raise NotChosen("Type the low-quality data's path in the sidebar (Data → Low-quality path).")
    return load_paired(data_spec_from_dict(dict(data), "app data"))


def paired_dataset(sel: Selection) -> Any:
    """The selected PairedDataset (cached per data spec); raises PartKDError when unreadable."""
    return _paired(sel.data)


def _mtime(path: str) -> float:
    """Modification time of a checkpoint's metadata (to invalidate caches when a file is rewritten)."""
    from partkd.checkpoints import stem_of

    stem = stem_of(path)
    meta = stem.with_name(stem.name + ".json")
    return meta.stat().st_mtime if meta.exists() else 0.0


@st.cache_resource(max_entries=8, show_spinner="Loading the checkpoint…")
def _loaded(path: str, mtime: float) -> Any:
    from partkd.checkpoints import load_checkpoint

    return load_checkpoint(path)


def read_meta(path: str) -> dict:
    """A checkpoint's metadata (cheap: JSON only)."""
    from partkd.checkpoints import read_meta as _read

    return _read(path)


@st.cache_data(ttl=3, show_spinner=False)
def _checkpoint_rows(folders: tuple[str, ...]) -> list[dict]:
    from partkd.checkpoints import list_checkpoints

    return list_checkpoints(*folders)


def checkpoint_folders() -> tuple[str, ...]:
    """Where the pickers look: the folder the app was opened with (--checkpoints), the shipped ones, the jobs."""
    mine = launch_settings().checkpoints
    return tuple(str(f) for f in (mine, CHECKPOINT_DIR, jobs_root()) if f)


def available_checkpoints() -> list[dict]:
    """The checkpoints of checkpoint_folders() (rescanned every few seconds; `refresh_checkpoints` forces it)."""
    rows = _checkpoint_rows(checkpoint_folders())
    seen: set[str] = set()
    unique = []
    for r in rows:
        key = str(Path(r["path"]).resolve())
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def refresh_checkpoints() -> None:
    """Forget the checkpoint listing (a job just finished): the next sidebar lists its checkpoints."""
    _checkpoint_rows.clear()


def jobs_root() -> Path:
    """The jobs root the app submits to and lists ($PARTKD_JOBS, else ./jobs)."""
    from partkd.engine import jobs

    return jobs.jobs_root()


def role_of(row: dict) -> str:
    """'teacher', 'nokd' or 'kd' for a list_checkpoints row."""
    if row["role"] == "teacher":
        return "teacher"
    try:
        return "nokd" if kd_method(read_meta(row["path"])) == "none" else "kd"
    except PartKDError:
        return "kd"


def _origin(path: Path) -> str:
    """Where a checkpoint comes from: your folder (--checkpoints), shipped (and its sub-folder), a job, or a folder."""
    mine = launch_settings().checkpoints
    for base, label in ((mine, "yours"), (CHECKPOINT_DIR, "shipped"), (jobs_root(), "job")):
        if base and path.is_relative_to(base):
            inner = path.parent.relative_to(base).parts
            if label == "job":
                return f"job {inner[0]}" if inner else label
            return f"{label} {inner[0]}" if inner else label
    return str(path.parent)


def checkpoint_name(path: str | Path) -> str:
    """A checkpoint's display name: its file stem, or its run folder's name for a run's `model.*`."""
    p = Path(path)
    if p.stem != "model":
        return p.stem
    return p.parent.name if p.parent.name not in ("", "run") else p.parent.parent.name


def _label(row: dict) -> str:
    """Picker label: name, where it comes from (yours, shipped, a job or its folder) and layout."""
    p = Path(row["path"]).resolve()
    origin, name = _origin(p), checkpoint_name(p)
    if origin.startswith("job ") and p.stem == "model" and p.parent.name == "run":
        name = _job_name(origin[4:])
    return f"{name} · {origin} · {row['layout']}"


def _job_name(job_id: str) -> str:
    """A job's name (its job.json), or its id when unreadable."""
    import json

    try:
        return str(json.loads((jobs_root() / job_id / "job.json").read_text())["name"])
    except (OSError, ValueError, KeyError):
        return job_id


# ---------------------------------------------------------------- sidebar


def format_choices() -> list[str]:
    """'auto-detect' plus the loaders' FORMATS (without 'synthetic', which has its own choice)."""
    from partkd.data.loaders import FORMATS

    return ["auto-detect", *(f for f in FORMATS if f != "synthetic")]


SYNTHETIC = "synthetic"
FOLDER = "folder or file"
NO_PATH = "(no path given)"
NO_LOW_PATH = "(no low-quality path given)"
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
SCOPE = "_partkd_scope"
SCOPE_MEMORY = "_partkd_scope_memory"


@st.cache_resource(show_spinner=False)
def _settings(argv: tuple[str, ...], config: str | None) -> Any:
    from partkd.app_options import parse_app_args

    return parse_app_args(list(argv), {"PARTKD_APP_CONFIG": config} if config else {})


def launch_settings() -> Any:
    """The app_options.AppSettings the app was opened with (`streamlit run app.py -- FLAGS`, `partkd app FLAGS`, or
    $PARTKD_APP_CONFIG); a bad flag or file stops the app with one readable line."""
    import os
    import sys

    argv = tuple(sys.argv[1:]) if Path(sys.argv[0]).name == "app.py" else ()
    with readable_errors():
        return _settings(argv, os.environ.get("PARTKD_APP_CONFIG"))
    raise AssertionError("unreachable")  # readable_errors stops the script


def your_data_name(settings: Any) -> str:
    """The Source choice of the data the app was opened on (--data)."""
    return f"{Path(settings.data).name} (--data)"


@st.cache_data(ttl=30, show_spinner=False)
def _discovered(root: str | None) -> list[Any]:
    from partkd.data.discovery import data_root, discover

    return discover(data_root(root))


@st.cache_data(ttl=30, show_spinner=False)
def _recipe_data() -> dict[str, dict[str, Any]]:
    from partkd.data.discovery import recipe_data

    return recipe_data(ROOT / "configs")


def data_sources() -> dict[str, dict[str, Any] | None]:
    """The sidebar's Source choices before 'folder or file': synthetic (None: the generator's own inputs), the data
    the app was opened on, then each dataset under the data root with its shipped recipe's data settings."""
    from partkd.data.discovery import source_fields

    settings = launch_settings()
    out: dict[str, dict[str, Any] | None] = {SYNTHETIC: None}
    if settings.data:
        mine: dict[str, Any] = {"source": settings.data}
        for key, field in (("low", "low"), ("layout", "high_layout"), ("low_layout", "low_layout")):
            if getattr(settings, key):
                mine[field] = getattr(settings, key)
        out[your_data_name(settings)] = mine
    recipes = _recipe_data()
    for found in _discovered(settings.data_root):
        out.setdefault(found.name, source_fields(found, recipes))
    return out


def _scope(source: str) -> None:
    """Keep the per-source sidebar inputs of the source just left and restore those of `source` (defaults when new)."""
    ss = st.session_state
    previous = ss.get(SCOPE)
    if previous == source:
        return
    memory = ss.setdefault(SCOPE_MEMORY, {})
    keys = [f"w_{k}" for k in SCOPED]
    if previous is not None:
        memory[previous] = {k: ss[k] for k in keys if k in ss}
        for k in keys:
            ss.pop(k, None)
        ss.update(memory.get(source, {}))
    ss[SCOPE] = source


def _data_picker() -> tuple[tuple[str, Any], ...]:
    """Sidebar dataset controls; returns the DataSpec fields."""
    st.sidebar.subheader("Data")
    sources = data_sources()
    settings = launch_settings()
    source = widget(
        st.sidebar.radio,
        "Source",
        "src",
        your_data_name(settings) if settings.data else SYNTHETIC,
        options=[*sources, FOLDER],
        help="Built-in synthetic actions, a dataset of the data root (by name), or any dataset on disk (high "
        "quality; low quality is simulated from it unless it has its own).",
    )
    _scope(source)
    if source == SYNTHETIC:
        return _low_quality(_synthetic_fields(), APP_DATA, simulate_only=True)
    if source == FOLDER:
        fields = _path_fields()
        if fields.get("low", "simulate") != "simulate":
            return tuple(sorted(fields.items()))
        return _low_quality(fields, {})
    fields = dict(sources[source] or {})
    st.sidebar.caption(f"`{fields['source']}`" + (f" · low quality `{fields['low']}`" if "low" in fields else ""))
    if fields.get("low", "simulate") not in ("simulate", "real"):
        return tuple(sorted(fields.items()))
    return _low_quality(fields, fields)


def _synthetic_fields() -> dict[str, Any]:
    """The built-in generator's settings with the sidebar's class count and seed."""
    from partkd.data.synthetic import action_set

    fields: dict[str, Any] = dict(APP_SYNTHETIC)
    fields["num_classes"] = int(
        widget(
            st.sidebar.number_input,
            "Synthetic classes",
            "synth_classes",
            APP_SYNTHETIC["num_classes"],
            min_value=2,
            max_value=len(action_set(APP_SYNTHETIC.get("synth_motion", "clean"))),
            step=1,
            help="Must match the checkpoints' class set.",
        )
    )
    fields["seed"] = int(
        widget(st.sidebar.number_input, "Synthetic seed", "synth_seed", 0, min_value=0, max_value=10_000, step=1)
    )
    return fields


def _path_fields() -> dict[str, Any]:
    """'folder or file': a typed dataset path, its format and layout, and (optionally) a low-quality file."""
    path = widget(
        st.sidebar.text_input,
        "Dataset path",
        "data_path",
        "",
        placeholder="a dataset folder or file (.npz, .pkl, .json…)",
    )
    fmt = widget(st.sidebar.selectbox, "Format", "data_format", "auto-detect", options=format_choices())
    fields: dict[str, Any] = {"source": path.strip() or NO_PATH, "format": None if fmt == "auto-detect" else fmt}
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
    if fields["source"] == NO_PATH or real_low_format(fields["source"], fields["format"]):
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


def _low_quality(
    fields: dict[str, Any], defaults: dict[str, Any], simulate_only: bool = False
) -> tuple[tuple[str, Any], ...]:
    """The low-quality half: the dataset's own detections or the estimator simulation (level, layout), with the
    source's defaults (its shipped recipe's); returns the DataSpec fields."""
    if not simulate_only and fields["source"] != NO_PATH and real_low_format(fields["source"], fields.get("format")):
        low = widget(
            st.sidebar.radio,
            "Low quality",
            "low_source",
            defaults.get("low", "real") if defaults.get("low", "real") in ("real", "simulate") else "real",
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
            return tuple(sorted(fields.items()))
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
    return tuple(sorted(fields.items()))


@st.cache_data(show_spinner=False)
def real_low_format(source: str, fmt: str | None) -> str | None:
    """The format name when the dataset at `source` carries its own low-quality source (h36m), else None."""
    from partkd.data.loaders import FORMATS, detect_format

    try:
        name = fmt or detect_format(source)
    except PartKDError:
        return None
    spec = FORMATS.get(name)
    return name if spec is not None and spec.real_low is not None else None


def _real(data: tuple[tuple[str, Any], ...]) -> bool:
    return dict(data).get("low", "simulate") != "simulate"


def is_real_low(sel: Selection) -> bool:
    """True when the selected low-quality data is real (not simulated from the high-quality clips)."""
    return _real(sel.data)


#: Seconds per training clip and epoch of the `cpu` preset on 2 cores (Penn Action: about 15 min for ~1,300 clips
#: and 20 epochs), for the rough estimate shown where no checkpoint fits the data.
CPU_PRESET_S_PER_CLIP_EPOCH = 900 / (1300 * 20)


def training_estimate(train_clips: int) -> str:
    """How long the `cpu` preset would take to train on this many clips, roughly."""
    minutes = train_clips * 20 * CPU_PRESET_S_PER_CLIP_EPOCH / 60
    return f"about {max(1, round(minutes))} min with the cpu preset on 2 cores for {train_clips} training clips"


def _fits(row: dict, ds: Any) -> bool:
    """A checkpoint row (list_checkpoints) reads this dataset: same layout and the same classes in order."""
    return row["layout"] == ds.layout.name and list(row["classes"]) == list(ds.class_names)


def _preferred(labels: dict[str, str]) -> str:
    """The picker's default: a checkpoint of --checkpoints, else a shipped one, else the newest, else none."""
    mine = launch_settings().checkpoints
    for base in (mine, CHECKPOINT_DIR):
        hits = [lab for lab, p in labels.items() if base and Path(p).resolve().is_relative_to(Path(base).resolve())]
        if hits:
            return hits[0]
    return next(iter(labels), NONE)


def _checkpoint_picker(role: str, rows: list[dict], side: Any) -> str | None:
    """One sidebar select box for a model role: its checkpoints that fit the data side (none while the data is not
    loaded), none, or a typed path."""
    mine = [r for r in rows if side is not None and role_of(r) == role and _fits(r, side)]
    labels = {_label(r): r["path"] for r in mine}
    options = [*labels, NONE, OTHER]
    choice = widget(st.sidebar.selectbox, ROLES[role], f"ckpt_{role}", _preferred(labels), options=options)
    if not mine and side is not None:
        n = int((side.split == "train").sum())
        st.sidebar.caption(
            f"No {ROLES[role].lower()} fits this data ({side.layout.name}, {side.num_classes} "
            f"classes): train one on the Train page ({training_estimate(n)})."
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


SELECTION = "_partkd_selection"


def sidebar() -> Selection:
    """Draw the sidebar once per run (the entrypoint does, before the page): data, the checkpoints that fit it,
    the low-quality view and the clip; keeps the selection for `selection()`."""
    keep_form_values()
    data = _data_picker()
    pair = None
    with readable_errors(stop=False, where_=st.sidebar):
        pair = _paired(data)
    st.sidebar.subheader("Models")
    try:
        rows = available_checkpoints()
    except PartKDError as e:
        st.sidebar.error(str(e))
        rows = []
    sides = {"teacher": pair.high, "nokd": pair.low, "kd": pair.low} if pair is not None else {}
    picks = {role: _checkpoint_picker(role, rows, sides.get(role)) for role in ROLES}
    occ = _occlusion_controls()
    clip = _clip_picker(pair.high) if pair is not None else None
    sel = Selection(data, picks["teacher"], picks["nokd"], picks["kd"], occ, clip)
    st.session_state[SELECTION] = sel
    return sel


def selection() -> Selection:
    """The selection the sidebar drew in this run."""
    return st.session_state[SELECTION]


def _occlusion_controls() -> Occlusion:
    """The sidebar's low-quality view: OP, mode, parts (part mode) and the seed of the occluded set."""
    st.sidebar.subheader("Low-quality view")
    op = widget(st.sidebar.slider, "Occlusion probability (OP)", "op", 0.3, min_value=0.0, max_value=0.9, step=0.05)
    mode = widget(
        st.sidebar.selectbox,
        "Occlusion mode",
        "occ_mode",
        "joint",
        options=list(OCCLUSION_MODES),
        help="joint: each joint of each frame i.i.d.; sequence: a joint for the whole clip; "
        "part: whole body parts for the whole clip",
    )
    parts = widget(
        st.sidebar.multiselect,
        "Parts to occlude (part mode)",
        "occ_parts",
        [],
        options=list(PARTS),
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


def _clip_picker(high: Any) -> int | None:
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


def select_clip(high: Any, index: int) -> None:
    """Make the sidebar's class and clip pickers show clip `index` (call from a button callback)."""
    st.session_state["w_cls"] = high.class_names[int(high.labels[index])]
    st.session_state["w_clip"] = int(index)


# ---------------------------------------------------------------- clips under the chosen degradation


@st.cache_resource(max_entries=4, show_spinner=False)
def _estimated(data: tuple[tuple[str, Any], ...]) -> Any:
    from partkd.engine.data import aligned_to_high

    pair = _paired(data)
    return pair.low if not _real(data) else aligned_to_high(pair.high, pair.low)


def estimated_dataset(sel: Selection) -> Any:
    """Low-quality clips indexed like the high-quality ones: the simulation at the data's level and seed, or the
    real low-quality source (an all-missing clip where it lacks one)."""
    return _estimated(sel.data)


@st.cache_resource(max_entries=2, show_spinner="Projecting the motion capture…")
def _reference(data: tuple[tuple[str, Any], ...]) -> Any:
    from partkd.engine.config import data_spec_from_dict
    from partkd.engine.data import projected_reference

    return projected_reference(data_spec_from_dict(dict(data), "app data"), _paired(data).high)


def reference_dataset(sel: Selection) -> Any:
    """The ground truth projected into the low-quality clips' images (h36m), indexed like the high clips; or None."""
    return _reference(sel.data) if is_real_low(sel) else None


def low_clip(sel: Selection, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(estimated, occluded) raw low-quality frames of high clip `index` for the Skeletons page's illustration (a
    per-clip occlusion seed; the models' own inputs are on the Compare page)."""
    from partkd.data.degrade import occlude

    est = estimated_dataset(sel)
    clip, o = est.clips[index], sel.occ
    return clip, occlude(
        clip, est.layout, o.op, mode=o.mode, parts=list(o.parts) or None, seed=clip_seed(o.seed, index)
    )


def clip_seed(seed: int, index: int) -> int:
    """The illustration's occlusion seed of clip `index`: one sidebar seed, a different mask for every clip."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def check_role(path: str, slot: str) -> None:
    """CheckpointError unless the checkpoint fits its picker: a teacher for 'teacher', a student otherwise."""
    want = "teacher" if slot == "teacher" else "student"
    role = read_meta(path).get("role") or "unknown"
    if role != want:
        raise CheckpointError(where(path, f"is a {role} checkpoint; the '{ROLES[slot]}' picker needs a {want}"))


@st.cache_resource(max_entries=16, show_spinner="Running the models…")
def _grid(
    models: tuple[tuple[str, str, float], ...],
    data: tuple,
    ops: tuple,
    mode: str,
    seed: int,
    parts: tuple,
    only: tuple[int, ...] | None = None,
) -> Any:
    from partkd.report import grid_data

    loaded = {role: _loaded(path, mtime) for role, path, mtime in models}
    return grid_data(loaded, _paired(data), ops, mode, seed, parts or None, only)


def _models_key(sel: Selection) -> tuple[tuple[str, str, float], ...]:
    for role, path in sel.models().items():
        check_role(path, role)
    return tuple((role, path, _mtime(path)) for role, path in sel.models().items())


def predictions(sel: Selection, ops: tuple[float, ...], only: tuple[int, ...] | None = None) -> Any:
    """The loaded models' predictions on the test split under the engine's occlusion protocol at each OP (the
    sidebar's mode, parts and seed): a report.GridData, the same numbers `partkd evaluate` gives; with `only` (low
    test clips) the models run on those clips alone (cached per OP set and clips)."""
    o = sel.occ
    return _grid(_models_key(sel), sel.data, tuple(sorted(set(ops))), o.mode, o.seed, o.parts, only)


@st.cache_resource(max_entries=4, show_spinner=False)
def _high_of_low(data: tuple) -> np.ndarray:
    from partkd.report import high_index_of_low

    pair = _paired(data)
    return high_index_of_low(pair.high.by_split("test"), pair.low.by_split("test"))


def high_of_low(sel: Selection) -> np.ndarray:
    """For each low-quality test clip, the index of its high-quality test clip (−1 when unpaired)."""
    return _high_of_low(sel.data)


@st.cache_data(max_entries=32, show_spinner=False)
def _grid_png(
    models: tuple,
    data: tuple,
    ops: tuple,
    mode: str,
    seed: int,
    parts: tuple,
    clip: int,
    title: str,
    source: str,
    only: tuple[int, ...] | None,
) -> bytes:
    from partkd.figures import SCREEN_DPI, clip_grid_figure, figure_bytes
    from partkd.report import grid_rows

    gd = _grid(models, data, ops, mode, seed, parts, only)
    return figure_bytes(clip_grid_figure(grid_rows(gd, clip), title=title, source=source), "png", SCREEN_DPI)


def grid_png(
    sel: Selection, ops: tuple[float, ...], clip: int, title: str, source: str, only: tuple[int, ...] | None = None
) -> bytes:
    """The clip grid of `predictions(sel, ops, only)` for low-quality test clip `clip` as PNG (cached)."""
    o = sel.occ
    key = (_models_key(sel), sel.data, tuple(sorted(set(ops))), o.mode, o.seed, o.parts)
    return _grid_png(*key, clip, title, source, only)


def _results_key(loaded: Any, sel: Selection, what: str) -> dict[str, Any]:
    from partkd.engine.evaluate import weights_key

    return {"what": what, "weights": weights_key(loaded), "role": loaded.role, "data": dict(sel.data)}


def op_curve(
    path: str,
    slot: str,
    sel: Selection,
    ops: list[float],
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Top-1/top-5 of the checkpoint in picker `slot` at each OP on the test split (the sidebar's mode and seed),
    each point cached on disk by (weights sha256, data, op, mode, seed): a revisit, or a finer curve through points
    already shown, only computes what is new."""
    from partkd.data.loaders import cache_dir
    from partkd.engine.data import model_inputs
    from partkd.engine.evaluate import accuracy_at_op, data_side, disk_cached

    check_role(path, slot)
    loaded = _loaded(path, _mtime(path))
    test = data_side(loaded, _paired(sel.data)).by_split("test")
    clean: list[Inputs] = []  # the inputs, made once and only when a point is not cached

    def point(op: float) -> dict:
        if not clean:
            clean.append(model_inputs(test, loaded.meta))
        return accuracy_at_op(loaded, clean[0], test, op, sel.occ.seed, sel.occ.mode)

    rows = []
    for i, op in enumerate(ops):
        key = {**_results_key(loaded, sel, "accuracy_at_op"), "op": float(op), "mode": sel.occ.mode}
        key["seed"] = sel.occ.seed
        rows.append(disk_cached(cache_dir() / "results", key, functools.partial(point, float(op))))
        if progress is not None:
            progress({"phase": "accuracy_vs_op", "step": i + 1, "steps": len(ops)})
    return rows


def part_sensitivity(path: str, sel: Selection) -> list[float]:
    """Top-1 drop of a checkpoint on the test split when each of the five parts is removed (cached on disk)."""
    from partkd.data.loaders import cache_dir
    from partkd.engine.evaluate import data_side, disk_cached
    from partkd.engine.evaluate import part_sensitivity as engine_part_sensitivity

    loaded = _loaded(path, _mtime(path))
    test = data_side(loaded, _paired(sel.data)).by_split("test")
    key = _results_key(loaded, sel, "part_sensitivity")
    return disk_cached(cache_dir() / "results", key, lambda: engine_part_sensitivity(loaded, test).tolist())


def explanation(path: str, sel: Selection, index: int, windows: int = 8) -> dict[str, Any]:
    """Per-clip explanations (engine.explain) of the teacher on high-quality clip `index` of the selected data,
    cached on disk by (weights, data, clip, windows): the numbers `partkd explain` gives, without the input array."""
    from partkd.data.loaders import cache_dir
    from partkd.engine.evaluate import disk_cached
    from partkd.engine.explain import explain_dataset_clip, explanation_json

    loaded = _loaded(path, _mtime(path))
    high = _paired(sel.data).high
    key = {**_results_key(loaded, sel, "explain"), "clip": int(index), "windows": windows}
    return disk_cached(
        cache_dir() / "results", key, lambda: explanation_json(explain_dataset_clip(loaded, high, index, windows))
    )


def explanation_input(path: str, sel: Selection, index: int) -> np.ndarray:
    """The model input (M, T, V, C) the teacher's explanation of high-quality clip `index` was computed on."""
    from partkd.engine.data import model_inputs

    loaded = _loaded(path, _mtime(path))
    high = _paired(sel.data).high
    return model_inputs(high.subset(np.array([index])), loaded.meta)[0]


def data_matches(teacher_meta: dict, sel: Selection) -> bool:
    """Whether the sidebar's data is the data the teacher's stored E was computed on (its training data)."""
    from partkd.engine.config import data_spec_from_dict, to_dict

    stored = teacher_meta.get("data")
    if not isinstance(stored, dict):
        return False
    try:
        mine, theirs = to_dict(sel.spec), to_dict(data_spec_from_dict(dict(stored), "teacher data"))
    except PartKDError:
        return False
    if mine["source"] == "synthetic" or theirs["source"] == "synthetic":
        keys: tuple[str, ...] = ("source", "num_classes", "clips_per_class", "synth_frames", "synth_motion", "seed")
        return all(mine.get(k) == theirs.get(k) for k in keys)
    same = Path(mine["source"]).resolve() == Path(theirs["source"]).resolve()
    return same and all(mine.get(k) == theirs.get(k) for k in ("high_layout", "high_source", "options"))


def val_top1(meta: dict) -> float | None:
    """The validation top-1 a checkpoint's metadata records (None when absent)."""
    value = (meta.get("metrics") or {}).get("val_top1")
    return None if value is None else float(value)


def describe_checkpoint(path: str) -> dict[str, Any]:
    """A short, JSON-able description of a checkpoint for tables (name, layout, KD, metrics)."""
    meta = read_meta(path)
    return {
        "file": Path(path).name,
        "folder": str(Path(path).parent),
        "role": meta.get("role", ""),
        "layout": meta.get("layout", {}).get("name", ""),
        "classes": len(meta.get("class_names", [])),
        "kd": kd_method(meta) if meta.get("role") == "student" else "",
        "preset": str(meta.get("preset", (meta.get("train") or {}).get("preset", ""))),
        "top1": val_top1(meta),
        "created": meta.get("created", ""),
    }


def spec_summary(data: tuple[tuple[str, Any], ...]) -> str:
    """One line describing the data selection."""
    from partkd.engine.config import data_spec_from_dict

    try:
        return data_spec_from_dict(dict(data), "app data").describe()
    except PartKDError as e:
        return str(e)


def detection_error(low: np.ndarray, reference: np.ndarray) -> float:
    """Mean 2D distance (pixels) between a detected clip and its reference over the joints present in both."""
    ok = np.any(low != 0, axis=-1) & np.any(reference != 0, axis=-1)
    if not ok.any():
        return float("nan")
    return float(np.linalg.norm(low[..., :2] - reference[..., :2], axis=-1)[ok].mean())


def _e_views() -> dict[str, str]:
    """The Part-efficiency page's matrix choices: label -> E definition name (the default first), then softmax."""
    from partkd.distill.definitions import DEFAULT_EFFICIENCY, EFFICIENCIES

    names = [DEFAULT_EFFICIENCY, *(n for n in EFFICIENCIES if n != DEFAULT_EFFICIENCY)]
    return {EFFICIENCIES[n].label: n for n in names} | {"softmax": "softmax"}


#: The Part-efficiency page's matrix choices, the measured most truthful definition first.
E_VIEWS: tuple[str, ...] = tuple(_e_views())


def same_teacher(student_meta: dict | None, teacher_path: str | None) -> bool:
    """Whether a KD student was distilled from the checkpoint at teacher_path: the same weights (sha256) where the
    student records them, else the same file."""
    from partkd.checkpoints import stem_of

    kd = (student_meta or {}).get("kd") or {}
    if not isinstance(kd, dict) or not teacher_path:
        return False
    sha = kd.get("teacher_sha256")
    if sha:
        try:
            return read_meta(teacher_path).get("weights_sha256") == sha
        except PartKDError:
            return False
    theirs = kd.get("teacher")
    if not theirs:
        return False
    try:
        return stem_of(theirs).resolve() == stem_of(teacher_path).resolve()
    except OSError:
        return False


def efficiency_view(
    teacher_meta: dict, shown: str, temperature: float, student_meta: dict | None, teacher_path: str | None = None
) -> tuple[np.ndarray, str, bool]:
    """(matrix, one-line description, is-normalised) for the page: one definition of E (E_VIEWS), or the softmax
    (eq. 13) at `temperature` of the source the student's PMSC loss used; the line says what weights it. The
    softmax is called the student's own part weights only when the student was distilled from this teacher."""
    from partkd.distill.definitions import EFFICIENCIES
    from partkd.distill.efficiency import efficiency_softmax
    from partkd.distill.methods import KD_METHODS
    from partkd.engine.config import StudentConfig
    from partkd.engine.student import part_weights

    kd = (student_meta or {}).get("kd") or {}
    method = kd.get("method") if isinstance(kd, dict) else None
    weighs_parts = method in KD_METHODS and KD_METHODS[method].part_weights
    source = kd.get("efficiency") or "miss"
    student_t = kd.get("efficiency_temperature") or 1.0
    own = weighs_parts and (teacher_path is None or same_teacher(student_meta, teacher_path))
    if weighs_parts and not own:
        uses = f"The loaded KD student was distilled from another teacher ({kd.get('teacher')}), not this one."
    elif weighs_parts:
        uses = (
            f"The loaded KD student's {method} loss is weighted by the softmax of the "
            f"{EFFICIENCIES[source].label} at temperature {student_t:g}."
        )
    elif method:
        uses = f"The loaded KD student used '{method}', which does not weight parts by E."
    else:
        uses = "No KD student is loaded."
    name = _e_views()[shown]
    if name != "softmax":
        d = EFFICIENCIES[name]
        if d.key not in teacher_meta:
            raise CheckpointError(where("teacher", f"has no {d.label} matrix yet: recompute E (part-matrix)"))
        return np.asarray(teacher_meta[d.key], dtype=float), f"Showing the {d.label}: {d.description}. " + uses, False
    src = source if own else "miss"
    key = EFFICIENCIES[src].key
    if key not in teacher_meta:
        raise CheckpointError(where("teacher", f"has no {EFFICIENCIES[src].label} matrix: recompute E (part-matrix)"))
    if own and temperature == student_t:
        weights = part_weights(
            teacher_meta, StudentConfig(kd="pmsc", efficiency=source, efficiency_temperature=float(student_t))
        )
        return np.asarray(weights, dtype=float), "Showing exactly the KD student's part weights. " + uses, True
    return (
        efficiency_softmax(np.asarray(teacher_meta[key]), temperature),
        f"Showing the softmax of the {EFFICIENCIES[src].label} at temperature {temperature:g}. " + uses,
        True,
    )


def efficiency_uncertainty(teacher_meta: dict, shown: str) -> dict[str, np.ndarray] | None:
    """For a definition of E the teacher stores an interval for: its (lo, hi) and the cell flags (uncertain cells,
    rows where no single part is needed); None for the softmax or an older teacher without intervals."""
    from partkd.distill.definitions import EFFICIENCIES
    from partkd.distill.efficiency import cell_flags

    name = _e_views()[shown]
    ci = (teacher_meta.get("E_ci") or {}).get(name)
    if name == "softmax" or not ci:
        return None
    E = np.asarray(teacher_meta[EFFICIENCIES[name].key], dtype=float)
    lo, hi = np.asarray(ci["lo"], dtype=float), np.asarray(ci["hi"], dtype=float)
    return {"lo": lo, "hi": hi, **cell_flags(E, lo, hi, zero_tol=0.01, counts=teacher_meta.get("E_clips"))}


def e_definition(shown: str) -> str:
    """The E definition name ('miss', 'drop', 'shapley') or 'softmax' behind a Part-efficiency view label."""
    return _e_views()[shown]


def known_carriers(teacher_meta: dict) -> dict[str, tuple[str, ...]]:
    """Class -> the parts that carry it, when the teacher's data is the synthetic generator (else empty)."""
    from partkd.data.synthetic import SYNTH_MOTIONS, action_parts

    data = teacher_meta.get("data") or {}
    motion = data.get("synth_motion", "clean")
    if data.get("source") != "synthetic" or motion not in SYNTH_MOTIONS:
        return {}
    return action_parts(motion)


def truth_summary(teacher_meta: dict) -> list[str]:
    """Markdown lines scoring the teacher's matrices against the known carrier parts (synthetic data only)."""
    from partkd.distill.definitions import EFFICIENCIES
    from partkd.distill.efficiency import describe_truth

    truth = teacher_meta.get("E_truth") or {}
    return [
        f"**Against the known carrier parts** ({EFFICIENCIES[k].label if k in EFFICIENCIES else k}): "
        f"{describe_truth(v)}."
        for k, v in truth.items()
    ]


# ---------------------------------------------------------------- forms generated from the config schema


def stream_table(
    streams: dict[str, np.ndarray], fused: np.ndarray, row: int, class_names: list[str], truth: int
) -> pd.DataFrame:
    """One row per stream of a multi-stream model (its top-1 class, probability, ✓/✗) on one clip, then the fusion
    (`fused`: that clip's fused probabilities)."""
    from partkd.data.modalities import MODALITY_NAMES

    rows = [(f"{name} ({MODALITY_NAMES[name]})", p[row]) for name, p in streams.items()] + [("fused", fused)]
    return pd.DataFrame(
        [
            {
                "stream": name,
                "top-1": class_names[int(p.argmax())],
                "probability": round(float(p.max()), 3),
                "right": "✓" if int(p.argmax()) == truth else "✗",
            }
            for name, p in rows
        ]
    )


def option_input(where_: Any, cls: type, name: str, key: str, default: Any = None) -> Any:
    """The form widget of a config option, from its schema (engine/schema.py): a select box for choices (a
    multiselect for a list of them), a check box for a flag, a slider for a fraction in [0, 1], else a number input
    within the option's limits. Its value is kept across pages (`kept`); `default` overrides the schema's."""
    from partkd.engine.schema import option

    o = option(cls, name)
    value = o.default if default is None else default
    if o.kind is tuple and o.choices:
        picked = kept(where_.multiselect, o.label, key, list(value), options=list(o.choices), help=o.help)
        return tuple(c for c in o.choices if c in picked)
    if o.choices:
        return kept(where_.selectbox, o.label, key, value, options=list(o.choices), help=o.help)
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


# ---------------------------------------------------------------- downloads

DOWNLOADS = "_partkd_downloads"
MIME = {"png": "image/png", "pdf": "application/pdf", "svg": "image/svg+xml", "csv": "text/csv"}


def downloads(key: str, stem: str, figure: Callable[[], Any], numbers: Callable[[], str]) -> None:
    """Download buttons under a figure: PNG (200 dpi), PDF and SVG drawn by partkd.figures only when clicked, and
    the figure's numbers as CSV. The payloads are kept per key in the session (what the page showed last)."""
    from partkd.figures import IMAGE_FORMATS, figure_bytes

    def image(fmt: str) -> Callable[[], bytes]:
        return lambda: figure_bytes(figure(), fmt)

    payloads: dict[str, Callable[[], bytes | str]] = {fmt: image(fmt) for fmt in IMAGE_FORMATS}
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
