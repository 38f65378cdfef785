"""Human3.6M loader: real-data counts, solitary clips, pairing by geometry, the projection, rates and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import write_h36m
from partkd.cli import main as cli_main
from partkd.data.cameras import read_cameras
from partkd.data.dataset import NO_PAIR
from partkd.data.formats import h36m
from partkd.data.loaders import detect_format, load_dataset
from partkd.errors import DataError

#: Recordings whose motion capture is missing from the release (data README): their detections are solitary.
MISSING_MOCAP = {(5, "Discussion", "2"), (5, "Discussion", "3"), (7, "Discussion", ""), (7, "SittingDown", "1"),
                 (9, "Discussion", "1")}
TRAIN, TEST = {1, 5, 6, 7, 8}, {9, 11}


@pytest.fixture(scope="module")
def root(shared_data: Path) -> Path:
    p = shared_data / "h36m"
    if not p.is_dir():
        pytest.skip(f"Human3.6M not found at {p}")
    return p


@pytest.fixture(scope="module")
def loaded(root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    opts = {"stride_s": 20.0}
    return {q: load_dataset(root, format="h36m", quality=q, cache=False, **opts)
            for q in ("mocap", "detections", "projected")}


def _seq_of(name: str) -> tuple[int, str, str]:
    subj, rest = name.split("/", 1)
    stem = rest.split(".")[0]
    action, _, trial = stem.partition("_")
    return int(subj[1:]), action, trial


def test_detected_and_counted_by_split(root: Path, loaded: dict) -> None:
    assert detect_format(root) == "h36m"
    mocap = loaded["mocap"]
    assert mocap.layout.name == "h36m17" and mocap.layout.dims == 3
    assert mocap.meta["fps"] == 10.0 and mocap.meta["window_frames"] == 50 and mocap.meta["stride_frames"] == 200
    # expected windows per recording, from the files' own frame counts: floor((T - 50) / 200) + 1 per camera
    expected = {"train": 0, "test": 0}
    seqs = {"train": set(), "test": set()}
    for f in sorted(root.glob("S*/MyPoses/3D_positions/*.h5")):
        subj = int(f.parents[2].name[1:])
        with h5py.File(f, "r") as h:
            t_mocap = h["3D_positions"].shape[1]
        stem = f.stem.replace(" ", "_")
        dets = sorted((f.parents[2] / "StackedHourglass").glob(f"{stem}.*.h5"))
        t = min([t_mocap] + [h5py.File(d, "r")["poses"].shape[0] for d in dets])
        split = "train" if subj in TRAIN else "test"
        expected[split] += 4 * ((t - 50) // 200 + 1)
        seqs[split].add(f)
    assert len(seqs["train"]) == 146 and len(seqs["test"]) == 59
    assert mocap.summary()["splits"] == expected
    names = {n.rsplit(".", 1)[0] for n in mocap.names}
    assert len(names) == 146 + 59
    for split, subjects in (("train", TRAIN), ("test", TEST)):
        assert {int(n.split("/")[0][1:]) for n in mocap.by_split(split).names} == subjects
    assert all(c.shape == (1, 50, 17, 3) for c in mocap.clips)


def test_solitary_detection_clips_where_the_mocap_is_missing(loaded: dict) -> None:
    det, mocap = loaded["detections"], loaded["mocap"]
    assert det.layout.name == "mpii16" and det.layout.dims == 2
    solitary = {_seq_of(n) for n, p in zip(det.names, det.pair_ids) if p == NO_PAIR}
    assert solitary == MISSING_MOCAP
    paired = det.pair_ids[det.pair_ids != NO_PAIR]
    assert np.isin(paired, mocap.pair_ids).all() and len(set(paired)) == len(paired)
    assert all((c[..., 2] == 1.0).all() for c in det.clips)          # the detector answers for every joint
    s11_dir = [n for n in det.names if n.startswith("S11/Directions.")]
    assert s11_dir and not any(".54138969/" in n for n in s11_dir)   # the damaged video has no detections


def _project(world: np.ndarray, cam: dict) -> np.ndarray:
    """Pinhole projection without distortion, written out here independently of partkd."""
    x = (world - cam["T"].reshape(3)) @ cam["R"]        # cameras.h5 stores R transposed: X_cam = R^T-stored (X - T)
    return x[..., :2] / x[..., 2:3] * cam["f"].reshape(2) + cam["c"].reshape(2)


def test_pairing_by_geometry(root: Path, loaded: dict) -> None:
    """A paired detection window lies within a few tens of pixels of its own motion capture projected into the
    same camera, and far from a different window's."""
    det = loaded["detections"]
    with h5py.File(root / "cameras.h5", "r") as f:
        cams = {(s, "".join(chr(int(v)) for v in f[f"subject{s}/camera{i}/Name"][()].ravel())):
                {k: f[f"subject{s}/camera{i}/{k}"][()] for k in ("R", "T", "f", "c")}
                for s in (1, 9, 11) for i in range(1, 5)}
    mpii_from_32 = [3, 2, 1, 6, 7, 8, 0, 13, 13, 15, 27, 26, 25, 17, 18, 19]
    checked = 0
    for i in np.flatnonzero(det.pair_ids != NO_PAIR)[::97][:12]:
        name = det.names[i]
        subj, action, trial = _seq_of(name)
        if subj not in (1, 9, 11):
            continue
        cam = name.split(".")[1].split("/")[0]
        w = int(name.rsplit("/w", 1)[1])
        mocap_file = root / f"S{subj}/MyPoses/3D_positions/{action}{' ' + trial if trial else ''}.h5"
        with h5py.File(mocap_file, "r") as f:
            world = f["3D_positions"][()].T.reshape(-1, 32, 3)
        start = 200 * w
        own = _project(world[start:start + 50][:, mpii_from_32], cams[(subj, cam)])
        other = _project(world[(start + 100) % (len(world) - 50):][:50][:, mpii_from_32], cams[(subj, cam)])
        err = np.linalg.norm(own - det.clips[i][0, :, :, :2], axis=-1)
        err_other = np.linalg.norm(other - det.clips[i][0, :, :, :2], axis=-1)
        assert np.median(err) < 30.0, (name, np.median(err))
        assert err.mean() < err_other.mean(), name
        checked += 1
    assert checked >= 3


