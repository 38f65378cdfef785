"""The real-data benchmark's row grid, row filter and gain arithmetic (benchmarks/kd_real.py), on hand-made results."""
from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import kd_real  # noqa: E402  (the benchmark script itself, imported directly: a broken import fails the suite)


def test_grid_rows_and_keys():
    keys = [kd_real.row_key(r) for r in kd_real.grid("all", [0.0, 0.3])]
    assert keys[:4] == ["het_none_op0", "het_pmsc_op0", "het_none_op0.3", "het_pmsc_op0.3"]
    assert {"hom_skd_op0.3", "het_kl_op0.3", "het_pmsc_op0.3_p0.7only", "het_pmsc_op0.3_p0.7sol"} <= set(keys)
    assert len(keys) == len(set(keys)) == 4 + 4 + 3 + 3
    assert [k for k in keys if fnmatch.fnmatchcase(k, "hom_*")] == ["hom_none_op0", "hom_pmsc_op0", "hom_none_op0.3",
                                                                    "hom_pmsc_op0.3", "hom_skd_op0.3"]


def test_collect_means_and_per_seed_gains():
    planned = kd_real.grid("core", [0.0, 0.6])
    top1 = {("het_none_op0", 0): 0.80, ("het_none_op0", 1): 0.84, ("het_pmsc_op0", 0): 0.85,
            ("het_pmsc_op0", 1): 0.86, ("het_none_op0.6", 0): 0.70, ("het_pmsc_op0.6", 0): 0.78}
    per_run = {f"{row}_s{seed}": {"row": row, "seed": seed, "top1": v, "top5": 1.0, "val_curve": [], "seconds": 1.0,
                                  "checkpoint": "x"} for (row, seed), v in top1.items()}
    res = {"planned": planned}
    kd_real.collect(res, per_run)
    none0 = next(r for r in res["students"] if r["kd"] == "none" and r["op"] == 0.0)
    assert none0["top1"] == pytest.approx(0.82) and [s["seed"] for s in none0["seeds"]] == [0, 1]
    g0 = res["gains"]["0"]
    assert g0["per_seed"] == pytest.approx([5.0, 2.0]) and g0["gain"] == pytest.approx(3.5)
    assert g0["met"] is True                      # +3.5 >= 3 over two seeds
    g6 = res["gains"]["0.6"]
    assert g6["gain"] == pytest.approx(8.0) and g6["met"] is False and g6["met_ignoring_seed_count"] is True


def test_efficiency_rows_name_their_e_and_gaps_pair_seeds():
    rows = kd_real.grid("efficiency", [0.6])
    assert [kd_real.row_key(r) for r in rows] == [
        "het_none_op0.6", "het_pmsc_op0.6", "het_pmsc_op0.6_Edrop_T1", f"het_pmsc_op0.6_Edrop_T{kd_real.SHARP_T:g}",
        "het_pmsc_uniform_op0.6", "het_global_msc_op0.6"]
    a = {"seeds": [{"seed": 0, "top1": 0.80}, {"seed": 1, "top1": 0.90}, {"seed": 2, "top1": 0.70}]}
    b = {"seeds": [{"seed": 0, "top1": 0.75}, {"seed": 1, "top1": 0.80}]}
    mean, sd, n = kd_real.paired_gap(a, b)                     # seeds 0 and 1 only: +5 and +10 points
    assert n == 2 and abs(mean - 7.5) < 1e-9 and abs(sd - 3.5355339) < 1e-6
    assert kd_real.row_label({"kd": "pmsc", "efficiency": "drop", "temperature": 0.1}).endswith("probability drop, T = 0.1")


def test_precisions_used_names_one_precision_or_counts_a_mixture():
    one = {"teacher": {"seeds": [{"precision_used": "fp32"}]}, "students": [{"seeds": [{"precision_used": "fp32"}]}]}
    assert kd_real.precisions_used(one) == "fp32"
    mixed = {"teacher": {"seeds": [{"precision_used": "bf16"}]},
             "students": [{"seeds": [{"precision_used": "fp32"}, {"precision_used": "fp32"}]}, {"seeds": [{}]}]}
    assert kd_real.precisions_used(mixed) == "bf16 (1 runs), fp32 (2 runs), not recorded (1 runs)"
    assert kd_real.precisions_used({"teacher": None, "students": []}) == "no runs yet"


def test_table_names_the_occlusion_reading_it_ran_under():
    planned = kd_real.grid("core", [0.0])
    per_run = {f"{row}_s0": {"row": row, "seed": 0, "top1": v, "top5": 1.0, "val_curve": [], "seconds": 1.0,
                             "checkpoint": "x"} for row, v in (("het_none_op0", 0.8), ("het_pmsc_op0", 0.85))}
    res = {"planned": planned, "dataset": "penn_action", "preset": "bench", "train_config_summary": "s",
           "kd_config": {"alpha": 1.0, "tau": 0.1, "w": 0.5}, "high_layout": "penn13", "low_layout_hetero": "coco17",
           "level": "heavy", "teacher": None, "rows": "core", "seeds_requested": [0], "runs_done": 2, "not_run": [],
           "notes": [], "command": "c", "date": "d", "code_version": "v", "device": "cpu", "ops": [0.0]}
    kd_real.collect(res, per_run)
    assert "occlusion reading `joint`" in kd_real.table_md(res)       # written before the reading was recorded
    assert "occlusion reading `sequence`" in kd_real.table_md({**res, "occlusion": "sequence"})
    assert kd_real.plot_title({**res, "occlusion": "sequence"}) == "penn_action (bench preset, occlusion 'sequence')"
    assert kd_real.plot_title(res) == "penn_action (bench preset)"   # a result that predates the recorded reading
    over = {**res, "occlusion": "sequence", "teacher_overrides": {"part_dropout": 0.0, "joint_dropout": 0.0}}
    assert kd_real.plot_title(over).endswith("'sequence')\nteacher: part_dropout 0.0, joint_dropout 0.0")
