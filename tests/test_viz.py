"""Plotly figures of partkd.viz: skeleton animations, matrix E heatmap, top-k bars, curves."""
import numpy as np
import pytest

from partkd import viz
from partkd.layouts import PARTS, get_layout

N_PARTS = len(PARTS)


def _clip(layout_name: str, frames: int = 20, persons: int = 1, seed: int = 0) -> np.ndarray:
    """A random clip with every joint present (no exact zeros)."""
    lay = get_layout(layout_name)
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(persons, frames, lay.num_joints, 3)) + 5.0).astype(np.float32)


def _points(fig, trace: int, frame: int | None = None) -> int:
    """Number of non-gap points of one trace (in the base data or one animation frame)."""
    data = fig.data if frame is None else fig.frames[frame].data
    xs = data[trace].x or ()
    return sum(x is not None for x in xs)


def test_3d_animation_has_frames_controls_and_part_colours():
    lay = get_layout("ntu25")
    fig = viz.skeleton_animation(_clip("ntu25"), lay, title="t")
    assert len(fig.data) == viz.TRACES_PER_PANEL
    assert {t.type for t in fig.data} == {"scatter3d"}
    assert len(fig.frames) == 20 and len(fig.layout.sliders[0].steps) == 20
    labels = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert any("Play" in s for s in labels) and any("Pause" in s for s in labels)
    joint_traces = fig.data[N_PARTS:2 * N_PARTS]
    assert [t.marker.color for t in joint_traces] == [viz.PART_COLORS[p] for p in PARTS]
    assert sum(_points(fig, N_PARTS + p) for p in range(N_PARTS)) == lay.num_joints


def test_2d_animation_uses_xy_axes_and_trims_empty_tail_and_absent_person():
    clip = _clip("coco17", frames=30, persons=2)
    clip[1] = 0.0
    clip[:, 25:] = 0.0
    fig = viz.skeleton_animation(clip, get_layout("coco17"))
    assert {t.type for t in fig.data} == {"scatter"}
    assert len(fig.frames) == 25
    assert sum(_points(fig, N_PARTS + p) for p in range(N_PARTS)) == 17


def test_occluded_joints_are_drawn_hollow_and_not_as_visible():
    lay = get_layout("coco17")
    clip = _clip("coco17")
    mask = np.zeros(clip.shape[:3], dtype=bool)
    mask[0, :, :5] = True
    fig = viz.skeleton_animation(clip, lay, occluded_mask=mask)
    occluded = viz.TRACES_PER_PANEL - 1
    assert _points(fig, occluded) == 5 and _points(fig, occluded, frame=7) == 5
    assert sum(_points(fig, N_PARTS + p) for p in range(N_PARTS)) == 12
    assert fig.data[occluded].marker.line.color == viz.OCCLUDED_COLOR
    assert np.all(viz.occlusion_mask(clip, np.where(mask[..., None], 0, clip)) == mask)


def test_missing_joints_are_omitted():
    clip = _clip("coco17")
    clip[0, :, 3] = 0.0
    fig = viz.skeleton_animation(clip, get_layout("coco17"))
    assert sum(_points(fig, N_PARTS + p) for p in range(N_PARTS)) == 16
    assert _points(fig, viz.TRACES_PER_PANEL - 1) == 0


def test_side_by_side_aligns_frames_of_both_panels():
    fig = viz.side_by_side(_clip("ntu25", frames=40), get_layout("ntu25"), _clip("coco17", frames=20),
                           get_layout("coco17"))
    assert len(fig.data) == 2 * viz.TRACES_PER_PANEL
    assert fig.data[0].type == "scatter3d" and fig.data[-1].type == "scatter"
    assert len(fig.frames) == 40 and len(fig.frames[0].data) == 2 * viz.TRACES_PER_PANEL
    assert fig.data[viz.TRACES_PER_PANEL].xaxis == "x"


