"""partkd.training_cost: the time a run takes from its epochs and the measured cost of its preset."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from partkd.engine.config import TRAIN_PRESETS, train_preset
from partkd.training_cost import EPOCH_COSTS, epoch_cost, training_estimate, training_seconds

ROOT = Path(__file__).resolve().parents[1]


def test_the_costs_are_the_measured_ones():
    rows = json.loads((ROOT / "benchmarks" / "results" / "epoch_cost.json").read_text())["rows"]
    measured = {(r["preset"], r["model"], r["frames"], r["persons"], r["batch_size"], r["s_per_1000_clips_epoch"])
                for r in rows}
    assert {(c.preset, c.model, c.frames, c.persons, c.batch_size, c.seconds) for c in EPOCH_COSTS} == measured


def test_every_training_preset_has_a_measured_cost():
    for name in TRAIN_PRESETS:
        assert epoch_cost(train_preset(name)) is not None, name


def test_the_estimate_follows_the_configs_epochs():
    cpu = train_preset("cpu")
    assert training_seconds(1300, cpu) == pytest.approx(1.3 * cpu.epochs * 17.3)
    assert training_seconds(1300, train_preset("cpu", epochs=10)) == pytest.approx(1.3 * 10 * 17.3)
    assert training_estimate(1300, cpu) == (
        f"about {round(1.3 * cpu.epochs * 17.3 / 60)} min with the cpu preset on 2 cores for 1300 training clips")
    assert training_estimate(10, train_preset("smoke")).startswith("about 1 min")      # never 0


def test_an_unmeasured_shape_has_no_estimate():
    odd = train_preset("cpu", frames=100)
    assert training_seconds(1300, odd) is None
    assert "not measured" in training_estimate(1300, odd)
