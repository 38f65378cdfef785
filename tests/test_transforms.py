"""Tests of partkd.data.transforms: frame/person fitting, normalisation, batching, augmentation."""
import numpy as np
import pytest

from partkd.data.dataset import SkeletonDataset
from partkd.data.inputs import to_array
from partkd.data.transforms import augment, body_size, fit_frames, fit_persons, normalize_clip, present
from partkd.errors import ConfigError
from partkd.layouts import get_layout, layout_from_dict

# A 5-joint star: centre 0 with one child per part, every bone of length 2 in the reference pose.
STAR = layout_from_dict({"name": "star", "dims": 3, "joints": ["c", "la", "ra", "ll", "rl"],
                         "edges": [[1, 0], [2, 0], [3, 0], [4, 0]], "center": 0,
                         "parts": {"head": [0], "left_arm": [1], "right_arm": [2], "left_leg": [3],
                                   "right_leg": [4]}})
OFFSETS = np.array([[0, 0, 0], [2, 0, 0], [0, 2, 0], [0, 0, 2], [-2, 0, 0]], dtype=np.float32)


def ramp_clip(t: int = 5, v: int = 3) -> np.ndarray:
    """(1, t, v, 3) clip whose every channel equals frame index + 1 (no zero joints)."""
    return np.broadcast_to(np.arange(1, t + 1, dtype=np.float32)[None, :, None, None], (1, t, v, 3)).copy()


def test_fit_frames_pad_and_crop():
    clip = ramp_clip(5)
    padded = fit_frames(clip, 8)
    assert padded.shape == (1, 8, 3, 3)
    np.testing.assert_array_equal(padded[:, :5], clip)
    assert not padded[:, 5:].any()
    np.testing.assert_array_equal(fit_frames(clip, 3), clip[:, :3])


def test_fit_frames_resample_linear_and_drops_empty_frames():
    clip = np.concatenate([ramp_clip(5), np.zeros((1, 2, 3, 3), np.float32)], axis=1)  # 2 empty tail frames
    out = fit_frames(clip, 9, mode="resample")
    np.testing.assert_allclose(out[0, :, 0, 0], np.linspace(1, 5, 9), atol=1e-6)
    np.testing.assert_allclose(fit_frames(clip, 3, mode="resample")[0, :, 1, 2], [1, 3, 5], atol=1e-6)


def test_fit_frames_resample_missing_joint_stays_zero():
    clip = ramp_clip(5)
    clip[0, 2, 1] = 0.0  # joint 1 missing at frame 2
    out = fit_frames(clip, 9, mode="resample")  # positions 0, .5, 1, ..., 4
    missing = ~present(out[0, :, 1])
    np.testing.assert_array_equal(missing, [0, 0, 0, 1, 1, 1, 0, 0, 0])  # positions 1.5, 2, 2.5 touch frame 2
    np.testing.assert_allclose(out[0, 2, 1, 0], 2.0)  # position 1.0: frame 2 has weight 0
    assert present(out[0, :, 0]).all()


def test_fit_frames_empty_clip_and_errors():
    assert not fit_frames(np.zeros((2, 4, 3, 3), np.float32), 6, mode="resample").any()
    with pytest.raises(ConfigError):
        fit_frames(ramp_clip(), 4, mode="stretch")
    with pytest.raises(ConfigError):
        fit_frames(ramp_clip(), 0)


def test_fit_persons_keeps_most_active_and_pads():
    rng = np.random.default_rng(0)
    still = np.ones((1, 10, 3, 3), np.float32)
    moving = 1.0 + rng.normal(0, 1.0, (1, 10, 3, 3)).astype(np.float32)
    absent = np.zeros((1, 10, 3, 3), np.float32)
    clip = np.concatenate([still, absent, moving])
    np.testing.assert_array_equal(fit_persons(clip, 2), np.concatenate([moving, still]))
    four = fit_persons(clip, 4)
    assert four.shape == (4, 10, 3, 3)
    np.testing.assert_array_equal(four[:2], np.concatenate([moving, still]))
    assert not four[2:].any()


