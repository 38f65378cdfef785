"""Deployment: ONNX / TorchScript export parity, the sliding window's arithmetic, streaming prediction (API, CLI)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from partkd.checkpoints import load_checkpoint
from partkd.data.dataset import SkeletonDataset
from partkd.layouts import get_layout
from partkd.streaming import window_bounds

ROOT = Path(__file__).resolve().parents[1]
STUDENT = ROOT / "checkpoints" / "student_pmsc.safetensors"
needs_student = pytest.mark.skipif(not STUDENT.exists(), reason="shipped checkpoints not built")


def _logits(loaded, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return loaded.model.eval()(torch.from_numpy(x).permute(0, 4, 2, 3, 1))[0].numpy()


@needs_student
def test_onnx_export_matches_partkd_logits_at_any_frame_count(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    import onnx

    done = subprocess.run([sys.executable, "-m", "partkd", "export", str(STUDENT), "--format", "onnx", "--out",
                           str(tmp_path / "s.onnx")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(tmp_path / "s.onnx") and sorted(p.name for p in tmp_path.iterdir()) == ["s.onnx"]
    loaded = load_checkpoint(STUDENT)
    meta = json.loads({p.key: p.value for p in onnx.load(str(tmp_path / "s.onnx")).metadata_props}["partkd"])
    assert meta["class_names"] == loaded.class_names and meta["layout"]["name"] == "coco17"
    session = ort.InferenceSession(str(tmp_path / "s.onnx"))
    rng = np.random.default_rng(0)
    for batch, frames in ((3, 32), (1, 57), (5, 8)):
        x = rng.normal(size=(batch, 1, frames, 17, 3)).astype(np.float32)
        out = session.run(None, {"x": x})[0]
        ref = _logits(loaded, x)
        assert out.shape == ref.shape and np.abs(out - ref).max() <= 1e-4, (batch, frames, np.abs(out - ref).max())


@needs_student
def test_torchscript_export_matches_and_carries_the_metadata(tmp_path: Path) -> None:
    from partkd.export import export

    loaded = load_checkpoint(STUDENT)
    path = export(loaded, "torchscript", tmp_path / "s.pt")
    files = {"partkd.json": ""}
    module = torch.jit.load(str(path), _extra_files=files)
    assert json.loads(files["partkd.json"])["input"]["frames"] == loaded.meta["input"]["frames"]
    x = np.random.default_rng(1).normal(size=(2, 1, 45, 17, 3)).astype(np.float32)
    with torch.no_grad():
        assert np.abs(module(torch.from_numpy(x)).numpy() - _logits(loaded, x)).max() <= 1e-4


def test_window_bounds_by_hand() -> None:
    assert window_bounds(100, 10, 2.0, 1.0) == [(s, s + 20) for s in range(0, 81, 10)]      # 9 windows
    assert window_bounds(25, 10, 2.0, 1.0) == [(0, 20), (5, 25)]        # the tail gets a window ending at 25
    assert window_bounds(12, 10, 2.0, 1.0) == [(0, 12)]                 # shorter than a window: one window
    assert window_bounds(7, 30, 0.1, 0.05) == [(0, 3), (2, 5), (4, 7)]  # 3 frames every 2 (0.05 s -> 1.5 -> 2)
    from partkd.errors import ConfigError

    with pytest.raises(ConfigError, match="must be > 0"):
        window_bounds(10, 30, 0.0, 1.0)


def _long_clip(frames: int = 100) -> SkeletonDataset:
    rng = np.random.default_rng(0)
    clip = (rng.normal(size=(1, frames, 17, 3)) * 0.1 + [0.0, 1.0, 0.9]).astype(np.float32)
    return SkeletonDataset([clip], np.zeros(1, np.int64), ["any"], np.array(["test"]), get_layout("coco17"),
                           ["take1"], meta={"rate_hz": 10.0})


@needs_student
def test_predict_classifies_each_window_like_the_model_does() -> None:
    """partkd.predict over a 10 s sequence at 10 Hz, 2 s windows every second: 9 rows with times, and each window's
    top-1 probability equals the model's on that window prepared as evaluation prepares it."""
    import partkd
    from partkd.engine.data import model_inputs
    from partkd.engine.evaluate import predict_proba

    loaded = load_checkpoint(STUDENT)
    ds = _long_clip()
    rows = partkd.predict(loaded, ds, window_s=2.0, hop_s=1.0)
    assert [(r["start_s"], r["end_s"]) for r in rows] == [(float(s), float(s + 2)) for s in range(9)]
    windows = SkeletonDataset([ds.clips[0][:, a:b] for a, b in window_bounds(100, 10, 2, 1)], np.zeros(9, np.int64),
                              loaded.class_names, np.array(["test"] * 9), ds.layout, [str(i) for i in range(9)])
    proba = predict_proba(loaded, model_inputs(windows, loaded.meta))
    assert [r["label"] for r in rows] == [loaded.class_names[i] for i in proba.argmax(1)]
    assert np.allclose([r["probability"] for r in rows], proba.max(1), atol=1e-6)
    occluded = partkd.predict(loaded, ds, window_s=2.0, hop_s=1.0, op=0.5, seed=3)
    assert occluded != rows and len(occluded) == 9


