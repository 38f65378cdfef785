"""Paired data for the engine: load H and L (real or simulated) and make the dense model inputs (method.md §1, §7)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

import numpy as np

from partkd.data.dataset import PairedDataset, SkeletonDataset
from partkd.engine.config import DataSpec, TrainConfig
from partkd.errors import ConfigError, DataError, where
from partkd.layouts import Layout, get_layout


def load_paired(spec: DataSpec) -> PairedDataset:
    """The paired dataset a DataSpec names: synthetic by default, else H from `source` and L simulated or loaded."""
    if spec.is_synthetic:
        from partkd.data.synthetic import make_synthetic

        low_layout = "ntu25" if spec.low_layout == "same" else spec.low_layout
        return make_synthetic(num_classes=spec.num_classes, clips_per_class=spec.clips_per_class,
                              frames=spec.synth_frames, seed=spec.seed, low_layout=low_layout, level=spec.level)
    from partkd.data.loaders import load_dataset

    from partkd.data.loaders import FORMATS

    opts = dict(spec.options)
    if spec.high_source is not None:
        opts["quality"] = spec.high_source
    high = load_dataset(spec.source, format=spec.format, layout=spec.high_layout, **opts)
    if spec.low == "simulate":
        target = high.layout.name if spec.low_layout == "same" else spec.low_layout
        low = simulated(high, target, spec.level, spec.seed)
    elif spec.low == "real":
        fmt = FORMATS[high.meta["format"]]
        if fmt.real_low is None:
            raise ConfigError(where(spec.source, f"format '{fmt.name}' carries no real low-quality data; use "
                                                 "--low simulate or a path to low-quality data"))
        low = load_dataset(spec.source, format=fmt.name, **{**spec.options, "quality": fmt.real_low})
    else:
        low = load_dataset(spec.low, format=spec.low_format)
    if not (np.isin(low.pair_ids, high.pair_ids)).any():
        raise DataError(where(spec.low, "no low-quality clip shares a pair id with the high-quality data"))
    return PairedDataset(high, low)


def simulation_key(high: SkeletonDataset, target: str | Layout, level: str, seed: int) -> str:
    """Hash of everything simulate_estimator's output depends on: H (content and metadata), target, parameters, seed."""
    from partkd import __version__
    from partkd.data.degrade import resolve_preset
    from partkd.data.loaders import CACHE_VERSION

    name, params = resolve_preset(level)
    h = hashlib.sha256(json.dumps({"cache": CACHE_VERSION, "partkd": __version__, "level": name,
                                   "params": asdict(params), "seed": seed, "high": high.layout.to_dict(),
                                   "target": get_layout(target).to_dict(), "names": high.names,
                                   "classes": high.class_names, "meta": high.meta},
                                  sort_keys=True, default=str).encode())
    for arr in (high.labels, high.split, high.pair_ids, *high.clips):
        h.update(np.ascontiguousarray(arr).tobytes())
        h.update(str(arr.shape).encode())
    return h.hexdigest()


def simulated(high: SkeletonDataset, target: str | Layout, level: str, seed: int) -> SkeletonDataset:
    """simulate_estimator(high, ...) read from the dataset cache when this exact simulation was made before."""
    from partkd.data.degrade import simulate_estimator
    from partkd.data.loaders import cache_dir, read_cache, write_cache

    entry = cache_dir() / f"simulated-{simulation_key(high, target, level, seed)[:32]}.npz"
    if (low := read_cache(entry)) is not None:
        return low
    low = simulate_estimator(high, target_layout=target, level=level, seed=seed)
    write_cache(low, entry, "simulated-data")
    return low


def input_settings(cfg: TrainConfig, spec: DataSpec) -> dict[str, Any]:
    """The input shape and normalisation a model is trained with (stored in checkpoint meta as `input`)."""
    return {"frames": spec.frames or cfg.frames, "persons": spec.persons or cfg.persons,
            "mode": cfg.frame_mode, "normalize": True}


def _settings(meta_or_cfg: dict | TrainConfig) -> dict[str, Any]:
    if isinstance(meta_or_cfg, TrainConfig):
        return {"frames": meta_or_cfg.frames, "persons": meta_or_cfg.persons, "mode": meta_or_cfg.frame_mode,
                "normalize": True}
    if isinstance(meta_or_cfg, dict):
        s = meta_or_cfg.get("input", meta_or_cfg)
        if all(k in s for k in ("frames", "persons")):
            return {"frames": int(s["frames"]), "persons": int(s["persons"]), "mode": s.get("mode", "pad"),
                    "normalize": bool(s.get("normalize", True))}
    raise ConfigError(where("model_inputs", "settings need frames and persons (checkpoint meta, its `input`, "
                                            "or a TrainConfig)"))


def model_inputs(ds: SkeletonDataset, meta_or_cfg: dict | TrainConfig) -> np.ndarray:
    """Dense (N, M, T, V, C) float32 inputs with the frames/persons/normalisation used at training time."""
    from partkd.data.transforms import to_array

    s = _settings(meta_or_cfg)
    return to_array(ds, s["frames"], s["persons"], mode=s["mode"], normalize=s["normalize"])


__all__ = ["load_paired", "simulation_key", "simulated", "input_settings", "model_inputs"]