def test_image_coordinates_flip_the_y_axis():
    lay = get_layout("coco17")
    clip = np.zeros((1, 4, 17, 3), np.float32)
    clip[..., 0] = 100.0 + np.arange(17)
    clip[..., 1] = np.where(np.asarray(lay.parts) == 0, 100.0, 400.0)
    clip[..., 2] = 1.0
    fig = viz.skeleton_animation(clip, lay)
    y0, y1 = fig.layout.yaxis.range
    assert y0 > y1


@pytest.mark.parametrize("normalized", [False, True])
def test_heatmap_holds_exactly_e(normalized):
    rng = np.random.default_rng(1)
    E = rng.random((7, 5))
    names = [f"class {i}" for i in range(7)]
    fig = viz.efficiency_heatmap(E, names, normalized=normalized)
    hm = fig.data[0]
    assert np.array_equal(np.asarray(hm.z), E)
    assert list(hm.y) == names and len(hm.x) == 5
    assert "%{z" in hm.hovertemplate


def test_heatmap_sort_by_part_orders_rows():
    E = np.array([[0.1, 0.2, 0.3, 0.4, 0.5], [0.9, 0.0, 0.0, 0.0, 0.0], [0.5, 0.1, 0.1, 0.1, 0.1]])
    fig = viz.efficiency_heatmap(E, ["a", "b", "c"], sort_by="head")
    assert list(fig.data[0].y) == ["b", "c", "a"]
    assert np.array_equal(np.asarray(fig.data[0].z), E[[1, 2, 0]])
    with pytest.raises(ValueError):
        viz.efficiency_heatmap(E[:, :4], ["a", "b", "c"])


def test_topk_bars_marks_correct_and_wrong():
    names = [f"c{i}" for i in range(8)]
    probs = np.array([0.05, 0.5, 0.2, 0.1, 0.05, 0.04, 0.03, 0.03])
    right = viz.topk_bars(probs, names, true_label=1, k=5)
    assert len(right.data[0].y) == 5 and right.data[0].y[0] == "✓ c1"
    assert right.data[0].marker.color[0] == viz.CORRECT_COLOR and "correct" in right.layout.title.text
    wrong = viz.topk_bars(probs, names, true_label=2, k=5)
    assert wrong.data[0].marker.color[0] == viz.WRONG_COLOR and wrong.data[0].marker.color[1] == viz.CORRECT_COLOR
    assert "wrong" in wrong.layout.title.text and wrong.data[0].y[0] == "✗ c1"


def test_part_bars_curves_and_history():
    single = viz.part_bars(np.arange(5) / 10)
    assert len(single.data) == 1 and list(single.data[0].y) == [0.0, 0.1, 0.2, 0.3, 0.4]
    grouped = viz.part_bars({"a": np.ones(5), "b": np.zeros(5)})
    assert [t.name for t in grouped.data] == ["a", "b"]
    curves = viz.accuracy_vs_op_figure({"m": [{"op": 0.3, "top1": 0.5}, {"op": 0.0, "top1": 0.8}]})
    assert list(curves.data[0].x) == [0.0, 0.3] and list(curves.data[0].y) == [0.8, 0.5]
    hist = viz.history_figure([{"epoch": 1, "loss": 2.0, "train_acc": 0.3, "val_acc": None},
                               {"epoch": 2, "loss": 1.5, "train_acc": 0.5, "val_acc": 0.4}])
    assert {t.name for t in hist.data} == {"loss", "train", "validation"}


def test_reference_skeleton_is_drawn_faintly_beneath_the_low_panel():
    lay = get_layout("mpii16")
    low, ref = _clip("mpii16", frames=10), _clip("mpii16", frames=10, seed=1)
    ref[0, :, 0] = 0.0                                    # a missing reference joint drops its one bone
    fig = viz.side_by_side(_clip("h36m17", frames=10), get_layout("h36m17"), low, lay, low_reference=ref)
    assert len(fig.data) == 2 * viz.TRACES_PER_PANEL + 1
    last = len(fig.data) - 1
    assert fig.data[last].line.color == viz.REFERENCE_COLOR and fig.data[last].xaxis == "x"
    assert _points(fig, last) == 2 * (len(lay.edges) - 1) and _points(fig, last, frame=5) == 2 * (len(lay.edges) - 1)
    assert len(fig.frames[3].data) == len(fig.data)
    xs = [x for x in fig.frames[4].data[last].x if x is not None]
    assert min(xs) == pytest.approx(float(ref[0, 4, 1:, 0].min()), abs=1e-5)


