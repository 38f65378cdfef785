"""Paired data for the engine: load H and L (real or simulated) and make the dense model inputs (method.md §1, §7)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

import numpy as np

from partkd import __version__
from partkd.data.dataset import NO_PAIR, PairedDataset, SkeletonDataset
from partkd.data.estimator import resolve_preset, simulate_estimator
from partkd.data.inputs import ModelInputs
from partkd.data.loaders import CACHE_VERSION, FORMATS, cache_dir, load_dataset, read_cache, write_cache
from partkd.data.synthetic import make_synthetic
from partkd.data.validation import carve_validation, carve_validation_pair
from partkd.engine.config import DataSpec, TrainConfig
from partkd.errors import ConfigError, DataError, FlagHintError, where
from partkd.layouts import Layout, get_layout


def load_paired(spec: DataSpec) -> PairedDataset:
    """The paired dataset a DataSpec names: synthetic by default, else H from `source` and L simulated or loaded."""
    data = _paired(spec)
    return carve_validation_pair(data, spec.validation, spec.seed) if spec.validation else data


def _paired(spec: DataSpec) -> PairedDataset:
    if spec.is_synthetic:
        low_layout = "ntu25" if spec.low_layout == "same" else spec.simulated_layout
        return make_synthetic(
            num_classes=spec.num_classes,
            clips_per_class=spec.clips_per_class,
            frames=spec.synth_frames,
            seed=spec.seed,
            low_layout=low_layout,
            level=spec.level,
            motion=spec.synth_motion,
        )

    high = _high(spec)
    if spec.low == "simulate":
        target = high.layout if spec.low_layout == "same" else spec.simulated_layout
        low = simulated(high, target, spec.level, spec.seed)
    elif spec.low == "real":
        fmt = FORMATS[high.meta["format"]]
        if fmt.real_low is None:
            raise ConfigError(
                where(
                    spec.source,
                    f"format '{fmt.name}' carries no real low-quality data; use "
                    "--low simulate or a path to low-quality data",
                )
            )
        low = load_dataset(spec.source, format=fmt.name, **{**spec.options, "quality": fmt.real_low})
    else:
        try:
            low = load_dataset(
                spec.low, format=spec.low_format, layout=high.layout if spec.low_layout == "same" else spec.low_layout
            )
        except FlagHintError as e:
            raise e.for_low() from None
    if not (np.isin(low.pair_ids, high.pair_ids)).any():
        raise DataError(where(spec.low, "no low-quality clip shares a pair id with the high-quality data"))
    return PairedDataset(high, low)


def load_high(spec: DataSpec) -> SkeletonDataset:
    """Only the high-quality side of a DataSpec (what a teacher and E need): no low-quality set is simulated or read."""
    if spec.is_synthetic:
        return load_paired(spec).high
    high = _high(spec)
    return carve_validation(high, spec.validation, spec.seed) if spec.validation else high


def _high(spec: DataSpec) -> SkeletonDataset:

    opts = dict(spec.options)
    if spec.high_source is not None:
        opts["quality"] = spec.high_source
    return load_dataset(spec.source, format=spec.format, layout=spec.high_layout, **opts)


def simulation_key(high: SkeletonDataset, target: str | Layout, level: str, seed: int) -> str:
    """Hash of everything simulate_estimator's output depends on: H (content and metadata), target, parameters, seed."""

    name, params = resolve_preset(level)
    h = hashlib.sha256(
        json.dumps(
            {
                "cache": CACHE_VERSION,
                "partkd": __version__,
                "level": name,
                "params": asdict(params),
                "seed": seed,
                "high": high.layout.to_dict(),
                "target": get_layout(target).to_dict(),
                "names": high.names,
                "classes": high.class_names,
                "meta": high.meta,
            },
            sort_keys=True,
            default=str,
        ).encode()
    )
    for arr in (high.labels, high.split, high.pair_ids, *high.clips):
        h.update(np.ascontiguousarray(arr).tobytes())
        h.update(str(arr.shape).encode())
    return h.hexdigest()


