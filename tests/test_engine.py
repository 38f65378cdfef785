"""Engine: configs, teacher learning, part matrix E, students for every KD method, NaN guard."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from partkd.checkpoints import load_checkpoint, read_meta
from partkd.data.formats.npz import save_generic_npz
from partkd.distill.efficiency import efficiency_softmax
from partkd.engine.config import (DataSpec, StudentConfig, TrainConfig, data_spec_from_dict, train_config_from_dict,
                                  train_preset)
from partkd.io import load_toml
from partkd.engine.data import load_paired
from partkd.engine.evaluate import accuracy_vs_op, evaluate, part_sensitivity
from partkd.engine.student import train_student
from partkd.engine.teacher import compute_part_matrix, train_teacher
from partkd.errors import CheckpointError, ConfigError, PartKDError

CLASSES = 4


def tiny_spec(**overrides: object) -> DataSpec:
    """4 synthetic classes x 12 clips: ntu25 3D on the teacher side, simulated coco17 2D on the student side."""
    return DataSpec(**{"num_classes": CLASSES, "clips_per_class": 12, "synth_frames": 24, **overrides})


def smoke(**overrides: object) -> TrainConfig:
    return train_preset("smoke", **{"epochs": 3, "batch_size": 8, **overrides})


@pytest.fixture
def teacher(smoke_teacher: Path) -> Path:
    """The suite's shared smoke teacher (conftest.py), trained on tiny_spec() with its part matrix."""
    return smoke_teacher


def test_presets_follow_the_paper_recipe() -> None:
    paper = train_preset("paper")
    assert (paper.epochs, paper.lr, paper.milestones, paper.momentum, paper.weight_decay) == (60, 0.1, (30, 40, 50),
                                                                                              0.9, 1e-4)
    assert (paper.frames, paper.persons, paper.model) == (300, 2, "full")  # model and training presets: distinct names
    assert [paper.lr_at(e) for e in (0, 29, 30, 45, 59)] == pytest.approx([0.1, 0.1, 0.01, 0.001, 1e-4])
    cpu = train_preset("cpu")
    assert cpu.model != "full" and cpu.frames < 100 and cpu.precision == "bf16"
    assert train_preset("smoke", epochs=7).epochs == 7


@pytest.mark.parametrize(("amx", "avx512_bf16", "cpu_bf16"), [(False, False, False), (True, False, True),
                                                             (False, True, True), (True, True, True)])
def test_bf16_autocast_only_where_the_hardware_multiplies_bf16(monkeypatch: pytest.MonkeyPatch, amx: bool,
                                                               avx512_bf16: bool, cpu_bf16: bool) -> None:
    import torch

    from partkd.engine.evaluate import amp_enabled

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    assert amp_enabled("bf16", torch.device("cpu")) is cpu_bf16
    assert amp_enabled("bf16", torch.device("cuda")) is True
    assert amp_enabled("fp32", torch.device("cpu")) is False and amp_enabled("fp32", torch.device("cuda")) is False


@pytest.mark.parametrize("bad", [{"op": 1.5}, {"op": -0.1}, {"kd": "magic"}, {"paired_fraction": 2.0},
                                 {"tau": 0.0}])
def test_student_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ConfigError) as e:
        StudentConfig(**bad)
    assert "\n" not in str(e.value)


def test_rotation_range_is_a_checked_train_setting() -> None:
    assert train_config_from_dict({"preset": "smoke", "rotate_deg": 90}).rotate_deg == 90.0
    with pytest.raises(ConfigError, match="rotate_deg"):
        train_config_from_dict({"preset": "smoke", "rotate_deg": 200})


