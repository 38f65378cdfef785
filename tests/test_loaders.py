"""Format loaders, detection, the dataset cache and bad-input handling."""
from __future__ import annotations

import importlib.util
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from partkd.data.dataset import PairedDataset, SkeletonDataset
from partkd.data.formats.npz import save_generic_npz
from partkd.data.formats.ntu import ACTIONS as NTU_ACTIONS
from partkd.data.formats.nw_ucla import ACTIONS as UCLA_ACTIONS
from partkd.data.formats.penn_action import ACTIONS as PENN_ACTIONS
from partkd.data.loaders import FORMATS, cache_dir, detect_format, load_dataset
from partkd.errors import ConfigError, DataError, LayoutError
from partkd.layouts import get_layout

HAS_SYNTHETIC = importlib.util.find_spec("partkd.data.synthetic") is not None
needs_synthetic = pytest.mark.skipif(not HAS_SYNTHETIC, reason="partkd.data.synthetic is not written yet")


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test caches into its own folder, never into ~/.cache."""
    d = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("PARTKD_CACHE", str(d))
    return d


def need(root: Path, sub: str) -> Path:
    """A sub-folder of the shared data, or skip."""
    p = root / sub
    if not p.exists():
        pytest.skip(f"{p} is absent")
    return p


# ---------------------------------------------------------------- writers of the real on-disk formats

def write_penn(path: Path, action: str = "bowl", frames: int = 5, train: int = 1, seed: int = 0) -> dict:
    """A Penn Action .mat file; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.uniform(0, 640, (frames, 13)), "y": rng.uniform(0, 480, (frames, 13)),
              "visibility": (rng.random((frames, 13)) > 0.3).astype(np.uint8)}
    scipy.io.savemat(path, {"action": np.array([action]), "pose": np.array(["front"]), "train": np.array([[train]]),
                            "nframes": np.array([[frames % 256]], dtype=np.uint8), **arrays})
    return arrays


def write_ucla(path: Path, label: int, frames: int = 4, joints: int = 20, seed: int = 0,
               skeletons: object = None) -> np.ndarray:
    """An NW-UCLA JSON clip; returns the (T, V, 3) array written."""
    skel = np.random.default_rng(seed).normal(size=(frames, joints, 3)).round(4)
    doc = {"file_name": path.stem, "label": label, "skeletons": skel.tolist() if skeletons is None else skeletons}
    path.write_text(json.dumps(doc))
    return skel


def write_ntu(path: Path, bodies: dict[str, np.ndarray], frames: int) -> None:
    """An NTU .skeleton file; bodies maps a body id to (T, 25, 12) values, all-zero frames meaning absent."""
    lines = [str(frames)]
    for t in range(frames):
        present = [(bid, arr[t]) for bid, arr in bodies.items() if arr[t].any()]
        lines.append(str(len(present)))
        for bid, joints in present:
            lines.append(f"{bid} 0 0 0 0 0 0 0.1 0.2 2")
            lines.append("25")
            lines.extend(" ".join(f"{v:.6g}" for v in row) for row in joints)
    path.write_text("\n".join(lines) + "\n")


def ntu_body(frames: int, scale: float, seed: int, absent: tuple[int, ...] = ()) -> np.ndarray:
    """(T, 25, 12) body values with motion of size `scale`; tracking state 2, some joints 1 or 0."""
    rng = np.random.default_rng(seed)
    b = np.zeros((frames, 25, 12))
    b[..., :3] = rng.normal(size=(1, 25, 3)) + scale * rng.normal(size=(frames, 25, 3))
    b[..., 3:5] = rng.uniform(0, 512, (frames, 25, 2))
    b[..., 5:7] = rng.uniform(1, 1920, (frames, 25, 2)).round(3)
    b[..., 7:11] = rng.normal(size=(frames, 25, 4))
    b[..., 11] = 2
    b[:, 3, 11] = 1
    b[:, 7, 11] = 0
    b[list(absent)] = 0
    return b


# ---------------------------------------------------------------- real data

