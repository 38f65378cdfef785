"""The real-data benchmark's row grid, row filter and gain arithmetic (benchmarks/kd_real.py), on hand-made results."""
from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
kd_real = pytest.importorskip("kd_real")


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