def star_clip() -> np.ndarray:
    """(1, 3, 5, 3) star clip: frame 0 empty, then the star at (1, 1, 1) and moved by +2 x without 'rl'."""
    clip = np.zeros((1, 3, 5, 3), np.float32)
    clip[0, 1] = OFFSETS + [1.0, 1.0, 1.0]
    clip[0, 2] = OFFSETS + [3.0, 1.0, 1.0]
    clip[0, 2, 4] = 0.0
    return clip


def test_normalize_clip_hand_computed():
    out = normalize_clip(star_clip(), STAR)
    assert not out[0, 0].any()  # empty frame stays empty
    # centred on the mean centre position (2, 1, 1) over frames 1-2; bone length 2 -> 1
    np.testing.assert_allclose(out[0, 1], (OFFSETS - [1.0, 0, 0]) / 2.0)
    np.testing.assert_allclose(out[0, 2, :4], (OFFSETS[:4] + [1.0, 0, 0]) / 2.0)
    assert not out[0, 2, 4].any()  # missing joint stays exactly zero
    assert body_size(out, STAR) == pytest.approx(1.0)


def test_normalize_clip_invariant_and_keeps_confidence():
    layout = get_layout("penn13")
    rng = np.random.default_rng(1)
    clip = rng.uniform(50, 400, (2, 6, 13, 3)).astype(np.float32)
    clip[..., 2] = rng.uniform(0.1, 1.0, (2, 6, 13))
    clip[1, 3, 5] = 0.0
    base = normalize_clip(clip, layout)
    moved = clip.copy()
    moved[..., :2] = moved[..., :2] * 3.0 + [20.0, -7.0]
    moved[1, 3, 5] = 0.0
    np.testing.assert_allclose(normalize_clip(moved, layout), base, atol=1e-5)
    np.testing.assert_array_equal(base[..., 2], clip[..., 2])
    np.testing.assert_allclose(base[0, :, layout.center, :2].mean(axis=0), 0.0, atol=1e-5)
    assert not base[1, 3, 5].any()


def test_to_array_shapes_and_normalisation():
    layout = get_layout("penn13")
    rng = np.random.default_rng(2)
    clips = [rng.uniform(1, 100, (m, t, 13, 3)).astype(np.float32) for m, t in ((1, 5), (3, 12))]
    ds = SkeletonDataset(clips, [0, 1], ["a", "b"], ["train", "test"], layout, ["x", "y"])
    arr = to_array(ds, frames=8, persons=2)
    assert arr.shape == (2, 2, 8, 13, 3) and arr.dtype == np.float32
    assert not arr[0, 1].any() and not arr[0, 0, 5:].any()
    np.testing.assert_allclose(arr[0, :1, :5], normalize_clip(clips[0], layout))
    raw = to_array(ds, frames=8, persons=2, normalize=False)
    np.testing.assert_array_equal(raw[1], fit_frames(fit_persons(clips[1], 2), 8))


def test_augment_3d_rotates_about_vertical_axis():
    layout = get_layout("ntu25")
    rng = np.random.default_rng(3)
    batch = rng.normal(0, 1, (4, 2, 6, 25, 3)).astype(np.float32)
    batch[1, 0, 2, 7] = 0.0
    out = augment(batch, layout, 0, rotate_deg=90.0, scale=0.0, shift=0.0)
    np.testing.assert_allclose(out[..., 1], batch[..., 1], atol=1e-6)  # y is the axis
    np.testing.assert_allclose(np.hypot(out[..., 0], out[..., 2]), np.hypot(batch[..., 0], batch[..., 2]),
                               atol=1e-5)
    assert not out[1, 0, 2, 7].any()
    assert not np.allclose(out[0, ..., 0], batch[0, ..., 0])


