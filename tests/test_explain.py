"""Per-clip explanations and the E definitions' new pieces, against models whose answer is known by hand."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from partkd.distill.efficiency import (PART_SUBSETS, bootstrap_interval, cell_flags, part_occlusion_effects,
                                       part_subset_effects, per_clip_scores, shapley_values)
from partkd.distill.efficiency import shapley_weights
from partkd.distill.explain import (EXPLAINERS, curve_auc, deletion_curve, explain_clip, gradcam_map, occlusion_map,
                                    part_shapley_map, random_deletion_auc, stability, window_bounds)
from partkd.errors import DataError
from partkd.layouts import PARTS, get_layout

from test_distill import LeftLegClassifier

PENN = get_layout("penn13")  # head [0], l-arm [1,3,5], r-arm [2,4,6], l-leg [7,9,11], r-leg [8,10,12]
RIGHT_WRIST = 6


class WristLate(nn.Module):
    """Class-1 logit = 4 x (mean of |right wrist| over the last quarter of frames); class 0 logit = 0. Features are
    the input itself, so Grad-CAM reads the input's own cells."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, c, t, v, m = x.shape
        z = x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v)
        late = z[:, :, 3 * t // 4 :, RIGHT_WRIST].abs().mean(dim=(1, 2)).view(n, m).mean(dim=1)
        return torch.stack([torch.zeros_like(late), 4 * late], dim=1), z


def _clip(frames: int = 16) -> np.ndarray:
    return np.ones((1, frames, PENN.num_joints, 3), dtype=np.float32)


def test_window_bounds() -> None:
    assert window_bounds(16, 4) == [(0, 4), (4, 8), (8, 12), (12, 16)]
    assert window_bounds(10, 3) == [(0, 3), (3, 7), (7, 10)]
    with pytest.raises(DataError, match="windows must be in 1..10"):
        window_bounds(10, 11)


def test_occlusion_map_finds_the_wrist_in_the_last_window() -> None:
    imp = occlusion_map(WristLate(), _clip(), 1, PENN, windows=4)
    p1 = 1 / (1 + np.exp(-4.0))
    assert imp.shape == (4, 13)
    assert imp[3, RIGHT_WRIST] == pytest.approx(np.log(p1 / 0.5), abs=1e-6)  # wrist zeroed for the whole late quarter
    assert np.count_nonzero(np.abs(imp) > 1e-7) == 1


def test_shapley_weights_axioms() -> None:
    """Efficiency (the values sum to v(all) − v(∅)), symmetry (two interchangeable parts get equal values) and the
    null player (a part that never changes v gets 0), on random games."""
    rng = np.random.default_rng(0)
    v = rng.random((3, 32))
    phi = v @ shapley_weights().T
    np.testing.assert_allclose(phi.sum(axis=1), v[:, 31] - v[:, 0])
    np.testing.assert_allclose(phi, shapley_values(v))
    kept = PART_SUBSETS.sum(axis=1)
    sym = rng.random(6)[kept][None]                       # v depends only on how many parts are kept
    np.testing.assert_allclose(sym @ shapley_weights().T, np.full((1, 5), (sym[0, 31] - sym[0, 0]) / 5))
    without_head = rng.random(32)[np.arange(32) & ~1][None]  # v ignores part 0 (head)
    assert abs((without_head @ shapley_weights().T)[0, 0]) < 1e-12


def test_part_shapley_map_credits_the_right_arm_only() -> None:
    per_window, whole = part_shapley_map(WristLate(), _clip(), 1, PENN, windows=4)
    gain = np.log(2 / (1 + np.exp(-4.0)))  # log p(class 1) with the wrist, less without it (p = 0.5)
    right = PARTS.index("right_arm")
    assert whole[right] == pytest.approx(gain, abs=1e-6) and np.abs(np.delete(whole, right)).max() < 1e-6
    assert per_window[3, right] == pytest.approx(gain, abs=1e-6)
    assert np.abs(per_window[:3]).max() < 1e-6


def test_gradcam_on_identity_features() -> None:
    """Features = input: every channel's alpha is the same positive constant, so the map is proportional to the
    summed channels, z: 3 on the late right wrist, 1 elsewhere. On a constant input it cannot localise at all."""
    clip = _clip()
    clip[:, 12:, RIGHT_WRIST] = 3.0
    cam = gradcam_map(WristLate(), clip, 1, PENN, windows=4)
    assert cam.shape == (4, 13)
    assert cam[3, RIGHT_WRIST] == pytest.approx(3 * cam[0, 0]) and np.allclose(np.delete(cam.ravel(), 3 * 13 + 6), cam[0, 0])
    flat = gradcam_map(WristLate(), _clip(), 1, PENN, windows=4)
    assert np.allclose(flat, flat[0, 0]) and flat[0, 0] > 0


def test_deletion_curve_in_the_method_order_and_at_random() -> None:
    clip = _clip()
    model = WristLate()
    imp = np.zeros((4, 13))
    imp[3, RIGHT_WRIST] = 1.0
    curve = deletion_curve(model, clip, 1, PENN, imp, steps=4)
    p1 = 1 / (1 + np.exp(-4.0))
    np.testing.assert_allclose(curve, [p1, 0.5, 0.5, 0.5, 0.5], atol=1e-6)  # the one cell that matters goes first
    assert curve_auc(curve) == pytest.approx(((p1 + 0.5) / 2 + 3 * 0.5) / 4)
    worst = deletion_curve(model, clip, 1, PENN, -imp, steps=4)
    assert worst[-2] == pytest.approx(p1) and worst[-1] == pytest.approx(0.5)  # it goes last
    assert curve_auc(curve) < random_deletion_auc(model, clip, 1, PENN, 4, orders=5) < curve_auc(worst)


def test_explain_clip_and_stability() -> None:
    out = explain_clip(WristLate(), _clip(), 1, PENN, windows=4, steps=4)
    assert set(out["methods"]) == set(EXPLAINERS)
    occ = out["methods"]["occlusion"]
    assert np.array(occ["parts"]).shape == (4, 5) and np.array(occ["joints"]).shape == (4, 13)
    assert occ["auc"] < out["random_auc"] and out["methods"]["shapley"]["auc"] < out["random_auc"]
    assert stability(WristLate(), _clip(), 1, PENN, "occlusion", windows=4, noise=0.001) > 0.2
    with pytest.raises(DataError):
        explain_clip(WristLate(), np.ones((1, 8, 17, 3), np.float32), 1, PENN)


# ---------------------------------------------------------------- E from one subset pass


def test_subset_pass_agrees_with_the_single_occlusion_pass() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(9, 1, 4, 13, 3)).astype(np.float32)
    labels = np.array([1, 1, 0, 1, 0, 1, 1, 0, 0])
    values, wrong = part_subset_effects(LeftLegClassifier(), x, labels, PENN, batch_size=4)
    scores = per_clip_scores(values, wrong)
    miss, drop = part_occlusion_effects(LeftLegClassifier(), x, labels, PENN, num_classes=3, batch_size=4)
    from partkd.distill.efficiency import class_means

    np.testing.assert_allclose(class_means(scores["miss"], labels, 3), miss)
    np.testing.assert_allclose(class_means(scores["drop"], labels, 3), drop, atol=1e-6)
    leg = PARTS.index("left_leg")
    e = np.e
    p_leg, p_none = e / (e + 1 + np.exp(-1)), 1 / (1 + e + np.exp(-1))  # class-1 probability with / without leg
    assert np.allclose(scores["shapley"][labels == 1, leg], p_leg - p_none)
    assert np.allclose(np.delete(scores["shapley"][labels == 1], leg, axis=1), 0)
    assert values.shape == (9, 32) and np.allclose(values[labels == 1][:, PART_SUBSETS[:, leg]], p_leg)


