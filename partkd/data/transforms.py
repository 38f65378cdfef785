"""Clip preprocessing and augmentation: frame/person fitting, normalisation, dense batching, random affine.

Every function works on float arrays whose last axis is C = 3: (x, y, z) for 3D layouts and
(x, y, confidence) for 2D ones. A joint whose channels are all zero is missing and stays exactly zero.
"""

from __future__ import annotations

import numpy as np

from partkd.errors import ConfigError, where
from partkd.layouts import PARTS, Layout

FRAME_MODES = ("pad", "resample")


def present(x: np.ndarray) -> np.ndarray:
    """Boolean mask over all axes but the last: True where a joint is not all-zero."""
    return np.any(x != 0, axis=-1)


def body_size(clip: np.ndarray, layout: Layout) -> float:
    """Mean length of the bones whose two ends are present, over all persons and frames (1.0 if none)."""
    d = layout.dims
    child, parent = np.asarray(layout.edges, dtype=np.int64).T
    ok = present(clip)
    both = ok[..., child] & ok[..., parent]
    lengths = np.linalg.norm(clip[..., child, :d] - clip[..., parent, :d], axis=-1)
    return float(lengths[both].mean()) if both.any() else 1.0


def fit_frames(clip: np.ndarray, frames: int, mode: str = "pad") -> np.ndarray:
    """Bring a clip (M, T, V, C) to `frames` frames: crop/zero-pad, or linearly resample its valid frames.

    In "resample" mode the frames holding any joint are kept and resampled at `frames` evenly spaced
    positions; an output joint is missing when either interpolation end with non-zero weight is missing.
    """
    if frames < 1:
        raise ConfigError(where("fit_frames", f"frames must be >= 1, got {frames}"))
    m, t, v, c = clip.shape
    if mode == "pad":
        out = np.zeros((m, frames, v, c), dtype=clip.dtype)
        n = min(t, frames)
        out[:, :n] = clip[:, :n]
        return out
    if mode != "resample":
        raise ConfigError(where("fit_frames", f"unknown mode '{mode}', use one of {FRAME_MODES}"))
    valid = clip[:, present(clip).any(axis=(0, 2))]
    n = valid.shape[1]
    if n == 0:
        return np.zeros((m, frames, v, c), dtype=clip.dtype)
    pos = np.linspace(0.0, n - 1, frames)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    w = (pos - lo)[None, :, None]
    a, b = valid[:, lo], valid[:, hi]
    ok = (present(a) | (w == 1.0)) & (present(b) | (w == 0.0))
    out = (1.0 - w[..., None]) * a + w[..., None] * b
    return np.where(ok[..., None], out, 0.0).astype(clip.dtype)


def resample_rate(clip: np.ndarray, fps: float, rate: float) -> np.ndarray:
    """A clip (M, T, V, C) recorded at `fps` resampled in time to `rate` frames per second (linear, every frame
    kept in time, empty ones too); an output joint is missing when either interpolation end with weight is."""
    if fps <= 0 or rate <= 0:
        raise ConfigError(where("resample_rate", f"frame rates must be positive, got {fps} and {rate}"))
    t = clip.shape[1]
    n = max(1, int(round((t - 1) * rate / fps)) + 1)
    pos = np.minimum(np.arange(n) * (fps / rate), t - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, t - 1)
    w = (pos - lo)[None, :, None]
    a, b = clip[:, lo], clip[:, hi]
    ok = (present(a) | (w == 1.0)) & (present(b) | (w == 0.0))
    out = (1.0 - w[..., None]) * a + w[..., None] * b
    return np.where(ok[..., None], out, 0.0).astype(clip.dtype)


def person_activity(clip: np.ndarray) -> np.ndarray:
    """Per-person activity (M,): summed variance over the frames where the person is present."""
    shown = np.asarray(present(clip).any(axis=2))  # (M, T)
    cnt = np.maximum(shown.sum(axis=1), 1)[:, None, None]
    mask = shown[:, :, None, None]
    mean = (clip * mask).sum(axis=1, keepdims=True) / cnt[:, None]
    var = (((clip - mean) * mask) ** 2).sum(axis=1) / cnt
    return var.sum(axis=(1, 2))


def fit_persons(clip: np.ndarray, persons: int) -> np.ndarray:
    """Keep the `persons` most active persons of a clip (ties: more present joints, then original order).

    The result (persons, T, V, C) is ordered by decreasing activity and zero-padded.
    """
    if persons < 1:
        raise ConfigError(where("fit_persons", f"persons must be >= 1, got {persons}"))
    m, t, v, c = clip.shape
    count = present(clip).sum(axis=(1, 2))
    order = np.lexsort((np.arange(m), -count, -person_activity(clip)))[:persons]
    out = np.zeros((persons, t, v, c), dtype=clip.dtype)
    out[: len(order)] = clip[order]
    return out


