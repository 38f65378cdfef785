"""Action-specific high-efficiency part matrix E (paper §3.3.3, eqs. 12-13; method.md §4)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from math import factorial

import numpy as np
import torch
from torch import nn

from partkd.data.inputs import LazyInputs
from partkd.data.transforms import present
from partkd.errors import DataError, where
from partkd.layouts import PARTS, Layout
from partkd.models.inference import batched_forward, label_batches


def part_keep_masks(layout: Layout) -> torch.Tensor:
    """(5, V) float mask: row p is 0 on the joints of part p and 1 elsewhere (occlusion of eq. 12)."""
    parts = torch.as_tensor(layout.parts)
    return (parts[None, :] != torch.arange(len(PARTS))[:, None]).float()


def _checked(
    x: np.ndarray | torch.Tensor | LazyInputs,
    labels: np.ndarray | torch.Tensor,
    layout: Layout,
    what: str,
    num_classes: int | None = None,
) -> tuple[torch.Tensor | LazyInputs, torch.Tensor]:
    """(x, labels) as tensors (x stays per-batch when it is); DataError (one line) unless x is (N, M, T, V, C) in the
    layout with N labels in range."""
    xt = x if isinstance(x, LazyInputs) else torch.as_tensor(x)
    y = torch.as_tensor(labels, dtype=torch.long)
    if len(xt.shape) != 5 or xt.shape[3] != layout.num_joints:
        raise DataError(
            where(
                what, f"x must be (N, M, T, {layout.num_joints}, C) for layout '{layout.name}', got {tuple(xt.shape)}"
            )
        )
    if y.shape != (xt.shape[0],):
        raise DataError(where(what, f"{tuple(y.shape)} labels for {xt.shape[0]} clips"))
    if num_classes is not None and len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise DataError(where(what, f"labels outside [0, {num_classes})"))
    return xt, y


def part_occlusion_effects(
    model: nn.Module,
    x: np.ndarray | torch.Tensor | LazyInputs,
    labels: np.ndarray | torch.Tensor,
    layout: Layout,
    num_classes: int,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
    amp: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(miss, drop), each (num_classes, 5): eq. 12's share of class-c clips (x: (N, M, T, V, C)) misclassified with
    part p zeroed, and the mean drop of the true class's probability it causes (a graded E beside eq. 12).

    The model must already be on `device`; each batch's 5 occlusions and the intact clips share one pass; classes
    without clips get 0."""
    x, y = _checked(x, labels, layout, "part_miss_matrix", num_classes)
    dev = torch.device(device)
    keep = torch.cat([part_keep_masks(layout), torch.ones(1, layout.num_joints)]).to(dev)
    keep = keep[:, None, None, None, :, None]  # (6, 1, 1, 1, V, 1): the 5 occlusions, then the intact clip
    misses = torch.zeros(num_classes, len(PARTS), device=dev)
    drops = torch.zeros(num_classes, len(PARTS), device=dev)
    total = x.shape[0]
    done = [0]
    batch_labels = label_batches(y)

    def collect(logits: torch.Tensor, _z: torch.Tensor, xb: torch.Tensor) -> None:
        yb = batch_labels(xb.shape[0]).to(dev)
        done[0] += xb.shape[0]
        logits = logits.float().reshape(len(PARTS) + 1, len(yb), -1)
        wrong = logits[: len(PARTS)].argmax(dim=2).ne(yb).T.float()  # (B, 5)
        p_true = logits.softmax(dim=2).gather(2, yb[None, :, None].expand(len(PARTS) + 1, -1, 1))[..., 0]
        misses.index_add_(0, yb, wrong)
        drops.index_add_(0, yb, (p_true[len(PARTS)][None] - p_true[: len(PARTS)]).T)
        if progress is not None:
            progress(done[0], total)

    def occlusions(xb: torch.Tensor) -> torch.Tensor:
        return (xb[None] * keep).flatten(0, 1)  # (6*B, M, T, V, C), variant-major

    batched_forward(model, x, collect, dev, amp, batch_size, prepare=occlusions)
    counts = torch.bincount(y, minlength=num_classes).to(dev, torch.float32)[:, None].clamp(min=1.0)
    return (misses / counts).cpu().numpy(), (drops / counts).cpu().numpy()


def part_miss_matrix(
    model: nn.Module,
    x: np.ndarray | torch.Tensor | LazyInputs,
    labels: np.ndarray | torch.Tensor,
    layout: Layout,
    num_classes: int,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
    amp: bool = False,
) -> np.ndarray:
    """Raw E[c, p] of eq. 12: share of class-c clips (x: (N, M, T, V, C)) misclassified with part p zeroed."""
    return part_occlusion_effects(model, x, labels, layout, num_classes, batch_size, device, progress, amp)[0]


