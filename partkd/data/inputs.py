"""Dense model inputs made per batch: an array-like (N, M, T, V, C) whose rows are built from the clips when indexed,
and the engine's occlusion protocol applied to it row by row with exactly the draws of the whole-set protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from partkd.data.dataset import SkeletonDataset
from partkd.data.occlusion import (
    DEFAULT_OCCLUSION_MODE,
    check_occlusion,
    draws_per_clip,
    occlude,
    occlusion_drop,
    part_index,
)
from partkd.data.transforms import fit_frames, fit_persons, normalize_clip
from partkd.layouts import Layout


def dense_clip(clip: np.ndarray, layout: Layout, frames: int, persons: int, mode: str, normalize: bool) -> np.ndarray:
    """One clip as a model input (persons, frames, V, 3): fit_persons, normalize_clip, fit_frames."""
    x = fit_persons(clip, persons)
    if normalize:
        x = normalize_clip(x, layout)
    return fit_frames(x, frames, mode).astype(np.float32, copy=False)


def to_array(ds: SkeletonDataset, frames: int, persons: int, mode: str = "pad", normalize: bool = True) -> np.ndarray:
    """Dense float32 batch (N, persons, frames, V, C): per clip fit_persons, normalize_clip, fit_frames."""
    out = np.zeros((len(ds), persons, frames, ds.layout.num_joints, 3), dtype=np.float32)
    for i, clip in enumerate(ds.clips):
        out[i] = dense_clip(clip, ds.layout, frames, persons, mode, normalize)
    return out


class LazyInputs:
    """Base of the per-batch array-likes: `shape`, `len`, integer / slice / index-array rows, `np.asarray` (all)."""

    shape: tuple[int, int, int, int, int]
    dtype = np.dtype(np.float32)
    ndim = 5

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """The dense rows at `idx` (int64 array) as (len(idx), M, T, V, C) float32."""
        raise NotImplementedError

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self.rows(np.array([int(key) % len(self)]))[0]
        if isinstance(key, slice):
            return self.rows(np.arange(len(self))[key])
        idx = np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return self.rows(idx.astype(np.int64).reshape(-1))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.rows(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype)


class ModelInputs(LazyInputs):
    """model_inputs of a dataset: row i is dense_clip(ds.clips[i]) (what to_array stacks), made when indexed."""

    def __init__(self, ds: SkeletonDataset, frames: int, persons: int, mode: str, normalize: bool) -> None:
        self.clips: Sequence[np.ndarray] = ds.clips
        self.layout, self.frames, self.persons, self.mode, self.normalize = ds.layout, frames, persons, mode, normalize
        self.shape = (len(ds), persons, frames, ds.layout.num_joints, 3)

    def rows(self, idx: np.ndarray) -> np.ndarray:
        out = np.zeros((len(idx), *self.shape[1:]), dtype=np.float32)
        for k, i in enumerate(idx):
            out[k] = dense_clip(self.clips[int(i)], self.layout, self.frames, self.persons, self.mode, self.normalize)
        return out


class OccludedInputs(LazyInputs):
    """`occlude(x, layout, op, mode, seed, parts)` of a whole set, made per row: row i draws the i-th block of the
    one generator's stream (PCG64 advanced past the rows before it), so any batch equals the whole-set result."""

    def __init__(
        self, base: LazyInputs, layout: Layout, op: float, mode: str, seed: int, parts: list[int] | None
    ) -> None:
        self.base, self.layout, self.op, self.mode, self.seed, self.parts = base, layout, op, mode, seed, parts
        self.shape = base.shape

    def rows(self, idx: np.ndarray) -> np.ndarray:
        x = self.base.rows(idx)
        _, m, t, v, _ = self.shape
        draws = None
        if not (self.mode == "part" and self.parts is not None):
            per_row = draws_per_clip(self.mode, m, t, v)
            draws = np.empty((len(idx), per_row))
            for k, i in enumerate(idx):
                bits = np.random.PCG64(self.seed)
                bits.advance(int(i) * per_row)  # one 64-bit draw per double of Generator.random
                draws[k] = np.random.Generator(bits).random(per_row)
        drop = occlusion_drop(draws, self.op, self.mode, self.layout, (len(idx), m, t, v), self.parts)
        return np.where(drop[..., None], np.float32(0), x)


#: What the engine's passes accept as a set of model inputs (N, M, T, V, C): dense, or made per batch.
Inputs = np.ndarray | LazyInputs


def occlude_set(
    x: Inputs,
    layout: Layout,
    op: float,
    mode: str = DEFAULT_OCCLUSION_MODE,
    seed: int = 0,
    parts: Sequence[str] | None = None,
) -> Inputs:
    """The engine's one occlusion protocol on a set of dense inputs (N, M, T, V, C): every joint (or sequence, or
    part) of the whole set drawn with one seed, so every model and page sees the same degraded set for (op, mode,
    seed); `parts` (part mode) removes exactly those parts. Returns x itself when nothing is occluded."""

    if op <= 0 and not (mode == "part" and parts):
        return x
    if isinstance(x, LazyInputs):  # per batch, with the whole-set draws
        check_occlusion(op, mode)
        chosen = [part_index(p) for p in parts] if mode == "part" and parts else None
        return OccludedInputs(x, layout, op, mode, seed, chosen)
    return occlude(x, layout, op, mode=mode, parts=list(parts) if parts else None, seed=seed)


__all__ = ["Inputs", "LazyInputs", "ModelInputs", "OccludedInputs", "dense_clip", "occlude_set", "to_array"]
