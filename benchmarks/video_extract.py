"""Video → skeleton speed and robustness: `partkd video extract` on Sports2D's demo and on variants made from it
with FFmpeg (a 10-second 1080p clip, 640 × 360 at 15 frames/s, a grey board over the person's legs for 3 s,
mirrored), and on another person (Pose2Sim's demo, two cameras), each in a fresh process: frames/s of the
extraction, wall time with start-up, peak RSS, the share of frames with a person and of joints found, track jumps,
and the agreement of each variant's skeleton with the original's (same frames, coordinates mapped back).

    python benchmarks/video_extract.py                 # results in benchmarks/results/video_extract.{json,md}

Needs the video extra, `partkd video setup` and `partkd video setup pose2sim_cam01.mp4 pose2sim_cam03.mp4`. The
Python process's peak RSS is measured; FFmpeg decodes in its own process beside it (its memory is bounded by one
frame at a time and is not included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
from harness import RESULTS, ROOT, add_save_arg, md_head, md_notes, md_table, provenance, publish, run_child

WORK = ROOT / "runs" / "video_bench"
#: A grey board over the legs of the person on the roof (the one tracked) from 2 s to 5 s.
BOARD = "drawbox=x=iw*0.3:y=ih*0.22:w=iw*0.16:h=ih*0.26:color=gray:t=fill:enable='between(t,2,5)'"
H264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-an"]
#: name: (FFmpeg arguments after the input, input arguments, what it tests).
VARIANTS: dict[str, tuple[list[str], list[str], str]] = {
    "original": ([], [], "the demo as shipped: 1768 × 994, 30 frames/s, VP9, 7.7 s"),
    "1080p_10s": (["-t", "10", "-vf", "scale=1920:1080", *H264], ["-stream_loop", "1"], "1920 × 1080, 10 s (looped)"),
    "360p_15fps": (["-vf", "scale=640:360,fps=15", *H264], [], "640 × 360 at 15 frames/s"),
    "board": (["-vf", BOARD, *H264], [], "a grey board over the tracked person's legs from 2 s to 5 s"),
    "mirrored": (["-vf", "hflip", *H264], [], "mirrored left to right (left and right joints swap)"),
}
#: Videos the estimator was never tried on while it was built: name: (asset, what).
UNSEEN: dict[str, tuple[str, str]] = {
    "pose2sim_cam01": (
        "pose2sim_cam01.mp4",
        "Pose2Sim's demo, another person, front: portrait 1080 × 1920 at 60 frames/s",
    ),
    "pose2sim_cam03": (
        "pose2sim_cam03.mp4",
        "Pose2Sim's demo, the same moment from behind: 1088 × 1920 at 60 frames/s",
    ),
}
SPEED_TARGET_FPS = 10.0
PAGE_TARGET_S = 15.0


def make_variant(name: str, demo: Path) -> Path:
    """The variant's file under WORK (made once with the FFmpeg of imageio-ffmpeg)."""
    import subprocess

    import imageio_ffmpeg

    if name == "original":
        return demo
    out = WORK / f"{name}.mp4"
    if not out.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        args, before, _ = VARIANTS[name]
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *before, "-i", str(demo), *args, str(out)]
        subprocess.run(cmd, check=True)
    return out


def child(video: str, out: str) -> None:
    """In a fresh process: extract, save the npz and print frames, seconds, detection rate as JSON."""
    from partkd.video.extract import extract, save_npz

    vs = extract(video)
    save_npz(vs, out)
    print(json.dumps({"frames": len(vs.detected), "seconds": vs.seconds, "detected": vs.detection_rate}))


def page_child(video: str) -> None:
    """In a fresh process: the app (AppTest), then its Your video page on `video` as a file on this machine; print
    the seconds of the page's first render (BlazePose over the whole video, the timeline and one window's parts)."""
    import os
    import tempfile
    import time

    from streamlit.testing.v1 import AppTest

    os.environ.setdefault("PARTKD_JOBS", tempfile.mkdtemp())
    os.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.run()
    at.session_state["video_source"] = "A file on this machine"
    at.session_state["video_path"] = video
    start = time.monotonic()
    at.switch_page("partkd_app/pages/video.py").run()
    seconds = time.monotonic() - start
    problems = [str(e.value) for e in (*at.exception, *at.error)]
    print(json.dumps({"seconds": seconds, "figures": len(at.get("plotly_chart")), "problems": problems}))


