"""partkd.efficiency_view: what the Part-efficiency page shows of a teacher's E (no Streamlit)."""
from __future__ import annotations

import numpy as np
import pytest

from partkd.data.synthetic import action_parts
from partkd.distill.definitions import DEFAULT_EFFICIENCY, EFFICIENCIES
from partkd.distill.efficiency import describe_truth
from partkd.efficiency_view import (
    E_VIEWS,
    SOFTMAX,
    e_definition,
    efficiency_uncertainty,
    efficiency_view,
    known_carriers,
    truth_summary,
)
from partkd.errors import CheckpointError

RAW = np.array([[0.9, 0.1, 0.0, 0.0, 0.0], [0.2, 0.2, 0.6, 0.0, 0.0]])
SHAPLEY = np.array([[0.5, 0.05, -0.02, 0.0, 0.01], [0.0, 0.01, 0.3, 0.02, 0.0]])
DROP = np.array([[0.6, 0.1, 0.0, 0.0, 0.0], [0.1, 0.1, 0.4, 0.0, 0.0]])


def softmax(x: np.ndarray, t: float) -> np.ndarray:
    e = np.exp(x / t)
    return e / e.sum(axis=1, keepdims=True)


TEACHER = {"class_names": ["wave", "kick"], "E_raw": RAW.tolist(), "E": softmax(RAW, 1.0).tolist(),
           "E_shapley": SHAPLEY.tolist(), "E_drop": DROP.tolist(),
           "data": {"source": "synthetic", "synth_motion": "clean"}}
LABEL = {name: EFFICIENCIES[name].label for name in EFFICIENCIES}


def test_views_list_the_most_truthful_definition_first_then_the_softmax():
    assert E_VIEWS[0] == EFFICIENCIES[DEFAULT_EFFICIENCY].label and E_VIEWS[-1] == SOFTMAX
    assert sorted(e_definition(v) for v in E_VIEWS) == sorted([*EFFICIENCIES, SOFTMAX])


def test_a_definition_shows_the_stored_matrix():
    for name, stored in (("miss", RAW), ("shapley", SHAPLEY), ("drop", DROP)):
        E, what, normalized = efficiency_view(TEACHER, LABEL[name], 1.0, None)
        assert np.array_equal(E, stored) and not normalized
        assert what.startswith(f"Showing the {LABEL[name]}: ") and what.endswith("No KD student is loaded.")
    with pytest.raises(CheckpointError, match="has no probability drop matrix yet"):
        efficiency_view({k: v for k, v in TEACHER.items() if k != "E_drop"}, LABEL["drop"], 1.0, None)


def test_the_softmax_is_the_students_own_part_weights_only_at_its_temperature():
    student = {"kd": {"method": "pmsc", "efficiency": "shapley", "efficiency_temperature": 0.5}}
    own, what, normalized = efficiency_view(TEACHER, SOFTMAX, 0.5, student)
    assert normalized and what.startswith("Showing exactly the KD student's part weights")
    assert "weighted by the softmax of the Shapley value at temperature 0.5" in what
    assert np.allclose(own, softmax(SHAPLEY, 0.5), atol=1e-6)              # the PMSC weights, by hand
    other_t, what, _ = efficiency_view(TEACHER, SOFTMAX, 2.0, student)
    assert np.allclose(other_t, softmax(SHAPLEY, 2.0)) and what.startswith("Showing the softmax of the Shapley")
    no_kd, what, _ = efficiency_view(TEACHER, SOFTMAX, 1.0, None)
    assert np.allclose(no_kd, softmax(RAW, 1.0)) and what.endswith("No KD student is loaded.")
    _, what, _ = efficiency_view(TEACHER, SOFTMAX, 1.0, {"kd": {"method": "none"}})
    assert what.endswith("The loaded KD student used 'none', which does not weight parts by E.")


def test_a_student_of_another_teacher_gets_the_miss_rate_softmax(tmp_path):
    student = {"kd": {"method": "pmsc", "efficiency": "shapley", "efficiency_temperature": 0.5,
                      "teacher": str(tmp_path / "other.safetensors")}}
    E, what, normalized = efficiency_view(TEACHER, SOFTMAX, 0.5, student, str(tmp_path / "teacher.safetensors"))
    assert normalized and np.allclose(E, softmax(RAW, 0.5))
    assert "distilled from another teacher" in what and "exactly" not in what


