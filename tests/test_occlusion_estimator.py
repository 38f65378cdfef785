"""Tests of partkd.data.occlusion, joint_map and estimator: occlusion modes and the pose-estimator simulation."""
from dataclasses import replace

import numpy as np
import pytest

from partkd.data.dataset import SkeletonDataset
from partkd.data.estimator import ESTIMATOR_PRESETS, ar1_noise, EstimatorSim, project, simulate_estimator
from partkd.data.joint_map import joint_map
from partkd.data.occlusion import SPAN_FRACTION, occlude, occlude_part, span_mask, span_transitions
from partkd.data.synthetic import synth_high
from partkd.data.transforms import body_size, present
from partkd.errors import ConfigError, DataError, LayoutError
from partkd.layouts import PARTS, get_layout, layout_from_dict

NTU = get_layout("ntu25")
COCO = get_layout("coco17")
PENN = get_layout("penn13")
CLEAN = EstimatorSim(yaw_deg=0.0, jitter=0.0, drift=0.0, miss_rate=0.0, person_miss_rate=0.0, swap_rate=0.0,
                     conf_noise=0.0)


def batch(n: int = 4, t: int = 50, seed: int = 0) -> np.ndarray:
    """Random (n, 2, t, 25, 3) batch without zero joints."""
    return np.random.default_rng(seed).uniform(0.5, 2.0, (n, 2, t, NTU.num_joints, 3)).astype(np.float32)


def test_occlude_extremes_and_input_untouched():
    x = batch()
    before = x.copy()
    for mode in ("joint", "sequence", "span", "part"):
        np.testing.assert_array_equal(occlude(x, NTU, 0.0, mode), x)
        assert not occlude(x, NTU, 1.0, mode).any()
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("op", [-0.1, 1.5])
def test_occlude_rejects_bad_probability(op):
    with pytest.raises(ConfigError):
        occlude(batch(), NTU, op)


def test_occlude_rejects_bad_mode_part_and_shape():
    with pytest.raises(ConfigError):
        occlude(batch(), NTU, 0.5, mode="frame")
    with pytest.raises(ConfigError):
        occlude(batch(), NTU, 1.0, mode="part", parts=["tail"])
    with pytest.raises(DataError):
        occlude(batch()[..., :17, :], NTU, 0.5)


def test_occlude_joint_fraction_matches_op():
    x = batch(8, 100)
    for op in (0.3, 0.6):
        dropped = ~present(occlude(x, NTU, op, "joint", seed=1))
        assert dropped.mean() == pytest.approx(op, abs=0.01)


def test_occlude_sequence_drops_whole_joints():
    x = batch(40, 20)
    dropped = ~present(occlude(x, NTU, 0.3, "sequence", seed=2))
    assert (dropped == dropped[:, :1, :1]).all()  # same for every person and frame of a clip
    assert dropped.mean() == pytest.approx(0.3, abs=0.05)


def test_span_transitions_hand_computed():
    # T = 40: spans last SPAN_FRACTION * 40 = 10 frames, so leave = 0.1 and enter = op * leave / (1 - op)
    assert SPAN_FRACTION * 40 == 10
    assert span_transitions(0.3, 40) == pytest.approx((0.3 * 0.1 / 0.7, 0.1))
    assert span_transitions(0.95, 40) == pytest.approx((1.0, 0.05 / 0.95))  # enter capped: spans shorten instead
    assert span_transitions(0.0, 40) == (0.0, 1.0) and span_transitions(1.0, 40) == (1.0, 0.0)


def test_span_mask_hand_computed_chain():
    # op 0.5 at T = 4: leave = 1, enter = 1 (capped), so the chain alternates from its first frame
    draws = np.array([[0.4, 0.9, 0.9, 0.2], [0.6, 0.1, 0.7, 0.3]])
    np.testing.assert_array_equal(span_mask(draws, 0.5), [[True, False, True, False], [False, True, False, True]])