def test_config_dicts_reject_unknown_keys_and_types(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        train_config_from_dict({"preset": "smoke", "epoch": 3})
    with pytest.raises(ConfigError, match="bad value"):
        train_config_from_dict({"preset": "smoke", "epochs": "three"})
    with pytest.raises(ConfigError, match="unknown key"):
        data_spec_from_dict({"sorce": "synthetic"})
    bad = tmp_path / "bad.toml"
    bad.write_text("[teacher\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_toml(bad)
    assert train_config_from_dict({"preset": "cpu", "epochs": 2}).model == "small"


def test_teacher_learns_and_writes_its_run_folder(teacher: Path) -> None:
    meta = read_meta(teacher)
    run = teacher.parent
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == list(range(1, 9))
    assert history[-1]["loss"] < history[0]["loss"]
    assert meta["role"] == "teacher" and meta["layout"]["name"] == "ntu25"
    assert meta["input"] == {"frames": 16, "persons": 1, "mode": "resample", "normalize": True}
    progress = json.loads((run / "progress.json").read_text())
    assert progress["phase"] == "done" and progress["epoch"] == progress["epochs"] == 8
    m = evaluate(load_checkpoint(teacher), load_paired(tiny_spec()).by_split("test"))
    assert m["top1"] >= 2.0 / CLASSES, m["top1"]  # chance is 1/4
    assert np.asarray(m["confusion"]).sum() == m["n"] and m["top5"] == 1.0
    assert m["top1"] == pytest.approx(meta["metrics"]["val_top1"])


def test_part_matrix_is_stored_with_the_teacher(teacher: Path) -> None:
    meta = read_meta(teacher)
    raw, e = np.asarray(meta["E_raw"]), np.asarray(meta["E"])
    assert raw.shape == e.shape == (CLASSES, 5)
    assert ((raw >= 0) & (raw <= 1)).all() and raw.max() > 0
    np.testing.assert_allclose(e, efficiency_softmax(raw), rtol=1e-6)
    np.testing.assert_allclose(e.sum(axis=1), 1.0, rtol=1e-6)
    load_checkpoint(teacher)  # the metadata rewrite leaves the weights' checksum valid


def test_part_matrix_has_the_drop_matrix_and_the_carrier_score(teacher: Path) -> None:
    from partkd.distill.efficiency import carrier_recovery
    from partkd.data.synthetic import action_parts

    meta = read_meta(teacher)
    drop = np.asarray(meta["E_drop"])
    assert drop.shape == (CLASSES, 5) and (drop <= 1).all() and (drop >= -1).all()
    truth = meta["E_truth"]["miss"]
    assert truth == carrier_recovery(meta["E_raw"], meta["class_names"], action_parts())
    assert meta["E_truth"]["drop"] == carrier_recovery(meta["E_drop"], meta["class_names"], action_parts())


def test_pmsc_part_weights_follow_the_chosen_matrix_and_temperature(teacher: Path) -> None:
    from partkd.engine.student import part_weights

    meta = read_meta(teacher)
    paper = StudentConfig(efficiency="miss", efficiency_temperature=1.0)
    np.testing.assert_array_equal(part_weights(meta, paper), np.asarray(meta["E"], np.float32))
    shapley = np.asarray(meta["E_shapley"]) / 0.2  # the default: the teacher's Shapley E at temperature 0.2
    expected = np.exp(shapley - shapley.max(1, keepdims=True))
    np.testing.assert_allclose(part_weights(meta, StudentConfig()), expected / expected.sum(1, keepdims=True), rtol=1e-5)
    drop = np.asarray(meta["E_drop"]) / 0.2
    expected = np.exp(drop - drop.max(1, keepdims=True))
    np.testing.assert_allclose(part_weights(meta, StudentConfig(efficiency="drop", efficiency_temperature=0.2)),
                               expected / expected.sum(1, keepdims=True), rtol=1e-5)
    with pytest.raises(ConfigError):
        StudentConfig(efficiency="guess")


def test_teacher_dropout_is_checked_recorded_and_changes_training(tmp_path: Path) -> None:
    for bad in ({"part_dropout": 1.0}, {"joint_dropout": -0.1}):
        with pytest.raises(ConfigError):
            smoke(**bad)
    assert (smoke().part_dropout, smoke().joint_dropout) == (0.5, 0.1)          # on by default (e_truth)
    plain = train_teacher(smoke(epochs=1, part_dropout=0.0, joint_dropout=0.0), tiny_spec(), tmp_path / "a")
    dropped = train_teacher(smoke(epochs=1), tiny_spec(), tmp_path / "b")
    meta = read_meta(dropped)
    assert (meta["train"]["part_dropout"], meta["train"]["joint_dropout"]) == (0.5, 0.1)
    assert read_meta(plain)["history"][0]["loss"] != meta["history"][0]["loss"]
    again = train_teacher(smoke(epochs=1, part_dropout=0.0, joint_dropout=0.0), tiny_spec(), tmp_path / "c")
    # dropout 0 draws nothing extra
    a, b = load_checkpoint(plain).model.state_dict(), load_checkpoint(again).model.state_dict()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_evaluation_helpers(teacher: Path) -> None:
    loaded = load_checkpoint(teacher)
    data = load_paired(tiny_spec())
    rows = accuracy_vs_op(loaded, data, [0.0, 0.5, 1.0])
    assert [r["op"] for r in rows] == [0.0, 0.5, 1.0]
    assert rows == accuracy_vs_op(loaded, data, [0.0, 0.5, 1.0])  # fixed seeds: deterministic test sets
    assert rows[0]["top1"] == pytest.approx(evaluate(loaded, data)["top1"])
    assert part_sensitivity(loaded, data).shape == (5,)
    with pytest.raises(CheckpointError, match="layout 'ntu25'"):
        evaluate(loaded, data.low)


@pytest.mark.parametrize("kd", ["none", "kl", "global_msc", "pmsc_uniform", "pmsc"])
def test_student_trains_with_every_cross_layout_method(teacher: Path, tmp_path: Path, kd: str) -> None:
    path = train_student(smoke(epochs=2), StudentConfig(kd=kd, op=0.3), teacher, tiny_spec(), tmp_path)
    meta = read_meta(path)
    assert meta["role"] == "student" and meta["layout"]["name"] == "coco17"
    assert meta["kd"]["method"] == kd and meta["degradation"]["op"] == 0.3
    hist = meta["history"]
    assert len(hist) == 2 and all(np.isfinite(h["loss"]) for h in hist)
    assert (hist[-1]["kd"] > 0) == (kd != "none")
    assert evaluate(load_checkpoint(path), load_paired(tiny_spec()), op=0.3)["n"] > 0


def test_skd_student_on_homogeneous_layouts(tmp_path: Path) -> None:
    """Same layout on both sides (2D coco17 H from a dataset file, L simulated into coco17): SKD trains."""
    save_generic_npz(load_paired(tiny_spec()).low, tmp_path / "h.npz")
    spec = DataSpec(source=str(tmp_path / "h.npz"), format="npz", low_layout="same")
    t = train_teacher(smoke(epochs=1), spec, tmp_path / "t")
    s = train_student(smoke(epochs=2), StudentConfig(kd="skd"), t, spec, tmp_path / "s")
    hist = read_meta(s)["history"]
    assert read_meta(s)["layout"]["name"] == read_meta(t)["layout"]["name"] == "coco17"
    assert all(np.isfinite(h["loss"]) and h["kd"] > 0 for h in hist)
    # no modality named: the 2D teacher reads bone angles (translation-free E), the student joints; both recorded
    assert read_meta(t)["model"]["modalities"] == read_meta(t)["train"]["modalities"] == ["ba"]
    assert read_meta(s)["model"]["modalities"] == read_meta(s)["train"]["modalities"] == ["j"]


def test_the_default_input_is_bone_angles_for_2d_teachers_only_and_a_named_one_is_kept() -> None:
    from partkd.engine.loop import with_modalities
    from partkd.layouts import get_layout

    cfg = smoke()
    assert cfg.modalities == ()
    assert with_modalities(cfg, get_layout("penn13"), "teacher").modalities == ("ba",)
    assert with_modalities(cfg, get_layout("coco17"), "student").modalities == ("j",)
    assert with_modalities(cfg, get_layout("ntu25"), "teacher").modalities == ("j",)
    assert with_modalities(smoke(modalities=("j",)), get_layout("penn13"), "teacher").modalities == ("j",)


def test_skd_across_layouts_is_a_config_error(teacher: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="same skeleton layout"):
        train_student(smoke(), StudentConfig(kd="skd"), teacher, tiny_spec(), tmp_path)


def test_missing_teacher_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        train_student(smoke(), StudentConfig(kd="pmsc"), tmp_path / "nope.safetensors", tiny_spec(), tmp_path)


def test_paired_fraction_keeps_a_share_of_the_pairs(teacher: Path, tmp_path: Path) -> None:
    kw = dict(kd="pmsc", paired_fraction=0.5)
    with_sol = read_meta(train_student(smoke(epochs=1), StudentConfig(**kw), teacher, tiny_spec(), tmp_path / "a"))
    without = read_meta(train_student(smoke(epochs=1), StudentConfig(**kw, use_solitary=False), teacher, tiny_spec(),
                                      tmp_path / "b"))
    n = with_sol["pairs"]["low_clips"]
    assert with_sol["pairs"]["paired"] == round(n / 2) == without["pairs"]["low_clips"]
    assert with_sol["pairs"]["high_pool"] == without["pairs"]["high_pool"] == round(n / 2)


def test_non_finite_loss_stops_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PartKDError, match="not finite") as e:
        train_teacher(smoke(lr=1e30, epochs=4), tiny_spec(), tmp_path)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "model.json").exists()