def test_one_projected_point_by_hand(root: Path, loaded: dict) -> None:
    """S1 'Directions 1', camera 54138969, frame 0, left wrist: X_cam = R_stored^T-free form worked out below."""
    with h5py.File(root / "cameras.h5", "r") as f:
        g = f["subject1/camera1"]
        R, T, fc, c, k, p = (g[key][()] for key in ("R", "T", "f", "c", "k", "p"))
    with h5py.File(root / "S1/MyPoses/3D_positions/Directions 1.h5", "r") as f:
        wrist = f["3D_positions"][()][19 * 3:19 * 3 + 3, 0].astype(np.float64)
    d = wrist - T.reshape(3)
    xc = [sum(R[r][col] * d[r] for r in range(3)) for col in range(3)]   # R^T (X - T), entry by entry
    x, y = xc[0] / xc[2], xc[1] / xc[2]
    r2 = x * x + y * y
    rad = 1 + k[0][0] * r2 + k[1][0] * r2 ** 2 + k[2][0] * r2 ** 3
    u = fc[0][0] * (x * rad + 2 * p[0][0] * x * y + p[1][0] * (r2 + 2 * x * x)) + c[0][0]
    v = fc[1][0] * (y * rad + p[0][0] * (r2 + 2 * y * y) + 2 * p[1][0] * x * y) + c[1][0]
    cam = read_cameras(root / "cameras.h5")[1]["54138969"]
    assert cam.project(wrist) == pytest.approx([u, v], abs=1e-6)
    proj = loaded["projected"]
    i = proj.names.index("S1/Directions_1.54138969/w000")
    assert proj.clips[i][0, 0, proj.layout.joints.index("left_wrist"), :2] == pytest.approx([u, v], abs=1e-2)
    mocap = loaded["mocap"]
    j = mocap.names.index("S1/Directions_1.54138969/w000")
    assert mocap.clips[j][0, 0, mocap.layout.joints.index("left_wrist")] == pytest.approx(xc, abs=1e-2)
    assert mocap.pair_ids[j] == proj.pair_ids[i]


def test_world_frame_links_every_camera_to_one_clip(root: Path) -> None:
    world = load_dataset(root, format="h36m", quality="mocap", frame="world", stride_s=40.0, cache=False)
    det = load_dataset(root, format="h36m", quality="detections", frame="world", stride_s=40.0, cache=False)
    paired = det.pair_ids[det.pair_ids != NO_PAIR]
    assert len(world) * 4 > len(paired) > len(world) * 3       # S11 Directions lacks one camera
    ids, counts = np.unique(det.pair_ids[det.pair_ids != NO_PAIR], return_counts=True)
    assert np.isin(ids, world.pair_ids).all() and counts.max() == 4


def _upsample(arr: np.ndarray, axis: int, factor: int) -> np.ndarray:
    """Linear interpolation along the time axis, `factor` times as many frames (the originals' 50 Hz)."""
    t = arr.shape[axis]
    grid = np.linspace(0, t - 1, factor * (t - 1) + 1)
    moved = np.moveaxis(arr, axis, -1)
    flat = np.stack([np.interp(grid, np.arange(t), row) for row in moved.reshape(-1, t)])
    return np.moveaxis(flat.reshape(moved.shape[:-1] + (len(grid),)), -1, axis)


