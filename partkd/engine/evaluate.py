"""Evaluation of a checkpoint on data: accuracy, per-class, confusion, accuracy vs OP, part sensitivity."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from partkd.checkpoints import Loaded
from partkd.data.dataset import PairedDataset, SkeletonDataset
from partkd.data.inputs import Inputs, occlude_set
from partkd.data.occlusion import DEFAULT_OCCLUSION_MODE
from partkd.engine.data import model_inputs
from partkd.errors import CheckpointError, ConfigError, where
from partkd.io import atomic_write_json
from partkd.layouts import PARTS

ProgressFn = Callable[[dict], None]


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a GPU is a one-line error."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(where("device", "cuda requested but no CUDA device is available"))
    return torch.device(name)


def cpu_has_bf16_units() -> bool:
    """Whether this CPU multiplies bf16 in hardware: AMX tiles or AVX512-BF16 dot products (elsewhere bf16 is
    emulated, slower than fp32)."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def amp_enabled(precision: str, device: torch.device) -> bool:
    """bf16 autocast where it pays: CUDA, or a CPU with bf16 units (AMX or AVX512-BF16); fp32 otherwise."""
    if precision != "bf16":
        return False
    return device.type == "cuda" or cpu_has_bf16_units()


def model_logits(
    model: nn.Module,
    x: Inputs | torch.Tensor,
    device: torch.device | str = "cpu",
    amp: bool = False,
    batch_size: int = 64,
) -> torch.Tensor:
    """Float32 logits (N, K) on CPU of a model for dense inputs (N, M, T, V, C), in eval mode, batched."""
    from partkd.models.inference import batched_forward

    out = batched_forward(model, x, lambda logits, _z, _x: logits.float().cpu(), device, amp, batch_size)
    return torch.cat(out) if out else torch.zeros(0, 0)