# ---------------------------------------------------------------- layout: what the browser walk found overlapping

def test_modality_colour_bars_sit_under_their_own_panel():
    """Each heatmap's colour bar is horizontal and centred under its own panel, not over the next panel's labels."""
    lay = get_layout("coco17")
    fig = viz.modality_heatmaps([("high", _clip("coco17"), lay), ("low", _clip("coco17", seed=1), lay)], "|v|")
    for i, axis in enumerate(("xaxis", "xaxis2")):
        lo, hi = fig.layout[axis].domain
        bar = fig.layout["coloraxis" if i == 0 else "coloraxis2"].colorbar
        assert bar.orientation == "h" and bar.y < 0
        assert lo <= bar.x - bar.len / 2 and bar.x + bar.len / 2 <= hi, (axis, bar.x, bar.len, (lo, hi))


def test_frame_label_is_right_of_the_play_buttons_and_axes_name_their_unit():
    lay3, lay2 = get_layout("ntu25"), get_layout("coco17")
    fig = viz.side_by_side(_clip("ntu25"), lay3, _clip("coco17"), lay2, units=("m", "px"))
    assert fig.layout.sliders[0].currentvalue.xanchor == "right"
    assert fig.layout.scene.xaxis.title.text == "x (m)" and fig.layout.scene.zaxis.title.text == "up (m)"
    assert fig.layout.xaxis.title.text == "x (px)" and fig.layout.yaxis.title.text == "y (px)"
    assert fig.layout.height >= 600                                  # a 3D panel gets the room it needs


def test_the_teacher_curve_says_it_is_on_occluded_high_quality_input():
    curves = {"Teacher": [{"op": 0.0, "top1": 0.9}, {"op": 0.6, "top1": 0.5}], "S": [{"op": 0.0, "top1": 0.7}]}
    fig = viz.accuracy_vs_op_figure(curves, teacher="Teacher")
    teacher, student = fig.data
    assert teacher.name == "Teacher, on occluded high-quality input" and teacher.line.dash == "dash"
    assert student.name == "S" and student.line.dash is None


def test_the_e_heatmap_title_has_its_own_band_above_the_part_labels():
    fig = viz.efficiency_heatmap(np.full((3, N_PARTS), 0.2), ["a", "b", "c"], label="part Shapley value")
    assert fig.layout.xaxis.side == "top"
    assert fig.layout.title.yref == "container" and fig.layout.title.yanchor == "top"
    assert fig.layout.margin.t >= 120


def test_coordinate_units_follow_the_data():
    from partkd.data.dataset import SkeletonDataset, coordinate_unit

    def ds(name: str, meta: dict) -> SkeletonDataset:
        lay = get_layout(name)
        return SkeletonDataset([np.ones((1, 2, lay.num_joints, 3), np.float32)], np.zeros(1, np.int64), ["a"],
                               np.array(["train"]), lay, ["c"], np.zeros(1, np.int64), meta)

    assert coordinate_unit(ds("h36m17", {"units": "mm"})) == "mm"
    assert coordinate_unit(ds("ntu25", {})) == "m"
    assert coordinate_unit(ds("coco17", {"units": "mm"})) == "px"      # a 2D simulation of mm motion capture
    assert coordinate_unit(ds("openpose18", {"units": "normalised"})) == "normalised"


# ---------------------------------------------------------------- what a new user's walk of every page found

def test_3d_scenes_keep_few_ticks_and_the_whole_box_in_view():
    """Human3.6M's 3D ticks overlapped: every scene axis has at most 4 ticks (the end-on depth axis 3), and the camera
    stands far enough back for the box to fit."""
    fig = viz.side_by_side(_clip("h36m17") * 1000, get_layout("h36m17"), _clip("mpii16"), get_layout("mpii16"))
    scene = fig.layout.scene
    assert [scene[a].nticks for a in ("xaxis", "yaxis", "zaxis")] == [4, 3, 4]
    eye = scene.camera.eye
    assert np.linalg.norm([eye.x, eye.y, eye.z]) >= 2.0 and scene.camera.center.z < 0   # aimed below the middle


