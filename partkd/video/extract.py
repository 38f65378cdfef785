"""Video → low-quality skeleton: BlazePose on every frame, its landmarks mapped by joint name onto a layout (COCO-17
by default) with the estimator's per-joint confidence, written as the generic npz every command reads."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partkd.errors import DataError, where
from partkd.io import atomic_write_bytes
from partkd.layouts import Layout, get_layout
from partkd.video.assets import POSE_MODELS, asset_path
from partkd.video.blazepose import LANDMARKS, BlazePose
from partkd.video.decode import WORK_SIDE, VideoInfo, frames, probe

#: A landmark the model places outside the frame (presence below this) is a missing joint.
MIN_PRESENCE = 0.5
#: Lowest confidence of a detected joint (0 would read as missing, as in the estimator simulation).
CONF_FLOOR = 0.05
ESTIMATOR = "BlazePose full (MediaPipe 0.10.21 models, LiteRT)"
#: Class list of an unlabelled clip.
UNLABELLED = "unlabelled"

ProgressFn = Callable[[int, int], None]


def landmark_index(layout: Layout | str) -> list[int]:
    """BlazePose's landmark of each joint of a 2D layout, by name; DataError naming the joints it lacks."""
    layout = get_layout(layout) if isinstance(layout, str) else layout
    missing = [j for j in layout.joints if j not in LANDMARKS]
    if missing or layout.dims != 2:
        raise DataError(where(layout.name, f"not a 2D layout of BlazePose's joints (no {', '.join(missing)})"))
    return [LANDMARKS.index(j) for j in layout.joints]


@dataclass(frozen=True)
class VideoSkeleton:
    """BlazePose's estimate of a video: (T, 33, 2) pixel coordinates of the source, visibility and presence (T, 33),
    whether a person was found (T,), and the video's facts."""

    info: VideoInfo
    xy: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    detected: np.ndarray
    seconds: float

    @property
    def detection_rate(self) -> float:
        """Share of frames with a person."""
        return float(self.detected.mean()) if len(self.detected) else 0.0

    def guess(self, layout: Layout | str = "coco17") -> np.ndarray:
        """(T, V, 2) BlazePose's position of every joint of the layout, found or not (zeros without a person)."""
        return self.xy[:, landmark_index(layout)]

    def skeleton(self, layout: Layout | str = "coco17") -> np.ndarray:
        """(T, V, 3) of (x, y, confidence) in the layout's joint order, matched by name; a joint the estimator did
        not find (no person, or placed outside the frame) is all zeros."""
        idx = landmark_index(layout)
        xy, vis, pres = self.xy[:, idx], self.visibility[:, idx], self.presence[:, idx]
        w, h = self.info.width, self.info.height
        inside = (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
        seen = self.detected[:, None] & (pres >= MIN_PRESENCE) & inside
        out = np.concatenate([xy, np.maximum(vis, CONF_FLOOR)[..., None]], axis=-1).astype(np.float32)
        return out * seen[..., None]


#: LiteRT threads of the pose models: 2 measured 12.6 s -> 11.0 s on a 10-second 1080p clip (2 cores, FFmpeg
#: decoding beside it).
THREADS = 2


def extract(
    path: Path | str, progress: ProgressFn | None = None, side: int = WORK_SIDE, threads: int = THREADS
) -> VideoSkeleton:
    """Run BlazePose over every frame of a video, streamed (bounded memory); coordinates in source pixels."""
    info = probe(path)
    model = BlazePose(asset_path(POSE_MODELS[0]), asset_path(POSE_MODELS[1]), threads=threads)
    w, _ = info.work_size(side)
    scale = info.width / w
    n = len(LANDMARKS)
    xy: list[np.ndarray] = []
    vis: list[np.ndarray] = []
    pres: list[np.ndarray] = []
    det: list[bool] = []
    t0 = time.perf_counter()
    total = info.frames
    for i, image in enumerate(frames(info, side)):
        pose = model(image)
        if pose is None:
            xy.append(np.zeros((n, 2), np.float32))
            vis.append(np.zeros(n, np.float32))
            pres.append(np.zeros(n, np.float32))
        else:
            xy.append(pose.xy * scale)
            vis.append(pose.visibility)
            pres.append(pose.presence)
        det.append(pose is not None)
        if progress is not None:
            progress(i + 1, max(total, i + 1))
    if not det:
        raise DataError(where(path, "no frames could be decoded"))
    return VideoSkeleton(
        info,
        np.stack(xy).astype(np.float32),
        np.stack(vis),
        np.stack(pres),
        np.asarray(det, bool),
        time.perf_counter() - t0,
    )


def save_npz(vs: VideoSkeleton, out: Path | str, layout: str = "coco17") -> Path:
    """Write the clip as generic npz (one unlabelled test clip, M = 1) with the video's rate, size and estimator."""
    if not vs.detected.any():
        raise DataError(where(vs.info.path, "no person was found in any frame"))
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        keypoint=vs.skeleton(layout)[None, None],
        label=np.zeros(1, np.int64),
        split=np.array(["test"]),
        class_names=np.array([UNLABELLED]),
        layout=np.array(layout),
        name=np.array([Path(vs.info.path).stem]),
        fps=np.array(vs.info.fps),
        video_size=np.array([vs.info.width, vs.info.height]),
        detected=vs.detected,
        estimator=np.array(ESTIMATOR),
    )
    atomic_write_bytes(out, buf.getvalue())
    return Path(out)


__all__ = [
    "CONF_FLOOR",
    "ESTIMATOR",
    "MIN_PRESENCE",
    "UNLABELLED",
    "VideoSkeleton",
    "extract",
    "landmark_index",
    "save_npz",
]
