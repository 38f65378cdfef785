"""Clips kept on disk and model inputs made per batch: the stored and per-batch paths give exactly what
the in-memory and whole-set paths give, and loading a pickle holds about one copy of it."""
from __future__ import annotations

import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from partkd.data.dataset import SkeletonDataset
from partkd.data.occlusion import occlude
from partkd.data.inputs import ModelInputs, OccludedInputs
from partkd.data.loaders import load_dataset
from partkd.data.store import StoredClips
from partkd.data.inputs import to_array
from partkd.engine.evaluate import occlude_set
from partkd.layouts import get_layout


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def dataset(n: int = 9, seed: int = 0) -> SkeletonDataset:
    """Random 3D ntu25 clips of 1-2 persons and 5-40 frames, some joints missing."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(n):
        c = rng.normal(size=(int(rng.integers(1, 3)), int(rng.integers(5, 41)), 25, 3)).astype(np.float32)
        c[rng.random(c.shape[:3]) < 0.1] = 0.0
        clips.append(c)
    return SkeletonDataset(clips, np.arange(n) % 3, ["a", "b", "c"], np.array(["train", "test"] * n)[:n],
                           get_layout("ntu25"), [f"c{i}" for i in range(n)])


def test_a_saved_dataset_reads_back_on_disk_clip_for_clip(tmp_path: Path) -> None:
    ds = dataset()
    ds.save_npz(tmp_path / "d.npz")
    back = SkeletonDataset.load_npz(tmp_path / "d.npz")
    assert isinstance(back.clips, StoredClips) and len(back) == len(ds)
    for a, b in zip(ds.clips, back.clips):
        assert a.shape == b.shape and np.array_equal(a, b) and b.flags.writeable
    sub = back.subset(np.array([7, 2, 2]))
    assert isinstance(sub.clips, StoredClips) and [sub.clips[i].shape for i in range(3)] == [
        ds.clips[7].shape, ds.clips[2].shape, ds.clips[2].shape]
    assert np.array_equal(sub.clips[0], ds.clips[7]) and sub.names == ["c7", "c2", "c2"]
    assert np.array_equal(back.clips[-1], ds.clips[-1]) and len(back.clips[1:4]) == 3
    again = pickle.loads(pickle.dumps(back))  # what a DataLoader worker or the app's cache receives: no clip data
    assert len(pickle.dumps(back)) < sum(c.nbytes for c in ds.clips) / 4
    assert np.array_equal(again.clips[5], ds.clips[5])
    assert back.summary() == ds.summary()
    back.save_npz(tmp_path / "e.npz")  # a stored set writes itself out again, clip by clip
    assert np.array_equal(SkeletonDataset.load_npz(tmp_path / "e.npz").clips[3], ds.clips[3])


def test_per_batch_inputs_equal_the_dense_array() -> None:
    ds = dataset(12)
    for mode in ("pad", "resample"):
        dense = to_array(ds, 24, 2, mode=mode)
        lazy = ModelInputs(ds, 24, 2, mode, True)
        assert lazy.shape == dense.shape and len(lazy) == 12
        idx = np.array([11, 0, 5, 5])
        assert np.array_equal(lazy[idx], dense[idx]) and np.array_equal(lazy[3], dense[3])
        assert np.array_equal(lazy[2:9:3], dense[2:9:3]) and np.array_equal(np.asarray(lazy), dense)
        assert np.array_equal(lazy[np.arange(12) % 2 == 0], dense[::2])


@pytest.mark.parametrize("mode,parts", [("joint", None), ("sequence", None), ("span", None), ("part", None), ("part", ["left_arm"])])
def test_per_batch_occlusion_draws_what_the_whole_set_draws(mode: str, parts: list[str] | None) -> None:
    ds = dataset(10)
    layout = ds.layout
    dense = to_array(ds, 16, 2)
    whole = occlude(dense, layout, 0.6, mode=mode, parts=parts, seed=7)
    lazy = occlude_set(ModelInputs(ds, 16, 2, "pad", True), layout, 0.6, mode, 7, parts)
    assert isinstance(lazy, OccludedInputs)
    idx = np.array([9, 3, 4, 0])
    assert np.array_equal(lazy[idx], whole[idx]) and np.array_equal(np.asarray(lazy), whole)
    assert not np.array_equal(lazy[idx], dense[idx])  # something was occluded


def test_a_pyskl_pickle_loads_holding_about_one_copy(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    anns = [{"frame_dir": f"S001C001P001R001A{1 + i % 3:03d}_{i}", "label": i % 3, "total_frames": t,
             "keypoint": rng.normal(size=(2, t, 25, 3)).astype(np.float32)}
            for i, t in enumerate(rng.integers(50, 300, 120))]
    path = tmp_path / "ntu.pkl"
    path.write_bytes(pickle.dumps({"split": {"xsub_train": [a["frame_dir"] for a in anns[:80]],
                                             "xsub_val": [a["frame_dir"] for a in anns[80:]]},
                                   "annotations": anns}, protocol=4))
    expected = [a["keypoint"].copy() for a in anns]
    del anns
    size = path.stat().st_size
    tracemalloc.start()
    ds = load_dataset(path)
    _, peak = tracemalloc.get_traced_memory()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1.5 * size, (peak / size)
    assert held < 0.1 * size, (held / size)  # what stays after loading: the index, not the clips
    assert isinstance(ds.clips, StoredClips) and len(ds) == 120
    assert all(np.array_equal(ds.clips[i], expected[i]) for i in (0, 57, 119))
    fresh = load_dataset(path, cache=False)
    assert fresh.names == ds.names and np.array_equal(fresh.split, ds.split)
    assert np.array_equal(fresh.clips[42], ds.clips[42])


def _weights(path: Path) -> list[np.ndarray]:
    from partkd.checkpoints import load_checkpoint

    return [t.numpy() for t in load_checkpoint(path).model.state_dict().values()]


def test_batches_made_by_a_dataloader_worker_train_the_same_weights(tmp_path: Path) -> None:
    from partkd.engine.config import DataSpec, StudentConfig, train_preset
    from partkd.engine.student import train_student
    from partkd.engine.teacher import train_teacher

    spec = DataSpec(num_classes=3, clips_per_class=8, synth_frames=16)
    runs = {}
    for workers in (0, 1):
        cfg = train_preset("smoke", epochs=2, batch_size=6, part_dropout=0.5, joint_dropout=0.1, workers=workers)
        teacher = train_teacher(cfg, spec, tmp_path / f"t{workers}")
        student = train_student(train_preset("smoke", epochs=2, batch_size=6, workers=workers),
                                StudentConfig(kd="pmsc", op=0.5), teacher, spec, tmp_path / f"s{workers}")
        runs[workers] = (_weights(teacher), _weights(student))
    for a, b in zip(runs[0], runs[1]):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_killed_run_takes_its_dataloader_worker_with_it(tmp_path: Path) -> None:
    """SIGKILL of a training process leaves no worker behind (an orphan would wait on its full pipe for ever)."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "partkd", "train-teacher", "--data", "synthetic", "--classes", "3",
           "--clips-per-class", "40", "--synth-frames", "24", "--preset", "smoke", "--epochs", "50",
           "--frames", "400", "--batch-size", "16",  # 1.9 MB batches: more than a pipe holds
           "--workers", "1", "--out", str(out), "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PARTKD_CACHE": str(tmp_path / "cache")})
    children: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not children:
        try:
            step = json.loads((out / "progress.json").read_text()).get("step", 0)
        except (OSError, ValueError):
            step = 0
        if step >= 2:
            children = [int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert children, "the run showed no worker process"
    time.sleep(2)
    alive = [c for c in children if Path(f"/proc/{c}").exists()
             and Path(f"/proc/{c}/stat").read_text().split(")")[-1].split()[0] != "Z"]
    assert not alive, alive
