"""Per-clip explanations of a checkpoint on one clip of a dataset: the engine behind `partkd explain` and the app's
Part efficiency page (both call explain_dataset_clip, so they give the same numbers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from partkd.checkpoints import Loaded
from partkd.data.dataset import SkeletonDataset
from partkd.engine.config import data_spec_from_dict
from partkd.engine.data import load_high, load_paired, model_inputs
from partkd.engine.evaluate import check_compatible
from partkd.errors import ConfigError, where
from partkd.io import atomic_write_json


def stored_data(loaded: Loaded) -> SkeletonDataset:
    """The data a checkpoint was trained on, read from its stored spec: high quality for a teacher, the low-quality
    side for a student."""

    spec = data_spec_from_dict(dict(loaded.meta.get("data") or {}), loaded.path)
    return load_high(spec) if loaded.role == "teacher" else load_paired(spec).low


def pick_clip(ds: SkeletonDataset, split: str, index: int) -> tuple[SkeletonDataset, int]:
    """(the split's subset, the clip's index in the whole dataset); ConfigError for an index out of range."""
    part = ds.by_split(split) if split != "all" else ds
    if not 0 <= index < len(part):
        raise ConfigError(where("--clip", f"{index} is outside the {len(part)} clips of the '{split}' split"))
    rows = np.flatnonzero(ds.split == split) if split != "all" else np.arange(len(ds))
    return part, int(rows[index])


def explain_dataset_clip(
    loaded: Loaded, ds: SkeletonDataset, index: int, windows: int = 8, steps: int = 10
) -> dict[str, Any]:
    """Every explainer's maps, deletion curve and AUC for clip `index` of `ds` (an index into the whole dataset),
    with the clip's name, true and predicted class and the model input it was computed on (`input`, (M, T, V, C))."""
    from partkd.distill.explain import explain_clip

    check_compatible(loaded, ds)
    one = ds.subset(np.array([index]))
    x = model_inputs(one, loaded.meta)
    label = int(one.labels[0])
    out = explain_clip(loaded.model, x[0], label, loaded.layout, windows=windows, steps=steps)
    return {
        **out,
        "checkpoint": str(loaded.path),
        "clip": one.names[0],
        "index": int(index),
        "true": loaded.class_names[label],
        "predicted": loaded.class_names[out["predicted_index"]],
        "input": x[0],
    }


def explanation_json(result: dict[str, Any]) -> dict[str, Any]:
    """The result without its model input array, for JSON."""
    return {k: v for k, v in result.items() if k != "input"}


def write_explanation(result: dict[str, Any], loaded: Loaded, out_dir: Path | str, source: str) -> list[Path]:
    """Write explain_<clip>.json and the figure explain_<clip>.png into out_dir (atomically); returns the paths."""
    from partkd import figures

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"explain_{result['index']:05d}"
    atomic_write_json(stem.with_suffix(".json"), explanation_json(result))
    fig = figures.explanation_figure(result, loaded.layout, source=source)
    return [stem.with_suffix(".json"), *figures.save_figure(fig, stem, formats=("png",))]


__all__ = ["explain_dataset_clip", "explanation_json", "pick_clip", "stored_data", "write_explanation"]