def simulated(high: SkeletonDataset, target: str | Layout, level: str, seed: int) -> SkeletonDataset:
    """simulate_estimator(high, ...) read from the dataset cache when this exact simulation was made before."""

    entry = cache_dir() / f"simulated-{simulation_key(high, target, level, seed)[:32]}.npz"
    if (low := read_cache(entry)) is not None:
        return low
    return write_cache(simulate_estimator(high, target_layout=target, level=level, seed=seed), entry, "simulated-data")


def aligned_to_high(high: SkeletonDataset, other: SkeletonDataset) -> SkeletonDataset:
    """`other` re-indexed like `high`: clip i is the first clip of `other` sharing high clip i's pair id, or an
    all-missing clip of high's length when none does (a high-quality clip the low-quality source lacks)."""

    first: dict[int, int] = {}
    for j, p in enumerate(other.pair_ids):
        if p != NO_PAIR:
            first.setdefault(int(p), j)
    v = other.layout.num_joints
    idx = [first.get(int(p), -1) for p in high.pair_ids]
    clips = [other.clips[j] if j >= 0 else np.zeros((1, c.shape[1], v, 3), np.float32) for j, c in zip(idx, high.clips)]
    names = [other.names[j] if j >= 0 else f"{n} (no counterpart)" for j, n in zip(idx, high.names)]
    return SkeletonDataset(
        clips,
        high.labels,
        high.class_names,
        high.split,
        other.layout,
        names,
        high.pair_ids,
        {**other.meta, "aligned_missing": int(sum(j < 0 for j in idx))},
    )


def projected_reference(spec: DataSpec, high: SkeletonDataset) -> SkeletonDataset | None:
    """For a format with a projected ground truth (h36m) and 3D H: that source aligned to `high`, else None."""

    name = str(high.meta.get("format"))
    fmt = FORMATS.get(name) if name in FORMATS else None
    if fmt is None or fmt.real_low is None or high.meta.get("quality") != "mocap" or high.meta.get("frame") != "camera":
        return None
    ref = load_dataset(spec.source, format=fmt.name, **{**spec.options, "quality": "projected"})
    return aligned_to_high(high, ref)


def input_settings(cfg: TrainConfig, spec: DataSpec) -> dict[str, Any]:
    """The input shape and normalisation a model is trained with (stored in checkpoint meta as `input`)."""
    return {
        "frames": spec.frames or cfg.frames,
        "persons": spec.persons or cfg.persons,
        "mode": cfg.frame_mode,
        "normalize": True,
    }


def _settings(meta_or_cfg: dict | TrainConfig) -> dict[str, Any]:
    if isinstance(meta_or_cfg, TrainConfig):
        return {
            "frames": meta_or_cfg.frames,
            "persons": meta_or_cfg.persons,
            "mode": meta_or_cfg.frame_mode,
            "normalize": True,
        }
    if isinstance(meta_or_cfg, dict):
        s = meta_or_cfg.get("input", meta_or_cfg)
        if all(k in s for k in ("frames", "persons")):
            return {
                "frames": int(s["frames"]),
                "persons": int(s["persons"]),
                "mode": s.get("mode", "pad"),
                "normalize": bool(s.get("normalize", True)),
            }
    raise ConfigError(
        where("model_inputs", "settings need frames and persons (checkpoint meta, its `input`, or a TrainConfig)")
    )


def model_inputs(ds: SkeletonDataset, meta_or_cfg: dict | TrainConfig) -> ModelInputs:
    """The (N, M, T, V, C) float32 inputs with the frames/persons/normalisation used at training time, made per
    batch when indexed (`np.asarray` gives them all, equal to inputs.to_array)."""
    s = _settings(meta_or_cfg)
    return ModelInputs(ds, s["frames"], s["persons"], s["mode"], s["normalize"])


__all__ = [
    "load_paired",
    "load_high",
    "simulation_key",
    "simulated",
    "aligned_to_high",
    "projected_reference",
    "input_settings",
    "model_inputs",
]