def test_occlude_span_keeps_op_and_makes_long_spans():
    x = batch(60, 48)
    for op in (0.3, 0.6):
        dropped = ~present(occlude(x, NTU, op, "span", seed=4))  # (N, M, T, V)
        assert dropped.mean() == pytest.approx(op, abs=0.03)
        assert dropped[:, :, 0].mean() == pytest.approx(op, abs=0.05)  # every frame occluded with probability op
        runs = np.diff(dropped.astype(np.int8), axis=2)
        starts = (runs == 1).sum() + dropped[:, :, 0].sum()
        mean_span = dropped.sum() / starts
        assert 6 < mean_span < 16  # about SPAN_FRACTION * 48 = 12 frames, cut by the clip's ends
        joint_spans = ~present(occlude(x, NTU, op, "joint", seed=4))
        assert joint_spans.sum() / ((np.diff(joint_spans.astype(np.int8), axis=2) == 1).sum()) < 3


def test_occlude_part_named_zeros_exactly_that_part():
    x = batch()
    for part in PARTS:
        out = occlude(x, NTU, 0.0, "part", parts=[part])  # explicit parts ignore op
        joints = NTU.part_joints(part)
        assert not out[..., joints, :].any()
        others = np.setdiff1d(np.arange(NTU.num_joints), joints)
        np.testing.assert_array_equal(out[..., others, :], x[..., others, :])
        np.testing.assert_array_equal(occlude_part(x, NTU, part), out)
        np.testing.assert_array_equal(occlude_part(x[1], NTU, PARTS.index(part)), out[1])


def test_occlude_random_parts_are_unions_of_parts():
    x = batch(200, 2)
    dropped = ~present(occlude(x, NTU, 0.5, "part", seed=3))[:, 0, 0]  # (N, V)
    part_of = np.asarray(NTU.parts)
    for p in range(5):
        cols = dropped[:, part_of == p]
        assert (cols == cols[:, :1]).all()
    assert dropped[:, [NTU.part_joints(p)[0] for p in range(5)]].mean() == pytest.approx(0.5, abs=0.06)


def test_occlude_seeded_and_clip_equals_batch():
    x = batch()
    a = occlude(x, NTU, 0.4, seed=5)
    np.testing.assert_array_equal(a, occlude(x, NTU, 0.4, seed=5))
    assert not np.array_equal(a, occlude(x, NTU, 0.4, seed=6))
    clip = x[0]
    out = occlude(clip, NTU, 0.4, seed=5)
    assert out.shape == clip.shape
    np.testing.assert_array_equal(out, occlude(clip[None], NTU, 0.4, seed=5)[0])


def test_project_hand_computed():
    clip = np.zeros((1, 1, 25, 3), np.float32)
    clip[0, 0, :] = [1.0, 0.5, 3.0]  # everything at the centre, then one joint 0.35 m along +x
    clip[0, 0, 4] = [1.35, 0.5, 3.0]
    clip[0, 0, 5] = [1.0, 0.85, 3.0]
    uv = project(clip, NTU.center, distance=3.5, focal=1000.0, yaw=0.0)
    np.testing.assert_allclose(uv[0, 0, NTU.center], [960.0, 540.0])
    np.testing.assert_allclose(uv[0, 0, 4], [960.0 - 100.0, 540.0])  # +x is the sensor's left: image left
    np.testing.assert_allclose(uv[0, 0, 5], [960.0, 540.0 - 100.0])  # up is image up
    turned = project(clip, NTU.center, distance=3.5, focal=1000.0, yaw=np.pi / 2)  # x -> -z: nearer camera
    np.testing.assert_allclose(turned[0, 0, 4], [960.0, 540.0], atol=1e-9)


def test_ar1_noise_statistics():
    x = ar1_noise(np.random.default_rng(0), (200, 200, 3), std=2.0, rho=0.8)
    assert x.std() == pytest.approx(2.0, rel=0.05)
    lag1 = (x[:, 1:] * x[:, :-1]).mean() / x.var()
    assert lag1 == pytest.approx(0.8, abs=0.03)