def test_uncertainty_flags_cells_whose_interval_spans_zero_or_reaches_the_top():
    assert efficiency_uncertainty(TEACHER, LABEL["shapley"]) is None         # no intervals stored
    lo = SHAPLEY - np.array([[0.1, 0.1, 0.01, 0.01, 0.02], [0.05, 0.02, 0.1, 0.01, 0.01]])
    hi = SHAPLEY + 0.01
    teacher = {**TEACHER, "E_ci": {"shapley": {"lo": lo.tolist(), "hi": hi.tolist()}}, "E_clips": [10, 3]}
    unc = efficiency_uncertainty(teacher, LABEL["shapley"])
    assert unc is not None and np.array_equal(unc["lo"], lo) and np.array_equal(unc["hi"], hi)
    # row 0: head [0.4, 0.51] is the top; arm, leg cells span 0, right arm [-0.03, -0.01] does not
    assert unc["uncertain"][0].tolist() == [False, True, False, True, True]
    assert unc["uncertain"][1].all()                                         # 3 clips: too few to trust
    assert unc["contested"].tolist() == [False, False] and unc["none_needed"].tolist() == [False, False]
    assert efficiency_uncertainty(teacher, SOFTMAX) is None


def test_known_carriers_and_the_truth_summary_of_synthetic_teachers():
    assert known_carriers(TEACHER) == action_parts("clean")
    assert known_carriers({"data": {"source": "penn.npz"}}) == {}
    score = {"recovery": 0.75, "classes": 4, "gap": 0.125}
    assert truth_summary({"E_truth": {"shapley": score}}) == [
        f"**Against the known carrier parts** (Shapley value): {describe_truth(score)}."]
    assert truth_summary(TEACHER) == []


def test_e_carries_a_caveat_for_a_teacher_without_dropout_or_with_low_accuracy():
    from partkd.efficiency_view import e_caveats

    good = {"train": {"part_dropout": 0.5}, "metrics": {"val_top1": 0.9}}
    assert e_caveats(good) == []
    plain = e_caveats({"train": {"part_dropout": 0.0}, "metrics": {"val_top1": 0.9}})
    assert len(plain) == 1 and "never saw a missing part" in plain[0]
    weak = e_caveats({"train": {"part_dropout": 0.5}, "metrics": {"val_top1": 0.365}})
    assert len(weak) == 1 and "36.5 %" in weak[0]
    assert len(e_caveats({})) == 1                      # an old checkpoint without the field: no dropout recorded


def test_default_pmsc_weights_of_the_shipped_teacher_are_not_flat():
    """The default PMSC weights (Shapley E at T 0.2) of the shipped synthetic teacher put >= 0.35 on a carrier of every
    class carried by a strict subset of parts, where the paper's miss-rate softmax gives 0.20 to most of them."""
    from pathlib import Path

    from partkd.checkpoints import read_meta
    from partkd.engine.config import StudentConfig
    from partkd.engine.student import part_weights
    from partkd.layouts import PARTS

    meta = read_meta(Path(__file__).resolve().parent.parent / "checkpoints" / "teacher.safetensors")
    carriers = action_parts()
    weights = part_weights(meta, StudentConfig())
    paper = part_weights(meta, StudentConfig(efficiency="miss", efficiency_temperature=1.0))
    for row, miss_row, name in zip(weights, paper, meta["class_names"]):
        idx = [PARTS.index(p) for p in carriers[name]]
        if len(idx) < len(PARTS):
            assert row[idx].max() >= 0.35, (name, row)
    assert (paper.max(axis=1) < 0.35).sum() >= 5  # the signal the miss rate loses


def test_the_shipped_synthetic_teachers_stored_default_e_names_a_carrier_for_every_class():
    """The shipped teacher's default E, read straight from its metadata, tops a carrier part of each of its 10 classes
    (the generator's carriers, recomputed here rather than trusting the stored score)."""
    from pathlib import Path

    import numpy as np

    from partkd.checkpoints import read_meta
    from partkd.layouts import PARTS

    meta = read_meta(Path(__file__).resolve().parent.parent / "checkpoints" / "teacher.safetensors")
    e = np.asarray(meta[f"E_{meta['E_default']}"])
    carriers = action_parts()
    hits = [PARTS[int(row.argmax())] in carriers[name] for row, name in zip(e, meta["class_names"])]
    assert len(hits) == 10 and all(hits)
    assert meta["E_truth"][meta["E_default"]]["recovery"] == 1.0
