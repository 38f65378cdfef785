"""Helpers the Streamlit pages share: the sidebar pickers, cached data/checkpoint loading, occlusion settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from partkd.data.degrade import ESTIMATOR_PRESETS, OCCLUSION_MODES
from partkd.errors import CheckpointError, PartKDError, where
from partkd.layouts import PARTS

ROOT = Path(__file__).resolve().parent.parent  # the repository: checkpoints/, configs/
CHECKPOINT_DIR = ROOT / "checkpoints"
#: The app's built-in data: the synthetic generator, kept small so pages answer at once (12 clips per class).
APP_SYNTHETIC = {"num_classes": 10, "clips_per_class": 12}
NONE = "(none)"
OTHER = "other path…"
ESTIMATOR_LEVELS = tuple(ESTIMATOR_PRESETS)
LOW_LAYOUTS = ("coco17", "openpose18", "penn13", "same")
ROLES = {"teacher": "Teacher (high quality)", "nokd": "Student without KD", "kd": "Student with KD"}


@dataclass(frozen=True)
class Selection:
    """What the sidebar picked: a DataSpec as plain fields, and checkpoint paths (None = not loaded)."""

    data: tuple[tuple[str, Any], ...]
    teacher: str | None
    nokd: str | None
    kd: str | None

    @property
    def spec(self) -> Any:
        """The engine DataSpec these fields describe."""
        from partkd.engine.config import data_spec_from_dict

        return data_spec_from_dict(dict(self.data), "app data")

    def models(self) -> dict[str, str]:
        """{role: path} of the checkpoints picked (teacher, nokd, kd), skipping empty pickers."""
        return {r: p for r, p in (("teacher", self.teacher), ("nokd", self.nokd), ("kd", self.kd)) if p}


@dataclass(frozen=True)
class Occlusion:
    """Low-quality settings shared by the Skeletons and Compare pages."""

    op: float = 0.3
    mode: str = "joint"
    parts: tuple[str, ...] = ()
    level: str = "medium"
    seed: int = 0


# ---------------------------------------------------------------- session state shared across pages


def _persist(key: str, default: Any) -> str:
    """Widget key for a value that survives page switches (Streamlit drops state of widgets not drawn)."""
    store, widget = f"_kept_{key}", f"w_{key}"
    if store not in st.session_state:
        st.session_state[store] = default
    if widget not in st.session_state:
        st.session_state[widget] = st.session_state[store]
    return widget


def kept(key: str, default: Any = None) -> Any:
    """The persisted value of a shared widget (or `default` before it was ever drawn)."""
    return st.session_state.get(f"_kept_{key}", default)


def widget(fn: Callable[..., Any], label: str, key: str, default: Any, **kwargs: Any) -> Any:
    """Draw a Streamlit input whose value is shared by every page (fn: st.selectbox, st.slider, ...)."""
    wkey = _persist(key, default)
    options = kwargs.get("options")
    if options is not None and st.session_state[wkey] not in list(options):
        if not (isinstance(st.session_state[wkey], list) and set(st.session_state[wkey]) <= set(options)):
            st.session_state[wkey] = default
    value = fn(label, key=wkey, **kwargs)
    st.session_state[f"_kept_{key}"] = value
    return value


# ---------------------------------------------------------------- errors


@contextmanager
def readable_errors(stop: bool = True) -> Iterator[None]:
    """Show a partkd error as one st.error line (no traceback); stop the page unless `stop` is False."""
    try:
        yield
    except PartKDError as e:
        st.error(str(e), icon="⚠️")
        if stop:
            st.stop()


# ---------------------------------------------------------------- cached loading


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def _paired(data: tuple[tuple[str, Any], ...]) -> Any:
    from partkd.engine.config import data_spec_from_dict
    from partkd.engine.data import load_paired

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
def available_checkpoints() -> list[dict]:
    """Shipped checkpoints and those of finished jobs (rescanned every few seconds)."""
    from partkd.checkpoints import list_checkpoints

    return list_checkpoints(CHECKPOINT_DIR, jobs_root())


def jobs_root() -> Path:
    """The jobs root the app submits to and lists ($PARTKD_JOBS, else ./jobs)."""
    from partkd.engine import jobs

    return jobs.jobs_root()


def kd_method(meta: dict) -> str:
    """The KD method a student checkpoint was trained with ('none' when it had no teacher)."""
    kd = meta.get("kd") or {}
    return str(kd.get("method", kd.get("kd", "none")) if isinstance(kd, dict) else kd)


def role_of(row: dict) -> str:
    """'teacher', 'nokd' or 'kd' for a list_checkpoints row."""
    if row["role"] == "teacher":
        return "teacher"
    try:
        return "nokd" if kd_method(read_meta(row["path"])) == "none" else "kd"
    except PartKDError:
        return "kd"


def _label(row: dict) -> str:
    """Picker label: file name, where it comes from (shipped or the job's folder) and layout."""
    p = Path(row["path"])
    if p.parent == CHECKPOINT_DIR:
        origin = "shipped"
    elif p.is_relative_to(jobs_root()):
        origin = "job " + p.relative_to(jobs_root()).parts[0]
    else:
        origin = str(p.parent)
    return f"{p.stem} · {origin} · {row['layout']}"


# ---------------------------------------------------------------- sidebar


def format_choices() -> list[str]:
    """'auto-detect' plus the loaders' FORMATS (without 'synthetic', which has its own choice)."""
    from partkd.data.loaders import FORMATS

    return ["auto-detect", *(f for f in FORMATS if f != "synthetic")]


def _data_picker() -> tuple[tuple[str, Any], ...]:
    """Sidebar dataset controls; returns the DataSpec fields."""
    st.sidebar.subheader("Data")
    source = widget(
        st.sidebar.radio,
        "Source",
        "src",
        "synthetic",
        options=["synthetic", "folder or file"],
        horizontal=True,
        help="Built-in synthetic actions, or a dataset on disk (high quality; "
        "low quality is simulated from it unless it has its own).",
    )
    fields: dict[str, Any] = {}
    if source == "synthetic":
        from partkd.data.synthetic import SYNTH_ACTIONS

        fields.update(APP_SYNTHETIC)
        fields["num_classes"] = int(
            widget(
                st.sidebar.number_input,
                "Synthetic classes",
                "synth_classes",
                APP_SYNTHETIC["num_classes"],
                min_value=2,
                max_value=len(SYNTH_ACTIONS),
                step=1,
                help="Must match the checkpoints' class set.",
            )
        )
        fields["seed"] = int(
            widget(st.sidebar.number_input, "Synthetic seed", "synth_seed", 0, min_value=0, max_value=10_000, step=1)
        )
    else:
        path = widget(
            st.sidebar.text_input,
            "Dataset path",
            "data_path",
            "",
            placeholder="/data/penn_action, /data/h36m or file.npz",
        )
        fmt = widget(st.sidebar.selectbox, "Format", "data_format", "auto-detect", options=format_choices())
        fields.update(source=path.strip() or "(no path given)", format=None if fmt == "auto-detect" else fmt)
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
        if real_low_format(fields["source"], fields["format"]):
            low = widget(
                st.sidebar.radio,
                "Low quality",
                "low_source",
                "real",
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
                "mocap",
                options=["mocap", "projected"],
                horizontal=True,
                help="mocap: 3D motion capture (heterogeneous with the 2D detections); projected: "
                "the motion capture projected into the camera in the detector's joints "
                "(homogeneous).",
            )
            if high_src != "mocap":
                fields["high_source"] = high_src
            if low == "real":
                return tuple(sorted(fields.items()))
        elif (
            widget(
                st.sidebar.radio,
                "Low quality",
                "low_kind",
                "simulate",
                options=["simulate", "file"],
                horizontal=True,
                help="simulate: the estimator simulation of the high-quality data; file: "
                "your own low-quality data, paired by pair id.",
            )
            == "file"
        ):
            low_path = widget(st.sidebar.text_input, "Low-quality path", "low_path", "", placeholder="low.npz")
            low_layout = widget(
                st.sidebar.text_input,
                "Low-quality layout (optional)",
                "low_file_layout",
                "",
                placeholder="built-in name or layout.json",
            )
            fields["low"] = low_path.strip() or "(no low-quality path given)"
            if low_layout.strip():
                fields["low_layout"] = low_layout.strip()
            return tuple(sorted(fields.items()))
    fields["level"] = widget(
        st.sidebar.selectbox,
        "Low quality: estimator simulation",
        "data_level",
        "medium",
        options=list(ESTIMATOR_LEVELS),
        help="How the dataset's low-quality half is simulated (used for evaluation and training).",
    )
    fields["low_layout"] = widget(
        st.sidebar.selectbox,
        "Low-quality layout",
        "low_layout",
        "coco17",
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


def _level_key(data: tuple[tuple[str, Any], ...], level: str) -> str:
    """The estimator level as a cache key of the low-quality set: "real" for real data, which ignores it."""
    return "real" if _real(data) else level


def _checkpoint_picker(role: str, rows: list[dict]) -> str | None:
    """One sidebar select box for a model role: its checkpoints, none, or a typed path."""
    mine = [r for r in rows if role_of(r) == role]
    labels = {_label(r): r["path"] for r in mine}
    options = [*labels, NONE, OTHER]
    shipped = [lab for lab, p in labels.items() if Path(p).parent == CHECKPOINT_DIR]
    default = (shipped or list(labels) or [NONE])[0]
    choice = widget(st.sidebar.selectbox, ROLES[role], f"ckpt_{role}", default, options=options)
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


def sidebar() -> Selection:
    """Draw the shared sidebar (data and checkpoints) and return the selection."""
    data = _data_picker()
    st.sidebar.subheader("Models")
    try:
        rows = available_checkpoints()
    except PartKDError as e:
        st.sidebar.error(str(e))
        rows = []
    if not rows:
        st.sidebar.caption("No checkpoints found in `checkpoints/` or in finished jobs yet.")
    picks = {role: _checkpoint_picker(role, rows) for role in ROLES}
    return Selection(data, picks["teacher"], picks["nokd"], picks["kd"])


def occlusion_controls(where_: Any = st, real_low: bool = False) -> Occlusion:
    """Occlusion/estimator controls shared by the Skeletons and Compare pages (no estimator level for real data)."""
    cols = where_.columns([2, 2, 3, 2, 1])
    op = widget(cols[0].slider, "Occlusion probability (OP)", "op", 0.3, min_value=0.0, max_value=0.9, step=0.05)
    mode = widget(
        cols[1].selectbox,
        "Occlusion mode",
        "occ_mode",
        "joint",
        options=list(OCCLUSION_MODES),
        help="joint: each joint of each frame i.i.d.; sequence: a joint for the whole clip; "
        "part: whole body parts for the whole clip",
    )
    parts = widget(
        cols[2].multiselect,
        "Parts to occlude (part mode)",
        "occ_parts",
        [],
        options=list(PARTS),
        disabled=mode != "part",
        help="Empty: each part dropped with probability OP.",
    )
    level = widget(
        cols[3].selectbox,
        "Estimator level",
        "level",
        "medium",
        options=list(ESTIMATOR_LEVELS),
        disabled=real_low,
        help="Real low-quality data: the detector's own output, nothing simulated."
        if real_low
        else "The pose-estimator simulation's preset.",
    )
    seed = widget(cols[4].number_input, "Seed", "occ_seed", 0, min_value=0, max_value=10_000, step=1)
    return Occlusion(float(op), str(mode), tuple(parts) if mode == "part" else (), str(level), int(seed))


# ---------------------------------------------------------------- clips under the chosen degradation


@st.cache_resource(max_entries=6, show_spinner="Simulating the pose estimator…")
def _estimated(data: tuple[tuple[str, Any], ...], level: str, seed: int) -> Any:
    from partkd.engine.data import aligned_to_high, simulated

    pair = _paired(data)
    if _real(data):
        return aligned_to_high(pair.high, pair.low)
    return simulated(pair.high, pair.low.layout, level, seed)


def estimated_dataset(sel: Selection, occ: Occlusion) -> Any:
    """Low-quality clips indexed like the high-quality ones: the real low-quality source when the data has one
    (an all-missing clip where it lacks one), else the pose-estimator simulation at the chosen level and seed."""
    return _estimated(sel.data, _level_key(sel.data, occ.level), occ.seed)


@st.cache_resource(max_entries=2, show_spinner="Projecting the motion capture…")
def _reference(data: tuple[tuple[str, Any], ...]) -> Any:
    from partkd.engine.config import data_spec_from_dict
    from partkd.engine.data import projected_reference

    return projected_reference(data_spec_from_dict(dict(data), "app data"), _paired(data).high)


def reference_dataset(sel: Selection) -> Any:
    """The ground truth projected into the low-quality clips' images (h36m), indexed like the high clips; or None."""
    return _reference(sel.data) if is_real_low(sel) else None


def low_clip(sel: Selection, index: int, occ: Occlusion) -> tuple[np.ndarray, np.ndarray]:
    """(estimated, occluded) low-quality versions of high clip `index` under the shared settings: exactly
    what the students are shown on the Compare page."""
    from partkd.data.degrade import occlude

    est = estimated_dataset(sel, occ)
    clip = est.clips[index]
    return clip, occlude(
        clip, est.layout, occ.op, mode=occ.mode, parts=list(occ.parts) or None, seed=clip_seed(occ.seed, index)
    )


def clip_seed(seed: int, index: int) -> int:
    """The occlusion seed of clip `index`: one page seed, a different mask for every clip."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


@st.cache_data(max_entries=16, show_spinner="Running the model on every clip…")
def _predict_all(path: str, mtime: float, data: tuple[tuple[str, Any], ...], occ: tuple) -> np.ndarray:
    from partkd.data.dataset import SkeletonDataset
    from partkd.data.degrade import occlude
    from partkd.engine.data import model_inputs
    from partkd.engine.evaluate import check_compatible, predict_proba

    loaded = _loaded(path, mtime)
    o = Occlusion(*occ)
    if loaded.role == "teacher":
        ds = _paired(data).high
    else:
        est = _estimated(data, _level_key(data, o.level), o.seed)
        clips = [
            occlude(c, est.layout, o.op, mode=o.mode, parts=list(o.parts) or None, seed=clip_seed(o.seed, i))
            for i, c in enumerate(est.clips)
        ]
        ds = SkeletonDataset(
            clips, est.labels, est.class_names, est.split, est.layout, est.names, est.pair_ids, est.meta
        )
    check_compatible(loaded, ds)
    return predict_proba(loaded, model_inputs(ds, loaded.meta))


def check_role(path: str, slot: str) -> None:
    """CheckpointError unless the checkpoint fits its picker: a teacher for 'teacher', a student otherwise."""
    want = "teacher" if slot == "teacher" else "student"
    role = read_meta(path).get("role") or "unknown"
    if role != want:
        raise CheckpointError(where(path, f"is a {role} checkpoint; the '{ROLES[slot]}' picker needs a {want}"))


def predict_all(path: str, slot: str, sel: Selection, occ: Occlusion) -> np.ndarray:
    """(N, K) class probabilities of the checkpoint in picker `slot` for every clip: a teacher on the
    high-quality clips, students on the estimated + occluded ones (the clips the Skeletons page draws)."""
    check_role(path, slot)
    return _predict_all(path, _mtime(path), sel.data, dataclasses.astuple(occ))


@st.cache_resource
def _curve_store() -> dict:
    """Process-wide store of accuracy-vs-OP curves; not st.cache_data because the computation draws a
    progress bar, which cached functions may not do."""
    return {}


def op_curve(
    path: str,
    slot: str,
    sel: Selection,
    ops: list[float],
    mode: str = "joint",
    seed: int = 0,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Top-1/top-5 of the checkpoint in picker `slot` at each OP on the test split (accuracy_vs_op, cached)."""
    from partkd.engine.evaluate import accuracy_vs_op

    check_role(path, slot)
    mtime = _mtime(path)
    key = (path, mtime, sel.data, tuple(ops), mode, seed)
    store = _curve_store()
    if key not in store:
        test = _paired(sel.data).by_split("test")
        store[key] = accuracy_vs_op(_loaded(path, mtime), test, list(ops), seed=seed, mode=mode, progress=progress)
        while len(store) > 32:
            store.pop(next(iter(store)))
    return store[key]


@st.cache_data(max_entries=32, show_spinner=False)
def _part_sensitivity(path: str, mtime: float, data: tuple) -> list[float]:
    from partkd.engine.evaluate import part_sensitivity as engine_part_sensitivity

    return engine_part_sensitivity(_loaded(path, mtime), _paired(data).by_split("test")).tolist()


def part_sensitivity(path: str, sel: Selection) -> list[float]:
    """Top-1 drop of a checkpoint on the test split when each of the five parts is removed (cached)."""
    return _part_sensitivity(path, _mtime(path), sel.data)


def clip_picker(high: Any, where_: Any = st) -> int:
    """Class and clip select boxes (shared by the pages); returns the index of the clip in `high`."""
    c1, c2 = where_.columns(2)
    names = list(high.class_names)
    cls = widget(c1.selectbox, "Action class", "cls", names[0], options=names)
    # test clips first, so the default clip is one the models never trained on
    members = sorted(
        (int(i) for i in np.flatnonzero(high.labels == names.index(cls))), key=lambda i: high.split[i] != "test"
    )
    if not members:
        c2.warning(f"No clip of class '{cls}' in this dataset.")
        st.stop()
    label = {i: f"{high.names[i]} ({high.split[i]})" for i in members}
    return int(widget(c2.selectbox, "Clip", "clip", members[0], options=members, format_func=label.get))


def select_clip(high: Any, index: int) -> None:
    """Make the class and clip pickers show clip `index` (call from a button callback)."""
    for key, value in (("cls", high.class_names[int(high.labels[index])]), ("clip", int(index))):
        st.session_state[f"_kept_{key}"] = value
        st.session_state[f"w_{key}"] = value


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
    d = dict(data)
    if d.get("source", "synthetic") == "synthetic":
        high = f"synthetic actions: {d['num_classes']} classes × {d['clips_per_class']} clips (seed {d['seed']})"
    else:
        high = f"{d['source']} ({d.get('format') or 'auto-detected format'})"
    if d.get("low") not in (None, "simulate", "real"):
        return f"{high}; low quality: {d['low']}" + (f" ({d['low_layout']})" if d.get("low_layout") else "")
    if _real(data):
        return f"{high}; high quality: {d.get('high_source') or 'default'}; low quality: the dataset's real one"
    return f"{high}; low quality: {d.get('low_layout') or 'coco17'} simulated at '{d['level']}'"


def detection_error(low: np.ndarray, reference: np.ndarray) -> float:
    """Mean 2D distance (pixels) between a detected clip and its reference over the joints present in both."""
    ok = np.any(low != 0, axis=-1) & np.any(reference != 0, axis=-1)
    if not ok.any():
        return float("nan")
    return float(np.linalg.norm(low[..., :2] - reference[..., :2], axis=-1)[ok].mean())


#: The Part-efficiency page's matrix choices.
E_VIEWS = ("miss rate", "probability drop", "softmax")


def efficiency_view(
    teacher_meta: dict, shown: str, temperature: float, student_meta: dict | None
) -> tuple[np.ndarray, str, bool]:
    """(matrix, one-line description, is-normalised) for the page: the raw miss rate, the probability drop, or the
    softmax (eq. 13) at `temperature` of the source the student's PMSC loss used; the line says what weights it."""
    from partkd.distill.efficiency import efficiency_softmax
    from partkd.engine.config import StudentConfig
    from partkd.engine.student import part_weights

    kd = (student_meta or {}).get("kd") or {}
    method = kd.get("method") if isinstance(kd, dict) else None
    source = kd.get("efficiency") or "miss"
    student_t = kd.get("efficiency_temperature") or 1.0
    if method == "pmsc":
        if source == "drop" and "E_drop" not in teacher_meta:
            raise CheckpointError(where("teacher", "has no probability-drop matrix: recompute E (part-matrix)"))
        uses = (
            f"The loaded KD student's PMSC loss is weighted by the softmax of the "
            f"{'probability drop' if source == 'drop' else 'miss rate'} at temperature {student_t:g}."
        )
    elif method:
        uses = f"The loaded KD student used '{method}', which does not weight parts by E."
    else:
        uses = "No KD student is loaded."
    if shown == "probability drop":
        if "E_drop" not in teacher_meta:
            raise CheckpointError(where("teacher", "has no probability-drop matrix yet: recompute E (part-matrix)"))
        return np.asarray(teacher_meta["E_drop"], dtype=float), "Showing the probability drop. " + uses, False
    if shown == "softmax":
        if method == "pmsc" and temperature == student_t:
            weights = part_weights(
                teacher_meta, StudentConfig(kd="pmsc", efficiency=source, efficiency_temperature=float(student_t))
            )
            return np.asarray(weights, dtype=float), "Showing exactly the KD student's part weights. " + uses, True
        src = "E_drop" if source == "drop" and method == "pmsc" else "E_raw"
        return (
            efficiency_softmax(np.asarray(teacher_meta[src]), temperature),
            f"Showing the softmax of the {'probability drop' if src == 'E_drop' else 'miss rate'} at temperature "
            f"{temperature:g}. " + uses,
            True,
        )
    return np.asarray(teacher_meta["E_raw"], dtype=float), "Showing the miss rate (eq. 12). " + uses, False


def truth_summary(teacher_meta: dict) -> list[str]:
    """Markdown lines scoring the teacher's matrices against the known carrier parts (synthetic data only)."""
    from partkd.distill.efficiency import describe_truth

    truth = teacher_meta.get("E_truth") or {}
    names = {"miss": "miss rate", "drop": "probability drop"}
    return [f"**Against the known carrier parts** ({names.get(k, k)}): {describe_truth(v)}." for k, v in truth.items()]


# ---------------------------------------------------------------- forms generated from the config schema


def option_input(where_: Any, cls: type, name: str, key: str) -> Any:
    """The form widget of a config option, from its schema (engine/schema.py): a select box for choices, a check
    box for a flag, a slider for a fraction in [0, 1], else a number input within the option's limits."""
    from partkd.engine.schema import option

    o = option(cls, name)
    if o.choices:
        return where_.selectbox(o.label, list(o.choices), index=list(o.choices).index(o.default), key=key, help=o.help)
    if o.kind is bool:
        return where_.checkbox(o.label, value=o.default, key=key, help=o.help)
    lo = None if o.low is None else o.low + ((o.step or 1) / 5 if o.low_open else 0)
    hi = None if o.high is None else o.high - ((o.step or 1) / 5 if o.high_open else 0)
    if o.kind is float and o.low == 0.0 and o.high == 1.0:
        return where_.slider(o.label, 0.0, 1.0, float(o.default), float(o.step or 0.05), key=key, help=o.help)
    number = float if o.kind is float else int
    return where_.number_input(
        o.label,
        min_value=None if lo is None else number(lo),
        max_value=None if hi is None else number(hi),
        value=o.default,
        step=number(o.step or 1),
        key=key,
        help=o.help,
    )
