"""Streaming prediction over long pose sequences: a sliding window (length and hop in seconds) over every clip of a
data file or folder, each window classified by a checkpoint under the same preparation, estimator simulation and
occlusion protocol as evaluation; one row per window with its time, label and probability."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from partkd.checkpoints import Loaded
from partkd.data.dataset import SkeletonDataset
from partkd.data.loaders import load_dataset
from partkd.data.occlusion import DEFAULT_OCCLUSION_MODE, occlude
from partkd.engine.data import model_inputs, simulated
from partkd.errors import ConfigError, where

#: Frame rate assumed for files that do not record one (Penn Action, NTU, NW-UCLA and Kinetics poses are ~30 Hz).
DEFAULT_FPS = 30.0


def window_bounds(frames: int, fps: float, window_s: float, hop_s: float) -> list[tuple[int, int]]:
    """(start, end) frame ranges of the windows over a sequence of `frames` frames: round(window_s·fps) frames every
    round(hop_s·fps) frames (at least 1 each); a sequence no longer than one window is one window, and when the hops
    leave a tail uncovered, a last window ends exactly at the sequence's end."""
    if fps <= 0 or window_s <= 0 or hop_s <= 0:
        raise ConfigError(where("predict", f"fps, window and hop must be > 0 (got {fps}, {window_s}, {hop_s})"))
    width, hop = max(1, round(window_s * fps)), max(1, round(hop_s * fps))
    if frames <= width:
        return [(0, frames)]
    bounds = [(s, s + width) for s in range(0, frames - width + 1, hop)]
    if bounds[-1][1] < frames:
        bounds.append((frames - width, frames))
    return bounds


def _as_model_data(loaded: Loaded, ds: SkeletonDataset, level: str, seed: int) -> SkeletonDataset:
    """The clips in the checkpoint's layout: as they are when the layouts match, else the pose-estimator simulation
    into the checkpoint's layout (a student reading high-quality data, as in training)."""
    if ds.layout.name == loaded.layout.name and ds.layout.num_joints == loaded.layout.num_joints:
        return ds

    return simulated(ds, loaded.layout, level, seed)


def occluded_clips(
    ds: SkeletonDataset, op: float, mode: str = DEFAULT_OCCLUSION_MODE, seed: int = 0
) -> SkeletonDataset:
    """The dataset with every whole clip occluded by the engine's protocol (occlusion.occlude), clip i drawn from
    the seed sequence (seed, i); the same clips when op is 0."""
    if op <= 0:
        return ds
    clips = [
        occlude(c, ds.layout, op, mode, seed=int(np.random.SeedSequence([seed, i]).generate_state(1)[0]))
        for i, c in enumerate(ds.clips)
    ]
    return SkeletonDataset(clips, ds.labels, ds.class_names, ds.split, ds.layout, ds.names, meta=ds.meta)


def predict(
    checkpoint: Loaded | str | Path,
    data: SkeletonDataset | str | Path,
    window_s: float = 2.0,
    hop_s: float = 1.0,
    fps: float | None = None,
    op: float = 0.0,
    mode: str = DEFAULT_OCCLUSION_MODE,
    seed: int = 0,
    level: str = "medium",
    format: str | None = None,
    layout: str | None = None,
    batch_size: int = 64,
) -> list[dict[str, Any]]:
    """Classify sliding windows over every clip of `data` (a dataset, file or folder in any supported format) with a
    checkpoint: rows of clip, window, start_s, end_s, label, probability and the top-5. The frame rate is `fps`, else
    the data's own (fps or rate_hz), else DEFAULT_FPS; occlusion `op`/`mode`/`seed` is drawn once per whole clip
    (occluded_clips) before it is cut into windows, so overlapping windows agree on what is hidden; a checkpoint of
    another layout reads the estimator simulation at `level`."""
    from partkd.checkpoints import load_checkpoint
    from partkd.engine.evaluate import predict_proba

    loaded = checkpoint if isinstance(checkpoint, Loaded) else load_checkpoint(checkpoint)
    ds = data if isinstance(data, SkeletonDataset) else load_dataset(data, format=format, layout=layout)
    rate = float(fps or ds.meta.get("fps") or ds.meta.get("rate_hz") or DEFAULT_FPS)
    ds = occluded_clips(_as_model_data(loaded, ds, level, seed), op, mode, seed)
    pieces, rows = [], []
    for i, clip in enumerate(ds.clips):
        for k, (a, b) in enumerate(window_bounds(clip.shape[1], rate, window_s, hop_s)):
            pieces.append(clip[:, a:b])
            rows.append(
                {
                    "clip": str(ds.names[i]),
                    "window": k,
                    "start_s": round(a / rate, 4),
                    "end_s": round(b / rate, 4),
                    "frames": b - a,
                }
            )
    if not pieces:
        raise ConfigError(where(str(data) if not isinstance(data, SkeletonDataset) else "predict", "no clips"))
    windows = SkeletonDataset(
        pieces,
        np.zeros(len(pieces), np.int64),
        list(loaded.class_names),
        np.array(["test"] * len(pieces)),
        ds.layout,
        [f"{r['clip']}#{r['window']}" for r in rows],
    )
    proba = predict_proba(loaded, model_inputs(windows, loaded.meta), batch_size=batch_size)
    names = loaded.class_names
    for row, p in zip(rows, proba):
        top = np.argsort(-p, kind="stable")[:5]
        row.update(
            label=names[int(top[0])],
            probability=round(float(p[top[0]]), 6),
            top5=[[names[int(j)], round(float(p[j]), 6)] for j in top],
        )
    return rows


def format_rows(rows: Sequence[dict[str, Any]]) -> str:
    """The windows as an aligned text table."""
    head = f"{'clip':<28} {'window':>6} {'start_s':>8} {'end_s':>8}  {'label':<20} {'prob':>6}"
    lines = [head] + [
        f"{r['clip'][:28]:<28} {r['window']:>6} {r['start_s']:>8.2f} {r['end_s']:>8.2f}  "
        f"{r['label'][:20]:<20} {r['probability']:>6.3f}"
        for r in rows
    ]
    return "\n".join(lines)


__all__ = ["DEFAULT_FPS", "format_rows", "occluded_clips", "predict", "window_bounds"]
