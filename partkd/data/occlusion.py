"""The occlusion protocol of the low-quality inputs (method.md §7): joints zeroed (coordinates and confidence) i.i.d.
per joint-frame, per joint for a whole clip, per joint over contiguous spans of frames, or per body part."""

from __future__ import annotations

import numpy as np

from partkd.errors import ConfigError, DataError, where
from partkd.layouts import PARTS, Layout

#: Mean length of an occluded span in `span` mode, as a fraction of the clip's frames.
SPAN_FRACTION = 0.25
#: Each mode in words, for captions and help texts.
OCCLUSION_WORDS: dict[str, str] = {
    "joint": "each joint of each frame zeroed independently with probability OP",
    "sequence": "each joint zeroed for the whole clip with probability OP",
    "span": f"each joint zeroed over contiguous spans of about {SPAN_FRACTION:.0%} of the clip, covering a share OP "
    "of its frames",
    "part": "each of the five body parts zeroed for the whole clip with probability OP",
}
#: The occlusion modes, in the order commands list them.
OCCLUSION_MODES: tuple[str, ...] = tuple(OCCLUSION_WORDS)
#: The reading of the paper's protocol that training, evaluation, the app and the benchmarks use by default: of the
#: readings tried with students trained to convergence (20 epochs, 3 seeds), the only one whose no-KD students lose
#: what the paper's do on Penn Action (-5.0 / -16.7 points at OP 0.3 / 0.6 against the paper's -5.3 / -12.9; `span`
#: -3.7 / -8.0, per joint-frame -1.4 / -6.8), and the literal one: a joint is occluded or not,
#: benchmarks/results/occlusion_protocol_penn_e20.md.
DEFAULT_OCCLUSION_MODE = "sequence"


def describe_protocol(mode: str, seed: int) -> str:
    """The occlusion protocol in one phrase, e.g. "'span' occlusion (each joint ...), seed 0"."""
    return f"'{mode}' occlusion ({OCCLUSION_WORDS[mode]}), seed {seed}"


def _batch_view(x: np.ndarray, layout: Layout) -> np.ndarray:
    """View a clip (M, T, V, C) or batch (N, M, T, V, C) as a batch; check V against the layout."""
    if x.ndim not in (4, 5) or x.shape[-2] != layout.num_joints:
        raise DataError(
            where(
                "occlude",
                f"expected (M, T, V, C) or (N, M, T, V, C) with V = "
                f"{layout.num_joints} for '{layout.name}', got {x.shape}",
            )
        )
    return x if x.ndim == 5 else x[None]


def part_index(part: int | str) -> int:
    """Index of a part given by name or index; ConfigError when unknown."""
    if isinstance(part, str) and part in PARTS:
        return PARTS.index(part)
    if not isinstance(part, str) and 0 <= int(part) < len(PARTS):
        return int(part)
    raise ConfigError(where("occlude", f"unknown part {part!r}, use one of {', '.join(PARTS)}"))


def check_occlusion(op: float, mode: str) -> None:
    """ConfigError unless `op` is a probability and `mode` an occlusion mode."""
    if not 0.0 <= op <= 1.0:
        raise ConfigError(where("occlude", f"occlusion probability must be in [0, 1], got {op}"))
    if mode not in OCCLUSION_MODES:
        raise ConfigError(where("occlude", f"unknown mode '{mode}', use one of {OCCLUSION_MODES}"))


def draws_per_clip(mode: str, persons: int, frames: int, joints: int) -> int:
    """How many uniform draws `occlude` takes per clip in `mode` (one per joint of each frame and person, per joint,
    or per part)."""
    per_frame = persons * frames * joints
    return {"joint": per_frame, "sequence": joints, "span": per_frame, "part": len(PARTS)}[mode]