def test_same_default_duration_from_50hz_files(tmp_path: Path) -> None:
    """The user's originals are 50 Hz: the rate is recognised and the default clip is the same 5 s at 10 Hz."""
    slow = write_h36m(tmp_path / "h10", frames=120)
    fast = tmp_path / "h50"
    fast.mkdir()
    (fast / "cameras.h5").write_bytes((slow / "cameras.h5").read_bytes())
    for f in list(slow.glob("S*/MyPoses/3D_positions/*.h5")) + list(slow.glob("S*/StackedHourglass/*.h5")):
        out = fast / f.relative_to(slow)
        out.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(f, "r") as a, h5py.File(out, "w") as b:
            key = next(iter(a))
            b[key] = _upsample(a[key][()], 1 if key == "3D_positions" else 0, 5)
    a = load_dataset(slow, format="h36m", cache=False)
    b = load_dataset(fast, format="h36m", cache=False)
    assert (a.meta["fps"], a.meta["frame_step"], b.meta["fps"], b.meta["frame_step"]) == (10.0, 1, 50.0, 5)
    assert a.meta["window_frames"] == b.meta["window_frames"] == 50
    assert len(a) == len(b) and a.names == b.names
    assert np.abs(a.clips[0] - b.clips[0]).max() < 1e-2   # every 5th frame of the 50 Hz copy is a 10 Hz frame


def test_tiny_folder_pairs_and_splits(tmp_path: Path) -> None:
    root = write_h36m(tmp_path / "h", frames=120, missing_mocap=((9, "Eating"),))
    high = load_dataset(root, format="h36m", cache=False)
    low = load_dataset(root, format="h36m", quality="detections", cache=False)
    assert high.summary()["splits"] == {"train": 2 * 2 * 2, "test": 1 * 2 * 2}   # 2 windows of 5 s in 12 s
    assert sum(low.pair_ids == NO_PAIR) == 4 and all(n.startswith("S9/Eating.") for n, p in
                                                     zip(low.names, low.pair_ids) if p == NO_PAIR)


@pytest.mark.parametrize("case, needle", [
    ("truncated", "not a readable HDF5 file"),
    ("no_dataset", "has no dataset '3D_positions'"),
    ("rows", "expected (96, T)"),
    ("joints", "expected (T, 16, 2)"),
    ("nan", "NaN or infinite"),
    ("empty", "expected (96, T)"),
    ("camera", "has no camera 55011271 for subject 9"),
])
def test_bad_input_one_line_exit_2_nothing_cached(case: str, needle: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    root = write_h36m(tmp_path / "h", frames=60)
    mocap = root / "S9/MyPoses/3D_positions/Eating.h5"
    det = root / "S9/StackedHourglass/Eating.55011271.h5"
    bad = mocap
    if case == "truncated":
        mocap.write_bytes(mocap.read_bytes()[:700])
    elif case in ("no_dataset", "rows", "nan", "empty"):
        arr = {"no_dataset": None, "rows": np.zeros((95, 60)), "empty": np.zeros((96, 0)),
               "nan": np.full((96, 60), np.nan)}[case]
        with h5py.File(mocap, "w") as f:
            f["other" if arr is None else "3D_positions"] = np.zeros((96, 60)) if arr is None else arr
    elif case == "joints":
        bad = det
        with h5py.File(det, "w") as f:
            f["poses"] = np.zeros((60, 15, 2))
    else:
        bad = root / "cameras.h5"
        with h5py.File(bad, "a") as f:
            del f["subject9/camera2"]
    cache = tmp_path / "cache"
    monkeypatch.setenv("PARTKD_CACHE", str(cache))
    with pytest.raises(DataError) as e:
        load_dataset(root, format="h36m")
    msg = str(e.value)
    assert "\n" not in msg and bad.name in msg and needle in msg, msg
    assert cli_main(["data", "inspect", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and bad.name in err and "Traceback" not in err
    assert not cache.exists() or not any(cache.iterdir())


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    root = write_h36m(tmp_path / "h", frames=60)
    from partkd.errors import ConfigError

    for opts in ({"quality": "gt"}, {"frame": "body"}, {"window_s": 0}, {"frame_step": 2.5},
                 {"train_subjects": [1, 9]}, {"quality": "projected", "frame": "world"},
                 {"cameras": ["12345678"]}):
        with pytest.raises(ConfigError):
            load_dataset(root, format="h36m", cache=False, **opts)


def test_cached_like_the_other_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_h36m(tmp_path / "h", frames=60)
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path / "cache"))
    a = load_dataset(root, format="h36m", quality="projected")
    calls = []
    monkeypatch.setattr(h36m, "read_mocap", lambda p: calls.append(p))
    b = load_dataset(root, format="h36m", quality="projected")
    assert not calls and b.names == a.names and all(np.array_equal(x, y) for x, y in zip(a.clips, b.clips))
    assert json.dumps(b.meta["options"]) == json.dumps(a.meta["options"])


def test_inspect_reports_the_windows(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = write_h36m(tmp_path / "h", frames=120)
    assert cli_main(["data", "inspect", str(root), "--no-cache", "-o", "quality=detections", "-o", "stride_s=2.5"]) == 0
    out = capsys.readouterr().out
    assert "windows: 50 frames every 25 at 10 Hz (files at 10 Hz, frame step 1); detections, px" in out
    assert "joints:  16 (layout mpii16, 2D)" in out