def penn_dataset(n: int = 3, t: int = 12) -> SkeletonDataset:
    """n noisy penn13 2D clips of a standing person, confidence 1."""
    rng = np.random.default_rng(7)
    base = np.array([[200, 100], [230, 140], [170, 140], [240, 190], [160, 190], [245, 235], [155, 235],
                     [220, 240], [180, 240], [222, 310], [178, 310], [224, 380], [176, 380]], float)
    clips = []
    for _ in range(n):
        xy = base + rng.normal(0, 3, (1, t, 13, 2))
        clips.append(np.concatenate([xy, np.ones((1, t, 13, 1))], -1).astype(np.float32))
    return SkeletonDataset(clips, [0, 1, 0][:n], ["a", "b"], ["train", "test", "train"][:n], PENN,
                           [f"c{i}" for i in range(n)], [10, 11, 12][:n], {"source": "penn"})


def test_simulate_2d_source_maps_by_name_and_places_face():
    ds = penn_dataset()
    low = simulate_estimator(ds, "coco17", CLEAN, seed=0)
    src, out = ds.clips[0], low.clips[0]
    assert out.shape == (1, 12, 17, 3) and low.layout.name == "coco17"
    for name in ("left_shoulder", "right_wrist", "left_hip", "right_ankle"):
        np.testing.assert_allclose(out[..., COCO.joints.index(name), :2],
                                   src[..., PENN.joints.index(name), :2], atol=1e-4)
    head, ls, rs = (src[0, :, PENN.joints.index(j), :2] for j in ("head", "left_shoulder", "right_shoulder"))
    neck = (ls + rs) / 2
    eye_l, eye_r, nose = (out[0, :, COCO.joints.index(j), :2] for j in ("left_eye", "right_eye", "nose"))
    lat = ls - rs
    assert np.all(((eye_l - eye_r) * lat).sum(-1) > 0)  # the left eye is on the left shoulder's side
    up = head - neck
    assert np.all(((nose - head) * up).sum(-1) < 0) and np.all(((eye_l - nose) * up).sum(-1) > 0)
    conf = out[..., 2]
    assert np.all((conf > 0) & (conf <= 1))


def test_simulate_homogeneous_2d_keeps_coordinates():
    ds = penn_dataset()
    low = simulate_estimator(ds, "penn13", CLEAN)
    for a, b in zip(ds.clips, low.clips):
        np.testing.assert_allclose(b[..., :2], a[..., :2], atol=1e-4)


def test_simulate_keeps_labels_and_ids_and_is_seeded():
    ds = penn_dataset()
    a = simulate_estimator(ds, "coco17", "medium", seed=1)
    np.testing.assert_array_equal(a.labels, ds.labels)
    np.testing.assert_array_equal(a.split, ds.split)
    np.testing.assert_array_equal(a.pair_ids, ds.pair_ids)
    assert a.names == ds.names and a.class_names == ds.class_names
    assert a.meta["estimator"]["level"] == "medium" and a.meta["estimator"]["projected"] is False
    b = simulate_estimator(ds, "coco17", "medium", seed=1)
    c = simulate_estimator(ds, "coco17", "medium", seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a.clips, b.clips))
    assert not all(np.array_equal(x, y) for x, y in zip(a.clips, c.clips))


def ntu_dataset() -> SkeletonDataset:
    """Twelve synthetic ntu25 3D clips (kick, wave) of about 60 frames."""
    return synth_high(num_classes=2, clips_per_class=6, frames=60, seed=3)


def test_simulate_swaps_and_misses_hand_cases():
    ds = penn_dataset(1)
    swapped = simulate_estimator(ds, "penn13", replace(CLEAN, swap_rate=1.0, swap_len=1.0))
    for left in ("left_wrist", "left_knee"):
        right = left.replace("left_", "right_")
        np.testing.assert_allclose(swapped.clips[0][..., PENN.joints.index(left), :2],
                                   ds.clips[0][..., PENN.joints.index(right), :2], atol=1e-4)
    missed = simulate_estimator(ds, "coco17", replace(CLEAN, miss_rate=1.0, miss_len=1.0))
    assert not missed.clips[0].any()


def test_confidence_drops_with_error():
    ds = ntu_dataset()
    noisy = replace(CLEAN, jitter=0.1)
    clean = simulate_estimator(ds, "coco17", CLEAN, seed=0)
    low = simulate_estimator(ds, "coco17", noisy, seed=0)
    err = np.concatenate([np.linalg.norm(a[..., :2] - b[..., :2], axis=-1).ravel() / body_size(b, COCO)
                          for a, b in zip(low.clips, clean.clips)])
    conf = np.concatenate([a[..., 2].ravel() for a in low.clips])
    assert np.corrcoef(err, conf)[0, 1] < -0.8


