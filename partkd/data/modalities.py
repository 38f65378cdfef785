"""Skeleton modalities derived from joint coordinates for any layout (seed 003, IKEM; 2s-AGCN's bone and motion
streams). One named, vectorised transform per modality over arrays (..., T, V, C); a value built from a missing
joint (all-zero, confidence 0) is missing (all-zero) too. docs/modalities.md gives the equations."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from partkd.errors import ConfigError, where
from partkd.layouts import Layout

Transform = Callable[[np.ndarray, Layout], np.ndarray]


def bone_parents(layout: Layout) -> np.ndarray:
    """(V,) parent of each joint on the breadth-first tree of the layout's edges rooted at its centre joint (the
    centre is its own parent; a joint the edges do not reach is its own parent too)."""
    if "parents" in layout._cache:
        return layout._cache["parents"]
    neighbours: list[list[int]] = [[] for _ in range(layout.num_joints)]
    for a, b in layout.edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    parent = np.arange(layout.num_joints)
    seen = {layout.center}
    queue = deque([layout.center])
    while queue:
        u = queue.popleft()
        for w in sorted(neighbours[u]):
            if w not in seen:
                seen.add(w)
                parent[w] = u
                queue.append(w)
    layout._cache["parents"] = parent
    return parent


def _present(x: np.ndarray) -> np.ndarray:
    return np.any(x != 0, axis=-1)


def _coords(layout: Layout) -> int:
    return 3 if layout.dims == 3 else 2


def _combine(values: np.ndarray, ok: np.ndarray, x: np.ndarray, layout: Layout, conf: np.ndarray | None) -> np.ndarray:
    """Coordinates `values` (..., d) where `ok`, zero elsewhere; 2D layouts carry a confidence channel."""
    d = _coords(layout)
    out = np.zeros(x.shape, dtype=np.float32)
    out[..., :d] = np.where(ok[..., None], values[..., :d], 0.0)
    if d == 2:
        out[..., 2] = np.where(ok, conf if conf is not None else x[..., 2], 0.0)
    return out


def joint(x: np.ndarray, layout: Layout) -> np.ndarray:
    """j: the joint coordinates themselves."""
    return np.asarray(x, dtype=np.float32).copy()


def bone(x: np.ndarray, layout: Layout) -> np.ndarray:
    """b_v = j_v − j_parent(v) (the centre's bone is zero); missing when either end is; 2D confidence = the smaller
    of the two ends'."""
    x = np.asarray(x, dtype=np.float32)
    p = bone_parents(layout)
    ok = _present(x) & _present(x[..., p, :])
    conf = np.minimum(x[..., 2], x[..., p, 2]) if layout.dims != 3 else None
    return _combine(x - x[..., p, :], ok, x, layout, conf)


def _motion(x: np.ndarray, layout: Layout) -> np.ndarray:
    """m_t = x_{t+1} − x_t over frames (axis −3), zero at the last frame; missing when either frame is."""
    x = np.asarray(x, dtype=np.float32)
    nxt = np.zeros_like(x)
    nxt[..., :-1, :, :] = x[..., 1:, :, :]
    ok = _present(x) & _present(nxt)
    conf = np.minimum(x[..., 2], nxt[..., 2]) if layout.dims != 3 else None
    return _combine(nxt - x, ok, x, layout, conf)


def joint_motion(x: np.ndarray, layout: Layout) -> np.ndarray:
    """jm_t = j_{t+1} − j_t."""
    return _motion(x, layout)


def bone_motion(x: np.ndarray, layout: Layout) -> np.ndarray:
    """bm_t = b_{t+1} − b_t."""
    return _motion(bone(x, layout), layout)


def joint_acceleration(x: np.ndarray, layout: Layout) -> np.ndarray:
    """ja_t = j_{t+1} − 2 j_t + j_{t−1} (zero at the first and last frames); missing unless all three frames are
    present."""
    x = np.asarray(x, dtype=np.float32)
    prev, nxt = np.zeros_like(x), np.zeros_like(x)
    prev[..., 1:, :, :] = x[..., :-1, :, :]
    nxt[..., :-1, :, :] = x[..., 1:, :, :]
    ok = _present(prev) & _present(x) & _present(nxt)
    conf = np.minimum(np.minimum(prev[..., 2], x[..., 2]), nxt[..., 2]) if layout.dims != 3 else None
    return _combine(nxt - 2 * x + prev, ok, x, layout, conf)


def bone_angle(x: np.ndarray, layout: Layout) -> np.ndarray:
    """ba_v = b_v / |b_v|, the bone's direction cosines (its angles to the axes, free of bone length and body
    size); missing where the bone is missing or of zero length (the centre)."""
    b = bone(x, layout)
    d = _coords(layout)
    length = np.linalg.norm(b[..., :d], axis=-1)
    ok = length > 1e-8
    unit = b[..., :d] / np.where(ok, length, 1.0)[..., None]
    return _combine(unit, ok, b, layout, b[..., 2] if layout.dims != 3 else None)


#: Short name -> transform, in the order streams are listed (j, b, jm, bm the 2s-AGCN / pyskl four).
MODALITIES: dict[str, Transform] = {
    "j": joint,
    "b": bone,
    "jm": joint_motion,
    "bm": bone_motion,
    "ja": joint_acceleration,
    "ba": bone_angle,
}


def modality(name: str) -> Transform:
    """The transform of a modality name; ConfigError listing the known ones otherwise."""
    if name not in MODALITIES:
        raise ConfigError(where("modality", f"unknown modality '{name}' (use {', '.join(MODALITIES)})"))
    return MODALITIES[name]


__all__ = [
    "MODALITIES",
    "bone",
    "bone_angle",
    "bone_motion",
    "bone_parents",
    "joint",
    "joint_acceleration",
    "joint_motion",
    "modality",
]
