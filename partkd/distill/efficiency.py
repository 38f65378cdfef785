"""Action-specific high-efficiency part matrix E (paper §3.3.3, eqs. 12-13; method.md §4)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from partkd.errors import DataError, where
from partkd.layouts import PARTS, Layout
from partkd.models.common import to_model_input


def part_keep_masks(layout: Layout) -> torch.Tensor:
    """(5, V) float mask: row p is 0 on the joints of part p and 1 elsewhere (occlusion of eq. 12)."""
    parts = torch.as_tensor(layout.parts)
    return (parts[None, :] != torch.arange(len(PARTS))[:, None]).float()


def part_miss_matrix(model: nn.Module, x: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
                     layout: Layout, num_classes: int, batch_size: int = 64, device: str | torch.device = "cpu",
                     progress: Callable[[int, int], None] | None = None, amp: bool = False) -> np.ndarray:
    """Raw E[c, p] of eq. 12: share of class-c clips (x: (N, M, T, V, C)) misclassified with part p zeroed.

    The model must already be on `device`; each batch's 5 occlusions share one pass; classes without clips get 0."""
    x = torch.as_tensor(x)
    y = torch.as_tensor(labels, dtype=torch.long)
    if x.dim() != 5 or x.shape[3] != layout.num_joints:
        raise DataError(where("part_miss_matrix", f"x must be (N, M, T, {layout.num_joints}, C) for layout "
                                                  f"'{layout.name}', got {tuple(x.shape)}"))
    if y.shape != (x.shape[0],):
        raise DataError(where("part_miss_matrix", f"{tuple(y.shape)} labels for {x.shape[0]} clips"))
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise DataError(where("part_miss_matrix", f"labels outside [0, {num_classes})"))
    dev = torch.device(device)
    keep = part_keep_masks(layout).to(dev)[:, None, None, None, :, None]  # (5, 1, 1, 1, V, 1)
    misses = torch.zeros(num_classes, len(PARTS), device=dev)
    total = x.shape[0]
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            for start in range(0, total, batch_size):
                xb = x[start:start + batch_size].to(dev, dtype=torch.float32)
                yb = y[start:start + batch_size].to(dev)
                occluded = (xb[None] * keep).flatten(0, 1)  # (5*B, M, T, V, C), part-major
                logits, _ = model(to_model_input(occluded))
                wrong = logits.argmax(dim=1).reshape(len(PARTS), -1).ne(yb).T.float()  # (B, 5)
                misses.index_add_(0, yb, wrong)
                if progress is not None:
                    progress(min(start + batch_size, total), total)
    finally:
        model.train(was_training)
    counts = torch.bincount(y, minlength=num_classes).to(dev, torch.float32)[:, None]
    return (misses / counts.clamp(min=1.0)).cpu().numpy()


def efficiency_softmax(raw: np.ndarray) -> np.ndarray:
    """Normalised matrix of eq. 13: softmax of the raw miss rates over the five parts of each class."""
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
