"""One batched-inference helper for every no-gradient pass over a set of clips: evaluation logits, the teacher's
outputs for distillation, the part-efficiency matrix E and feature-width probes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from partkd.data.inputs import LazyInputs
from partkd.models.layers import to_model_input

R = TypeVar("R")


def batched_forward(
    model: nn.Module,
    x: np.ndarray | torch.Tensor | LazyInputs,
    collect: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], R],
    device: torch.device | str = "cpu",
    amp: bool = False,
    batch_size: int = 64,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> list[R]:
    """Run `model` in eval mode without gradients over dense clips x (N, M, T, V, C) in batches on `device` (bf16
    autocast when `amp`); per batch xb (float32 on device), the input is `prepare(xb)` (default xb) and the result
    `collect(logits, features, xb)`. The model's train/eval mode is restored afterwards."""
    dev = torch.device(device)
    data = x if isinstance(x, LazyInputs) else torch.as_tensor(x)
    was_training = model.training
    model.eval()
    out: list[R] = []
    try:
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            for start in range(0, data.shape[0], batch_size):
                xb = torch.as_tensor(data[start : start + batch_size]).to(dev, torch.float32)
                logits, features = model(to_model_input(prepare(xb) if prepare is not None else xb))
                out.append(collect(logits, features, xb))
    finally:
        model.train(was_training)
    return out


def label_batches(labels: torch.Tensor) -> Callable[[int], torch.Tensor]:
    """The labels of batched_forward's successive batches: call the result with each batch's size, in order."""
    seen = [0]

    def take(n: int) -> torch.Tensor:
        out = labels[seen[0] : seen[0] + n]
        seen[0] += n
        return out

    return take


__all__ = ["batched_forward", "label_batches"]
