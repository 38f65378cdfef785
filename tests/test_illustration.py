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