def track_jumps(sk: np.ndarray) -> float:
    """The share of consecutive frame pairs (both with hips) whose hip centre moves more than half the median torso:
    the tracked person lost or swapped."""
    from partkd.layouts import get_layout

    j = list(get_layout("coco17").joints).index
    hip = (sk[:, j("left_hip"), :2] + sk[:, j("right_hip"), :2]) / 2
    sho = (sk[:, j("left_shoulder"), :2] + sk[:, j("right_shoulder"), :2]) / 2
    ok = (sk[:, [j("left_hip"), j("right_hip"), j("left_shoulder"), j("right_shoulder")], 2] > 0).all(axis=1)
    scale = float(np.median(np.linalg.norm(hip - sho, axis=1)[ok]))
    pairs = ok[1:] & ok[:-1]
    moves = np.linalg.norm(np.diff(hip, axis=0), axis=1)[pairs] / scale
    return float((moves > 0.5).mean()) if moves.size else 0.0


def mirror_order(joints: list[str]) -> list[int]:
    """For each joint, the index of its left/right twin (itself for the middle joints)."""
    twin = {j: j.replace("left_", "@").replace("right_", "left_").replace("@", "right_") for j in joints}
    return [joints.index(twin[j]) for j in joints]


def agreement(name: str, ref: np.ndarray, sk: np.ndarray, size: tuple[int, int], ref_size: tuple[int, int]) -> dict:
    """The variant's (T, 17, 3) skeleton against the original's on the same frames, in the original's pixels:
    median joint distance over the frames and joints both found, per torso length; the share of frames whose hip
    centre is within half a torso of the original's (the same person tracked)."""
    from partkd.layouts import get_layout

    joints = list(get_layout("coco17").joints)
    sk = sk.copy()
    sk[..., 0] *= ref_size[0] / size[0]
    sk[..., 1] *= ref_size[1] / size[1]
    if name == "360p_15fps":
        ref = ref[::2]
    if name == "mirrored":
        sk[..., 0] = np.where(sk[..., 2] > 0, ref_size[0] - sk[..., 0], 0.0)
        sk = sk[:, mirror_order(joints)]
    n = min(len(ref), len(sk))
    ref, sk = ref[:n], sk[:n]
    j = joints.index
    both = (ref[..., 2] > 0) & (sk[..., 2] > 0)
    mid = lambda a, p, q: (a[:, j(p), :2] + a[:, j(q), :2]) / 2  # noqa: E731
    torso = np.linalg.norm(mid(ref, "left_shoulder", "right_shoulder") - mid(ref, "left_hip", "right_hip"), axis=1)
    scale = float(np.median(torso[torso > 0]))
    err = np.linalg.norm(ref[..., :2] - sk[..., :2], axis=-1)[both] / scale
    hips = np.linalg.norm(mid(ref, "left_hip", "right_hip") - mid(sk, "left_hip", "right_hip"), axis=1) / scale
    hips_ok = both[:, j("left_hip")] & both[:, j("right_hip")]
    return {
        "frames_compared": n,
        "median_error_torso": float(np.median(err)) if err.size else None,
        "same_person": float((hips[hips_ok] < 0.5).mean()) if hips_ok.any() else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """CLI: make the variants, extract each in a fresh process (the 1080p clip --repeats times), publish."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of the 1080p clip (median and spread)")
    ap.add_argument("--child", nargs=2, metavar=("VIDEO", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--page-child", metavar="VIDEO", help=argparse.SUPPRESS)
    add_save_arg(ap, RESULTS / "video_extract")
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.page_child:
        page_child(args.page_child)
        return 0
    from partkd.video.assets import DEMO_VIDEO, asset_path
    from partkd.video.decode import probe

    prov = provenance(argv)
    demo = asset_path(DEMO_VIDEO)
    rows: dict[str, dict[str, Any]] = {}
    skeletons: dict[str, np.ndarray] = {}
    sources = {n: (make_variant(n, demo), what) for n, (_, _, what) in VARIANTS.items()}
    sources |= {n: (asset_path(a), what) for n, (a, what) in UNSEEN.items()}
    for name, (video, what) in sources.items():
        info = probe(video)
        runs = []
        for _ in range(args.repeats if name == "1080p_10s" else 1):
            out = WORK / f"{name}.npz"
            done = run_child([sys.executable, __file__, "--child", str(video), str(out)], check=True)
            runs.append({**done.last_json(), "wall_s": done.seconds, "peak_rss_mib": done.peak_rss_mib})
        fps = [r["frames"] / r["seconds"] for r in runs]
        with np.load(WORK / f"{name}.npz") as z:
            skeletons[name] = z["keypoint"][0, 0]
        rows[name] = {
            "what": what,
            "size": [info.width, info.height],
            "fps_video": info.fps,
            "frames": runs[0]["frames"],
            "detected": runs[0]["detected"],
            "joints_found": float((skeletons[name][..., 2] > 0).mean()),
            "track_jumps": track_jumps(skeletons[name]),
            "extract_fps_median": statistics.median(fps),
            "extract_fps_range": [min(fps), max(fps)],
            "wall_s_median": statistics.median(r["wall_s"] for r in runs),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
            "runs": runs,
        }
        print(f"{name}: {rows[name]['extract_fps_median']:.1f} frames/s, person in {100 * runs[0]['detected']:.1f} %")
    ref_size = tuple(rows["original"]["size"])
    for name in VARIANTS:
        if name != "original":
            rows[name]["agreement"] = agreement(
                name, skeletons["original"], skeletons[name], tuple(rows[name]["size"]), ref_size
            )
    board = skeletons["board"]
    t = np.arange(len(board)) / rows["board"]["fps_video"]
    under = (t >= 2) & (t < 5)
    rows["board"]["missing_joints_under_board"] = float((board[under][..., 2] == 0).mean())
    rows["board"]["missing_joints_elsewhere"] = float((board[~under][..., 2] == 0).mean())
    hd = rows["1080p_10s"]
    pages = []
    for _ in range(args.repeats):
        done = run_child([sys.executable, __file__, "--page-child", str(make_variant("1080p_10s", demo))], check=True)
        pages.append(done.last_json())
        print(f"page first render: {pages[-1]['seconds']:.1f} s")
    page_s = [r["seconds"] for r in pages]
    page_ok = all(r["figures"] == 3 and not r["problems"] for r in pages)
    record = {
        **prov.record(),
        "variants": rows,
        "target_fps": SPEED_TARGET_FPS,
        "met": hd["extract_fps_median"] >= SPEED_TARGET_FPS,
        "page_first_render_s": page_s,
        "page_target_s": PAGE_TARGET_S,
        "page_met": page_ok and statistics.median(page_s) <= PAGE_TARGET_S,
    }
    table = md_table(
        [
            "video",
            "size",
            "frames",
            "person found",
            "joints found",
            "track jumps",
            "extraction frames/s (median, range)",
            "wall s",
            "peak RSS MiB",
            "median error / torso",
            "same person",
        ],
        [
            [
                f"{n}: {r['what']}",
                f"{r['size'][0]}×{r['size'][1]} @ {r['fps_video']:g}",
                r["frames"],
                f"{100 * r['detected']:.1f} %",
                f"{100 * r['joints_found']:.1f} %",
                f"{100 * r['track_jumps']:.1f} %",
                f"{r['extract_fps_median']:.1f} ({r['extract_fps_range'][0]:.1f}–{r['extract_fps_range'][1]:.1f})",
                f"{r['wall_s_median']:.1f}",
                f"{r['peak_rss_mib']:.0f}",
                f"{r['agreement']['median_error_torso']:.3f}" if "agreement" in r else "–",
                f"{100 * r['agreement']['same_person']:.1f} %" if "agreement" in r else "–",
            ]
            for n, r in rows.items()
        ],
    )
    notes = [
        f"Target: a 10-second 1080p clip at ≥ {SPEED_TARGET_FPS:g} frames/s: "
        f"{hd['extract_fps_median']:.1f} frames/s ({'met' if record['met'] else 'NOT met'}); "
        f"{args.repeats} runs, each in a fresh process; wall time includes start-up (imports, model load).",
        f"Page: the Your video page's first render of the 10-second 1080p clip (a file on this machine; AppTest, "
        f"after the app's start): {statistics.median(page_s):.1f} s median ({min(page_s):.1f}–{max(page_s):.1f}, "
        f"{len(page_s)} fresh processes), target ≤ {PAGE_TARGET_S:g} s "
        f"({'met' if record['page_met'] else 'NOT met'}); three figures, no error: {'yes' if page_ok else 'NO'}.",
        "Error: median distance between a variant's joints and the original's on the same frame (coordinates mapped "
        "back to the original's pixels, mirrored back with left and right swapped), per median torso length; "
        "same person: frames whose hip centre lies within half a torso of the original's.",
        "Joints found: the share of joints the estimator returned over all frames; track jumps: the share of "
        "consecutive frames whose hip centre moves more than half a torso (the tracked person lost or swapped). "
        "The pose2sim videos (`partkd video setup pose2sim_cam01.mp4 pose2sim_cam03.mp4`) were first run for this "
        "benchmark, after the estimator was written and tested on Sports2D's demo.",
        f"Board: {100 * rows['board']['missing_joints_under_board']:.1f} % of joints missing while the board is up "
        f"(2–5 s), {100 * rows['board']['missing_joints_elsewhere']:.1f} % elsewhere.",
    ]
    md = "\n".join([*md_head("Video → skeleton: speed and robustness", prov), table, "", *md_notes(notes)])
    publish(args.save, record, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
