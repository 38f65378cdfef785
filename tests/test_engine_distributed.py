"""Data-parallel training with torchrun (2 CPU processes, gloo) and the rank sharding that keeps pairs together."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from partkd.checkpoints import load_checkpoint, read_meta
from partkd.engine.distributed import DistContext, global_batches, shard_batch

ROOT = Path(__file__).resolve().parents[1]
DATA = ["--data", "synthetic", "--classes", "4", "--clips-per-class", "12", "--synth-frames", "24"]
SMOKE = ["--preset", "smoke", "--batch-size", "4", "--epochs", "2"]


def _partkd(*args: str, procs: int = 1) -> subprocess.CompletedProcess:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs), "-m"]
                if procs > 1 else [sys.executable, "-m"])
    done = subprocess.run([*launcher, "partkd", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_shards_are_disjoint_class_stratified_and_cover_the_batch() -> None:
    labels = np.repeat(np.arange(4), 6)
    batch = np.random.default_rng(0).permutation(24)
    shards = [shard_batch(batch, labels, DistContext(r, 2)) for r in range(2)]
    assert sorted(np.concatenate(shards).tolist()) == sorted(batch.tolist())
    for s in shards:
        assert np.bincount(labels[s], minlength=4).tolist() == [3, 3, 3, 3]
    assert [len(b) for b in global_batches(np.arange(10), 2, DistContext(0, 2))] == [4, 4]  # tail of 2 < 2 per rank


@pytest.mark.slow
def test_torchrun_two_processes_match_one_process(tmp_path: Path) -> None:
    _partkd("train-teacher", *DATA, *SMOKE, "--out", str(tmp_path / "t1"))
    _partkd("train-teacher", *DATA, *SMOKE, "--out", str(tmp_path / "t2"), procs=2)
    one, two = read_meta(tmp_path / "t1"), read_meta(tmp_path / "t2")
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert len(one["history"]) == len(two["history"]) == 2
    assert set(one["history"][-1]) == set(two["history"][-1]) and two["history"][-1]["val_acc"] is not None
    assert set(one["metrics"]) == set(two["metrics"])
    assert not list((tmp_path / "t2").glob("*.tmp"))
    for a, b in zip(load_checkpoint(tmp_path / "t1").model.state_dict().values(),
                    load_checkpoint(tmp_path / "t2").model.state_dict().values()):
        assert a.shape == b.shape

    teacher = str(tmp_path / "t1" / "model.safetensors")
    _partkd("part-matrix", teacher)
    _partkd("train-student", *DATA, *SMOKE, "--teacher", teacher, "--kd", "pmsc", "--op", "0.3", "--out",
            str(tmp_path / "s2"), procs=2)
    student = read_meta(tmp_path / "s2")
    assert student["world_size"] == 2 and student["kd"]["method"] == "pmsc"
    assert all(np.isfinite(h["loss"]) and h["kd"] > 0 for h in student["history"])
