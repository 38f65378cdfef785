"""The video page's state: estimates kept per video for the session (with a progress bar while they run), frames
read on demand, the students that can read a video's skeleton and their recognition."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from partkd.catalogue import checkpoint_name
from partkd.layouts import get_layout
from partkd.video.decode import VideoInfo, frame_at, probe
from partkd.video.extract import ESTIMATOR, VideoSkeleton, extract
from partkd.video.recognise import readable_layout, seen_clip, timeline
from partkd_app.catalogue import available_checkpoints
from partkd_app.defaults import CHECKPOINT_DIR
from partkd_app.results import checkpoint

ESTIMATES = "_partkd_video_estimates"
#: Videos whose estimates a session keeps (each is a few hundred bytes per frame).
KEPT = 4
#: The student the page opens with: the shipped Penn Action student with KD (everyday sports moves).
DEFAULT_STUDENT = CHECKPOINT_DIR / "penn_action" / "student_pmsc.safetensors"


def _key(info: VideoInfo) -> tuple[str, float, int]:
    p = Path(info.path)
    return str(p.resolve()), p.stat().st_mtime, p.stat().st_size


def estimate(info: VideoInfo) -> VideoSkeleton:
    """BlazePose over the whole video, once per file and session, with a progress bar while it runs."""
    kept: OrderedDict = st.session_state.setdefault(ESTIMATES, OrderedDict())
    key = _key(info)
    if key not in kept:
        bar = st.progress(0.0, text="Estimating the skeleton…")

        def progress(done: int, total: int) -> None:
            if done % 10 == 0 or done == total:
                bar.progress(min(1.0, done / total), text=f"Estimating the skeleton: frame {done} of ~{total}")

        kept[key] = extract(info.path, progress)
        bar.empty()
        while len(kept) > KEPT:
            kept.popitem(last=False)
    kept.move_to_end(key)
    vs: VideoSkeleton = kept[key]
    return vs


@st.cache_data(max_entries=64, show_spinner=False)
def _frame(path: str, mtime: float, index: int) -> tuple[np.ndarray, float]:
    info = probe(path)
    image = frame_at(info, index)
    return image, image.shape[1] / info.width


def frame_image(info: VideoInfo, index: int) -> tuple[np.ndarray, float]:
    """Frame `index` (decoded at the work size) and its scale from source pixels."""
    return _frame(info.path, Path(info.path).stat().st_mtime, index)


def video_label(vs: VideoSkeleton) -> str:
    """The data part of a caption: the video's name and content hash, and the estimator."""
    h = hashlib.sha256()
    with open(vs.info.path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return f"video {Path(vs.info.path).name} (sha256 {h.hexdigest()[:12]}), skeleton by {ESTIMATOR}"


def student_choices() -> dict[str, str]:
    """{path: label} of the students whose layout BlazePose's joints fill, the shipped Penn Action one first."""
    out: dict[str, str] = {}
    rows = sorted(available_checkpoints(), key=lambda r: Path(r["path"]) != DEFAULT_STUDENT)
    for r in rows:
        try:
            readable = r["role"] == "student" and readable_layout(get_layout(r["layout"]))
        except Exception:  # noqa: BLE001 - a custom layout name that is not built in: not offered
            readable = False
        if readable:
            out[r["path"]] = checkpoint_name(r["path"])
    return out


@st.cache_data(max_entries=16, show_spinner="Running the student over the video…")
def _recognition(
    path: str, mtime: float, key: tuple, op: float, mode: str, seed: int, _vs: VideoSkeleton
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray, np.ndarray]:
    loaded = checkpoint(path)
    rows = timeline(loaded, _vs, op, mode, seed)
    return rows, seen_clip(loaded, _vs, op, mode, seed), _vs.skeleton(loaded.layout), _vs.guess(loaded.layout)


def recognition(
    path: str, vs: VideoSkeleton, op: float, mode: str, seed: int
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray, np.ndarray]:
    """(timeline rows, what the student reads (T, V, 3), the estimate in its layout (T, V, 3), BlazePose's guess of
    every joint (T, V, 2)), cached per checkpoint, video and occlusion."""
    result = _recognition(path, Path(path).stat().st_mtime, _key(vs.info), op, mode, seed, vs)
    return result


__all__ = ["DEFAULT_STUDENT", "estimate", "frame_image", "recognition", "student_choices", "video_label"]