def test_augment_2d_keeps_confidence_and_missing_and_is_seeded():
    layout = get_layout("coco17")
    rng = np.random.default_rng(4)
    batch = rng.uniform(-1, 1, (3, 1, 5, 17, 3)).astype(np.float32)
    batch[..., 2] = rng.uniform(0.2, 1, (3, 1, 5, 17))
    batch[2, 0, 1, :4] = 0.0
    a = augment(batch, layout, 7)
    np.testing.assert_array_equal(a[..., 2], batch[..., 2])
    assert not a[2, 0, 1, :4].any()
    np.testing.assert_array_equal(a, augment(batch, layout, np.random.default_rng(7)))
    assert not np.allclose(a, augment(batch, layout, 8))
    np.testing.assert_allclose(augment(batch, layout, 7, rotate_deg=0.0, scale=0.0, shift=0.0), batch)


def test_augment_2d_hand_computed_rotation_and_each_sample_differs():
    layout = get_layout("coco17")
    batch = np.zeros((2, 1, 1, 17, 3), np.float32)
    batch[:, 0, 0, :, 0], batch[..., 2] = 1.0, 1.0
    out = augment(batch, layout, 0, rotate_deg=90.0, scale=0.0, shift=0.0)
    theta = np.arctan2(out[:, 0, 0, 0, 1], out[:, 0, 0, 0, 0])
    np.testing.assert_allclose(out[:, 0, 0, :, :2], np.stack([np.cos(theta), np.sin(theta)], -1)[:, None]
                               .repeat(17, 1), atol=1e-6)
    assert abs(theta[0] - theta[1]) > 1e-3 and np.all(np.abs(theta) <= np.pi / 2 + 1e-6)


def test_teacher_dropout_removes_whole_parts_and_single_joints():
    from partkd.data.transforms import drop_parts_and_joints

    lay = get_layout("ntu25")
    batch = np.ones((4000, 1, 3, lay.num_joints, 3), np.float32)
    out = drop_parts_and_joints(batch, lay, 0.5, 0.0, np.random.default_rng(0))
    gone = ~np.any(out != 0, axis=-1)                                  # (N, M, T, V)
    per_clip = gone.any(axis=(1, 2))
    assert abs(per_clip.any(axis=1).mean() - 0.5) < 0.03
    parts = np.asarray(lay.parts)
    for row in per_clip[per_clip.any(axis=1)][:200]:
        assert len(set(parts[row])) == 1 and row.sum() == (parts == parts[row][0]).sum()   # exactly one whole part
    assert (gone == gone[:, :, :1]).all()                             # in every frame
    joints = drop_parts_and_joints(batch, lay, 0.0, 0.2, np.random.default_rng(1))
    assert abs((~np.any(joints != 0, axis=-1)).mean() - 0.2) < 0.01
    np.testing.assert_array_equal(drop_parts_and_joints(batch, lay, 0.0, 0.0, np.random.default_rng(2)), batch)
    subset = drop_parts_and_joints(batch, lay, 0.5, 0.0, np.random.default_rng(3), mode="subset")
    lost = np.stack([~np.any(subset[:, 0, 0][:, lay.part_joints(p)] != 0, axis=-1).all(axis=1) for p in range(5)], 1)
    for p in range(5):  # each part is either wholly gone or wholly kept
        kept = np.any(subset[:, 0, 0][:, lay.part_joints(p)] != 0, axis=-1)
        assert (kept.all(axis=1) | ~kept.any(axis=1)).all()
    counts = lost.sum(axis=1)
    assert abs((counts > 0).mean() - 0.5) < 0.03 and counts.max() == 4            # never all five
    assert np.allclose(np.bincount(counts[counts > 0], minlength=5)[1:] / (counts > 0).sum(), 0.25, atol=0.03)
    with pytest.raises(ConfigError, match="unknown mode 'all'"):
        drop_parts_and_joints(batch, lay, 0.5, 0.0, np.random.default_rng(0), mode="all")
