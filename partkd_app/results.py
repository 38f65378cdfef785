"""What the pages compute with the picked checkpoints, through the engine's own functions: predictions under the one
occlusion protocol, accuracy against occlusion, part sensitivity and per-clip explanations; kept in memory and, for
the numbers, on disk by weights sha256, data, OP, mode and seed."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn, TypedDict, TypeVar, cast

import numpy as np
import streamlit as st

from partkd.catalogue import check_role
from partkd.checkpoints import Loaded, load_checkpoint, stem_of
from partkd.data.loaders import cache_dir
from partkd.data_fields import DataFields
from partkd.engine.data import model_inputs
from partkd.figures import SCREEN_DPI, clip_grid_figure, figure_bytes
from partkd.results_store import RESULTS_FILE, key_text, read_results, result_key
from partkd_app.datasets import paired_dataset
from partkd_app.state import Selection

if TYPE_CHECKING:
    from partkd.report import GridData


class Progress(TypedDict):
    """How far a computation over several points is: point `step` of `steps` done."""

    phase: str
    step: int
    steps: int


ProgressFn = Callable[[Progress], None]
T = TypeVar("T")
#: (role, checkpoint path, metadata mtime) of each picked model: what the cached computations are keyed by.
ModelsKey = tuple[tuple[str, str, float], ...]


class MethodExplanation(TypedDict):
    """One explainer's result on a clip: joint importance (windows, joints), part importance (windows, 5), deletion
    curve and its area."""

    joints: list[list[float]]
    parts: list[list[float]]
    deletion: list[float]
    auc: float


class Explanation(TypedDict):
    """engine.explain's result for one clip without its input array (what `partkd explain` writes)."""

    clip: str
    true: str
    predicted: str
    probability: float
    windows: list[list[int]]
    methods: dict[str, MethodExplanation]
    random_auc: float


def _mtime(path: str) -> float:
    """Modification time of a checkpoint's metadata (to invalidate caches when a file is rewritten)."""
    stem = stem_of(path)
    meta = stem.with_name(stem.name + ".json")
    return meta.stat().st_mtime if meta.exists() else 0.0


@st.cache_resource(max_entries=8, show_spinner="Loading the checkpoint…")
def _loaded(path: str, mtime: float) -> Loaded:
    return load_checkpoint(path)


def checkpoint(path: str) -> Loaded:
    """The loaded checkpoint at `path` (cached until its metadata file changes)."""
    return _loaded(path, _mtime(path))


def _models_key(sel: Selection) -> ModelsKey:
    """The picked models, each checked to fit its picker (CheckpointError otherwise)."""
    for role, path in sel.models().items():
        check_role(path, role)
    return tuple((role, path, _mtime(path)) for role, path in sel.models().items())


@dataclass(frozen=True)
class GridKey:
    """What the models' predictions on the test split are computed from: the models, the data, the OPs and the
    occlusion mode, seed and parts."""

    models: ModelsKey
    data: DataFields
    ops: tuple[float, ...]
    mode: str
    seed: int
    parts: tuple[str, ...]


def _grid_key(sel: Selection, ops: tuple[float, ...]) -> GridKey:
    o = sel.occ
    return GridKey(_models_key(sel), sel.data, tuple(sorted(set(ops))), o.mode, o.seed, o.parts)


@st.cache_resource(max_entries=16, show_spinner="Running the models…")
def _grid(key: GridKey, only: tuple[int, ...] | None = None) -> GridData:
    from partkd.report import grid_data  # deferred: torch

    loaded = {role: _loaded(path, mtime) for role, path, mtime in key.models}
    return grid_data(loaded, paired_dataset(key.data), key.ops, key.mode, key.seed, key.parts or None, only)


def predictions(sel: Selection, ops: tuple[float, ...], only: tuple[int, ...] | None = None) -> GridData:
    """The loaded models' predictions on the test split under the engine's occlusion protocol at each OP (the
    sidebar's mode, parts and seed): a report.GridData, the same numbers `partkd evaluate` gives; with `only` (low
    test clips) the models run on those clips alone (cached per OP set and clips)."""
    return _grid(_grid_key(sel, ops), only)


@st.cache_data(max_entries=32, show_spinner=False)
def _grid_png(key: GridKey, clip: int, title: str, source: str, only: tuple[int, ...] | None) -> bytes:
    from partkd.report import grid_rows  # deferred: torch

    figure = clip_grid_figure(grid_rows(_grid(key, only), clip), title=title, source=source)
    return figure_bytes(figure, "png", SCREEN_DPI)


def grid_png(
    sel: Selection, ops: tuple[float, ...], clip: int, title: str, source: str, only: tuple[int, ...] | None = None
) -> bytes:
    """The clip grid of `predictions(sel, ops, only)` for low-quality test clip `clip` as PNG (cached)."""
    return _grid_png(_grid_key(sel, ops), clip, title, source, only)


