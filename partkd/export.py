"""Export a checkpoint for deployment: ONNX (onnxruntime and any ONNX runtime) or TorchScript, with a dynamic
batch and frame count. The exported graph takes partkd's prepared input, a float32 batch (N, M, T, V, C) as
`partkd.engine.data.model_inputs` makes it (the checkpoint's persons, joint layout and normalisation; any T), and
returns the class logits (N, K) (a multi-stream model's fused log-probabilities: their softmax is its fused
score). The checkpoint's metadata (layout, classes, input settings, weights sha256) travels in the file: ONNX
metadata_props["partkd"], TorchScript extra file "partkd.json"."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from partkd.checkpoints import Loaded, code_version
from partkd.errors import ConfigError, where
from partkd.io import atomic_write_bytes

FORMATS: tuple[str, ...] = ("onnx", "torchscript")
#: The shortest clip the exported graph accepts (the temporal convolutions and strides need a few frames).
MIN_FRAMES = 8
META_KEY = "partkd"


class Logits(nn.Module):
    """The model on partkd's dense layout: (N, M, T, V, C) in, class logits (N, K) out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.permute(0, 4, 2, 3, 1))[0]


def export_meta(loaded: Loaded) -> dict[str, Any]:
    """What a deployed model needs to prepare its input and name its output."""
    meta = loaded.meta
    return {
        "format": "partkd-export-1",
        "role": loaded.role,
        "layout": meta.get("layout"),
        "class_names": loaded.class_names,
        "input": meta.get("input"),
        "input_layout": "N, M, T, V, C (float32, partkd.engine.data.model_inputs)",
        "output": "logits (N, K)",
        "weights_sha256": meta.get("weights_sha256"),
        "kd": meta.get("kd"),
        "code_version": code_version(),
    }


def _traceable(loaded: Loaded) -> tuple[Logits, torch.Tensor]:
    """The wrapped model in eval mode and an example input at the checkpoint's persons and frames (≥ MIN_FRAMES)."""
    settings = loaded.meta.get("input") or {}
    frames = max(int(settings.get("frames", 32)), MIN_FRAMES)
    example = torch.zeros(2, int(settings.get("persons", 1)), frames, loaded.layout.num_joints, 3)
    return Logits(loaded.model.eval()).eval(), example


def export_onnx(loaded: Loaded, out: Path | str) -> Path:
    """Write the checkpoint as ONNX (dynamic batch and frames, opset of torch's exporter) with its metadata."""

    if importlib.util.find_spec("onnxscript") is None or importlib.util.find_spec("onnx") is None:
        raise ConfigError(where("export", "ONNX export needs the onnx and onnxscript packages (requirements.txt)"))
    wrapper, example = _traceable(loaded)
    dims = {"x": {0: torch.export.Dim("batch", min=1), 2: torch.export.Dim("frames", min=MIN_FRAMES)}}

    program = torch.onnx.export(
        wrapper,
        (example,),
        dynamo=True,
        dynamic_shapes=dims,
        input_names=["x"],
        output_names=["logits"],
    )
    if program is None:
        raise ConfigError(where("export", "the ONNX exporter returned no program"))
    model = program.model_proto  # in memory: the weights stay inside the one file
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(export_meta(loaded))
    out = Path(out)
    atomic_write_bytes(out, model.SerializeToString())
    return out


def export_torchscript(loaded: Loaded, out: Path | str) -> Path:
    """Write the checkpoint as a traced TorchScript module with its metadata as the extra file partkd.json."""
    wrapper, example = _traceable(loaded)
    with torch.no_grad():
        traced = torch.jit.trace(wrapper, (example,), check_trace=False)

    buf = io.BytesIO()
    torch.jit.save(traced, buf, _extra_files={"partkd.json": json.dumps(export_meta(loaded))})
    out = Path(out)
    atomic_write_bytes(out, buf.getvalue())
    return out


def export(loaded: Loaded, fmt: str, out: Path | str) -> Path:
    """Export a loaded checkpoint as `fmt` (onnx | torchscript) to `out`; returns the path written."""
    if fmt not in FORMATS:
        raise ConfigError(where("export", f"unknown format '{fmt}' (use {', '.join(FORMATS)})"))
    return export_onnx(loaded, out) if fmt == "onnx" else export_torchscript(loaded, out)


__all__ = ["FORMATS", "Logits", "MIN_FRAMES", "export", "export_meta", "export_onnx", "export_torchscript"]
