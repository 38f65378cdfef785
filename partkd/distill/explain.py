"""Per-clip explanations: which joints and parts, in which frames, a model's true-class score rests on, and how
faithful each explanation is (deletion curves against random order, stability under small input noise).

Every explainer maps one clip x (M, T, V, C) and its label to an importance map (W, V) over W equal time windows
and the V joints (higher = more important). Removing a joint means zeroing it, as eq. 12 does for a part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from partkd.data.transforms import present
from partkd.distill.efficiency import PART_SUBSETS, shapley_weights
from partkd.errors import DataError, where
from partkd.layouts import PARTS, Layout
from partkd.models.inference import batched_forward
from partkd.models.layers import to_model_input
from partkd.registry import Registry


def window_bounds(frames: int, windows: int) -> list[tuple[int, int]]:
    """`windows` contiguous, nearly equal [start, end) frame ranges covering 0..frames."""
    if not 1 <= windows <= frames:
        raise DataError(where("explain", f"windows must be in 1..{frames} for a {frames}-frame input, got {windows}"))
    edges = np.linspace(0, frames, windows + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def cell_masks(frames: int, layout: Layout, windows: int) -> np.ndarray:
    """(W, V, T, V) bool: cell (w, v) covers joint v in the frames of window w."""
    out = np.zeros((windows, layout.num_joints, frames, layout.num_joints), dtype=bool)
    for w, (a, b) in enumerate(window_bounds(frames, windows)):
        for v in range(layout.num_joints):
            out[w, v, a:b, v] = True
    return out


def true_class_probability(
    model: nn.Module, x: np.ndarray | torch.Tensor, label: int, batch_size: int = 64, log: bool = False
) -> np.ndarray:
    """(N,) softmax probability of `label` (its log with `log`) for a batch of clips x (N, M, T, V, C): the one
    no-gradient batched pass (models.inference.batched_forward) on the CPU."""

    def collect(logits: torch.Tensor, _z: torch.Tensor, _x: torch.Tensor) -> torch.Tensor:
        scores = logits.float().log_softmax(-1) if log else logits.float().softmax(-1)
        return scores[:, label]

    out = batched_forward(model, x, collect, batch_size=batch_size)
    return torch.cat(out).numpy() if out else np.zeros(0)


def _zeroed(clip: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """Copies of clip (M, T, V, C) with the (T, V) cells of each drop[k] zeroed: (K, M, T, V, C)."""
    keep = ~drop[:, None, :, :, None]
    return clip[None] * keep


def occlusion_map(model: nn.Module, clip: np.ndarray, label: int, layout: Layout, windows: int = 8) -> np.ndarray:
    """(W, V) occlusion sensitivity (Zeiler & Fergus 2014): the fall of the true-class log-probability when joint v
    is zeroed in the frames of window w alone (the log keeps a confident model's small effects apart)."""
    masks = cell_masks(clip.shape[1], layout, windows)
    base = true_class_probability(model, clip[None], label, log=True)[0]
    zeroed = _zeroed(clip, masks.reshape(-1, *masks.shape[2:]))
    drops = base - true_class_probability(model, zeroed, label, log=True)
    return drops.reshape(windows, layout.num_joints)


def part_shapley_map(
    model: nn.Module, clip: np.ndarray, label: int, layout: Layout, windows: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """(per window (W, 5), whole clip (5,)): exact Shapley values of the five parts for the true-class
    log-probability, per window with the parts zeroed in that window only (the other frames intact), and over the
    whole clip."""
    t = clip.shape[1]
    parts = np.asarray(layout.parts)
    gone = ~PART_SUBSETS[:, parts]  # (32, V): joints zeroed when only the row's parts are kept
    bounds = window_bounds(t, windows) + [(0, t)]
    drop = np.zeros((len(bounds), len(PART_SUBSETS), t, layout.num_joints), dtype=bool)
    for w, (a, b) in enumerate(bounds):
        drop[w, :, a:b, :] = gone[:, None, :]
    values = true_class_probability(model, _zeroed(clip, drop.reshape(-1, t, layout.num_joints)), label, log=True)
    phi = values.reshape(len(bounds), len(PART_SUBSETS)) @ shapley_weights().T  # (W + 1, 5)
    return phi[:-1], phi[-1]


def gradcam_map(model: nn.Module, clip: np.ndarray, label: int, layout: Layout, windows: int = 8) -> np.ndarray:
    """(W, V) Grad-CAM on the last block's joint features (Selvaraju et al. 2017; for skeletons STG-Grad-CAM, Das et
    al. 2021): ReLU(sum_c alpha_c z_c) with alpha_c the mean gradient of the true-class output (the logit; a
    multi-stream model's fused score) over frames and joints,
    summed over persons, resampled to the input frames and averaged per window."""
    from partkd.models.multistream import MultiStream, fuse_scores

    was = model.training
    model.eval()
    try:
        # the input carries the graph, so a frozen teacher (no trainable weights) still yields gradients
        x = torch.as_tensor(clip[None], dtype=torch.float32).requires_grad_(True)
        with torch.enable_grad():
            if isinstance(model, MultiStream):  # one map per stream, from the features its logits read
                stream_logits, _, zs = model.stream_outputs(to_model_input(x))
                score = fuse_scores(stream_logits.float(), model.weights)[0, label]
                weights = [float(w) for w in model.weights]
            else:
                logits, z = model(to_model_input(x))
                score, zs, weights = logits[0, label], [z], [1.0]
            grads = torch.autograd.grad(score, zs)
    finally:
        model.train(was)
    cam = np.sum(
        [
            w * torch.relu((g.mean(dim=(2, 3), keepdim=True) * z).sum(dim=1)).sum(dim=0).detach().numpy()
            for w, g, z in zip(weights, grads, zs)
        ],
        axis=0,
    )  # (T', V)
    frames = clip.shape[1]
    pos = np.clip(((np.arange(frames) + 0.5) * cam.shape[0] / frames).astype(int), 0, cam.shape[0] - 1)
    per_frame = cam[pos]  # (T, V)
    return np.stack([per_frame[a:b].mean(axis=0) for a, b in window_bounds(frames, windows)])


def joints_from_parts(part_map: np.ndarray, layout: Layout) -> np.ndarray:
    """(W, V) map giving every joint its part's value from a (W, 5) map."""
    return part_map[:, np.asarray(layout.parts)]


def parts_from_joints(joint_map: np.ndarray, layout: Layout) -> np.ndarray:
    """(W, 5) map: the mean of each part's joints in a (W, V) map (a mean, so parts of 4 and 6 joints compare)."""
    return np.stack([joint_map[:, layout.part_joints(p)].mean(axis=1) for p in range(len(PARTS))], axis=1)


@dataclass(frozen=True)
class Explainer:
    """A per-clip explanation method: its name, a one-line description and map(model, clip, label, layout, W)."""

    name: str
    description: str
    map: Callable[[nn.Module, np.ndarray, int, Layout, int], np.ndarray]


def _shapley_joint_map(model: nn.Module, clip: np.ndarray, label: int, layout: Layout, windows: int) -> np.ndarray:
    return joints_from_parts(part_shapley_map(model, clip, label, layout, windows)[0], layout)


#: name -> explainer, in the order the app lists them.
EXPLAINERS: Registry[Explainer] = Registry("explainer")
for _e in (
    Explainer("occlusion", "fall of the true-class log-probability with one joint zeroed in one window", occlusion_map),
    Explainer(
        "shapley",
        "exact Shapley value of each part within each window (32 part subsets, true-class log-probability)",
        _shapley_joint_map,
    ),
    Explainer("gradcam", "Grad-CAM on the last block's joint features", gradcam_map),
):
    EXPLAINERS.register(_e.name, _e)


def deletion_curve(
    model: nn.Module,
    clip: np.ndarray,
    label: int,
    layout: Layout,
    importance: np.ndarray,
    steps: int = 10,
    order_seed: int = 0,
) -> np.ndarray:
    """(steps + 1,) true-class probability after zeroing the top k/steps share of the (window, joint) cells in
    decreasing `importance` (W, V), k = 0..steps; ties are broken in a seeded random order (Petsiuk et al. 2018)."""
    if steps < 1:
        raise DataError(where("explain", f"steps must be at least 1, got {steps}"))
    w, v = importance.shape
    rng = np.random.default_rng(order_seed)
    tie = rng.permutation(w * v)
    order = np.lexsort((tie, -importance.ravel()))  # by importance, then the random tie order
    masks = cell_masks(clip.shape[1], layout, w).reshape(w * v, clip.shape[1], v)
    counts = np.round(np.linspace(0, w * v, steps + 1)).astype(int)
    drop = np.stack([masks[order[:k]].any(axis=0) for k in counts])
    return true_class_probability(model, _zeroed(clip, drop), label)


def curve_auc(curve: np.ndarray) -> float:
    """Area under a deletion curve on [0, 1] (trapezoid rule); lower = the order found what the score rests on."""
    c = np.asarray(curve, dtype=np.float64)
    return float(((c[1:] + c[:-1]) / 2).mean())


def random_deletion_auc(
    model: nn.Module, clip: np.ndarray, label: int, layout: Layout, windows: int, orders: int = 5, seed: int = 0
) -> float:
    """Mean deletion-curve AUC of `orders` random orders of the cells (the baseline a method must beat)."""
    rng = np.random.default_rng(seed)
    aucs = [
        curve_auc(deletion_curve(model, clip, label, layout, rng.random((windows, layout.num_joints))))
        for _ in range(orders)
    ]
    return float(np.mean(aucs))


def stability(
    model: nn.Module,
    clip: np.ndarray,
    label: int,
    layout: Layout,
    method: str,
    windows: int = 8,
    noise: float = 0.01,
    seed: int = 0,
) -> float:
    """Spearman rank correlation of a method's map on the clip and on a copy with N(0, noise) added to the present
    joints' coordinates (1 = unchanged ranking)."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    d = layout.dims
    noisy = clip.copy()
    ok = present(clip)
    noisy[..., :d] += rng.normal(0.0, noise, clip[..., :d].shape) * ok[..., None]
    fn = EXPLAINERS[method].map
    a, b = fn(model, clip, label, layout, windows).ravel(), fn(model, noisy, label, layout, windows).ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float(np.array_equal(a, b))
    return float(spearmanr(a, b).statistic)


def explain_clip(
    model: nn.Module, clip: np.ndarray, label: int, layout: Layout, windows: int = 8, steps: int = 10
) -> dict:
    """Every explainer's (W, V) joint map and (W, 5) part map for one model-input clip, its deletion curve and AUC,
    and the random-order AUC; plain lists, ready for JSON."""
    if clip.ndim != 4 or clip.shape[2] != layout.num_joints:
        raise DataError(where("explain", f"clip must be (M, T, {layout.num_joints}, C), got {clip.shape}"))
    probs = batched_forward(model, clip[None], lambda lg, _z, _x: lg.float().softmax(-1)[0].numpy())[0]
    out: dict = {"windows": window_bounds(clip.shape[1], windows), "label": int(label), "methods": {}}
    out["probability"] = float(probs[label])
    out["predicted_index"] = int(np.argmax(probs))
    out["predicted_probability"] = float(np.max(probs))
    for name, e in EXPLAINERS.items():
        if name == "shapley":
            parts = part_shapley_map(model, clip, label, layout, windows)[0]
            joint_map = joints_from_parts(parts, layout)
        else:
            joint_map = e.map(model, clip, label, layout, windows)
            parts = parts_from_joints(joint_map, layout)
        curve = deletion_curve(model, clip, label, layout, joint_map, steps)
        out["methods"][name] = {
            "joints": joint_map.tolist(),
            "parts": parts.tolist(),
            "deletion": curve.tolist(),
            "auc": curve_auc(curve),
        }
    out["random_auc"] = random_deletion_auc(model, clip, label, layout, windows)
    return out


#: The method the app shows first: the one with the lowest deletion AUC measured on the benchmark datasets
#: (benchmarks/results/e_truth_*.md, "faithfulness").
DEFAULT_EXPLAINER = "occlusion"

__all__ = [
    "DEFAULT_EXPLAINER",
    "EXPLAINERS",
    "Explainer",
    "cell_masks",
    "curve_auc",
    "deletion_curve",
    "explain_clip",
    "gradcam_map",
    "joints_from_parts",
    "occlusion_map",
    "part_shapley_map",
    "parts_from_joints",
    "random_deletion_auc",
    "stability",
    "true_class_probability",
    "window_bounds",
]