def test_bootstrap_interval_and_cell_flags() -> None:
    labels = np.array([0] * 50 + [1] * 50)
    per_clip = np.zeros((100, 5))
    per_clip[:50, 2] = 1.0                        # class 0: part 2 always 1, the rest always 0
    rng = np.random.default_rng(0)
    per_clip[50:, :] = rng.normal(0.0, 1.0, (50, 5))  # class 1: noise around 0
    lo, hi = bootstrap_interval(per_clip, labels, 3, resamples=500, seed=0)
    assert lo[0, 2] == hi[0, 2] == 1.0 and (lo[0, [0, 1, 3, 4]] == 0).all()
    assert (lo[1] < 0).all() and (hi[1] > 0).all()          # means near 0: every interval spans it
    assert (hi[1] - lo[1]).mean() == pytest.approx(2 * 1.96 / np.sqrt(50), rel=0.25)
    assert (lo[2] == 0).all() and (hi[2] == 0).all()        # a class without clips
    E = np.stack([per_clip[:50].mean(0), per_clip[50:].mean(0), np.zeros(5)])
    flags = cell_flags(E, lo, hi)
    assert flags["none_needed"].tolist() == [False, True, True]
    assert flags["uncertain"][0].tolist() == [True, True, False, True, True]
    assert flags["uncertain"][1].all()
    assert cell_flags(E, lo, hi, counts=[3, 50, 0])["uncertain"][0].all()  # 3 clips: no interval is trusted
    # a second part whose interval reaches the top's lower bound is flagged, though it does not span 0
    E2, lo2, hi2 = np.array([[0.5, 0.45, 0, 0, 0.0]]), np.array([[0.4, 0.41, -1, -1, -1.0]]), np.array([[0.6, 0.5, 1, 1, 1.0]])
    assert cell_flags(E2, lo2, hi2)["uncertain"][0].tolist() == [False, True, True, True, True]


