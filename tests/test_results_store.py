"""Results kept by what produced them: the portable key, and the results.json shipped beside checkpoints."""
from __future__ import annotations

import json
from pathlib import Path

from partkd.engine.config import DataSpec
from partkd.results_store import RESULTS_FILE, key_text, portable_data, read_results, result_key, write_results


def test_a_key_names_the_dataset_not_the_machine_path() -> None:
    here = DataSpec(source="/home/a/data/penn_action", format="penn_action", level="heavy")
    there = DataSpec(source="/mnt/b/penn_action", format="penn_action", level="heavy")
    assert portable_data(here) == portable_data(there) and portable_data(here)["source"] == "penn_action"
    a = result_key("accuracy_at_op", "ab12", "student", here, op=0.3, mode="joint", seed=0)
    b = result_key("accuracy_at_op", "ab12", "student", there, mode="joint", seed=0, op=0.3)
    assert key_text(a) == key_text(b)
    other = result_key("accuracy_at_op", "ab12", "student", DataSpec(source="/x/penn_action", level="medium"),
                       op=0.3, mode="joint", seed=0)
    assert key_text(other) != key_text(a)                     # the degradation is part of the key
    assert portable_data(DataSpec(source="/d", low="/l/low.npz", high_layout="/l/my.json"))["low"] == "low.npz"


def test_results_round_trip_and_a_bad_file_reads_as_none(tmp_path: Path) -> None:
    key = result_key("part_sensitivity", "ff", "teacher", DataSpec())
    path = write_results(tmp_path, [{"key": key, "value": [0.1, 0.2]}], {"provenance": {"command": "x"}})
    assert path == tmp_path / RESULTS_FILE and read_results(tmp_path) == {key_text(key): [0.1, 0.2]}
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "version": 0}))
    assert read_results(tmp_path) == {}
    path.write_text("{not json")
    assert read_results(tmp_path) == {} and read_results(tmp_path / "none") == {}
