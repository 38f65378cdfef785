"""The engine's CLI through real subprocesses: help, the full pipeline, and one-line errors with exit status 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ["--data", "synthetic", "--classes", "4", "--clips-per-class", "12", "--synth-frames", "24"]
SMOKE = ["--preset", "smoke", "--batch-size", "8"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "partkd", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def assert_one_line_error(done: subprocess.CompletedProcess, *fragments: str) -> None:
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("partkd: error: "), done.stderr[-2000:]
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.fixture
def teacher(smoke_teacher: Path, tmp_path: Path) -> Path:
    """A copy of the suite's shared smoke teacher (conftest.py; these tests rewrite its part matrix)."""
    import shutil

    for suffix in (".safetensors", ".json"):
        shutil.copy(smoke_teacher.with_suffix(suffix), tmp_path / f"teacher{suffix}")
    return tmp_path / "teacher.safetensors"


def test_train_teacher_prints_its_checkpoint(tmp_path: Path) -> None:
    done = cli("train-teacher", *DATA, *SMOKE, "--epochs", "1", "--out", str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(tmp_path / "t" / "model.safetensors")
    assert (tmp_path / "t" / "model.json").exists()


@pytest.mark.parametrize("command", ["train-teacher", "part-matrix", "train-student", "evaluate", "reproduce"])
def test_every_command_has_help(command: str) -> None:
    done = cli(command, "--help")
    assert done.returncode == 0 and "usage: partkd " + command in done.stdout


def test_part_matrix_student_and_evaluate(teacher: Path, tmp_path: Path) -> None:
    done = cli("part-matrix", str(teacher), "--json", str(tmp_path / "e.json"))
    assert done.returncode == 0, done.stderr[-2000:]
    e = json.loads((tmp_path / "e.json").read_text())
    assert len(e["E_raw"]) == 4 and e["parts"][0] == "head" and "left_arm" in done.stdout
    clips = sum(e["E_clips"])
    assert done.stdout.splitlines()[0].endswith(
        f"{clips} high-quality train clips of 4 classes, 32 part subsets each; default definition 'shapley'")
    assert "Shapley value [95% interval]" in done.stdout and "miss rate" not in done.stdout
    assert f"part matrix: {clips}/{clips} clips (100%)" in done.stderr
    for key, name in (("E_raw", "miss"), ("E_drop", "drop"), ("E_shapley", "shapley")):
        lo, hi, mid = np.array(e["E_ci"][name]["lo"]), np.array(e["E_ci"][name]["hi"]), np.array(e[key])
        assert (lo <= mid + 1e-9).all() and (mid <= hi + 1e-9).all()
    done = cli("part-matrix", str(teacher), "--efficiency", "all")
    assert all(t in done.stdout for t in ("miss rate (eq. 12) [95%", "probability drop [95%", "Shapley value [95%"))
    done = cli("train-student", *DATA, *SMOKE, "--epochs", "1", "--teacher", str(teacher), "--kd", "pmsc",
               "--alpha", "0.5", "--op", "0.3", "--occlusion", "span", "--out", str(tmp_path / "s"))
    assert done.returncode == 0, done.stderr[-2000:]
    student = tmp_path / "s" / "model.safetensors"
    done = cli("evaluate", str(student), "--op", "0", "0.3", "0.6", "--json", str(tmp_path / "m.json"))
    assert done.returncode == 0, done.stderr[-2000:]
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["role"] == "student" and [r["op"] for r in m["accuracy_vs_op"]] == [0.0, 0.3, 0.6]
    assert m["mode"] == "span" and ", span)" in done.stdout  # the training mode unless --mode names another
    assert done.stdout.startswith("data: synthetic actions: 4 classes") and m["data"] in done.stdout
    assert len(m["confusion"]) == 4 and 0.0 <= m["top1"] <= 1.0


def test_missing_teacher(tmp_path: Path) -> None:
    done = cli("train-student", *DATA, *SMOKE, "--teacher", str(tmp_path / "none.safetensors"), "--out",
               str(tmp_path / "s"))
    assert_one_line_error(done, "teacher checkpoint not found")


def test_op_outside_unit_interval() -> None:
    assert_one_line_error(cli("train-student", *DATA, *SMOKE, "--kd", "none", "--op", "1.5", "--out", "x"),
                          "student.op: must be in [0, 1], got 1.5")


def test_skd_across_layouts(teacher: Path, tmp_path: Path) -> None:
    done = cli("train-student", *DATA, *SMOKE, "--teacher", str(teacher), "--kd", "skd", "--out", str(tmp_path))
    assert_one_line_error(done, "same skeleton layout")


def test_wrong_layout_checkpoint(teacher: Path, tmp_path: Path) -> None:
    """A teacher (ntu25) evaluated on 2D coco17 data."""
    from partkd.data.formats.npz import save_generic_npz
    from partkd.data.synthetic import make_synthetic

    save_generic_npz(make_synthetic(4, 12, 24).low, tmp_path / "low.npz")
    done = cli("evaluate", str(teacher), "--data", str(tmp_path / "low.npz"), "--format", "npz", "--low-layout",
               "same")
    assert_one_line_error(done, "trained on layout 'ntu25'", "'coco17'")


def test_reproduce_smoke_recipe(tmp_path: Path) -> None:
    done = cli("reproduce", "configs/synthetic_smoke.toml", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    students = results["summary"]["students"]
    assert set(students) == {"none", "pmsc"} and set(students["pmsc"]) == {"0", "0.3"}
    assert 0.0 <= results["teacher"]["top1"] <= 1.0 and len(results["teacher"]["E_raw"]) == 4
    md = (tmp_path / "results.md").read_text()
    assert "| teacher (H) |" in md and "| student pmsc |" in md and "OP 0.3" in md
    for row in results["students"]:
        assert Path(row["checkpoint"]).exists()


def test_bad_recipe_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[teacher]\npreset = "smoke"\nepoch = 2\n')
    assert_one_line_error(cli("reproduce", str(bad), "--out", str(tmp_path / "o")), "unknown key(s) epoch")


def test_a_run_config_and_the_same_flags_train_the_same_student(teacher: Path, tmp_path: Path) -> None:
    """`train-student --config` with a resolved run config (as the app writes one) equals the run from flags:
    same stored configs, same weights; a flag overrides the file."""
    from partkd.checkpoints import load_checkpoint, read_meta
    from partkd.engine.config import DataSpec, StudentConfig, train_preset
    from partkd.engine.run_config import read_run_config, run_config, write_run_config

    spec = DataSpec(num_classes=4, clips_per_class=12, synth_frames=24)
    config = run_config("train-student", spec, train_preset("smoke", epochs=1, batch_size=8),
                        StudentConfig(kd="pmsc", op=0.3, tau=0.2), str(teacher))
    path = write_run_config(tmp_path / "run.toml", config)
    assert read_run_config(path, "train-student")["student"]["tau"] == 0.2
    from_file = cli("train-student", "--config", str(path), "--out", str(tmp_path / "a"))
    from_flags = cli("train-student", *DATA, *SMOKE, "--epochs", "1", "--teacher", str(teacher), "--kd", "pmsc",
                     "--op", "0.3", "--tau", "0.2", "--out", str(tmp_path / "b"))
    assert from_file.returncode == 0 and from_flags.returncode == 0, from_file.stderr[-2000:] + from_flags.stderr
    a, b = read_meta(tmp_path / "a"), read_meta(tmp_path / "b")
    for section in ("train", "student", "data", "kd"):
        assert a[section] == b[section], section
    for x, y in zip(load_checkpoint(tmp_path / "a").model.state_dict().values(),
                    load_checkpoint(tmp_path / "b").model.state_dict().values()):
        assert (x == y).all()
    over = cli("train-student", "--config", str(path), "--tau", "0.5", "--epochs", "1", "--out", str(tmp_path / "c"))
    assert over.returncode == 0 and read_meta(tmp_path / "c")["student"]["tau"] == 0.5


def test_bad_run_configs_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "typo.toml").write_text('kind = "train-teacher"\n[data]\nsource = "synthetic"\n[trian]\nepochs = 1\n')
    assert_one_line_error(cli("train-teacher", "--config", str(tmp_path / "typo.toml"), "--out", str(tmp_path / "o")),
                          "typo.toml", "unknown key(s) trian")
    (tmp_path / "kind.toml").write_text('kind = "train-student"\n[data]\nsource = "synthetic"\n')
    assert_one_line_error(cli("train-teacher", "--config", str(tmp_path / "kind.toml"), "--out", str(tmp_path / "o")),
                          "kind.toml", "for train-student, not train-teacher")
    (tmp_path / "value.toml").write_text('[data]\nsource = "synthetic"\nnum_classes = 99\n')
    assert_one_line_error(cli("train-teacher", "--config", str(tmp_path / "value.toml"), "--out", str(tmp_path / "o")),
                          "data.num_classes: must be in [2, 14]")
    assert_one_line_error(cli("train-teacher", "--out", str(tmp_path / "o")), "--data is required")
    assert not (tmp_path / "o").exists()


def test_epochs_over_a_run_config_move_its_milestones_and_a_second_preset_is_refused(tmp_path: Path) -> None:
    from partkd.cli import build_parser
    from partkd.cli_train import _run_file, _train_cfg
    from partkd.engine.config import DataSpec, train_preset
    from partkd.engine.run_config import run_config, write_run_config
    from partkd.errors import ConfigError

    path = write_run_config(tmp_path / "r.toml", run_config("train-teacher", DataSpec(), train_preset("cpu")))

    def cfg(*flags: str):
        args = build_parser().parse_args(["train-teacher", "--config", str(path), *flags, "--out", "x"])
        return _train_cfg(args, _run_file(args, "train-teacher"))

    assert cfg().milestones == (12, 16, 18) and cfg("--epochs", "10").milestones == train_preset("cpu", epochs=10).milestones
    assert cfg("--epochs", "10", "--lr-steps", "4").milestones == (4,)
    assert cfg("--preset", "cpu").preset == "cpu"
    with pytest.raises(ConfigError, match="sets preset 'cpu'; --preset smoke would mix two recipes"):
        cfg("--preset", "smoke")
