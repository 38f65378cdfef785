"""Recognition over time on a video's skeleton: the student's sliding windows (streaming.predict) under the app's
occlusion, and which body parts one window's decision rests on."""

from __future__ import annotations

from typing import Any

import numpy as np

from partkd.checkpoints import Loaded
from partkd.data.dataset import SkeletonDataset
from partkd.engine.data import model_inputs
from partkd.errors import DataError, where
from partkd.layouts import Layout, get_layout
from partkd.streaming import occluded_clips, predict
from partkd.video.blazepose import LANDMARKS
from partkd.video.extract import UNLABELLED, VideoSkeleton

#: Sliding window of the timeline: Penn Action's clips last 1-4 s.
WINDOW_S, HOP_S = 2.0, 0.5


def readable_layout(layout: Layout) -> bool:
    """True when a 2D layout's joints are all BlazePose landmarks (a student that can read a video's skeleton)."""
    return layout.dims == 2 and all(j in LANDMARKS for j in layout.joints)


def video_dataset(vs: VideoSkeleton, layout: Layout | str = "coco17") -> SkeletonDataset:
    """The video as one unlabelled test clip (M = 1) in the layout, with its frame rate."""
    lay = get_layout(layout) if isinstance(layout, str) else layout
    return SkeletonDataset(
        [vs.skeleton(lay)[None]],
        np.zeros(1, np.int64),
        [UNLABELLED],
        np.array(["test"]),
        lay,
        [str(vs.info.path)],
        meta={"fps": vs.info.fps, "source": str(vs.info.path)},
    )


def seen_clip(loaded: Loaded, vs: VideoSkeleton, op: float, mode: str, seed: int) -> np.ndarray:
    """(T, V, 3) what the student reads: the estimated skeleton in its layout, occluded as `timeline` occludes it."""
    if not readable_layout(loaded.layout):
        raise DataError(where(loaded.path, f"layout {loaded.layout.name} has joints BlazePose does not estimate"))
    return occluded_clips(video_dataset(vs, loaded.layout), op, mode, seed).clips[0][0]


def timeline(
    loaded: Loaded, vs: VideoSkeleton, op: float, mode: str, seed: int, window_s: float = WINDOW_S, hop_s: float = HOP_S
) -> list[dict[str, Any]]:
    """One row per window (start_s, end_s, label, probability, top5): `partkd predict` on the video's clip."""
    seen_clip(loaded, vs, 0.0, mode, seed)  # layout check with a readable error
    return predict(loaded, video_dataset(vs, loaded.layout), window_s, hop_s, op=op, mode=mode, seed=seed)


def window_parts(loaded: Loaded, seen: np.ndarray, row: dict[str, Any], fps: float) -> tuple[str, np.ndarray]:
    """(class, (5,) Shapley values of the parts for its log-probability) of one timeline window, computed on the
    student's input for that window (the occluded frames `seen`, cut and prepared as predict prepares them)."""
    from partkd.distill.explain import part_shapley_map

    a, b = round(row["start_s"] * fps), round(row["end_s"] * fps)
    one = SkeletonDataset(
        [seen[None, a:b]], np.zeros(1, np.int64), [UNLABELLED], np.array(["test"]), loaded.layout, ["w"]
    )
    x = model_inputs(one, loaded.meta)[0]
    label = list(loaded.class_names).index(row["label"])
    return row["label"], part_shapley_map(loaded.model, np.asarray(x), label, loaded.layout, windows=1)[1]


__all__ = ["HOP_S", "WINDOW_S", "readable_layout", "seen_clip", "timeline", "video_dataset", "window_parts"]