def test_simulated_low_quality_set_is_cached_and_identical(tmp_path, monkeypatch):
    """The estimator simulation is read back from the cache bit for bit, and the key changes with the seed."""
    from partkd.data.estimator import simulate_estimator
    from partkd.data.synthetic import make_synthetic
    from partkd.engine import data as engine_data

    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path))
    high = make_synthetic(num_classes=3, clips_per_class=4, frames=12, seed=0).high
    first = engine_data.simulated(high, "coco17", "medium", 1)
    assert len(list(tmp_path.glob("simulated-*.npz"))) == 1
    calls = []
    monkeypatch.setattr("partkd.data.estimator.simulate_estimator", lambda *a, **k: calls.append(1))
    again = engine_data.simulated(high, "coco17", "medium", 1)
    assert calls == []
    expected = simulate_estimator(high, target_layout="coco17", level="medium", seed=1)
    for a, b, c in zip(first.clips, again.clips, expected.clips):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert again.layout.name == "coco17" and again.meta["estimator"]["seed"] == 1
    assert engine_data.simulation_key(high, "coco17", "medium", 1) != engine_data.simulation_key(high, "coco17", "medium", 2)
    assert engine_data.simulation_key(high, "coco17", "medium", 1) != engine_data.simulation_key(high, "coco17", "heavy", 1)