@needs_student
def test_predict_cli_reads_a_file_and_writes_json_and_csv(tmp_path: Path) -> None:
    from partkd.data.formats.npz import save_generic_npz

    save_generic_npz(_long_clip(), tmp_path / "long.npz")
    done = subprocess.run([sys.executable, "-m", "partkd", "predict", str(STUDENT), str(tmp_path / "long.npz"),
                           "--fps", "10", "--window", "3", "--hop", "2", "--json", str(tmp_path / "w.json"),
                           "--csv", str(tmp_path / "w.csv")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    windows = json.loads((tmp_path / "w.json").read_text())["windows"]
    assert [(w["start_s"], w["end_s"]) for w in windows] == [(0.0, 3.0), (2.0, 5.0), (4.0, 7.0), (6.0, 9.0),
                                                             (7.0, 10.0)]
    assert (tmp_path / "w.csv").read_text().splitlines()[0] == "clip,window,start_s,end_s,frames,label,probability"
    assert len(done.stdout.strip().splitlines()) == 1 + len(windows)
    bad = subprocess.run([sys.executable, "-m", "partkd", "predict", str(STUDENT), str(tmp_path / "missing.npz")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "missing.npz" in bad.stderr


@needs_student
def test_predict_on_high_quality_data_reads_the_estimator_simulation_in_the_students_layout() -> None:
    import partkd
    from partkd.data.synthetic import synth_high

    high = synth_high(num_classes=2, clips_per_class=2, frames=60).subset([0, 1])
    assert high.layout.name == "ntu25"
    rows = partkd.predict(STUDENT, high, window_s=1.0, hop_s=1.0, fps=30)
    expected = [n for n, c in zip(high.names, high.clips) for _ in window_bounds(c.shape[1], 30, 1.0, 1.0)]
    assert [r["clip"] for r in rows] == expected and len(expected) >= 4
    assert all(r["label"] in load_checkpoint(STUDENT).class_names for r in rows)


@pytest.mark.parametrize("arch", ["agcn", "ctrgcn", "efficientgcn"])
def test_every_backbone_exports_to_onnx_with_the_same_logits(arch: str, tmp_path: Path) -> None:
    """Each registered backbone beyond the shipped ST-GCN (tiny widths, random weights) exports, and onnxruntime
    returns partkd's logits within 1e-4 at two frame counts."""
    ort = pytest.importorskip("onnxruntime")
    from dataclasses import replace

    from partkd.checkpoints import model_meta, save_checkpoint
    from partkd.export import export_onnx
    from partkd.models import build_model, resolve_config

    torch.manual_seed(0)
    cfg = replace(resolve_config(arch, "tiny"), channels=(8, 16, 16), strides=(1, 2, 1), persons=1)
    model = build_model(arch, "coco17", 5, cfg).eval()
    meta = {"role": "student", "layout": get_layout("coco17").to_dict(), "class_names": list("abcde"),
            "model": model_meta(model.config, 5), "input": {"frames": 16, "persons": 1, "mode": "resample"}}
    loaded = load_checkpoint(save_checkpoint(tmp_path / "m", model, meta))
    session = ort.InferenceSession(str(export_onnx(loaded, tmp_path / "m.onnx")))
    rng = np.random.default_rng(1)
    for batch, frames in ((2, 16), (1, 29)):
        x = rng.normal(size=(batch, 1, frames, 17, 3)).astype(np.float32)
        assert np.abs(session.run(None, {"x": x})[0] - _logits(loaded, x)).max() <= 1e-4, (arch, batch, frames)