def test_presets_degrade_increasingly():
    ds = ntu_dataset()
    clean = simulate_estimator(ds, "coco17", CLEAN, seed=0)
    stats = []
    for level in ("light", "medium", "heavy"):
        low = simulate_estimator(ds, "coco17", replace(ESTIMATOR_PRESETS[level], yaw_deg=0.0), seed=0)
        assert low.layout.name == "coco17" and low.meta["estimator"]["projected"] is True
        assert all(a.shape == (1, b.shape[1], 17, 3) for a, b in zip(low.clips, ds.clips))
        miss = np.mean([1 - present(c).mean() for c in low.clips])
        err = np.mean([np.linalg.norm(a[..., :2] - b[..., :2], axis=-1)[present(a)].mean()
                       / body_size(b, COCO) for a, b in zip(low.clips, clean.clips)])
        conf = np.mean([a[..., 2][present(a)].mean() for a in low.clips])
        stats.append((miss, err, -conf))
    stats = np.array(stats)
    assert np.all(np.diff(stats, axis=0) > 0), stats
    medium = ESTIMATOR_PRESETS["medium"]
    frames = np.mean([c.shape[1] for c in ds.clips])
    expected = 1 - np.mean(burst_free(medium.miss_rate, medium.miss_len, int(frames))
                           * burst_free(medium.person_miss_rate, medium.person_miss_len, int(frames)))
    assert stats[1, 0] == pytest.approx(expected, abs=0.02)


def burst_free(rate: float, mean_len: float, frames: int) -> np.ndarray:
    """P(frame t is in no burst): a burst starts w.p. rate/len per frame and outlives k frames w.p. (1-1/len)^k."""
    q = rate / mean_len
    return np.array([np.prod(1 - q * (1 - 1 / mean_len) ** np.arange(t + 1)) for t in range(frames)])


def test_joint_map_and_errors():
    jm = joint_map(NTU, COCO)
    assert jm.is_face.sum() == 5 and jm.weights.shape == (17, 25)
    assert jm.weights[COCO.joints.index("left_wrist"), NTU.joints.index("left_wrist")] == 1.0
    kinect = joint_map(COCO, get_layout("kinect_v1_20"))  # hip_center = mean of the hips, hand = wrist
    hc = kinect.weights[0]
    assert hc[COCO.joints.index("left_hip")] == hc[COCO.joints.index("right_hip")] == 0.5
    odd = layout_from_dict({"name": "odd", "joints": ["tail", "a", "b", "c", "d"], "edges": [[1, 0], [2, 0],
                            [3, 0], [4, 0]], "parts": {"head": [0], "left_arm": [1], "right_arm": [2],
                                                       "left_leg": [3], "right_leg": [4]}})
    with pytest.raises(LayoutError):
        joint_map(NTU, odd)
    with pytest.raises(ConfigError):
        simulate_estimator(penn_dataset(), "ntu25")  # no 3D from 2D
    with pytest.raises(ConfigError):
        simulate_estimator(penn_dataset(), "coco17", "extreme")
    with pytest.raises(ConfigError):
        EstimatorSim(miss_rate=1.5)


def test_simulate_homogeneous_3d_keeps_xyz_and_degrades_in_metres():
    ds = ntu_dataset()
    clean = simulate_estimator(ds, "ntu25", CLEAN)
    assert clean.layout.name == "ntu25" and clean.meta["estimator"]["projected"] is False
    for a, b in zip(ds.clips, clean.clips):
        np.testing.assert_allclose(b, a, atol=1e-6)
    low = simulate_estimator(ds, "ntu25", "heavy", seed=0)
    err = np.mean([np.linalg.norm(a - b, axis=-1)[present(a)].mean() / body_size(b, NTU)
                   for a, b in zip(low.clips, ds.clips)])
    assert 0.1 < err < 1.0
    assert np.mean([1 - present(c).mean() for c in low.clips]) > 0.1
