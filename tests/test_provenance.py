"""partkd.provenance: the one caption line under every figure and table (data, checkpoints with their weights
sha256, the code version, the occlusion protocol), never a machine path or a timing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from partkd.checkpoints import code_version
from partkd.engine.config import DataSpec
from partkd.provenance import NO_CHECKPOINT, OcclusionProtocol, caption, data_label, data_name

ROOT = Path(__file__).resolve().parents[1]
TEACHER = ROOT / "checkpoints" / "teacher.json"
needs_checkpoints = pytest.mark.skipif(not TEACHER.exists(), reason="shipped checkpoints not built yet")


def penn(tmp_path: Path) -> DataSpec:
    """A DataSpec naming a dataset folder by its absolute path, with a low-quality file and a layout file."""
    return DataSpec(source=str(tmp_path / "datasets" / "penn_action"), format="penn_action",
                    low=str(tmp_path / "low" / "mine_low.npz"), low_layout=str(tmp_path / "layouts" / "l.json"))


@needs_checkpoints
def test_a_caption_names_data_checkpoints_code_and_protocol_without_paths_or_timings(tmp_path):
    meta = json.loads(TEACHER.read_text())
    spec = penn(tmp_path)
    text = caption([str(TEACHER)], spec, OcclusionProtocol(0.3, "joint", 2))
    assert text.startswith("data: penn_action (penn_action); low quality: mine_low.npz (l.json)")
    assert (f"checkpoints trained with partkd {meta['code_version']}: teacher (teacher, sha256 "
            f"{meta['weights_sha256'][:12]})") in text
    assert f"code: partkd {code_version()} (this app)" in text
    assert text.endswith("occlusion: OP 0.3, joint mode, seed 2 for the whole set")
    assert str(tmp_path) not in text and "/" not in text and " s " not in text


@needs_checkpoints
def test_a_loaded_checkpoint_a_path_and_path_with_metadata_give_the_same_line():
    from partkd.checkpoints import load_checkpoint

    spec = DataSpec()
    student = ROOT / "checkpoints" / "student_pmsc.json"
    by_path = caption([str(TEACHER), student], spec)
    assert caption([load_checkpoint(TEACHER), load_checkpoint(student)], spec) == by_path
    assert caption([(TEACHER, json.loads(TEACHER.read_text())), (student, json.loads(student.read_text()))],
                   spec) == by_path
    assert "; student_pmsc (student with KD (pmsc), sha256 " in by_path


def test_checkpoints_trained_with_different_code_name_each_version():
    spec = DataSpec()
    old = {"role": "teacher", "weights_sha256": "a" * 64, "code_version": "0.0.9+old"}
    new = {"role": "student", "kd": {"method": "none"}, "weights_sha256": "b" * 64, "code_version": "0.1.0+new"}
    text = caption([("runs/t/model.json", old), ("jobs/20261207-1/run/model.json", new)], spec)
    assert ("checkpoints: t (teacher, sha256 aaaaaaaaaaaa, trained with partkd 0.0.9+old); 20261207-1 (student "
            "without KD, sha256 bbbbbbbbbbbb, trained with partkd 0.1.0+new)") in text


def test_grid_part_mode_and_per_clip_protocols_read_as_such():
    grid = OcclusionProtocol((0.0, 0.3, 0.6), "part", 0, ("left_arm", "right_leg"))
    assert grid.describe() == "occlusion: OP 0, 0.3, 0.6, part mode (left arm, right leg), seed 0 for the whole set"
    assert OcclusionProtocol(0.45, seed=3, per_clip=True).describe().endswith("per-clip seeds from 3")


def test_no_checkpoint_and_an_unreadable_one_are_said(tmp_path):
    spec = DataSpec()
    assert f"checkpoints: {NO_CHECKPOINT}" in caption([], spec)
    assert "sha256 unknown: metadata unreadable" in caption([str(tmp_path / "gone.safetensors")], spec)
    assert data_label(spec) == spec.describe() and data_name(spec) == "synthetic"


def test_data_name_is_the_folder_name(tmp_path):
    assert data_name(penn(tmp_path)) == "penn_action"
