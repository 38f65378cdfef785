"""Modalities from joint coordinates (partkd/data/modalities.py) on a hand-computed 3-joint chain."""
from __future__ import annotations

import numpy as np
import pytest

from partkd.data.modalities import MODALITIES, bone_parents, modality
from partkd.errors import ConfigError
from partkd.layouts import BUILTIN, Layout, get_layout

#: root(0) -> mid(1) -> tip(2), 3D; two more joints on the root (missing in the clips) complete the five parts.
CHAIN = Layout("chain3", ("root", "mid", "tip", "a", "b"), ((1, 0), (2, 1), (3, 0), (4, 0)), 0, (0, 1, 2, 3, 4), 3)


def _clip() -> np.ndarray:
    """(T=3, V=5, 3): the tip moves along x by 1 then 2; the mid is missing in frame 2 (joints a, b always)."""
    x = np.zeros((3, 5, 3), np.float32)
    x[:, 0] = [0.0, 0.0, 1.0]
    x[:, 1] = [0.0, 1.0, 1.0]
    x[:, 2] = [[0.0, 2.0, 1.0], [1.0, 2.0, 1.0], [3.0, 2.0, 1.0]]
    x[2, 1] = 0.0                                          # mid joint missing in the last frame
    return x


def test_bone_parents_follow_the_tree_from_the_centre() -> None:
    assert bone_parents(CHAIN).tolist() == [0, 0, 1, 0, 0]
    coco = get_layout("coco17")
    parents = bone_parents(coco)
    assert parents[coco.center] == coco.center
    for v in range(coco.num_joints):                      # every joint's chain of parents reaches the centre
        seen = 0
        while v != coco.center and seen < coco.num_joints:
            v, seen = int(parents[v]), seen + 1
        assert v == coco.center


def test_bones_motion_acceleration_and_angles_by_hand() -> None:
    x = _clip()
    b = MODALITIES["b"](x, CHAIN)
    np.testing.assert_allclose(b[0, :3], [[0, 0, 0], [0, 1, 0], [0, 1, 0]])
    np.testing.assert_allclose(b[1, 2], [1, 1, 0])
    np.testing.assert_allclose(b[2], 0.0)                 # mid missing: its bone and the tip's bone are missing
    jm = MODALITIES["jm"](x, CHAIN)
    np.testing.assert_allclose(jm[0, 2], [1, 0, 0])
    np.testing.assert_allclose(jm[1, 2], [2, 0, 0])
    np.testing.assert_allclose(jm[1, 1], 0.0)             # into the missing frame
    np.testing.assert_allclose(jm[2], 0.0)                # the last frame has no successor
    bm = MODALITIES["bm"](x, CHAIN)
    np.testing.assert_allclose(bm[0, 2], [1, 0, 0])       # (1, 1, 0) − (0, 1, 0)
    np.testing.assert_allclose(bm[1], 0.0)
    ja = MODALITIES["ja"](x, CHAIN)
    np.testing.assert_allclose(ja[1, 2], [1, 0, 0])       # 3 − 2·1 + 0
    np.testing.assert_allclose(ja[[0, 2]], 0.0)
    ba = MODALITIES["ba"](x, CHAIN)
    np.testing.assert_allclose(ba[1, 2], [2 ** -0.5, 2 ** -0.5, 0], atol=1e-6)
    np.testing.assert_allclose(ba[0, 0], 0.0)             # the root's bone has no direction
    np.testing.assert_allclose(MODALITIES["j"](x, CHAIN), x)


def test_2d_confidence_is_the_weaker_end_and_missing_stays_missing() -> None:
    chain2d = Layout("chain2d", CHAIN.joints, CHAIN.edges, 0, CHAIN.parts, 2)
    x = _clip()
    x[..., :3, 2] = [0.9, 0.5, 0.7]                       # confidences of root, mid, tip
    x[2, 1] = 0.0
    b = MODALITIES["b"](x, chain2d)
    np.testing.assert_allclose(b[0, :3, 2], [0.9, 0.5, 0.5])
    assert not b[2, 1:3].any()


@pytest.mark.parametrize("name", sorted(MODALITIES))
@pytest.mark.parametrize("layout", sorted(BUILTIN))
def test_every_modality_on_every_layout_keeps_shape_and_missing_joints(name: str, layout: str) -> None:
    lay = get_layout(layout)
    x = np.random.default_rng(0).normal(size=(2, 1, 6, lay.num_joints, 3)).astype(np.float32) + 3.0
    x[0, 0, :, 0] = 0.0                                   # joint 0 missing in every frame of clip 0
    out = modality(name)(x, lay)
    assert out.shape == x.shape and out.dtype == np.float32
    if name != "j":
        children = [v for v, p in enumerate(bone_parents(lay)) if p == 0 and v != 0]
        missing = [0] + (children if name in ("b", "bm", "ba") else [])
        assert not out[0, 0, :, missing].any()


def test_unknown_modality() -> None:
    with pytest.raises(ConfigError, match="unknown modality 'x'"):
        modality("x")