def test_penn_action_real(shared_data: Path) -> None:
    root = need(shared_data, "penn_action/labels")
    ds = load_dataset(root.parent)
    assert len(ds) == 2326 and ds.num_classes == 15 and ds.class_names == sorted(ds.class_names)
    assert {s: int((ds.split == s).sum()) for s in ("train", "test")} == {"train": 1258, "test": 1068}
    assert ds.layout.name == "penn13" and ds.meta["format"] == "penn_action"
    assert all(c.dtype == np.float32 and c.shape[0] == 1 and c.shape[2:] == (13, 3) for c in ds.clips)
    mat = scipy.io.loadmat(str(root / "0001.mat"))
    i = ds.names.index("0001")
    clip = ds.clips[i][0]
    vis = mat["visibility"] > 0
    assert clip.shape[0] == mat["x"].shape[0]
    np.testing.assert_allclose(clip[..., 0][vis], mat["x"][vis], rtol=1e-6)
    np.testing.assert_array_equal(clip[..., 2], vis.astype(np.float32))
    assert not clip[~vis].any()
    assert ds.class_names[ds.labels[i]] == str(mat["action"][0])
    frames = [c.shape[1] for c in ds.clips]
    assert (min(frames), max(frames)) == (18, 663)


def test_nw_ucla_real(shared_data: Path) -> None:
    root = need(shared_data, "nw_ucla/all_sqe")
    ds = load_dataset(root.parent)
    assert len(ds) == 1484 and ds.class_names == list(UCLA_ACTIONS)
    assert {s: int((ds.split == s).sum()) for s in ("train", "test")} == {"train": 1020, "test": 464}
    assert ds.layout.name == "kinect_v1_20" and ds.layout.dims == 3
    test_views = {n[-3:] for n, s in zip(ds.names, ds.split) if s == "test"}
    assert test_views == {"v03"}
    i = ds.names.index("a01_s01_e00_v01")
    doc = json.loads((root / "a01_s01_e00_v01.json").read_text())
    np.testing.assert_allclose(ds.clips[i][0], np.asarray(doc["skeletons"]), rtol=1e-6)
    assert ds.class_names[ds.labels[i]] == "pick up with one hand"
    a12 = [ds.class_names[lab] for n, lab in zip(ds.names, ds.labels) if n.startswith("a12_")]
    assert set(a12) == {"carry"}