@pytest.mark.parametrize("layout_name", ["penn13", "ntu25"])
def test_the_explanation_skeleton_fits_its_box_with_a_margin(layout_name):
    """The explanation skeleton was tiny in a wide box and its 3D view clipped the head: the figure's width follows
    the skeleton's extent, and every axis range leaves 15 % of the largest extent around the joints."""
    lay = get_layout(layout_name)
    clip = _clip(layout_name, frames=16)
    clip[0, :, :, 1] *= 4.0                                       # a tall, narrow body
    windows = [(0, 8), (8, 16)]
    fig = viz.importance_animation(clip, lay, np.ones((2, lay.num_joints)), windows)
    lo, hi = viz.skeleton.IMPORTANCE_WIDTH
    assert lo <= fig.layout.width <= hi
    if lay.dims == 3:
        ranges = [fig.layout.scene[a].range for a in ("xaxis", "yaxis", "zaxis")]
        pts = np.concatenate([np.asarray(t.x, float)[None] for t in fig.data[1:2]])  # the joints' x at frame 0
        assert np.all(pts >= ranges[0][0]) and np.all(pts <= ranges[0][1])
    else:
        ranges = [list(fig.layout.xaxis.range), sorted(fig.layout.yaxis.range)]
        assert fig.layout.width < hi and fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    extent = max(r[1] - r[0] for r in ranges) / (1 + 2 * viz.skeleton.IMPORTANCE_MARGIN)
    shown = clip[0][..., :lay.dims].reshape(-1, lay.dims)
    assert max(r[1] - r[0] for r in ranges) > max(np.ptp(shown, axis=0)) + 0.29 * extent


def test_every_explanation_strip_has_its_colour_scale():
    result = {"windows": [[0, 4], [4, 8]], "true": "a", "random_auc": 0.5,
              "methods": {m: {"parts": np.eye(2, N_PARTS).tolist(), "auc": 0.3, "deletion": [1.0, 0.2]}
                          for m in ("occlusion", "gradcam")}}
    fig = viz.explanation_strips(result)
    assert [t.showscale is not False for t in fig.data] == [True, True]
    assert [t.colorbar.title.text for t in fig.data] == ["occlusion importance", "gradcam importance"]
    assert [t.colorbar.orientation for t in fig.data] == ["h", "h"]


def test_bar_labels_are_horizontal_and_outside_thin_bars():
    """'8.9 %' was drawn rotated inside a thin bar."""
    probs = np.array([0.911, 0.089, 0.0])
    bars = viz.topk_bars(probs, ["a", "b", "c"], 0, k=3).data[0]
    assert bars.textangle == 0 and bars.textposition == "outside" and bars.cliponaxis is False
    parts = viz.part_bars(np.full(N_PARTS, 0.089), percent=True).data[0]
    assert parts.textangle == 0


def test_joint_heatmaps_name_every_joint_and_each_colour_bar_its_unit():
    lay = get_layout("ntu25")
    fig = viz.modality_heatmaps([("h", _clip("ntu25"), lay), ("l", _clip("ntu25", seed=1), lay)], "|jm|",
                                ["m/frame", "px/frame"])
    assert list(fig.layout.yaxis.tickvals) == list(lay.joints) == list(fig.layout.yaxis2.tickvals)
    assert [fig.layout[c].colorbar.title.text for c in ("coloraxis", "coloraxis2")] == ["|jm| (m/frame)",
                                                                                        "|jm| (px/frame)"]


def test_modality_units_follow_the_coordinates():
    from partkd.drawing import modality_unit

    assert [modality_unit(m, "px") for m in ("j", "b", "jm", "ja")] == ["px", "px", "px/frame", "px/frame²"]
    assert "unitless" in modality_unit("ba", "m")
