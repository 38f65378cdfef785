"""BlazePose (Bazarevsky et al. 2020), the pose estimator MediaPipe ships: its two TFLite models run by LiteRT with
MediaPipe's pre- and post-processing (SSD anchors, weighted NMS, rotated regions of interest, landmark tracking)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The 33 BlazePose landmarks, in the model's output order.
LANDMARKS: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
DETECTOR_SIZE, LANDMARK_SIZE = 224, 256
#: SSD anchors of the detector (MediaPipe's pose_detection graph): strides per layer, two anchors per layer and cell.
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
MIN_DETECTION_SCORE = 0.5
MIN_POSE_PRESENCE = 0.5
NMS_IOU = 0.3
#: Region of interest: twice the centre-to-circle distance, enlarged by this factor (MediaPipe's RectTransformation).
ROI_SCALE = 1.25
#: Auxiliary landmarks the next frame's region is tracked from: body centre and a point on the body's circle.
AUX_CENTRE, AUX_CIRCLE = 33, 34


@dataclass(frozen=True)
class Roi:
    """A square region of the image in pixels, rotated by `angle` radians about its centre."""

    cx: float
    cy: float
    size: float
    angle: float


@dataclass(frozen=True)
class Pose:
    """One frame's estimate: (33, 2) pixel coordinates, (33,) visibility and presence in 0..1, and the pose score."""

    xy: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    score: float


