"""partkd.illustration: the Skeletons page's per-clip occlusion and the detector's error (no Streamlit)."""
from __future__ import annotations

import numpy as np

from partkd.data.occlusion import occlude
from partkd.illustration import clip_seed, detection_error, illustrated_occlusion
from partkd.layouts import get_layout


def test_each_clip_gets_its_own_mask_from_the_one_seed():
    lay = get_layout("coco17")
    clip = np.random.default_rng(0).uniform(1, 2, (1, 30, lay.num_joints, 3))
    seeds = {clip_seed(s, i) for s in (0, 1) for i in range(5)}
    assert len(seeds) == 10 and clip_seed(3, 7) == clip_seed(3, 7)
    shown = illustrated_occlusion(clip, lay, 0.4, "joint", (), 3, 7)
    assert np.array_equal(shown, occlude(clip, lay, 0.4, mode="joint", seed=clip_seed(3, 7)))
    assert not np.array_equal(shown, illustrated_occlusion(clip, lay, 0.4, "joint", (), 3, 8))
    arm = illustrated_occlusion(clip, lay, 0.0, "part", ("left_arm",), 3, 7)
    assert (~np.any(arm != 0, axis=-1)).sum() == 3 * 30                   # shoulder, elbow, wrist in every frame


def test_detection_error_is_the_mean_pixel_distance_over_joints_present_in_both():
    reference = np.zeros((1, 2, 3, 3))
    reference[0, :, :2] = [10.0, 20.0, 1.0]
    low = reference.copy()
    low[0, :, :2, :2] += [3.0, 4.0]                                       # 5 px off
    low[0, 1, 0] = 0.0                                                    # missed by the detector
    low[0, 0, 2] = [50.0, 50.0, 1.0]                                      # no reference joint: not counted
    assert detection_error(low, reference) == 5.0
    assert np.isnan(detection_error(np.zeros_like(low), reference))


def test_the_students_view_hides_what_the_scored_test_set_hides():
    """Skeletons draws a clip over the students' input frames with its row of the test set's draw, so it hides the
    joints the models are scored without (engine.evaluate.occlude_set on the whole set), for every mode."""
    from partkd.data.dataset import SkeletonDataset
    from partkd.data.transforms import present
    from partkd.engine.data import model_inputs
    from partkd.engine.evaluate import occlude_set
    from partkd.illustration import students_view

    lay = get_layout("coco17")
    rng = np.random.default_rng(1)
    clips = [rng.uniform(1, 2, (1, int(t), lay.num_joints, 3)) for t in rng.integers(20, 60, 6)]
    ds = SkeletonDataset(clips, np.zeros(6, int), ["a"], np.array(["test"] * 6), lay, [f"c{i}" for i in range(6)])
    settings = {"frames": 32, "persons": 1, "mode": "resample", "normalize": True}
    for mode, parts in (("span", ()), ("joint", ()), ("sequence", ()), ("part", ()), ("part", ("left_leg",))):
        scored = np.asarray(occlude_set(model_inputs(ds, {"input": settings}), lay, 0.5, mode, 7, list(parts) or None))
        for row in (0, 4):
            shown, hidden = students_view(clips[row], lay, settings, 0.5, mode, parts, 7, row)
            assert shown.shape == (1, 32, lay.num_joints, 3)                  # the students' length, not the 20-60 recorded
            assert np.array_equal(present(hidden), present(scored[row])), (mode, parts, row)
    shown, hidden = students_view(clips[2], lay, settings, 0.0, "span", (), 7, 2)
    assert np.array_equal(shown, hidden) and present(shown).all()
