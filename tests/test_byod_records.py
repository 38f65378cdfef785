"""Bring-your-own-data runs: what a run records and prints, and how the simulation builds joints."""
import json
from pathlib import Path

import numpy as np
import pytest

from partkd.cli import main
from partkd.data.joint_map import joint_report
from partkd.engine.config import SYNTHETIC_ONLY, DataSpec, spec_dict
from partkd.layouts import get_layout


def write_npz(path: Path, n: int = 12) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, keypoint=rng.normal(size=(n, 1, 16, 17, 2)).astype(np.float32) + 5, label=np.arange(n) % 2,
             split=np.array(["train", "train", "test"] * (n // 3)), layout=np.array("coco17"))
    return path


def test_a_file_source_records_no_synthetic_only_fields(tmp_path):
    assert set(SYNTHETIC_ONLY) == {"num_classes", "synth_motion", "clips_per_class", "synth_frames"}
    on_disk = spec_dict(DataSpec(source=str(tmp_path / "hq.npz")))
    assert not set(SYNTHETIC_ONLY) & set(on_disk) and on_disk["source"].endswith("hq.npz")
    assert set(SYNTHETIC_ONLY) <= set(spec_dict(DataSpec()))           # the generator keeps its own


def test_students_store_the_teacher_path_absolute_and_runs_print_size_and_eta(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path / "cache"))
    data = write_npz(tmp_path / "hq.npz")
    monkeypatch.chdir(tmp_path)
    assert main(["train-teacher", "--data", "hq.npz", "--preset", "smoke", "--epochs", "1", "--batch-size", "2",
                 "--out", "t"]) == 0
    err = capsys.readouterr().err
    assert "teacher: 8 training clips, 4 steps of 2 clips per epoch, 1 epoch(s) to run" in err
    assert "s per step measured over 3 steps: about" in err                  # a 4-step epoch: steps 2-4 timed
    assert main(["train-student", "--data", "hq.npz", "--teacher", "t", "--kd", "pmsc", "--preset", "smoke",
                 "--epochs", "1", "--batch-size", "2", "--low-layout", "same", "--out", "s"]) == 0
    meta = json.loads((tmp_path / "s" / "model.json").read_text())
    assert meta["kd"]["teacher"] == str((tmp_path / "t" / "model.safetensors").resolve())
    assert meta["data"]["source"] == str(data.resolve()) and not set(SYNTHETIC_ONLY) & set(meta["data"])


def test_the_simulation_reports_mapped_mixed_and_placed_joints(capsys, tmp_path, monkeypatch):
    report = joint_report(get_layout("penn13"), get_layout("openpose18"))
    assert report["mixed"] == {"neck": "0.5 left_shoulder + 0.5 right_shoulder"}
    assert set(report["placed"]) == {"nose", "left_eye", "right_eye", "left_ear", "right_ear"}
    assert len(report["mapped"]) == 12 and report["mapped"]["left_knee"] == "left_knee"
    from partkd.data.estimator import simulate_estimator
    from partkd.data.synthetic import synth_high

    high = synth_high(2, 2, 8, 0)
    sim = simulate_estimator(high, "coco17", "medium", seed=0)
    assert sim.meta["estimator"]["joints"] == joint_report(high.layout, get_layout("coco17"))
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path))
    assert main(["data", "inspect", "synthetic", "--simulate", "openpose18"]) == 0
    out = capsys.readouterr().out
    assert "simulate: ntu25 -> openpose18" in out and "  placed (5): nose" in out


@pytest.mark.parametrize("layout", ["mpii16"])
def test_a_target_the_source_cannot_make_is_one_line(layout, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path))
    assert main(["data", "inspect", "synthetic", "--simulate", layout]) == 2
    assert "cannot map 'ntu25' to 'mpii16'" in capsys.readouterr().err