def anchors() -> np.ndarray:
    """(2254, 2) anchor centres in 0..1 (fixed anchor size 1, offset 0.5): per stride group, rows, columns, anchors."""
    out = []
    i = 0
    while i < len(ANCHOR_STRIDES):
        stride, layers = ANCHOR_STRIDES[i], 0
        while i < len(ANCHOR_STRIDES) and ANCHOR_STRIDES[i] == stride:
            layers, i = layers + 1, i + 1
        cells = math.ceil(DETECTOR_SIZE / stride)
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(centres, 2 * layers, axis=0))
    return np.concatenate(out).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def roi_grid(roi: Roi, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates (x, y), each (size, size), of the pixel centres of the region resampled to size × size."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    u, v = np.meshgrid(t, t)
    return roi_to_image(roi, u, v)


def roi_to_image(roi: Roi, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Region coordinates in -0.5..0.5 to image pixels (MediaPipe's LandmarkProjection)."""
    c, s = math.cos(roi.angle), math.sin(roi.angle)
    return roi.cx + roi.size * (c * u - s * v), roi.cy + roi.size * (s * u + c * v)


def bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The (H, W, C) uint8 image sampled at pixel coordinates (x, y) with bilinear weights; 0 outside the image.
    Only the bounding box of the points is converted (torch's grid_sample does the interpolation)."""
    import torch
    import torch.nn.functional as F

    h, w, c = image.shape
    x0, x1 = max(int(np.floor(x.min())) - 1, 0), min(int(np.ceil(x.max())) + 2, w)
    y0, y1 = max(int(np.floor(y.min())) - 1, 0), min(int(np.ceil(y.max())) + 2, h)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((*x.shape, c), np.float32)
    sub = torch.from_numpy(np.ascontiguousarray(image[y0:y1, x0:x1])).permute(2, 0, 1)[None].float()
    grid = np.stack([(x - x0) / (x1 - x0) * 2 - 1, (y - y0) / (y1 - y0) * 2 - 1], axis=-1).astype(np.float32)
    out = F.grid_sample(sub, torch.from_numpy(grid)[None], mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[0].permute(1, 2, 0).numpy()


def alignment_roi(centre: np.ndarray, circle: np.ndarray) -> Roi:
    """The region from a body centre and a point on its circle (MediaPipe's AlignmentPointsRects, target 90°, then
    RectTransformation square_long with scale ROI_SCALE)."""
    dx, dy = float(circle[0] - centre[0]), float(circle[1] - centre[1])
    angle = math.pi / 2 - math.atan2(-dy, dx)
    angle = angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))
    return Roi(float(centre[0]), float(centre[1]), 2.0 * math.hypot(dx, dy) * ROI_SCALE, angle)


def weighted_best(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The best-scoring detection averaged with the ones overlapping it by IoU > NMS_IOU, weighted by score
    (MediaPipe's weighted non-maximum suppression, first cluster); boxes (N, 12) as centre x, y, w, h, keypoints."""
    best = int(np.argmax(scores))
    b = boxes[best]
    lo, hi = boxes[:, :2] - boxes[:, 2:4] / 2, boxes[:, :2] + boxes[:, 2:4] / 2
    inter = np.prod(np.clip(np.minimum(hi, hi[best]) - np.maximum(lo, lo[best]), 0, None), axis=1)
    union = np.prod(boxes[:, 2:4], axis=1) + np.prod(b[2:4]) - inter
    near = inter / np.maximum(union, 1e-9) > NMS_IOU
    w = scores[near] / scores[near].sum()
    return (boxes[near] * w[:, None]).sum(axis=0)


class BlazePose:
    """The detector and the full landmark model, with the region tracked from frame to frame (video mode)."""

    def __init__(self, detector: Path | str, landmarker: Path | str, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._det = Interpreter(model_path=str(detector), num_threads=threads)
        self._lmk = Interpreter(model_path=str(landmarker), num_threads=threads)
        for it in (self._det, self._lmk):
            it.allocate_tensors()
        self._anchors = anchors()
        self._roi: Roi | None = None

    def reset(self) -> None:
        """Forget the tracked region (the next frame runs the detector)."""
        self._roi = None

    def detect(self, image: np.ndarray) -> Roi | None:
        """The region of the most confident person in an RGB image, or None below MIN_DETECTION_SCORE."""
        h, w = image.shape[:2]
        frame = Roi(w / 2, h / 2, float(max(w, h)), 0.0)
        x = bilinear(image, *roi_grid(frame, DETECTOR_SIZE)) / 127.5 - 1.0
        raw, logits = self._run(self._det, x)
        scores = sigmoid(logits.reshape(-1))
        keep = scores >= MIN_DETECTION_SCORE
        if not keep.any():
            return None
        raw = raw.reshape(-1, 12)[keep] / DETECTOR_SIZE
        a = self._anchors[keep]
        boxes = raw.copy()
        boxes[:, 0:2] += a
        boxes[:, 4:12] += np.tile(a, 4)
        best = weighted_best(boxes, scores[keep])
        kp = best[4:12].reshape(4, 2) - 0.5
        centre, circle = (roi_to_image(frame, kp[i, 0], kp[i, 1]) for i in (0, 1))
        return alignment_roi(np.asarray(centre), np.asarray(circle))

    def landmarks(self, image: np.ndarray, roi: Roi) -> tuple[Pose, Roi]:
        """The pose in the region and the region for the next frame (from the auxiliary landmarks)."""
        x = bilinear(image, *roi_grid(roi, LANDMARK_SIZE)) / 255.0
        raw, flag = self._run(self._lmk, x)
        pts = raw.reshape(-1, 5)
        u, v = pts[:, 0] / LANDMARK_SIZE - 0.5, pts[:, 1] / LANDMARK_SIZE - 0.5
        px, py = roi_to_image(roi, u, v)
        xy = np.stack([px, py], axis=1)
        pose = Pose(
            xy[: len(LANDMARKS)].astype(np.float32),
            sigmoid(pts[: len(LANDMARKS), 3]).astype(np.float32),
            sigmoid(pts[: len(LANDMARKS), 4]).astype(np.float32),
            float(sigmoid(np.asarray(flag).reshape(-1)[:1])[0]),
        )
        return pose, alignment_roi(xy[AUX_CENTRE], xy[AUX_CIRCLE])

    def __call__(self, image: np.ndarray) -> Pose | None:
        """The pose in this video frame (RGB, H × W × 3 uint8), tracking the previous frame's region; None when no
        person is found."""
        roi = self._roi or self.detect(image)
        if roi is None:
            return None
        pose, nxt = self.landmarks(image, roi)
        if pose.score < MIN_POSE_PRESENCE and self._roi is not None:
            roi = self.detect(image)
            if roi is None:
                self._roi = None
                return None
            pose, nxt = self.landmarks(image, roi)
        if pose.score < MIN_POSE_PRESENCE:
            self._roi = None
            return None
        self._roi = nxt
        return pose

    @staticmethod
    def _run(it: object, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's first two outputs for one (S, S, 3) input."""
        it.set_tensor(it.get_input_details()[0]["index"], x[None].astype(np.float32))  # type: ignore[attr-defined]
        it.invoke()  # type: ignore[attr-defined]
        outs = it.get_output_details()  # type: ignore[attr-defined]
        return it.get_tensor(outs[0]["index"]), it.get_tensor(outs[1]["index"])  # type: ignore[attr-defined]


__all__ = ["LANDMARKS", "BlazePose", "Pose", "Roi", "alignment_roi", "anchors", "bilinear", "roi_grid", "roi_to_image"]
