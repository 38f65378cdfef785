"""Load an mmaction2 (1.x) or pyskl ST-GCN state dict as a partkd ST-GCN: the key mapping, the channel and stride
plan read from the weights, and a partkd teacher checkpoint written from it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import torch

from partkd.errors import CheckpointError, where
from partkd.layouts import Layout, get_layout
from partkd.models import build_model
from partkd.models.config import ModelConfig

#: Prefixes of a whole recognizer's checkpoint (mmaction2 / pyskl) in front of the backbone's and head's keys.
PREFIXES = ("backbone.", "cls_head.", "module.")
#: mmaction2 name (after the stage index) -> partkd name, per ST-GCN stage.
STAGE_KEYS = {
    "gcn.PA": "gcn.importance",
    "gcn.A": "gcn.A",
    "gcn.conv": "gcn.conv",
    "gcn.bn": "bn",
    "tcn.conv": "tcn.0",
    "tcn.bn": "tcn.1",
    "residual.conv": "residual.0",
    "residual.bn": "residual.1",
}


def read_state(path: Path | str) -> dict[str, torch.Tensor]:
    """The tensors of an mmaction2 / pyskl checkpoint (`state_dict` inside, or the dict itself), read with
    weights_only=True; prefixes such as 'backbone.' are stripped."""
    try:
        raw = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as e:  # any malformed or hostile file: torch's unpickler raises many kinds of errors
        raise CheckpointError(where(path, f"cannot read as a torch checkpoint ({type(e).__name__}: {e})")) from None
    state = raw.get("state_dict", raw) if isinstance(raw, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(where(path, "holds no state dict of tensors"))
    out = {}
    for key, value in state.items():
        for prefix in PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def map_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """mmaction2 ST-GCN keys -> partkd STGCN keys (data_bn, gcn.<i>.* -> blocks.<i>.*, fc)."""
    out = {}
    for key, value in state.items():
        if key.startswith("data_bn."):
            out["data_bn.bn." + key[len("data_bn.") :]] = value
            continue
        if key.startswith("fc."):
            out[key] = value
            continue
        m = re.fullmatch(r"gcn\.(\d+)\.(.+)", key)
        rest = m.group(2) if m else ""
        source = next((k for k in STAGE_KEYS if rest == k or rest.startswith(k + ".")), None)
        if m is None or source is None:
            raise CheckpointError(where("mmaction2 state", f"unexpected key '{key}' (not an ST-GCN backbone + head)"))
        out[f"blocks.{m.group(1)}.{STAGE_KEYS[source]}{rest[len(source) :]}"] = value
    return out


def stgcn_config(state: dict[str, torch.Tensor], persons: int) -> ModelConfig:
    """The channel and stride plan of a mmaction2 ST-GCN from its weights: channels from each stage's temporal
    convolution, stride 2 where a stage widens (mmaction2's down_stages = inflate_stages, its default)."""
    stages = sorted({int(k.split(".")[1]) for k in state if k.startswith("gcn.")})
    if not stages:
        raise CheckpointError(where("mmaction2 state", "has no gcn.<i> stages"))
    channels = tuple(int(state[f"gcn.{i}.tcn.conv.weight"].shape[0]) for i in stages)
    kernel = int(state[f"gcn.{stages[0]}.tcn.conv.weight"].shape[2])
    strides = tuple(2 if i > 0 and channels[i] > channels[i - 1] else 1 for i in range(len(channels)))
    data_bn: Literal["vc", "mvc"] = (
        "mvc" if state["data_bn.weight"].numel() != 3 * state["gcn.0.gcn.A"].shape[-1] else "vc"
    )
    return ModelConfig(
        arch="stgcn",
        channels=channels,
        strides=strides,
        temporal_kernel=kernel,
        edge_importance=True,
        data_bn=data_bn,
        persons=persons,
    )


def load_mmaction2_stgcn(path: Path | str, layout: str | Layout, persons: int = 2) -> Any:
    """A partkd STGCN (eval mode) holding the weights of an mmaction2 / pyskl ST-GCN checkpoint with its GCNHead;
    the graph A is the checkpoint's own, so the logits match mmaction2's on the same (N, M, T, V, C) input."""

    state = read_state(path)
    if "fc.weight" not in state:
        raise CheckpointError(where(path, "has no classifier (cls_head.fc): a backbone alone is not a teacher"))
    lay = get_layout(layout)
    joints = int(state["gcn.0.gcn.A"].shape[-1])
    if joints != lay.num_joints:
        raise CheckpointError(where(path, f"has a {joints}-joint graph; layout '{lay.name}' has {lay.num_joints}"))
    model = build_model("stgcn", lay, int(state["fc.weight"].shape[0]), stgcn_config(state, persons))
    mapped = map_keys(state)
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise CheckpointError(
            where(path, f"does not fit partkd's ST-GCN (missing {missing[:3]}, unexpected {unexpected[:3]})")
        )
    return model.eval()


def import_teacher(
    path: Path | str,
    layout: str | Layout,
    class_names: list[str],
    out: Path | str,
    frames: int = 100,
    persons: int = 2,
    frame_mode: str = "pad",
    normalize: bool = False,
) -> Path:
    """Write an mmaction2 / pyskl ST-GCN as a partkd teacher checkpoint (safetensors + JSON) in `out`. The input
    settings say how partkd prepares clips for it: `frames`, `persons`, `frame_mode`, and `normalize` off by default
    (the model was trained on the other toolkit's own normalisation)."""
    from partkd.checkpoints import model_meta, save_checkpoint

    model = load_mmaction2_stgcn(path, layout, persons)
    if len(class_names) != model.num_classes:
        raise CheckpointError(where(path, f"has {model.num_classes} classes, {len(class_names)} names were given"))
    lay = model.layout
    meta = {
        "role": "teacher",
        "name": Path(out).name,
        "layout": lay.to_dict(),
        "class_names": list(class_names),
        "model": model_meta(model.config, model.num_classes),
        "preset": "imported",
        "input": {"frames": frames, "persons": persons, "mode": frame_mode, "normalize": normalize},
        "imported_from": {"path": str(Path(path).resolve()), "format": "mmaction2/pyskl ST-GCN"},
        "degradation": {"op": 0.0, "mode": None, "level": None},
        "kd": None,
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    return save_checkpoint(Path(out) / "model", model, meta)


__all__ = ["import_teacher", "load_mmaction2_stgcn", "map_keys", "read_state", "stgcn_config"]