def test_kinetics_samples_real(shared_data: Path) -> None:
    root = need(shared_data, "kinetics_skeleton/samples")
    ds = load_dataset(root)
    assert len(ds) == 7 and ds.layout.name == "openpose18"
    for name, label, clip in zip(ds.names, ds.labels, ds.clips):
        doc = json.loads((root / f"{name}.json").read_text())
        assert label == doc["label_index"] and ds.class_names[label] == doc["label"]
        assert clip.shape[0] <= 2 and clip.shape[2:] == (18, 3)
        assert clip.shape[1] == max(f["frame_index"] for f in doc["data"])
        assert clip.min() >= 0 and clip[..., :2].max() <= 1.1  # normalised; OpenPose can overshoot a little
        # the first slot of every frame holds that frame's best-scored person
        t = doc["data"][len(doc["data"]) // 2]
        if t["skeleton"]:
            best = max(t["skeleton"], key=lambda s: sum(s["score"]))
            np.testing.assert_allclose(clip[0, t["frame_index"] - 1, :, 2], best["score"], rtol=1e-5)


def test_detect_format_real(shared_data: Path) -> None:
    penn, ucla = need(shared_data, "penn_action/labels"), need(shared_data, "nw_ucla/all_sqe")
    kin = need(shared_data, "kinetics_skeleton/samples")
    assert [detect_format(p) for p in (penn, penn.parent, ucla, ucla.parent, kin)] == \
        ["penn_action", "penn_action", "nw_ucla", "nw_ucla", "kinetics"]
    assert detect_format(next(kin.glob("*.json"))) == "kinetics"


def test_penn_second_load_comes_from_the_cache(shared_data: Path, tmp_cache: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The second load reads one cache file and parses no .mat (the ≥10× speed-up is measured in
    benchmarks/speed_misc.py, not timed here)."""
    import partkd.data.formats.penn_action as penn

    root = need(shared_data, "penn_action/labels")
    first = load_dataset(root)
    assert len(list(tmp_cache.glob("penn_action-*.npz"))) == 1

    def no_parse(path: Path) -> dict:
        raise AssertionError(f"{path} parsed again despite the cache")

    monkeypatch.setattr(penn, "read_mat", no_parse)
    second = load_dataset(root)
    assert second.names == first.names and np.array_equal(second.labels, first.labels)
    assert all(np.array_equal(a, b) for a, b in zip(first.clips, second.clips))
    assert second.meta["source"] == first.meta["source"] and Path(first.meta["source"]) == root.resolve()


# ---------------------------------------------------------------- round trips on written files

def test_penn_folder_written(tmp_path: Path) -> None:
    a = write_penn(tmp_path / "0001.mat", "squat", frames=300, train=1)
    write_penn(tmp_path / "0002.mat", "bowl", frames=7, train=-1, seed=1)
    ds = load_dataset(tmp_path)
    assert ds.names == ["0001", "0002"] and list(ds.split) == ["train", "test"]
    assert [ds.class_names[lab] for lab in ds.labels] == ["squat", "bowl"] and ds.class_names == list(PENN_ACTIONS)
    assert ds.clips[0].shape == (1, 300, 13, 3)  # nframes overflowed to 44 in the file
    vis = a["visibility"] > 0
    np.testing.assert_allclose(ds.clips[0][0, ..., 1][vis], a["y"][vis], rtol=1e-6)


def test_ntu_skeleton_round_trip(tmp_path: Path) -> None:
    frames = 6
    active = ntu_body(frames, 1.0, 0, absent=(0,))
    still = ntu_body(frames, 0.01, 1)
    middle = ntu_body(frames, 0.3, 2)
    write_ntu(tmp_path / "S001C002P001R001A010.skeleton", {"111": still, "222": active, "333": middle}, frames)
    write_ntu(tmp_path / "S002C001P003R002A050.skeleton", {"444": ntu_body(frames, 0.5, 3)}, frames)
    ds = load_dataset(tmp_path, format="ntu")
    assert ds.layout.name == "ntu25" and ds.num_classes == 60 and ds.class_names == list(NTU_ACTIONS[:60])
    assert list(ds.labels) == [9, 49] and list(ds.split) == ["train", "test"]  # P001 trains, P003 tests
    clip = ds.clips[0]
    assert clip.shape == (2, frames, 25, 3)
    np.testing.assert_allclose(clip[0, 1:], active[1:, :, :3], rtol=1e-5)
    assert not clip[0, 0].any()  # the most active body is absent from frame 0
    np.testing.assert_allclose(clip[1], middle[..., :3], rtol=1e-5)  # the still body is dropped
    assert ds.clips[1].shape == (1, frames, 25, 3)

    two = load_dataset(tmp_path, format="ntu", coords="2d", benchmark="xview")
    assert two.layout.dims == 2 and two.layout.num_joints == 25 and list(two.split) == ["train", "test"]
    c2 = two.clips[0][1]
    np.testing.assert_allclose(c2[:, 0, :2], middle[:, 0, 5:7], rtol=1e-5)
    assert (c2[:, 0, 2] == 1).all() and (c2[:, 3, 2] == 0.5).all()
    assert not c2[:, 7].any()  # tracking state 0: missing joint, all zero


def test_ntu120_names_and_bad_options(tmp_path: Path) -> None:
    write_ntu(tmp_path / "S020C001P051R001A117.skeleton", {"1": ntu_body(3, 0.2, 0)}, 3)
    ds = load_dataset(tmp_path)
    assert ds.num_classes == 120 and ds.class_names[ds.labels[0]] == "whisper in other person's ear"
    assert (NTU_ACTIONS[59], NTU_ACTIONS[60], NTU_ACTIONS[119]) == (
        "walking apart from each other", "put on headphone", "finger-guessing game (playing rock-paper-scissors)")
    assert ds.split[0] == "test"  # P051 is not a training subject
    assert load_dataset(tmp_path, benchmark="xset").split[0] == "train"  # setup 20 is even
    with pytest.raises(ConfigError, match="coords"):
        load_dataset(tmp_path, coords="4d")
    with pytest.raises(ConfigError, match="no option colour"):
        load_dataset(tmp_path, colour=True)


def pyskl_doc(v: int = 17, c: int = 2) -> dict:
    rng = np.random.default_rng(0)
    anns = []
    for i, (name, frames) in enumerate([("S001C001P001R001A001", 5), ("S001C001P002R001A002", 3),
                                        ("S001C001P003R001A003", 4)]):
        ann = {"frame_dir": name, "label": i, "total_frames": frames, "img_shape": (1080, 1920),
               "keypoint": rng.uniform(1, 100, (2, frames, v, c)).astype(np.float32)}
        if c == 2:
            ann["keypoint_score"] = rng.uniform(0.1, 1, (2, frames, v)).astype(np.float16)
        anns.append(ann)
    return {"split": {"xsub_train": [anns[0]["frame_dir"], anns[1]["frame_dir"]],
                      "xsub_val": [anns[2]["frame_dir"]], "xview_train": [anns[2]["frame_dir"]],
                      "xview_val": [anns[0]["frame_dir"]]},
            "annotations": anns}


@pytest.mark.parametrize("protocol", [2, 5])
def test_pyskl_round_trip_2d(tmp_path: Path, protocol: int) -> None:
    doc = pyskl_doc()
    path = tmp_path / "ntu60_hrnet.pkl"
    path.write_bytes(pickle.dumps(doc, protocol=protocol))
    ds = load_dataset(path)
    assert ds.meta["format"] == "pyskl" and ds.layout.name == "coco17"
    assert list(ds.split) == ["train", "train", "test"] and list(ds.labels) == [0, 1, 2]
    assert ds.class_names == list(NTU_ACTIONS[:60])  # frame_dirs are NTU names
    ann = doc["annotations"][1]
    np.testing.assert_allclose(ds.clips[1][..., :2], ann["keypoint"])
    np.testing.assert_allclose(ds.clips[1][..., 2], ann["keypoint_score"].astype(np.float32))
    xview = load_dataset(path, split_train="xview_train", split_test="xview_val")
    assert list(xview.split) == ["test", "other", "train"]


def test_pyskl_3d_and_split_names(tmp_path: Path) -> None:
    doc = pyskl_doc(v=25, c=3)
    doc["split"] = {"train": [a["frame_dir"] for a in doc["annotations"][:2]], "test": ["S001C001P003R001A003"]}
    for a in doc["annotations"]:
        a["frame_dir"] = a["frame_dir"].lower()
    doc["split"] = {k: [n.lower() for n in v] for k, v in doc["split"].items()}
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(doc))
    ds = load_dataset(path)
    assert ds.layout.name == "ntu25" and ds.class_names == ["class_000", "class_001", "class_002"]
    assert list(ds.split) == ["train", "train", "test"]
    np.testing.assert_allclose(ds.clips[2], doc["annotations"][2]["keypoint"])
    with pytest.raises(DataError, match="split_train 'xsub_train' is not a split"):
        load_dataset(path, split_train="xsub_train", split_test="test")
    with pytest.raises(LayoutError, match="3D but the data are 2D"):
        path2 = tmp_path / "y.pkl"
        path2.write_bytes(pickle.dumps(pyskl_doc()))
        load_dataset(path2, layout="ntu25")


def test_npz_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    kp = rng.normal(size=(3, 2, 8, 20, 3)).astype(np.float32)
    custom = get_layout("kinect_v1_20").to_dict() | {"name": "my_kinect"}
    path = tmp_path / "mine.npz"
    np.savez(path, keypoint=kp, label=np.array([1, 0, 1]), split=np.array(["train", "test", "train"]),
             class_names=np.array(["wave", "jump"]), layout=np.array(json.dumps(custom)),
             pair_id=np.array([7, -1, 9]), length=np.array([8, 5, 2]), name=np.array(["a", "b", "c"]))
    ds = load_dataset(path)
    assert ds.layout.name == "my_kinect" and ds.class_names == ["wave", "jump"] and ds.names == ["a", "b", "c"]
    assert [c.shape[1] for c in ds.clips] == [8, 5, 2] and list(ds.pair_ids) == [7, -1, 9]
    np.testing.assert_array_equal(ds.clips[1], kp[1, :, :5])
    out = tmp_path / "again.npz"
    save_generic_npz(ds, out)
    back = load_dataset(out)
    assert back.names == ds.names and list(back.pair_ids) == [7, -1, 9] and back.layout == ds.layout
    assert all(np.array_equal(a, b) for a, b in zip(ds.clips, back.clips))
    assert list(back.split) == list(ds.split) and np.array_equal(back.labels, ds.labels)


def test_npz_2d_with_scores_and_builtin_layout(tmp_path: Path) -> None:
    kp = np.random.default_rng(1).uniform(1, 5, (2, 1, 4, 17, 2)).astype(np.float32)
    score = np.ones((2, 1, 4, 17), np.float32)
    score[0, 0, :, 3] = 0
    path = tmp_path / "pose.npz"
    np.savez(path, keypoint=kp, keypoint_score=score, label=np.array([0, 0]))
    ds = load_dataset(path, format="npz", layout="coco17")
    assert ds.layout.name == "coco17" and ds.class_names == ["class_000"] and list(ds.split) == ["train"] * 2
    assert not ds.clips[0][0, :, 3].any()  # confidence 0 -> the joint is all zero
    np.testing.assert_allclose(ds.clips[1][0, :, :, :2], kp[1, 0])


@needs_synthetic
def test_synthetic_format() -> None:
    high = load_dataset("synthetic", num_classes=2, clips_per_class=2, frames=16, seed=1)
    low = load_dataset("synthetic:low", num_classes=2, clips_per_class=2, frames=16, seed=1)
    assert high.meta["format"] == "synthetic" and high.layout.name == "ntu25" and low.layout.name == "coco17"
    assert len(high) == 4 and (PairedDataset(high, low).high_index_of_low() >= 0).all()
    with pytest.raises(DataError, match="synthetic quality 'medium'"):
        load_dataset("synthetic:medium")


# ---------------------------------------------------------------- cache

def test_cache_invalidated_by_edits(tmp_path: Path, tmp_cache: Path) -> None:
    folder = tmp_path / "all_sqe"
    folder.mkdir()
    write_ucla(folder / "a01_s01_e00_v01.json", 1, frames=4)
    write_ucla(folder / "a02_s01_e00_v03.json", 2, frames=3)
    assert [c.shape[1] for c in load_dataset(tmp_path).clips] == [4, 3]
    assert len(list(tmp_cache.iterdir())) == 1
    write_ucla(folder / "a02_s01_e00_v03.json", 2, frames=9)
    assert [c.shape[1] for c in load_dataset(tmp_path).clips] == [4, 9]
    write_ucla(folder / "a03_s02_e01_v02.json", 3, frames=2)
    ds = load_dataset(tmp_path)
    assert len(ds) == 3 and list(ds.split) == ["train", "test", "train"]
    entries = sorted(tmp_cache.iterdir())
    assert len(entries) == 3
    for f in entries:
        f.write_bytes(b"garbage")
    assert len(load_dataset(tmp_path)) == 3  # an unreadable cache entry is rebuilt
    readable = []
    for f in entries:
        try:
            readable.append(SkeletonDataset.load_npz(f))
        except DataError:
            pass
    assert len(readable) == 1 and readable[0].names == ds.names
    assert cache_dir() == tmp_cache


# ---------------------------------------------------------------- bad input

class Evil:
    """Pickles to a call of os.system that would create a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


class EvalEvil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return eval, (f"open({str(self.marker)!r}, 'w')",)


@pytest.mark.parametrize("payload", [Evil, EvalEvil])
def test_malicious_pickle_runs_nothing(tmp_path: Path, payload: type) -> None:
    marker = tmp_path / "pwned"
    doc = pyskl_doc()
    doc["annotations"][0]["extra"] = payload(marker)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(doc))
    with pytest.raises(DataError, match="refused unsafe pickle global") as err:
        load_dataset(path)
    assert str(path) in str(err.value) and ("system" in str(err.value) or "eval" in str(err.value))
    assert not marker.exists()


def test_pickle_of_other_objects_and_codecs_refused(tmp_path: Path) -> None:
    from collections import OrderedDict

    path = tmp_path / "od.pkl"
    path.write_bytes(pickle.dumps(OrderedDict(annotations=[])))
    with pytest.raises(DataError, match="collections.OrderedDict"):
        load_dataset(path)
    # protocol-2 bytes go through _codecs.encode, which is admitted only for latin-1
    sneaky = pickle.dumps(b"x", protocol=2).replace(b"latin1", b"rot_13")
    path.write_bytes(sneaky)
    with pytest.raises(DataError, match="rot_13"):
        load_dataset(path, format="pyskl")


def test_corrupt_and_truncated_files(tmp_path: Path) -> None:
    pk = tmp_path / "cut.pkl"
    pk.write_bytes(pickle.dumps(pyskl_doc())[:300])
    with pytest.raises(DataError, match="corrupt or unreadable pickle"):
        load_dataset(pk)
    nz = tmp_path / "bad.npz"
    nz.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataError, match="bad.npz: not a readable .npz"):
        load_dataset(nz)
    obj = tmp_path / "obj.npz"
    np.savez(obj, keypoint=np.array([{"a": 1}], dtype=object), label=np.array([0]))
    with pytest.raises(DataError, match="obj.npz"):
        load_dataset(obj)
    ntu = tmp_path / "ntu"
    ntu.mkdir()
    write_ntu(ntu / "S001C001P001R001A001.skeleton", {"1": ntu_body(4, 0.1, 0)}, 4)
    text = (ntu / "S001C001P001R001A001.skeleton").read_text()
    (ntu / "S001C001P001R001A001.skeleton").write_text(text[: len(text) // 2])
    with pytest.raises(DataError, match=r"A001\.skeleton: truncated or malformed"):
        load_dataset(ntu)


def test_bad_files_fail_together_or_are_skipped(tmp_path: Path) -> None:
    for i in range(3):
        write_penn(tmp_path / f"{i:04d}.mat", seed=i)
    for i in range(3, 8):
        (tmp_path / f"{i:04d}.mat").write_bytes(b"MATLAB 5.0 truncated")
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path)
    msg = str(err.value)
    assert "5 of 8 files are bad" in msg and "0003.mat" in msg and "and 2 more" in msg and "\n" not in msg
    assert "0007.mat" not in msg
    with pytest.warns(UserWarning, match="skipped 5 of 8 bad files"):
        ds = load_dataset(tmp_path, skip_bad=True)
    assert ds.names == ["0000", "0001", "0002"] and len(ds.meta["skipped"]) == 5
    with pytest.warns(UserWarning, match=r"skipped 5 bad items \(cached\)"):
        assert len(load_dataset(tmp_path, skip_bad=True)) == 3
    with pytest.raises(DataError, match="5 of 8"):
        load_dataset(tmp_path)  # the skip_bad cache entry never serves a strict load


@pytest.mark.parametrize("case, problem", [
    ("nan", "NaN or infinite"),
    ("joints", "19 joints but layout 'kinect_v1_20' has 20"),
    ("empty", "empty clip"),
    ("zero_frames", "empty clip"),
    ("label", "label 11 is not in 1..10"),
    ("mismatch", "the file name says a01"),
    ("name", "does not follow aAA_sSS_eEE_vVV"),
])
def test_bad_ucla_clip(tmp_path: Path, case: str, problem: str) -> None:
    name = "clip.json" if case == "name" else "a01_s01_e00_v01.json"
    write_ucla(tmp_path / "a02_s01_e00_v01.json", 2)
    bad = tmp_path / name
    if case == "nan":
        skel = np.zeros((3, 20, 3))
        skel[1, 4, 0] = np.nan
        write_ucla(bad, 1, skeletons=skel.tolist())
    elif case == "joints":
        write_ucla(bad, 1, joints=19)
    elif case == "empty":
        write_ucla(bad, 1, skeletons=[])
    elif case == "zero_frames":
        write_ucla(bad, 1, skeletons=[[] for _ in range(3)])
    else:
        write_ucla(bad, {"label": 11, "mismatch": 2}.get(case, 1))
    with pytest.raises(DataError, match="1 of 2 files are bad") as err:
        load_dataset(tmp_path, format="nw_ucla")
    assert f"{bad}: " in str(err.value) and problem in str(err.value)


def test_bad_clips_inside_one_file(tmp_path: Path) -> None:
    doc = pyskl_doc()
    doc["annotations"][1]["keypoint"][0, 0, 0, 0] = np.inf
    doc["annotations"][2]["keypoint"] = doc["annotations"][2]["keypoint"][:, :0]
    doc["annotations"][2]["keypoint_score"] = doc["annotations"][2]["keypoint_score"][:, :0]
    path = tmp_path / "two_bad.pkl"
    path.write_bytes(pickle.dumps(doc))
    with pytest.raises(DataError, match="2 of 3 annotations are bad") as err:
        load_dataset(path)
    assert f"{path}:S001C001P002R001A002: NaN or infinite" in str(err.value)
    assert "S001C001P003R001A003: empty clip" in str(err.value)
    with pytest.warns(UserWarning):
        assert load_dataset(path, skip_bad=True).names == ["S001C001P001R001A001"]
    kin = tmp_path / "kin.json"
    kin.write_text(json.dumps({"data": [{"frame_index": 1, "skeleton": []}], "label": "x", "label_index": 0}))
    with pytest.raises(DataError, match="no person in any frame"):
        load_dataset(kin)
    ntu = tmp_path / "S001C001P001R001A001.skeleton"
    ntu.write_text("0\n")
    with pytest.raises(DataError, match="empty clip"):
        load_dataset(ntu)


def test_wrong_layout_and_unknown_names(tmp_path: Path) -> None:
    write_penn(tmp_path / "0001.mat")
    with pytest.raises(DataError, match="13 joints but layout 'coco17' has 17"):
        load_dataset(tmp_path, layout="coco17")
    with pytest.raises(LayoutError, match="unknown layout 'stick_man'"):
        load_dataset(tmp_path, layout="stick_man")
    with pytest.raises(DataError, match="unknown format 'bvh'"):
        load_dataset(tmp_path, format="bvh")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="cannot detect the format"):
        detect_format(tmp_path / "notes.txt")
    assert set(FORMATS) == {"penn_action", "nw_ucla", "h36m", "ntu", "pyskl", "kinetics", "npz", "synthetic"}


def test_documented_layout_file_works(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "data_formats.md").read_text()
    toml_text = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "stick7.toml").write_text(toml_text)
    kp = np.random.default_rng(0).uniform(1, 2, (2, 1, 5, 7, 3)).astype(np.float32)
    np.savez(tmp_path / "stick.npz", keypoint=kp, label=np.array([0, 1]))
    ds = load_dataset(tmp_path / "stick.npz", layout=tmp_path / "stick7.toml")
    assert ds.layout.name == "stick7" and ds.layout.num_joints == 7 and ds.layout.center == 0
    assert list(ds.layout.part_joints("head")) == [0, 6]
    np.testing.assert_array_equal(ds.clips[1], kp[1])
