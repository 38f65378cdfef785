"""The validation split carved from the training subjects: whole groups, both sides alike, the test split unread."""
from __future__ import annotations

import numpy as np
import pytest

from partkd.data.dataset import SkeletonDataset
from partkd.data.validation import carve_validation, group_keys
from partkd.engine.config import DataSpec, spec_dict
from partkd.engine.data import load_high, load_paired
from partkd.errors import DataError
from partkd.layouts import get_layout


def _spec(**kw: object) -> DataSpec:
    return DataSpec(**{"num_classes": 4, "clips_per_class": 20, "synth_frames": 16, **kw})


def test_the_validation_split_is_whole_training_subjects_on_both_sides_and_no_test_clip():
    full = load_paired(_spec())
    carved = load_paired(_spec(validation=0.3))
    train_names = {n for n, s in zip(full.high.names, full.high.split) if s == "train"}
    assert set(carved.high.names) == train_names                     # the real test clips are gone
    subjects = group_keys(carved.high)
    val, train = set(subjects[carved.high.split == "test"]), set(subjects[carved.high.split == "train"])
    assert val and train and not val & train                          # whole subjects held out
    assert val == set(carved.high.meta["validation"]["groups"])
    for side in (carved.high, carved.low):                            # a low clip sits where its high clip does
        pairs = dict(zip(side.pair_ids.tolist(), side.split.tolist()))
        assert pairs == dict(zip(carved.high.pair_ids.tolist(), carved.high.split.tolist()))
    again = load_high(_spec(validation=0.3))
    assert again.names == carved.high.names and list(again.split) == list(carved.high.split)


def test_names_without_subjects_are_held_out_by_pair_id_with_the_share_asked():
    n = 40
    ds = SkeletonDataset([np.ones((1, 4, 13, 3), np.float32)] * n, np.arange(n) % 4, list("abcd"),
                         np.array(["train"] * 30 + ["test"] * 10), get_layout("penn13"), [f"{i:04d}" for i in range(n)])
    carved = carve_validation(ds, 0.2, seed=0)
    assert len(carved) == 30 and (carved.split == "test").sum() == 6
    assert carved.meta["validation"]["groups"] != carve_validation(ds, 0.2, seed=1).meta["validation"]["groups"]
    one = ds.subset(np.array([0] * 5))
    with pytest.raises(DataError, match="validation split needs two or more"):
        carve_validation(one, 0.2, seed=0)


def test_a_spec_without_validation_records_as_before_and_describes_the_split():
    assert "validation" not in spec_dict(_spec())
    assert spec_dict(_spec(validation=0.2))["validation"] == 0.2
    assert "validation split: 20% of the training subjects" in _spec(validation=0.2).describe()


def test_a_teacher_trained_on_the_carve_records_it_and_is_read_on_the_validation_clips(tmp_path):
    from partkd.checkpoints import load_checkpoint, read_meta
    from partkd.engine.config import data_spec_from_dict, train_preset
    from partkd.engine.evaluate import evaluate
    from partkd.engine.teacher import train_teacher

    spec = _spec(validation=0.3)
    path = train_teacher(train_preset("smoke", epochs=1, batch_size=8), spec, tmp_path / "t")
    meta = read_meta(path)
    assert meta["data"]["validation"] == 0.3
    again = load_high(data_spec_from_dict(meta["data"], path))
    val = again.by_split("test")
    assert len(val) == meta_clips(again) and evaluate(load_checkpoint(path), val)["n"] == len(val)
    assert not set(val.names) & set(load_high(_spec()).by_split("test").names)


def meta_clips(ds: SkeletonDataset) -> int:
    return int(ds.meta["validation"]["clips"])


def test_ntu_names_group_by_performer_and_other_names_by_their_subject_token():
    def keys(names: list[str]) -> list[str]:
        n = len(names)
        ds = SkeletonDataset([np.ones((1, 4, 13, 3), np.float32)] * n, np.zeros(n), ["a"], np.array(["train"] * n),
                             get_layout("penn13"), names)
        return list(group_keys(ds))

    assert keys(["S001C001P008R001A010", "S002C003P008R002A001.skeleton", "S001C001P003R001A010"]) == ["s8", "s8", "s3"]
    assert keys(["a01_s03_e00_v01", "S11/Walking.54138969/w000"]) == ["s3", "s11"]
    assert keys(["0001", "S1/x"]) == ["p0", "p1"]                  # one name without a subject: by pair id