def predict_proba(loaded: Loaded, x: Inputs | torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """Class probabilities (N, K) of a loaded checkpoint for dense inputs prepared with `model_inputs`."""
    device = next(loaded.model.parameters()).device
    return torch.softmax(model_logits(loaded.model, x, device, False, batch_size), dim=1).numpy()


def data_side(loaded: Loaded, data: SkeletonDataset | PairedDataset) -> SkeletonDataset:
    """The dataset a checkpoint reads: H for a teacher, L for a student (a plain dataset is used as is)."""
    if isinstance(data, PairedDataset):
        return data.high if loaded.role == "teacher" else data.low
    return data


def check_compatible(loaded: Loaded, ds: SkeletonDataset) -> None:
    """CheckpointError (one line) unless the data has the checkpoint's layout, class set and channel count."""
    lay = loaded.layout
    if ds.layout.name != lay.name or ds.layout.num_joints != lay.num_joints:
        raise CheckpointError(
            where(
                loaded.path,
                f"trained on layout '{lay.name}' ({lay.num_joints} joints) but "
                f"the data uses '{ds.layout.name}' ({ds.layout.num_joints} joints)",
            )
        )
    if list(ds.class_names) != loaded.class_names:
        raise CheckpointError(
            where(
                loaded.path,
                f"trained on {len(loaded.class_names)} classes "
                f"({', '.join(loaded.class_names[:4])}...) but the data has "
                f"{ds.num_classes} ({', '.join(ds.class_names[:4])}...)",
            )
        )
    channels = int(loaded.meta["model"].get("in_channels", lay.channels))
    bad = next((c.shape[-1] for c in ds.clips if c.shape[-1] != channels), None)
    if bad is not None:
        raise CheckpointError(where(loaded.path, f"expects {channels} channels per joint, the data has {bad}"))


def occluded_inputs(
    loaded: Loaded,
    ds: SkeletonDataset,
    op: float,
    mode: str = DEFAULT_OCCLUSION_MODE,
    seed: int = 0,
    parts: Sequence[str] | None = None,
) -> tuple[Inputs, Inputs]:
    """(clean, occluded) inputs of a checkpoint on `ds` under the one occlusion protocol (occlude_set)."""
    clean = model_inputs(ds, loaded.meta)
    return clean, occlude_set(clean, loaded.layout, op, mode, seed, parts)


def metrics_from_proba(proba: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """top1, top5 (top-k with k = min(5, K)), per-class top-1 and the confusion matrix (rows = truth)."""
    k = len(class_names)
    pred = proba.argmax(axis=1)
    topk = np.argsort(-proba, axis=1)[:, : min(5, k)]
    conf = np.zeros((k, k), dtype=np.int64)
    np.add.at(conf, (labels, pred), 1)
    support = conf.sum(axis=1)
    per_class = {name: (float(conf[i, i] / support[i]) if support[i] else None) for i, name in enumerate(class_names)}
    n = max(len(labels), 1)
    return {
        "n": int(len(labels)),
        "top1": float((pred == labels).sum() / n),
        "top5": float((topk == labels[:, None]).any(axis=1).sum() / n),
        "per_class": per_class,
        "confusion": conf.tolist(),
        "class_names": list(class_names),
    }


def proba_and_streams(
    loaded: Loaded, x: Inputs | torch.Tensor, batch_size: int = 64
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Class probabilities (N, K) and, for a multi-stream checkpoint, each stream's (by modality; {} otherwise),
    from one pass: the fused ones are the model's own late fusion of the same stream logits."""
    from partkd.models.inference import batched_forward
    from partkd.models.multistream import MultiStream, StreamLogits, fuse_scores

    model = loaded.model
    if not isinstance(model, MultiStream):
        return predict_proba(loaded, x, batch_size), {}
    device = next(model.parameters()).device
    out = batched_forward(StreamLogits(model), x, lambda lg, _z, _x: lg.float().cpu(), device, False, batch_size)
    logits = torch.cat(out) if out else torch.zeros(0, len(model.modalities), model.num_classes)  # (N, S, K)
    fused = torch.softmax(fuse_scores(logits.transpose(0, 1), model.weights.cpu()), dim=-1).numpy()
    proba = torch.softmax(logits, dim=-1).numpy()
    return fused, {name: proba[:, i] for i, name in enumerate(model.modalities)}


def stream_proba(loaded: Loaded, x: Inputs | torch.Tensor, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Each stream's class probabilities (N, K) of a multi-stream checkpoint, by modality; {} for a one-stream
    model."""
    return proba_and_streams(loaded, x, batch_size)[1]


def evaluate(
    loaded: Loaded,
    ds: SkeletonDataset | PairedDataset,
    op: float = 0.0,
    mode: str = DEFAULT_OCCLUSION_MODE,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of a checkpoint on a dataset (occluded with probability op, fixed seed): top1, top5, per-class,
    confusion; a multi-stream checkpoint's also each stream's top1 and top5 (`streams`, by modality)."""
    ds = data_side(loaded, ds)
    check_compatible(loaded, ds)
    proba, streams = proba_and_streams(loaded, occluded_inputs(loaded, ds, op, mode, seed)[1])
    out = {**metrics_from_proba(proba, ds.labels, ds.class_names), "op": float(op), "mode": mode, "seed": seed}
    if streams:
        out["streams"] = {
            name: {k: m[k] for k in ("top1", "top5")}
            for name, p in streams.items()
            if (m := metrics_from_proba(p, ds.labels, ds.class_names))
        }
    return out


def accuracy_vs_op(
    loaded: Loaded,
    ds: SkeletonDataset | PairedDataset,
    ops: list[float],
    seed: int = 0,
    mode: str = DEFAULT_OCCLUSION_MODE,
    progress: ProgressFn | None = None,
) -> list[dict[str, float]]:
    """Top-1/top-5 at each occlusion level, each with the same fixed seed (a deterministic test set per OP)."""
    ds = data_side(loaded, ds)
    check_compatible(loaded, ds)
    clean = model_inputs(ds, loaded.meta)
    rows = []
    for i, op in enumerate(ops):
        rows.append(accuracy_at_op(loaded, clean, ds, op, seed, mode))
        if progress is not None:
            progress({"phase": "accuracy_vs_op", "step": i + 1, "steps": len(ops)})
    return rows


def accuracy_at_op(
    loaded: Loaded, clean: Inputs, ds: SkeletonDataset, op: float, seed: int = 0, mode: str = DEFAULT_OCCLUSION_MODE
) -> dict[str, float]:
    """{op, top1, top5, n} of a checkpoint on its dense inputs `clean` of `ds` (n clips) occluded by the one protocol
    at `op`."""
    m = metrics_from_proba(
        predict_proba(loaded, occlude_set(clean, loaded.layout, op, mode, seed)), ds.labels, ds.class_names
    )
    return {"op": float(op), "top1": m["top1"], "top5": m["top5"], "n": len(ds.labels)}


def weights_key(loaded: Loaded) -> str:
    """The sha256 of a checkpoint's weights (recorded in its metadata; hashed from the file when absent)."""
    return str(loaded.meta.get("weights_sha256") or hashlib.sha256(loaded.path.read_bytes()).hexdigest())


def disk_cached(folder: Path, key: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """`compute()` (a JSON-able result) kept in `folder` under a hash of `key`: the same question is answered from
    disk next time, in any process; written atomically, and a cache that cannot be written only costs a recompute."""

    text = json.dumps(key, sort_keys=True, default=str)
    path = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"
    try:
        return json.loads(path.read_text())["value"]
    except (OSError, ValueError, KeyError):
        pass
    value = compute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"key": json.loads(text), "value": value})
    except OSError:
        pass
    return value


def part_sensitivity(loaded: Loaded, ds: SkeletonDataset | PairedDataset) -> np.ndarray:
    """(5,) top-1 drop when each part (head, arms, legs) is zeroed in every frame, in PARTS order."""
    ds = data_side(loaded, ds)
    check_compatible(loaded, ds)
    x = model_inputs(ds, loaded.meta)
    base = metrics_from_proba(predict_proba(loaded, x), ds.labels, ds.class_names)["top1"]
    drops = [
        base
        - metrics_from_proba(
            predict_proba(loaded, occlude_set(x, loaded.layout, 0.0, "part", parts=[PARTS[p]])),
            ds.labels,
            ds.class_names,
        )["top1"]
        for p in range(len(PARTS))
    ]
    return np.asarray(drops, dtype=np.float64)


__all__ = [
    "resolve_device",
    "amp_enabled",
    "cpu_has_bf16_units",
    "model_logits",
    "predict_proba",
    "data_side",
    "check_compatible",
    "metrics_from_proba",
    "occlude_set",
    "occluded_inputs",
    "evaluate",
    "accuracy_vs_op",
    "disk_cached",
    "weights_key",
    "part_sensitivity",
]
