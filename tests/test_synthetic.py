"""Tests of partkd.data.synthetic: counts, shapes, subject split, kinematics, and part-carried motion."""

import numpy as np
import pytest

from partkd.data.degrade import occlude_part
from partkd.data.synthetic import (BONES, FLOOR_Y, SYNTH_ACTIONS, TRAIN_SUBJECTS, action_parts, bone_motion,
                                   make_synthetic, part_motion_energy, synth_high)
from partkd.data.transforms import body_size
from partkd.errors import ConfigError
from partkd.layouts import PARTS, get_layout

NTU = get_layout("ntu25")


@pytest.fixture(scope="module")
def default_set():
    return make_synthetic()


@pytest.fixture(scope="module")
def all_actions():
    return synth_high(num_classes=len(SYNTH_ACTIONS), clips_per_class=10, frames=64, seed=1)


def test_default_counts_and_shapes(default_set):
    pd = default_set
    high, low = pd.high, pd.low
    assert len(high) == len(low) == 600
    assert high.class_names[:3] == ["kick", "wave", "drink"] and len(high.class_names) == 10
    np.testing.assert_array_equal(np.bincount(high.labels), [60] * 10)
    assert high.layout.name == "ntu25" and low.layout.name == "coco17" and low.layout.dims == 2
    for h, lo in zip(high.clips, low.clips):
        assert h.shape[0] == 1 and h.shape[2:] == (25, 3) and h.dtype == np.float32
        assert 57 <= h.shape[1] <= 71 and lo.shape == (1, h.shape[1], 17, 3)
    np.testing.assert_array_equal(pd.high_index_of_low(), np.arange(600))
    np.testing.assert_array_equal(low.labels, high.labels)
    high.check_clips()
    low.check_clips()


def test_split_by_subject(default_set):
    high = default_set.high
    subject = np.asarray(high.meta["subject"])
    np.testing.assert_array_equal(high.split == "train", subject < TRAIN_SUBJECTS)
    assert set(subject[high.split == "test"]) == {7, 8, 9}
    assert high.summary()["splits"] == {"test": 180, "train": 420}
    assert np.all(np.bincount(high.labels[high.split == "test"]) == 18)


def test_low_is_degraded_but_mostly_present(default_set):
    low = default_set.low
    present = np.concatenate([(c[..., 2] > 0).ravel() for c in low.clips])
    assert 0.72 < present.mean() < 0.9  # "medium" misses about a fifth of the joint-frames
    assert low.meta["estimator"]["level"] == "medium"


def test_seeded():
    a, b, c = (synth_high(3, 4, 32, seed=s) for s in (5, 5, 6))
    assert all(np.array_equal(x, y) for x, y in zip(a.clips, b.clips))
    assert not any(np.array_equal(x, y) for x, y in zip(a.clips, c.clips) if x.shape == y.shape)


def test_kinematics_rigid_bones_and_feet_on_floor(all_actions):
    idx = {j: i for i, j in enumerate(NTU.joints)}
    child = np.array([idx[c] for c, _, _, _ in BONES])
    parent = np.array([idx[p] for _, p, _, _ in BONES])
    for clip in all_actions.clips[::7]:
        lengths = np.linalg.norm(clip[0][:, child] - clip[0][:, parent], axis=-1)  # (T, bones)
        assert lengths.std(axis=0).max() < 0.01  # rigid up to the 2 mm sensor noise
        feet = clip[0][:, [idx["left_ankle"], idx["right_ankle"], idx["left_foot"], idx["right_foot"]], 1]
        assert feet.min() == pytest.approx(FLOOR_Y, abs=0.02)  # the lowest foot touches the floor


def test_rejects_bad_sizes():
    with pytest.raises(ConfigError):
        synth_high(num_classes=len(SYNTH_ACTIONS) + 1)
    with pytest.raises(ConfigError):
        synth_high(num_classes=0)


def features(clip: np.ndarray) -> np.ndarray:
    """Bone motion of the clip after normalisation (bone motion is translation-free, so: divide by size)."""
    return bone_motion(clip, NTU) / body_size(clip, NTU)


def test_occluding_the_carrying_part_matters_most(all_actions):
    """The design in numbers: for one-part actions, occluding that part changes the clip >> any other part."""
    single = [(k, a) for k, a in enumerate(SYNTH_ACTIONS) if len(a.parts) == 1]
    assert {a.name for _, a in single} >= {"kick", "wave", "drink", "punch", "bow"}
    for k, action in single:
        dist = np.zeros(len(PARTS))
        for clip in (c for c, y in zip(all_actions.clips, all_actions.labels) if y == k):
            f = features(clip)
            dist += [((features(occlude_part(clip, NTU, p)) - f) ** 2).sum(-1).mean() for p in PARTS]
        carrier = PARTS.index(action.parts[0])
        others = np.delete(dist, carrier)
        assert dist[carrier] > 10 * others.max(), (action.name, dist / dist.max())


def test_motion_energy_lives_in_the_declared_parts(all_actions):
    for k, action in enumerate(SYNTH_ACTIONS):
        energy = np.mean([part_motion_energy(c, NTU) for c, y in zip(all_actions.clips, all_actions.labels)
                          if y == k], axis=0)
        carriers = [PARTS.index(p) for p in action.parts]
        rest = np.delete(energy, carriers)
        if rest.size:
            assert energy[carriers].min() > 5 * rest.max(), (action.name, energy / energy.max())
    assert action_parts()["kick"] == ("right_leg",) and action_parts()["jumping_jacks"] == PARTS