def span_transitions(op: float, frames: int) -> tuple[float, float]:
    """(P(visible → occluded), P(occluded → visible)) per frame of the two-state chain whose stationary occluded
    share is `op` and whose occluded spans last SPAN_FRACTION of the clip on average (shorter where op is high)."""
    if op <= 0.0 or op >= 1.0:
        return (1.0, 0.0) if op >= 1.0 else (0.0, 1.0)
    leave = 1.0 / max(1.0, SPAN_FRACTION * frames)
    enter = op * leave / (1.0 - op)
    if enter > 1.0:
        enter, leave = 1.0, (1.0 - op) / op
    return enter, leave


def span_mask(draws: np.ndarray, op: float) -> np.ndarray:
    """Occluded frames (..., T) of joints occluded over contiguous spans, from uniform draws (..., T): the first
    frame occluded with probability `op`, then a two-state Markov chain (span_transitions)."""
    enter, leave = span_transitions(op, draws.shape[-1])
    out = np.empty(draws.shape, dtype=bool)
    out[..., 0] = draws[..., 0] < op
    for t in range(1, draws.shape[-1]):
        prev = out[..., t - 1]
        out[..., t] = np.where(prev, draws[..., t] >= leave, draws[..., t] < enter)
    return out


def occlusion_drop(
    draws: np.ndarray | None, op: float, mode: str, layout: Layout, shape: tuple[int, ...], parts: list[int] | None
) -> np.ndarray:
    """The drop mask, broadcastable to (N, M, T, V), of clips of `shape` (N, M, T, V) from their uniform draws
    (N, draws_per_clip), or, in part mode with `parts` (indices), of exactly those parts (no draws)."""
    n, m, t, v = shape
    if mode == "part" and parts is not None:
        gone = np.zeros((n, len(PARTS)), dtype=bool)
        gone[:, parts] = True
    else:
        hit = np.asarray(draws) < op
        if mode == "joint":
            return hit.reshape(n, m, t, v)
        if mode == "sequence":
            return hit.reshape(n, 1, 1, v)
        if mode == "span":
            per_joint = np.asarray(draws).reshape(n, m, v, t)
            return np.swapaxes(span_mask(per_joint, op), 2, 3)
        gone = hit
    return gone[:, np.asarray(layout.parts)][:, None, None, :]


def occlude(
    x: np.ndarray,
    layout: Layout,
    op: float,
    mode: str = DEFAULT_OCCLUSION_MODE,
    parts: list[int | str] | tuple[int | str, ...] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Zero joints (all channels, so confidence 0) with probability `op` (method.md §7); returns a copy.

    joint: each joint of each frame of each person i.i.d.; sequence: each joint for the whole clip; span: each
    joint over contiguous spans covering a share `op` of the frames on average (an occluder that stays); part:
    each of the five parts for the whole clip, or exactly `parts` when given.
    """
    check_occlusion(op, mode)
    b = _batch_view(x, layout)
    n, m, t, v, _ = b.shape
    chosen = [part_index(p) for p in parts] if mode == "part" and parts is not None else None
    draws = None if chosen is not None else np.random.default_rng(seed).random((n, draws_per_clip(mode, m, t, v)))
    drop = occlusion_drop(draws, op, mode, layout, (n, m, t, v), chosen)
    out = np.where(drop[..., None], np.zeros((), dtype=x.dtype), b)
    return out if x.ndim == 5 else out[0]


def occlude_part(x: np.ndarray, layout: Layout, part: int | str) -> np.ndarray:
    """Zero every joint of one part in all frames and persons (the 'missed part' of method.md §4)."""
    out = _batch_view(x, layout).copy()
    out[..., layout.part_joints(part_index(part)), :] = 0
    return out if x.ndim == 5 else out[0]


__all__ = [
    "OCCLUSION_MODES",
    "OCCLUSION_WORDS",
    "describe_protocol",
    "SPAN_FRACTION",
    "check_occlusion",
    "draws_per_clip",
    "occlude",
    "occlude_part",
    "occlusion_drop",
    "part_index",
    "span_mask",
    "span_transitions",
]
