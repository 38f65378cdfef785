"""partkd.catalogue: which picker a checkpoint belongs to, its name, description and origin (no Streamlit)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from partkd.catalogue import (
    ROLES,
    CheckpointFolders,
    check_role,
    checkpoint_name,
    describe_checkpoint,
    fits,
    role_of,
    same_teacher,
    unique_rows,
    val_top1,
)
from partkd.data.dataset import SkeletonDataset
from partkd.errors import CheckpointError
from partkd.layouts import get_layout


def write_meta(path: Path, **meta: object) -> str:
    """A checkpoint's metadata file (what read_meta needs) at <path>.json; returns the weights path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    base = {"model": {"arch": "stgcn"}, "layout": {"name": "coco17"}, "class_names": ["a", "b"]}
    path.with_suffix(".json").write_text(json.dumps({**base, **meta}))
    return str(path.with_suffix(".safetensors"))


def row(path: str, role: str = "student", layout: str = "coco17", classes: tuple[str, ...] = ("a", "b")) -> dict:
    return {"path": path, "role": role, "name": Path(path).stem, "layout": layout, "classes": list(classes),
            "metrics": {}, "created": ""}


def test_val_top1_and_the_description_read_the_metadata(tmp_path):
    assert val_top1({"metrics": {"val_top1": 0.75}}) == 0.75
    assert val_top1({}) is None and val_top1({"metrics": None}) is None
    path = write_meta(tmp_path / "s", role="student", kd={"method": "pmsc"}, train={"preset": "cpu"},
                      metrics={"val_top1": 0.5}, created="2026-01-01")
    assert describe_checkpoint(path) == {"file": "s.safetensors", "folder": str(tmp_path), "role": "student",
                                         "layout": "coco17", "classes": 2, "kd": "pmsc", "preset": "cpu",
                                         "top1": 0.5, "created": "2026-01-01"}
    teacher = write_meta(tmp_path / "t", role="teacher", preset="smoke")
    assert describe_checkpoint(teacher)["kd"] == "" and describe_checkpoint(teacher)["preset"] == "smoke"


def test_checkpoint_names_a_run_model_by_its_run_folder():
    assert checkpoint_name("runs/x/teacher.safetensors") == "teacher"
    assert checkpoint_name("runs/mine/model.json") == "mine"
    assert checkpoint_name("jobs/20260101-abc/run/model.safetensors") == "20260101-abc"


def test_each_checkpoint_goes_to_one_picker_and_only_there(tmp_path):
    teacher = write_meta(tmp_path / "t", role="teacher")
    nokd = write_meta(tmp_path / "n", role="student", kd={"method": "none"})
    kd = write_meta(tmp_path / "k", role="student", kd={"method": "pmsc"})
    assert [role_of(row(p, r)) for p, r in ((teacher, "teacher"), (nokd, "student"), (kd, "student"))] == [
        "teacher", "nokd", "kd"]
    assert role_of(row(str(tmp_path / "gone.safetensors"))) == "kd"      # unreadable: offered as a KD student
    check_role(teacher, "teacher")
    check_role(kd, "kd")
    with pytest.raises(CheckpointError, match=re.escape(f"is a student checkpoint; the '{ROLES['teacher']}' picker")):
        check_role(nokd, "teacher")
    with pytest.raises(CheckpointError, match="needs a student"):
        check_role(teacher, "nokd")


def test_a_checkpoint_fits_data_of_its_layout_and_class_order():
    lay = get_layout("coco17")
    ds = SkeletonDataset([np.ones((1, 4, lay.num_joints, 3))] * 2, np.array([0, 1]), ["a", "b"],
                         np.array(["test", "test"]), lay, ["c0", "c1"])
    assert fits(row("x"), ds)
    assert not fits(row("x", classes=("b", "a")), ds) and not fits(row("x", layout="ntu25"), ds)


def test_rows_listed_under_two_folders_are_kept_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, again, other = row(str(tmp_path / "a.safetensors")), row("a.safetensors"), row("b.safetensors")
    assert unique_rows([first, again, other]) == [first, other]


def test_same_teacher_by_weights_where_recorded_else_by_file(tmp_path):
    teacher = write_meta(tmp_path / "t", role="teacher", weights_sha256="abc")
    assert same_teacher({"kd": {"teacher_sha256": "abc", "teacher": "/elsewhere/t"}}, teacher)
    assert not same_teacher({"kd": {"teacher_sha256": "def", "teacher": teacher}}, teacher)
    assert same_teacher({"kd": {"teacher": str(tmp_path / "t.json")}}, teacher)   # the same stem
    assert not same_teacher({"kd": {"teacher": str(tmp_path / "u.json")}}, teacher)
    assert not same_teacher({"kd": {"method": "none"}}, teacher) and not same_teacher(None, teacher)
    assert not same_teacher({"kd": {"teacher": teacher}}, None)


def test_folders_name_where_a_checkpoint_comes_from_and_pick_the_users_first(tmp_path):
    mine, shipped, jobs = tmp_path / "mine", tmp_path / "shipped", tmp_path / "jobs"
    where = CheckpointFolders(str(mine), shipped, jobs)
    assert where.scanned() == (str(mine), str(shipped), str(jobs))
    assert CheckpointFolders(None, shipped, jobs).scanned() == (str(shipped), str(jobs))
    assert where.origin(mine / "t.safetensors") == "yours"
    assert where.origin(shipped / "penn_action" / "t.safetensors") == "shipped penn_action"
    assert where.origin(jobs / "j1" / "run" / "model.safetensors") == "job j1"
    assert where.origin(tmp_path / "else" / "t.safetensors") == str(tmp_path / "else")
    (jobs / "j1").mkdir(parents=True)
    (jobs / "j1" / "job.json").write_text(json.dumps({"name": "teacher smoke"}))
    assert where.label(row(str(jobs / "j1" / "run" / "model.safetensors"))) == "teacher smoke · job j1 · coco17"
    assert where.label(row(str(jobs / "j2" / "run" / "model.safetensors"))) == "j2 · job j2 · coco17"  # no job.json
    labels = {"new": str(tmp_path / "else" / "n.safetensors"), "ship": str(shipped / "s.safetensors"),
              "me": str(mine / "m.safetensors")}
    assert where.preferred(labels) == "me"
    assert CheckpointFolders(None, shipped, jobs).preferred(labels) == "ship"
    assert where.preferred({"new": labels["new"]}) == "new" and where.preferred({}) is None