# ---------------------------------------------------------------- partkd explain


def test_cli_explain_writes_what_the_engine_computes(tmp_path, capsys) -> None:
    """`partkd explain` on a trained teacher's stored data: the JSON holds engine.explain's numbers for that clip,
    the figure is a PNG, and a clip outside the split is a one-line error."""
    import json
    from pathlib import Path

    from partkd.checkpoints import load_checkpoint
    from partkd.cli import main
    from partkd.engine.config import DataSpec, train_preset
    from partkd.engine.explain import explain_dataset_clip, pick_clip, stored_data
    from partkd.engine.teacher import train_teacher

    spec = DataSpec(num_classes=3, clips_per_class=10, synth_frames=24)
    path = train_teacher(train_preset("smoke", epochs=1), spec, tmp_path / "t")
    assert main(["explain", str(path), "--clip", "2", "--windows", "4", "--out", str(tmp_path / "x")]) == 0
    out = capsys.readouterr().out
    loaded = load_checkpoint(path)
    ds = stored_data(loaded)
    _, index = pick_clip(ds, "test", 2)
    want = explain_dataset_clip(loaded, ds, index, windows=4)
    got = json.loads((tmp_path / "x" / f"explain_{index:05d}.json").read_text())
    assert got["clip"] == want["clip"] == ds.by_split("test").names[2]  # the split's third clip, not the dataset's
    for name, m in want["methods"].items():
        np.testing.assert_allclose(got["methods"][name]["joints"], m["joints"], atol=1e-6)
        assert f"{name:<10} deletion AUC {m['auc']:.3f}" in out
    assert Path(tmp_path / "x" / f"explain_{index:05d}.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["explain", str(path), "--clip", "999", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["partkd: error: --clip: 999 is outside the 9 clips of the 'test' split"]
    with pytest.raises(SystemExit):  # argparse: a usage line and exit status 2, no traceback
        main(["explain", str(path), "--steps", "0"])
    assert "--steps: must be at least 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("modalities, exchange", [(("ba",), False), (("j", "b"), False), (("j", "b"), True)])
def test_gradcam_reads_every_stream_of_a_multi_stream_model(modalities, exchange) -> None:
    """A multi-stream model's returned features are a fused copy its logits never read; Grad-CAM takes each stream's
    own features instead (with the IKEM exchange too), and every method runs on it."""
    from dataclasses import replace

    from partkd.models import build_model, resolve_config

    layout = get_layout("coco17")
    torch.manual_seed(0)
    cfg = replace(resolve_config("stgcn", "tiny"), modalities=modalities, exchange=exchange)
    model = build_model("stgcn", layout, 3, cfg)
    for p in model.parameters():
        p.requires_grad_(False)  # a frozen teacher, as load_teacher gives it
    clip = np.random.default_rng(0).normal(size=(1, 16, 17, 3)).astype(np.float32)
    cam = gradcam_map(model, clip, 1, layout, windows=4)
    assert cam.shape == (4, 17) and np.isfinite(cam).all() and (cam >= 0).all()  # ReLU: all 0 is possible untrained
    out = explain_clip(model, clip, 1, layout, windows=4, steps=4)
    assert all(np.isfinite(m["auc"]) for m in out["methods"].values())
