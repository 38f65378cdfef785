"""partkd.data_fields: a data choice as DataSpec fields, described and compared with a teacher's data."""
from __future__ import annotations

from partkd.data_fields import as_fields, data_matches, describe_data, is_real_low, spec_of

SYNTH = {"source": "synthetic", "num_classes": 10, "clips_per_class": 100, "synth_frames": 48, "seed": 0,
         "level": "heavy", "low_layout": "coco17"}


def test_fields_make_the_spec_and_its_one_line_description():
    assert as_fields({"seed": 1, "level": "light"}) == (("level", "light"), ("seed", 1))
    assert spec_of(SYNTH).clips_per_class == 100
    assert describe_data(SYNTH) == "synthetic actions: 10 classes × 100 clips (seed 0); low quality: coco17 simulated at 'heavy'"
    assert describe_data({**SYNTH, "level": "nope"}).endswith("'nope' is not one of light, medium, heavy")


def test_real_low_quality_is_anything_but_the_simulation():
    assert not is_real_low(SYNTH) and not is_real_low({"low": "simulate"})
    assert is_real_low({"low": "real"}) and is_real_low({"low": "low.npz"})


def test_synthetic_data_matches_on_the_generator_settings_only():
    teacher = {"data": SYNTH}
    assert data_matches(teacher, SYNTH)
    assert data_matches(teacher, {**SYNTH, "level": "light", "low_layout": "openpose18"})  # how L is made
    assert not data_matches(teacher, {**SYNTH, "seed": 1})
    assert not data_matches(teacher, {**SYNTH, "num_classes": 5})
    assert not data_matches({}, SYNTH) and not data_matches({"data": "synthetic"}, SYNTH)
    assert not data_matches(teacher, {**SYNTH, "level": "nope"})          # fields that make no spec


def test_a_dataset_matches_by_resolved_path_layout_source_and_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "penn").mkdir()
    teacher = {"data": {"source": str(tmp_path / "penn"), "format": "penn_action", "level": "medium"}}
    assert data_matches(teacher, {"source": "penn", "format": "penn_action", "level": "heavy"})
    assert not data_matches(teacher, {"source": "penn", "high_layout": "coco17"})
    assert not data_matches(teacher, {"source": "penn", "options": {"window_s": 2}})
    assert not data_matches(teacher, {"source": "other"})
    assert not data_matches(teacher, SYNTH)