def test_pairs_with_several_views_of_one_high_clip_are_kept_or_dropped_together() -> None:
    """Human3.6M in the world frame: 4 cameras' L clips share one H clip; a kept pair keeps all of them."""
    from partkd.data.dataset import PairedDataset, SkeletonDataset
    from partkd.engine.student import _pairing
    from partkd.layouts import get_layout

    lay = get_layout("coco17")
    clip = np.ones((1, 4, 17, 3), np.float32)

    def ds(n: int, pairs: list[int]) -> SkeletonDataset:
        return SkeletonDataset([clip] * n, np.zeros(n), ["a"], ["train"] * n, lay, [f"c{i}" for i in range(n)], pairs)

    high = ds(10, list(range(10)))
    low = ds(41, [i // 4 for i in range(40)] + [-1])              # 4 views per H clip and one solitary clip
    keep, own, pool = _pairing(PairedDataset(high, low), StudentConfig(paired_fraction=0.5))
    assert len(pool) == 5 and len(keep) == 41
    kept_high = pool[own[own >= 0]]
    assert len(own[own >= 0]) == 20 and set(np.bincount(kept_high)[np.unique(kept_high)]) == {4}
    keep2, own2, _ = _pairing(PairedDataset(high, low), StudentConfig(paired_fraction=0.5, use_solitary=False))
    assert len(keep2) == 21 and (own2 >= 0).sum() == 20


def test_teacher_and_e_need_no_low_quality_data(tmp_path: Path) -> None:
    """A skeleton the estimator simulation cannot map (custom joint names): the teacher and E use H alone."""
    from partkd.data.dataset import SkeletonDataset
    from partkd.layouts import layout_from_dict

    lay = layout_from_dict({"name": "odd5", "dims": 3, "joints": ["a", "b", "c", "d", "e"],
                            "edges": [["b", "a"], ["c", "a"], ["d", "a"], ["e", "a"]], "center": "a",
                            "parts": {"head": ["a"], "left_arm": ["b"], "right_arm": ["c"], "left_leg": ["d"],
                                      "right_leg": ["e"]}})
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(1, 12, 5, 3)).astype(np.float32) + 3.0 for _ in range(16)]
    ds = SkeletonDataset(clips, np.arange(16) % 2, ["x", "y"], ["train"] * 12 + ["test"] * 4, lay,
                         [f"c{i}" for i in range(16)])
    save_generic_npz(ds, tmp_path / "odd.npz")
    spec = DataSpec(source=str(tmp_path / "odd.npz"), format="npz")
    with pytest.raises(PartKDError, match="cannot map|no source"):
        load_paired(spec)
    t = train_teacher(smoke(epochs=1), spec, tmp_path / "t")
    assert np.asarray(compute_part_matrix(t, spec)["E_raw"]).shape == (2, 5)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc allocator settings")
