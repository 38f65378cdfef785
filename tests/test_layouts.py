"""Layouts as data: built-ins, the file format, validation errors, and the ST-GCN graph."""
import json

import numpy as np
import pytest

from partkd.errors import LayoutError
from partkd.graph import hop_distance, spatial_partition
from partkd.layouts import BUILTIN, PARTS, get_layout, layout_from_dict, load_layout_file

CHAIN = {"name": "chain5", "dims": 2, "joints": ["a", "b", "c", "d", "e"],
         "edges": [["b", "a"], ["c", "b"], ["d", "c"], ["e", "d"]], "center": "c",
         "parts": {"head": ["c"], "left_arm": ["b"], "right_arm": ["d"], "left_leg": ["a"], "right_leg": ["e"]}}


@pytest.mark.parametrize("name,joints,dims", [("ntu25", 25, 3), ("kinect_v1_20", 20, 3), ("coco17", 17, 2),
                                              ("penn13", 13, 2), ("openpose18", 18, 2)])
def test_builtins_have_five_parts_covering_every_joint(name, joints, dims):
    lay = get_layout(name)
    assert lay.num_joints == joints and lay.dims == dims
    counts = [len(lay.part_joints(p)) for p in PARTS]
    assert all(c > 0 for c in counts) and sum(counts) == joints
    assert np.allclose(lay.part_matrix().sum(axis=1), 1.0)
    par = lay.parents()
    assert par[lay.center] == lay.center and (par >= 0).all()


def test_left_right_are_the_subjects_own():
    for lay in BUILTIN.values():
        for j, name in enumerate(lay.joints):
            part = PARTS[lay.parts[j]]
            if name.startswith("left_") and ("shoulder" in name or "wrist" in name or "knee" in name):
                assert part.startswith("left_"), (lay.name, name)
            if name.startswith("right_") and ("elbow" in name or "ankle" in name or "hip" in name):
                assert part.startswith("right_"), (lay.name, name)


def test_layout_file_json_and_toml_round_trip(tmp_path):
    p = tmp_path / "chain.json"
    p.write_text(json.dumps(CHAIN))
    lay = load_layout_file(p)
    assert lay.center == 2 and lay.edges[0] == (1, 0) and lay.part_joints("left_leg").tolist() == [0]
    toml = tmp_path / "chain.toml"
    toml.write_text('name = "chain5"\ndims = 2\njoints = ["a","b","c","d","e"]\n'
                    'edges = [[1,0],[2,1],[3,2],[4,3]]\ncenter = 2\n'
                    '[parts]\nhead = [2]\nleft_arm = [1]\nright_arm = [3]\nleft_leg = [0]\nright_leg = [4]\n')
    assert load_layout_file(toml).edges == lay.edges
    assert get_layout(str(p)).to_dict()["parts"] == layout_from_dict(lay.to_dict()).to_dict()["parts"]


@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(edges=[[1, 0], [2, 1], [3, 2], [9, 3]]), "out of range"),
    (lambda d: d.update(edges=[[1, 0], [2, 1], [4, 3]]), "not connected"),
    (lambda d: d["parts"].update(right_leg=[]), "no part"),
    (lambda d: d["parts"].update(head=["c", "b"]), "more than one part"),
    (lambda d: d.update(center="zz"), "unknown joint name"),
    (lambda d: d["parts"].update(tail=["a"]), "unknown part names"),
])
def test_invalid_layout_files_name_the_file_and_problem(tmp_path, change, message):
    d = json.loads(json.dumps(CHAIN))
    change(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(LayoutError, match=message) as e:
        load_layout_file(p)
    assert "bad.json" in str(e.value) and "\n" not in str(e.value)


def test_unknown_layout_name_and_unreadable_file(tmp_path):
    with pytest.raises(LayoutError, match="unknown layout 'kinect99'"):
        get_layout("kinect99")
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(LayoutError, match="broken.json: not valid"):
        load_layout_file(bad)


def test_spatial_partition_matches_hand_computed_chain():
    lay = layout_from_dict(CHAIN)
    assert hop_distance(lay)[:, 2].tolist() == [2, 1, 0, 1, 2]
    a = spatial_partition(lay)
    root = np.diag([1 / 2, 1 / 3, 1 / 3, 1 / 3, 1 / 2])
    farther = np.zeros((5, 5))
    farther[0, 1] = farther[1, 2] = farther[3, 2] = farther[4, 3] = 1 / 3
    nearer = np.zeros((5, 5))
    nearer[1, 0] = nearer[3, 4] = 1 / 2
    nearer[2, 1] = nearer[2, 3] = 1 / 3
    np.testing.assert_allclose(a, np.stack([root, farther, nearer]), atol=1e-6)


def test_spatial_partition_columns_sum_to_one_for_builtins():
    for lay in BUILTIN.values():
        a = spatial_partition(lay)
        np.testing.assert_allclose(a.sum(axis=(0, 1)), 1.0, atol=1e-6)
        assert ((a > 0).sum(axis=0) > 0).sum() == lay.num_joints + 2 * len(lay.edges)