@st.cache_data(max_entries=16, show_spinner=False)
def _shipped(folder: str, mtime: float) -> dict[str, object]:
    return read_results(folder)


def _stored(loaded: Loaded, sel: Selection, what: str, compute: Callable[[], T], **protocol: object) -> T:
    """The answer to `what` for a checkpoint on the selected data: from the results.json shipped beside it (keyed by
    partkd.results_store.result_key), else `compute()` kept on disk under that key plus the full data fields (which
    tell apart two datasets of one folder name on this machine)."""
    from partkd.engine.evaluate import disk_cached, weights_key  # deferred: torch

    key = result_key(what, weights_key(loaded), loaded.role, sel.spec, **protocol)
    file = loaded.path.parent / RESULTS_FILE
    shipped = _shipped(str(file.parent), file.stat().st_mtime if file.exists() else 0.0).get(key_text(key))
    if shipped is not None:
        return cast(T, shipped)
    stored: T = disk_cached(cache_dir() / "results", {**key, "fields": dict(sel.data)}, compute)
    return stored


class _NotStored(Exception):
    """A result that is not on disk yet."""


def _not_stored() -> NoReturn:
    raise _NotStored


def op_curve(
    path: str, slot: str, sel: Selection, ops: list[float], progress: ProgressFn | None = None
) -> list[dict[str, float]]:
    """Top-1/top-5 of the checkpoint in picker `slot` at each OP on the test split (the sidebar's mode and seed):
    engine.evaluate.accuracy_vs_op over the points not on disk yet, each point kept on disk by (weights sha256,
    data, op, mode, seed), so a revisit, or a finer curve through points already shown, only computes what is new."""
    from partkd.engine.evaluate import accuracy_vs_op, data_side  # deferred: torch

    check_role(path, slot)
    loaded = checkpoint(path)
    o = sel.occ

    def point(op: float, compute: Callable[[], dict[str, float]] = _not_stored) -> dict[str, float]:
        return _stored(loaded, sel, "accuracy_at_op", compute, op=float(op), mode=o.mode, seed=o.seed)

    rows: list[dict[str, float] | None] = []
    for op in ops:
        try:
            rows.append(point(op))
        except _NotStored:
            rows.append(None)
    todo = [i for i, row in enumerate(rows) if row is None]
    if todo:
        done = len(ops) - len(todo)

        def report(p: Mapping[str, int | str]) -> None:
            if progress is not None:
                progress({"phase": str(p["phase"]), "step": done + int(p["step"]), "steps": len(ops)})

        test = data_side(loaded, paired_dataset(sel.data)).by_split("test")
        fresh = accuracy_vs_op(loaded, test, [float(ops[i]) for i in todo], o.seed, o.mode, report)
        for i, row in zip(todo, fresh):
            rows[i] = point(ops[i], functools.partial(dict, row))
    elif progress is not None:
        progress({"phase": "accuracy_vs_op", "step": len(ops), "steps": len(ops)})
    return [row for row in rows if row is not None]


def part_sensitivity(path: str, sel: Selection) -> list[float]:
    """Top-1 drop of a checkpoint on the test split when each of the five parts is removed (cached on disk)."""
    from partkd.engine.evaluate import data_side  # deferred: torch
    from partkd.engine.evaluate import part_sensitivity as engine_part_sensitivity

    loaded = checkpoint(path)

    def compute() -> list[float]:
        test = data_side(loaded, paired_dataset(sel.data)).by_split("test")
        drops: list[float] = engine_part_sensitivity(loaded, test).tolist()
        return drops

    return [float(v) for v in _stored(loaded, sel, "part_sensitivity", compute)]


def explanation(path: str, sel: Selection, index: int, windows: int = 8) -> Explanation:
    """Per-clip explanations (engine.explain) of the teacher on high-quality clip `index` of the selected data,
    cached on disk by (weights, data, clip, windows): the numbers `partkd explain` gives, without the input array."""
    from partkd.engine.explain import explain_dataset_clip, explanation_json  # deferred: torch

    loaded = checkpoint(path)
    high = paired_dataset(sel.data).high
    result = _stored(
        loaded,
        sel,
        "explain",
        lambda: explanation_json(explain_dataset_clip(loaded, high, index, windows)),
        clip=int(index),
        windows=windows,
    )
    return cast(Explanation, result)


def explanation_input(path: str, sel: Selection, index: int) -> np.ndarray:
    """The model input (M, T, V, C) the teacher's explanation of high-quality clip `index` was computed on."""
    high = paired_dataset(sel.data).high
    return model_inputs(high.subset(np.array([index])), checkpoint(path).meta)[0]