#: Every subset of the five parts as a keep-mask row (bit p of the row index = part p kept), 2^5 rows.
PART_SUBSETS: np.ndarray = ((np.arange(2 ** len(PARTS))[:, None] >> np.arange(len(PARTS))) & 1).astype(bool)
#: The PART_SUBSETS rows with every part kept, and with every part but p kept (eq. 12's single occlusions).
ALL_PARTS = len(PART_SUBSETS) - 1
LEAVE_ONE_OUT: tuple[int, ...] = tuple(ALL_PARTS - (1 << p) for p in range(len(PARTS)))


def part_subset_effects(
    model: nn.Module,
    x: np.ndarray | torch.Tensor | LazyInputs,
    labels: np.ndarray | torch.Tensor,
    layout: Layout,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
    amp: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(values (N, 32), wrong (N, 5)): each clip's true-class probability with only the parts of each PART_SUBSETS
    row kept (the rest zeroed, as in eq. 12), and whether the teacher misclassifies it with part p alone zeroed.
    The model must already be on `device`; one pass serves every definition of E."""
    x, y = _checked(x, labels, layout, "part matrix")
    dev = torch.device(device)
    masks = torch.as_tensor(PART_SUBSETS[:, np.asarray(layout.parts)], dtype=torch.float32, device=dev)  # (32, V)
    masks = masks[:, None, None, None, :, None]
    leave_out = torch.as_tensor(LEAVE_ONE_OUT, device=dev)
    batch_labels = label_batches(y)
    total, done = x.shape[0], [0]

    def collect(logits: torch.Tensor, _z: torch.Tensor, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        yb = batch_labels(xb.shape[0]).to(dev)
        logits = logits.float().reshape(len(masks), len(yb), -1)
        prob = logits.softmax(-1).gather(2, yb[None, :, None].expand(len(masks), -1, 1))[..., 0].T
        wrong = logits[leave_out].argmax(dim=2).ne(yb).T
        done[0] += len(yb)
        if progress is not None:
            progress(done[0], total)
        return prob.cpu(), wrong.cpu()

    def subsets(xb: torch.Tensor) -> torch.Tensor:
        return (xb[None] * masks).flatten(0, 1)  # (32*B, M, T, V, C), subset-major

    out = batched_forward(model, x, collect, dev, amp, batch_size, prepare=subsets)
    if not out:
        return np.zeros((0, len(PART_SUBSETS))), np.zeros((0, len(PARTS)), dtype=bool)
    return torch.cat([v for v, _ in out]).numpy(), torch.cat([w for _, w in out]).numpy()


def part_subset_values(
    model: nn.Module,
    x: np.ndarray | torch.Tensor | LazyInputs,
    labels: np.ndarray | torch.Tensor,
    layout: Layout,
    batch_size: int = 16,
) -> np.ndarray:
    """(N, 32) true-class probability of each clip with only the parts of each PART_SUBSETS row kept (the rest
    zeroed, as in eq. 12); the model must be on the CPU."""
    return part_subset_effects(model, x, labels, layout, batch_size)[0]


def per_clip_scores(values: np.ndarray, wrong: np.ndarray) -> dict[str, np.ndarray]:
    """Each E definition's per-clip (N, 5) part score (definitions.EFFICIENCIES) from part_subset_effects."""
    return {
        "miss": wrong.astype(np.float64),
        "drop": values[:, [ALL_PARTS]] - values[:, list(LEAVE_ONE_OUT)],
        "shapley": shapley_values(values),
    }


def bootstrap_interval(
    per_clip: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi), each (num_classes, 5): percentile bootstrap interval of each class mean of a per-clip (N, 5) score,
    resampling the class's clips with replacement (Efron 1979); a class without clips gets 0."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    lo, hi = np.zeros((num_classes, per_clip.shape[1])), np.zeros((num_classes, per_clip.shape[1]))
    tail = 100 * (1 - level) / 2
    for c in range(num_classes):
        rows = per_clip[labels == c]
        if not len(rows):
            continue
        draws = rng.integers(0, len(rows), (resamples, len(rows)))
        means = rows[draws].mean(axis=1)  # (resamples, 5)
        lo[c], hi[c] = np.percentile(means, tail, axis=0), np.percentile(means, 100 - tail, axis=0)
    return lo, hi


#: Classes with fewer clips than this get every cell flagged uncertain: their bootstrap interval is too narrow to trust.
MIN_BOOTSTRAP_CLIPS = 5


def cell_flags(
    E: np.ndarray, lo: np.ndarray, hi: np.ndarray, zero_tol: float = 0.0, counts: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per cell: `uncertain` (its interval includes 0, or it is not the row's top and its interval reaches the
    top's lower bound, or its class has fewer than MIN_BOOTSTRAP_CLIPS clips in `counts`); per row `contested` (some
    other cell's interval reaches the top's lower bound) and `none_needed` (every cell's interval includes 0, or
    every |E| <= zero_tol)."""
    E, lo, hi = (np.asarray(a, dtype=np.float64) for a in (E, lo, hi))
    top = E.argmax(axis=1)
    top_lo = lo[np.arange(len(E)), top][:, None]
    spans_zero = (lo <= 0) & (hi >= 0)
    overlaps_top = (hi >= top_lo) & (np.arange(E.shape[1])[None, :] != top[:, None])
    none = spans_zero.all(axis=1) | (np.abs(E) <= zero_tol).all(axis=1)
    few = np.zeros(len(E), dtype=bool) if counts is None else np.asarray(counts) < MIN_BOOTSTRAP_CLIPS
    return {
        "uncertain": spans_zero | overlaps_top | few[:, None],
        "contested": overlaps_top.any(axis=1),
        "none_needed": none,
    }


def shapley_weights() -> np.ndarray:
    """(5, 32) signed weights W with φ = v @ W.T the exact Shapley values (Shapley 1953) of the five parts from
    PART_SUBSETS-ordered subset values v: φ_p = Σ_{S ∌ p} |S|! (n − |S| − 1)! / n! · (v(S ∪ {p}) − v(S)), n = 5."""

    n = len(PARTS)
    size = PART_SUBSETS.sum(axis=1)
    w = np.zeros((n, len(PART_SUBSETS)))
    for p in range(n):
        for s in np.flatnonzero(~PART_SUBSETS[:, p]):
            c = factorial(size[s]) * factorial(n - size[s] - 1) / factorial(n)
            w[p, s | (1 << p)] += c
            w[p, s] -= c
    return w


def shapley_values(values: np.ndarray) -> np.ndarray:
    """(N, 5) exact Shapley value of each part from (N, 32) subset values v(S) (shapley_weights)."""
    return np.asarray(values, dtype=np.float64) @ shapley_weights().T


def class_means(per_clip: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes, 5) mean over each class's clips of a per-clip (N, 5) matrix (0 for a class without clips)."""
    labels = np.asarray(labels)
    return np.stack(
        [
            per_clip[labels == c].mean(axis=0) if (labels == c).any() else np.zeros(per_clip.shape[1])
            for c in range(num_classes)
        ]
    )


def part_motion(x: np.ndarray, layout: Layout) -> np.ndarray:
    """(N, 5) mean frame-to-frame displacement of each part's present joints in the model inputs (N, M, T, V, C): what
    moves in each clip, the data's own answer to which part carries it (no model involved)."""
    d = layout.dims
    ok = present(x)
    both = ok[:, :, 1:] & ok[:, :, :-1]
    step = np.linalg.norm(np.diff(x[..., :d], axis=2), axis=-1) * both  # (N, M, T-1, V)
    per_joint = step.sum(axis=(1, 2)) / np.maximum(both.sum(axis=(1, 2)), 1)  # (N, V)
    return np.stack([per_joint[:, layout.part_joints(p)].mean(axis=1) for p in range(len(PARTS))], axis=1)


def efficiency_softmax(raw: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Normalised matrix of eq. 13: softmax over the five parts of each class of raw / temperature (the paper: 1)."""
    if not temperature > 0:
        raise DataError(where("efficiency_softmax", f"temperature must be > 0, got {temperature}"))
    z = np.asarray(raw, dtype=np.float64) / temperature
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def carrier_recovery(E: np.ndarray, class_names: Sequence[str], carriers: Mapping[str, Sequence[str]]) -> dict:
    """How well E names the parts known to carry each action (the synthetic generator's ground truth).

    Scored over the classes whose carriers are a strict, non-empty subset of the five parts: `recovery` = share
    whose largest entry is a carrier part (ties count as a miss unless every tied part carries); `gap` = mean over
    those classes of (mean E on carriers − mean E on the other parts). None when no class qualifies."""
    E = np.asarray(E, dtype=np.float64)
    per_class: dict[str, dict] = {}
    for i, name in enumerate(class_names):
        parts = set(carriers.get(name, ()))
        if not parts or parts >= set(PARTS):
            continue
        on = np.array([p in parts for p in PARTS])
        top = np.flatnonzero(E[i] == E[i].max())
        per_class[name] = {
            "carriers": [p for p in PARTS if p in parts],
            "top": "=".join(PARTS[j] for j in top),
            "hit": bool(on[top].all()),
            "gap": float(E[i][on].mean() - E[i][~on].mean()),
        }
    if not per_class:
        return {"classes": 0, "recovery": None, "gap": None, "per_class": {}}
    return {
        "classes": len(per_class),
        "recovery": float(np.mean([c["hit"] for c in per_class.values()])),
        "gap": float(np.mean([c["gap"] for c in per_class.values()])),
        "per_class": per_class,
    }


def describe_truth(score: dict) -> str:
    """One line for a carrier_recovery result: recovery share, class count and the carrier gap."""
    if not score.get("classes"):
        return "no class has a known strict subset of carrier parts"
    return (
        f"top part is a carrier for {score['recovery']:.0%} of {score['classes']} classes (strict subsets of "
        f"carriers); mean carrier − other gap {score['gap']:+.3f}"
    )