def test_kept_freed_memory_serves_a_repeated_large_allocation_without_page_faults() -> None:
    """A 64 MiB buffer freed and allocated again faults its pages in afresh under glibc's defaults (it is mmapped and
    unmapped), and not at all once the training loop's allocator setting is on."""
    script = textwrap.dedent("""
        import ctypes, resource, sys
        ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)  # PR_SET_THP_DISABLE: count 4 KiB pages whatever the THP setting
        import torch
        from partkd.engine.allocator import keep_freed_memory
        if sys.argv[1] == "keep":
            assert keep_freed_memory()
        def faults():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            torch.ones(16 * 2**20)
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        faults()
        print(min(faults() for _ in range(3)))
    """)
    out = {mode: int(subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True,
                                    check=True).stdout.split()[-1]) for mode in ("default", "keep")}
    assert out["default"] > 10_000  # 16 Mi floats = 16 k pages of 4 KiB, touched by the fill
    assert out["keep"] < 100


def test_uniform_op_sampling_occludes_each_clip_at_its_own_op() -> None:
    from partkd.data.transforms import present
    from partkd.engine.student import occlude_batch
    from partkd.layouts import get_layout

    lay = get_layout("coco17")
    x = np.ones((400, 1, 40, lay.num_joints, 3), np.float32)
    fixed = occlude_batch(x, lay, StudentConfig(op=0.6, occlusion="joint"), seed=3)
    uniform = occlude_batch(x, lay, StudentConfig(op=0.6, occlusion="joint", op_sampling="uniform"), seed=3)
    hidden_fixed = 1 - present(fixed).mean(axis=(1, 2, 3))
    hidden_uniform = 1 - present(uniform).mean(axis=(1, 2, 3))
    assert abs(hidden_fixed.mean() - 0.6) < 0.01 and hidden_fixed.std() < 0.03            # every clip near OP
    assert abs(hidden_uniform.mean() - 0.3) < 0.03                                         # mean of U(0, 0.6)
    assert hidden_uniform.min() < 0.05 and hidden_uniform.max() > 0.55                     # spread over [0, 0.6]
    assert np.array_equal(uniform, occlude_batch(x, lay, StudentConfig(op=0.6, occlusion="joint", op_sampling="uniform"), seed=3))
    with pytest.raises(ConfigError):
        StudentConfig(op_sampling="ramp")