def normalize_clip(clip: np.ndarray, layout: Layout) -> np.ndarray:
    """Centre on the first person's mean centre-joint position and divide by body_size.

    The mean (not the first frame) keeps a real joint from landing exactly on the origin, which would
    read as missing. Falls back to the first present frame's joints when the centre joint is never seen.
    2D clips keep their confidence channel; missing joints stay exactly zero.
    """
    d = layout.dims
    ok = present(clip)
    if not ok.any():
        return clip.copy()
    seen = np.flatnonzero(ok[0, :, layout.center])
    if seen.size:
        origin = clip[0, seen, layout.center, :d].mean(axis=0)
    else:
        mi, ti = np.argwhere(ok.any(axis=2))[0]
        origin = clip[mi, ti, ok[mi, ti], :d].mean(axis=0)
    out = clip.astype(np.float32, copy=True)
    out[..., :d] = (clip[..., :d] - origin) / body_size(clip, layout)
    out[~ok] = 0.0
    return out


def augment(
    batch: np.ndarray,
    layout: Layout,
    rng: np.random.Generator | int,
    rotate_deg: float = 15.0,
    scale: float = 0.1,
    shift: float = 0.1,
) -> np.ndarray:
    """Random rotation, scaling and shift per sample of a batch (N, M, T, V, C).

    3D: rotation about the vertical y axis; 2D: in-plane rotation of (x, y). Angles are uniform in
    ±rotate_deg, scale factors in 1 ± scale, shifts in ±shift per coordinate. Confidence and missing
    joints are untouched.
    """
    rng = np.random.default_rng(rng)
    n = batch.shape[0]
    d = layout.dims
    theta = np.deg2rad(rng.uniform(-rotate_deg, rotate_deg, n))
    cos, sin = np.cos(theta), np.sin(theta)
    rot = np.zeros((n, d, d))
    if d == 3:  # about y: x' = cos x + sin z, z' = -sin x + cos z
        rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = cos, sin, 1.0, -sin, cos
    else:
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = cos, -sin, sin, cos
    rot *= np.asarray(rng.uniform(1.0 - scale, 1.0 + scale, n))[:, None, None]
    offset = rng.uniform(-shift, shift, (n, d))
    xyz = np.einsum("nij,nmtvj->nmtvi", rot, batch[..., :d]) + offset[:, None, None, None, :]
    out = batch.copy()
    out[..., :d] = np.where(present(batch)[..., None], xyz, 0.0)
    return out


#: What a part-dropped clip loses (drop_parts_and_joints' `mode`): one random part, or a random 1-4 of the five.
PART_DROPOUT_MODES: tuple[str, ...] = ("one", "subset")


def drop_parts_and_joints(
    batch: np.ndarray, layout: Layout, part_p: float, joint_p: float, rng: np.random.Generator, mode: str = "one"
) -> np.ndarray:
    """Teacher-side dropout on a batch (N, M, T, V, C): with probability `part_p` a clip loses, in every frame, one
    uniformly chosen part (mode "one") or k uniform in 1..4 uniformly chosen parts ("subset"); then every joint of
    every frame is dropped with probability `joint_p` (dropped = zero)."""
    if mode not in PART_DROPOUT_MODES:
        raise ConfigError(where("part dropout", f"unknown mode '{mode}', use one of {PART_DROPOUT_MODES}"))
    n, m, t, v, _ = batch.shape
    keep = np.ones((n, m, t, v), dtype=bool)
    if part_p > 0:
        hit = np.asarray(rng.random(n) < part_p)
        if mode == "one":
            lost = np.eye(len(PARTS), dtype=bool)[np.asarray(rng.integers(0, len(PARTS), n))]  # (n, 5)
        else:
            k = np.asarray(rng.integers(1, len(PARTS), n))
            order = np.argsort(rng.random((n, len(PARTS))), axis=1)
            lost = np.zeros((n, len(PARTS)), dtype=bool)
            np.put_along_axis(lost, order, np.arange(len(PARTS))[None, :] < k[:, None], axis=1)
        lost &= hit[:, None]
        keep &= ~lost[:, np.asarray(layout.parts)][:, None, None, :]
    if joint_p > 0:
        keep &= rng.random((n, m, t, v)) >= joint_p
    return batch * keep[..., None]
