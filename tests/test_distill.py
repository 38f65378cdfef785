"""partkd.distill against small cases computed by hand (plain Python math)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from partkd.distill import (
    backward_with_revision,
    efficiency_softmax,
    global_features,
    global_msc_loss,
    kl_distill_loss,
    multi_sample_contrastive_loss,
    part_features,
    carrier_recovery,
    part_miss_matrix,
    part_occlusion_effects,
    part_similarity,
    persons_present,
    pmsc_loss,
    revise_gradient,
    skd_loss,
)
from partkd.errors import ConfigError, DataError
from partkd.layouts import PARTS, get_layout

PENN = get_layout("penn13")  # head [0], l-arm [1,3,5], r-arm [2,4,6], l-leg [7,9,11], r-leg [8,10,12]


def _cos(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


# ---------------------------------------------------------------- part features

def _hand_z() -> torch.Tensor:
    """N=1, M=2, C=2, T'=2, V=13: channel 0 = v + 10 t + 100 m, channel 1 = 1."""
    t = torch.arange(2.0)[:, None]
    v = torch.arange(13.0)[None, :]
    persons = [torch.stack([v + 10 * t + 100 * m, torch.ones(2, 13)]) for m in range(2)]
    return torch.stack(persons)  # (2, 2, 2, 13)


def test_part_features_hand_case() -> None:
    z = _hand_z()
    # part joint means 0, 3, 4, 9, 10; time mean +5; person mean +50 (both) or +0 (first only)
    f = part_features(z, PENN, persons=2)
    assert f.shape == (1, 5, 2)
    assert torch.allclose(f[0, :, 0], torch.tensor([55.0, 58.0, 59.0, 64.0, 65.0]))
    assert torch.allclose(f[0, :, 1], torch.ones(5))
    first_only = part_features(z, PENN, persons=2, present=torch.tensor([[True, False]]))
    assert torch.allclose(first_only[0, :, 0], torch.tensor([5.0, 8.0, 9.0, 14.0, 15.0]))
    nobody = part_features(z, PENN, persons=2, present=torch.tensor([[False, False]]))
    assert torch.allclose(nobody, f)  # a clip with no present person averages all slots


def test_global_features_and_presence() -> None:
    z = _hand_z()
    assert torch.allclose(global_features(z, persons=2), torch.tensor([[61.0, 1.0]]))
    assert torch.allclose(global_features(z, 2, torch.tensor([[False, True]])), torch.tensor([[111.0, 1.0]]))
    x = torch.zeros(2, 2, 3, 13, 3)
    x[0, 0, 1, 4, 2] = 0.5
    x[1, :, 0, 0, 0] = 1.0
    assert persons_present(x).tolist() == [[True, False], [True, True]]
    with pytest.raises(ConfigError):
        part_features(z, get_layout("coco17"), persons=2)
    with pytest.raises(ConfigError):
        global_features(z, persons=3)


# ---------------------------------------------------------------- E matrix

class LeftLegClassifier(nn.Module):
    """Predicts class 1 when any left-leg joint is non-zero, else class 0; never class 2."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, bool]] = []

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls.append((x.shape[0], self.training))
        has_leg = x[:, :, :, PENN.part_joints("left_leg"), :].abs().sum(dim=(1, 2, 3, 4)).gt(0).float()
        logits = torch.stack([1 - has_leg, has_leg, torch.full_like(has_leg, -1.0)], dim=1)
        n, c, t, v, m = x.shape
        return logits, x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v)


def test_part_miss_matrix_finds_the_part_the_model_uses() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 1.0, size=(11, 2, 4, 13, 3)).astype(np.float32)
    labels = np.array([1] * 7 + [0] * 4)
    x[7:, :, :, PENN.part_joints("left_leg"), :] = 0.0  # class-0 clips have no left leg
    model = LeftLegClassifier().train()
    seen: list[tuple[int, int]] = []
    raw = part_miss_matrix(model, x, labels, PENN, num_classes=3, batch_size=3,
                           progress=lambda done, total: seen.append((done, total)))
    expected = np.zeros((3, 5))
    expected[1, 3] = 1.0  # class 1 always missed without its left leg; class 2 has no clips
    np.testing.assert_allclose(raw, expected)
    assert model.calls == [(18, False), (18, False), (18, False), (12, False)]  # 5 occlusions + intact per pass
    assert model.training
    assert seen == [(3, 11), (6, 11), (9, 11), (11, 11)]
    with pytest.raises(DataError):
        part_miss_matrix(model, x, np.full(11, 3), PENN, num_classes=3)


def test_probability_drop_by_hand() -> None:
    """Class-1 clips lose p(1) = e/(1+e+1/e) -> 1/(1+e+1/e) without their left leg; nothing else changes."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 1.0, size=(6, 1, 3, 13, 3)).astype(np.float32)
    labels = np.array([1, 1, 1, 1, 0, 0])
    x[4:, :, :, PENN.part_joints("left_leg"), :] = 0.0
    miss, drop = part_occlusion_effects(LeftLegClassifier(), x, labels, PENN, num_classes=3, batch_size=4)
    z = 1 + math.e + 1 / math.e
    expected = np.zeros((3, 5))
    expected[1, 3] = (math.e - 1) / z
    np.testing.assert_allclose(drop, expected, atol=1e-6)
    np.testing.assert_allclose(miss, part_miss_matrix(LeftLegClassifier(), x, labels, PENN, num_classes=3))


def test_efficiency_softmax_temperature() -> None:
    raw = np.array([[0.0, 0.5, 0.0, 1.0, 0.0]])
    sharp = efficiency_softmax(raw, temperature=0.25)
    denom = 3 + math.exp(2.0) + math.exp(4.0)
    assert sharp[0, 3] == pytest.approx(math.exp(4.0) / denom) and sharp[0, 1] == pytest.approx(math.exp(2.0) / denom)
    np.testing.assert_allclose(efficiency_softmax(raw, 1.0), efficiency_softmax(raw))
    with pytest.raises(DataError):
        efficiency_softmax(raw, 0.0)


def test_carrier_recovery_on_hand_made_matrices() -> None:
    classes = ["kick", "wave", "clap", "jacks", "unknown"]
    carriers = {"kick": ["right_leg"], "wave": ["right_arm"], "clap": ["left_arm", "right_arm"],
                "jacks": list(PARTS)}
    E = np.array([[0.1, 0.0, 0.2, 0.1, 0.9],     # kick: right leg on top, hit; gap 0.9 - 0.1 = 0.8
                  [0.5, 0.0, 0.3, 0.0, 0.0],     # wave: head on top, miss; gap 0.3 - 0.125 = 0.175
                  [0.0, 0.4, 0.4, 0.1, 0.0],     # clap: tie of the two carriers, hit; gap 0.4 - 1/30
                  [0.2, 0.2, 0.2, 0.2, 0.2],     # jacks: every part carries, not scored
                  [1.0, 0.0, 0.0, 0.0, 0.0]])    # no known carriers, not scored
    score = carrier_recovery(E, classes, carriers)
    assert score["classes"] == 3 and score["recovery"] == pytest.approx(2 / 3)
    assert score["gap"] == pytest.approx((0.8 + 0.175 + (0.4 - 0.1 / 3)) / 3)
    assert [score["per_class"][c]["hit"] for c in ("kick", "wave", "clap")] == [True, False, True]
    tied = carrier_recovery(np.array([[0.0, 0.0, 0.0, 0.0, 0.0]]), ["kick"], carriers)
    assert tied["recovery"] == 0.0 and tied["gap"] == 0.0          # an all-equal row names no carrier
    assert carrier_recovery(E, classes, {})["recovery"] is None


def test_efficiency_softmax_rows() -> None:
    raw = np.array([[0.0, 0.0, 0.0, 1.0, 0.0], [0.2, 0.4, 0.0, 0.0, 1.0], [0.0] * 5])
    e = efficiency_softmax(raw)
    np.testing.assert_allclose(e.sum(axis=1), 1.0, rtol=1e-6)
    assert e[0, 3] == pytest.approx(math.e / (4 + math.e))
    np.testing.assert_allclose(e[2], 0.2)
    assert (e.argmax(axis=1)[:2] == raw.argmax(axis=1)[:2]).all()


# ---------------------------------------------------------------- PMSC

U, V_, D, NEG, Q = (1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (-1.0, 0.0), (3.0, 4.0)
HIGH = [[U, U, V_, D, Q], [V_, U, U, U, U], [NEG, V_, D, V_, U]]  # classes 0, 0, 1
LOW = [[U, D, V_, U, Q], [D, V_, U, NEG, U], [V_, U, NEG, D, D]]  # classes 0, 0, 1
Y_HIGH, Y_LOW = [0, 0, 1], [0, 0, 1]
OWN = [0, -1, 2]  # i0 paired with j0, i1 solitary, i2 paired with j2 (no other class-1 clip: no positives)
E = [[0.1, 0.3, 0.2, 0.25, 0.15], [0.3, 0.1, 0.1, 0.2, 0.3]]


def _phi(i: int, j: int) -> float:
    return sum(_cos(LOW[i][p], HIGH[j][p]) * E[Y_LOW[i]][p] for p in range(5))


def _t(values: list) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def test_part_similarity_by_hand() -> None:
    f_low = _t([[U, U, U, U, U]])
    f_high = _t([[U, V_, NEG, D, Q], [U, U, U, U, U]])
    phi = part_similarity(f_low, f_high, _t([[1, 2, 3, 4, 5]]))
    # cosines 1, 0, -1, 1/sqrt(2), 3/5 weighted by 1..5; all cosines 1 for the second clip
    assert phi[0, 0].item() == pytest.approx(1 - 3 + 4 / math.sqrt(2) + 3, rel=1e-6)
    assert phi[0, 1].item() == pytest.approx(15.0)
    full = part_similarity(_t(LOW), _t(HIGH), _t(E)[Y_LOW])
    expected = [[_phi(i, j) for j in range(3)] for i in range(3)]
    assert torch.allclose(full, _t(expected), atol=1e-6)


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_pmsc_matches_hand_computation(tau: float) -> None:
    w = 0.5
    c = [[math.exp(_phi(i, j) / tau) for j in range(3)] for i in range(3)]
    l0 = -math.log((c[0][0] + w * c[0][1]) / (c[0][0] + w * c[0][1] + c[0][2]))  # P={j1}, N={j2}
    cp1 = (c[1][0] + c[1][1]) / 2  # solitary: P={j0, j1}, N={j2}
    l1 = -math.log(w * cp1 / (w * cp1 + c[1][2]))
    cn2 = (c[2][0] + c[2][1]) / 2  # paired without positives: the w*C^P term is dropped
    l2 = -math.log(c[2][2] / (c[2][2] + cn2))
    f_low = _t(LOW).requires_grad_()
    loss = pmsc_loss(f_low, _t(HIGH), torch.tensor(Y_LOW), torch.tensor(Y_HIGH), torch.tensor(OWN), _t(E),
                     tau=tau, w=w)
    assert loss.item() == pytest.approx((l0 + l1 + l2) / 3, rel=1e-5)
    loss.backward()
    assert torch.isfinite(f_low.grad).all() and f_low.grad.abs().sum() > 0
    as_array = pmsc_loss(_t(LOW), _t(HIGH), torch.tensor(Y_LOW), torch.tensor(Y_HIGH), torch.tensor(OWN),
                         np.array(E), tau=tau, w=w)
    assert as_array.item() == pytest.approx(loss.item())


def test_pmsc_empty_sets_are_skipped() -> None:
    f = _t(LOW).requires_grad_()
    y_low, own = torch.tensor([1, 1, 1]), torch.tensor([-1, -1, 2])
    # all class 1; B_H holds one class-1 clip (j2): solitary i0, i1 have P={j2}; paired i2 has no positive
    loss = pmsc_loss(f, _t(HIGH), y_low, torch.tensor(Y_HIGH), own, _t(E))
    c = [[math.exp(sum(_cos(LOW[i][p], HIGH[j][p]) * E[1][p] for p in range(5))) for j in range(3)]
         for i in range(3)]
    expected = [-math.log(0.5 * c[i][2] / (0.5 * c[i][2] + (c[i][0] + c[i][1]) / 2)) for i in range(2)]
    expected.append(-math.log(c[2][2] / (c[2][2] + (c[2][0] + c[2][1]) / 2)))
    assert loss.item() == pytest.approx(sum(expected) / 3, rel=1e-5)
    # solitary with no positive in B_H: skipped; nothing contributes -> 0, still differentiable
    alone = pmsc_loss(f[:1], _t(HIGH)[:2], torch.tensor([1]), torch.tensor([0, 0]), torch.tensor([-1]), _t(E))
    assert alone.item() == 0.0 and alone.requires_grad
    alone.backward()
    assert torch.isfinite(f.grad).all() and f.grad.abs().sum() == 0
    # no negatives (B_H all of the sample's class): skipped as well
    no_neg = pmsc_loss(f[:1], _t(HIGH)[:2], torch.tensor([0]), torch.tensor([0, 0]), torch.tensor([0]), _t(E))
    assert no_neg.item() == 0.0
    # w = 0: solitary samples carry no term, paired ones keep C(i,i)
    assert multi_sample_contrastive_loss(torch.zeros(1, 2), torch.tensor([0]), torch.tensor([0, 1]),
                                         torch.tensor([-1]), w=0.0).item() == 0.0


def test_pmsc_rejects_bad_pairs_and_runs_in_fp32_under_autocast() -> None:
    args = (torch.tensor(Y_LOW), torch.tensor(Y_HIGH))
    with pytest.raises(DataError):
        pmsc_loss(_t(LOW), _t(HIGH), *args, torch.tensor([1, -1, 0]), _t(E))  # i2 (class 1) paired with j0
    with pytest.raises(ConfigError):
        pmsc_loss(_t(LOW), _t(HIGH), *args, torch.tensor(OWN), _t(E), tau=0.0)
    reference = pmsc_loss(_t(LOW), _t(HIGH), *args, torch.tensor(OWN), _t(E))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = pmsc_loss(_t(LOW).bfloat16(), _t(HIGH).bfloat16(), *args, torch.tensor(OWN), _t(E))
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)  # the inputs are exact in bf16


def test_global_msc_by_hand() -> None:
    g_low = _t([U, D])
    g_high = _t([U, NEG, Q])
    y_high = torch.tensor([0, 1, 0])
    loss = global_msc_loss(g_low, g_high, torch.tensor([0, 1]), y_high, torch.tensor([0, 1]))
    # i0: own cos 1, P={j2} cos 3/5, N={j1} cos -1; i1: own cos -1/sqrt2, P={}, N={j0, j2}
    l0 = -math.log((math.e + 0.5 * math.exp(0.6)) / (math.e + 0.5 * math.exp(0.6) + math.exp(-1)))
    own1 = math.exp(-1 / math.sqrt(2))
    cn1 = (math.exp(1 / math.sqrt(2)) + math.exp(7 / (5 * math.sqrt(2)))) / 2
    l1 = -math.log(own1 / (own1 + cn1))
    assert loss.item() == pytest.approx((l0 + l1) / 2, rel=1e-5)


# ---------------------------------------------------------------- logit KD, SKD, gradient revision

def test_kl_distill_loss() -> None:
    logits = torch.tensor([[0.3, -1.0, 2.0]])
    assert kl_distill_loss(logits, logits.clone()).item() == pytest.approx(0.0, abs=1e-7)
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(9.0), 0.0]])  # at T=2: teacher probabilities 3/4, 1/4
    expected = 4 * (0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5))
    assert kl_distill_loss(student, teacher, T=2.0).item() == pytest.approx(expected, rel=1e-6)


def test_skd_loss() -> None:
    z = torch.randn(4, 8, 5, 13, generator=torch.Generator().manual_seed(0))
    assert skd_loss(z, z.clone()).item() == pytest.approx(0.0, abs=1e-6)
    assert skd_loss(torch.cat([z, 2 * z], dim=1), z).item() == pytest.approx(0.0, abs=1e-6)  # channels may differ
    # V=2, C=2, T=1: student joints (1,0),(0,1) -> identity affinity; teacher joints both (1,0) -> all ones
    zs = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]], [[[1.0, 0.0]], [[0.0, 1.0]]]])
    zt = torch.tensor([[[[1.0, 1.0]], [[0.0, 0.0]]], [[[1.0, 0.0]], [[0.0, 1.0]]]])
    assert skd_loss(zs, zt).item() == pytest.approx(0.25)  # slot 0: 0.5, slot 1: 0
    assert skd_loss(zs, zt, present=torch.tensor([[True, False]])).item() == pytest.approx(0.5)
    with pytest.raises(ConfigError):
        skd_loss(z, z[..., :12])


def test_revise_gradient_removes_exactly_the_conflict() -> None:
    g_ce = torch.tensor([1.0, 0.0, 0.0])
    conflicting = torch.tensor([-1.0, 2.0, 3.0])
    revised = revise_gradient(conflicting, g_ce)
    assert torch.allclose(revised, torch.tensor([0.0, 2.0, 3.0]))
    assert (revised * g_ce).sum() >= 0
    agreeing = torch.tensor([0.5, -2.0, 1.0])
    assert torch.equal(revise_gradient(agreeing, g_ce), agreeing)
    g = torch.randn(50, generator=torch.Generator().manual_seed(1))
    r = revise_gradient(-g + 0.1, g)
    assert abs((r * g).sum().item()) < 1e-4


def test_backward_with_revision_writes_revised_sum() -> None:
    w = nn.Parameter(torch.tensor([0.3, -0.7]))
    unused = nn.Parameter(torch.ones(3))
    loss_ce = (w * torch.tensor([1.0, 0.0])).sum()
    loss_kd = (w * torch.tensor([-1.0, 2.0])).sum()
    backward_with_revision(loss_ce, loss_kd, [w, unused])
    assert torch.allclose(w.grad, torch.tensor([1.0, 2.0]))  # (1, 0) + (0, 2)
    assert torch.equal(unused.grad, torch.zeros(3))


# ---------------------------------------------------------------- alternative E definitions

def test_shapley_values_by_hand() -> None:
    from partkd.distill.efficiency import PART_SUBSETS, shapley_values

    a = np.array([0.5, -0.2, 0.0, 1.0, 0.3])
    additive = (PART_SUBSETS * a).sum(axis=1)[None]                # v(S) = sum of a_p over the kept parts
    assert np.allclose(shapley_values(additive), a[None])
    both = (PART_SUBSETS[:, 0] & PART_SUBSETS[:, 1]).astype(float)[None]  # v = 1 only when head and left arm are kept
    assert np.allclose(shapley_values(both), [[0.5, 0.5, 0.0, 0.0, 0.0]])
    assert np.isclose(shapley_values(both).sum(), both[0, -1] - both[0, 0])  # efficiency: sums to v(all) − v(∅)


def test_part_subset_values_match_direct_passes() -> None:
    from partkd.distill.efficiency import part_subset_values
    from partkd.models import build_model, resolve_config, to_model_input

    layout = get_layout("coco17")
    torch.manual_seed(0)
    model = build_model("stgcn", layout, 4, resolve_config("stgcn", "tiny")).eval()
    x = torch.randn(3, 1, 8, 17, 3)
    y = torch.tensor([0, 2, 3])
    v = part_subset_values(model, x, y, layout)
    with torch.inference_mode():
        full = model(to_model_input(x))[0].softmax(-1)[torch.arange(3), y]
        keep = torch.as_tensor(np.asarray(layout.parts) == PARTS.index("left_leg"), dtype=torch.float32)
        only_leg = model(to_model_input(x * keep[None, None, None, :, None]))[0].softmax(-1)[torch.arange(3), y]
    assert v.shape == (3, 32)
    assert np.allclose(v[:, 31], full.numpy(), atol=1e-5) and np.allclose(v[:, 1 << 3], only_leg.numpy(), atol=1e-5)


def test_part_motion_by_hand() -> None:
    from partkd.distill.efficiency import part_motion

    layout = get_layout("penn13")                                  # head = joint 0, right_ankle = joint 12
    x = np.zeros((1, 1, 3, 13, 3))
    x[..., 2] = 1.0                                                # confidence: every joint present
    x[0, 0, :, 0, :2] = [[0, 0], [3, 4], [3, 4]]                   # the head moves 5 then 0
    x[0, 0, :, 12, :2] = [[1, 1], [1, 1], [1, 2]]                  # the right ankle moves 0 then 1
    m = part_motion(x, layout)
    assert np.allclose(m[0], [2.5, 0.0, 0.0, 0.0, 1.0 / 3 * 0.5])  # right leg: mean over its 3 joints of (0 + 1) / 2


def test_relational_loss_is_zero_when_the_similarity_structures_agree() -> None:
    """L_rel on a hand-made batch: a student whose features are a rotation and scaling of the teacher's (other width
    too) has the same cosine structure, so 0; a permuted batch has another structure, so > 0 (value by hand)."""
    import torch

    from partkd.distill.losses import relational_loss

    t = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    rot = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])        # 2 -> 3 channels, an isometry onto a plane
    assert float(relational_loss(3.0 * t @ rot, t)) < 1e-12
    s = t[[2, 1, 0]]
    # teacher cos: (0,1)=0, (0,2)=(1,2)=1/√2; student (permuted): (0,1)=1/√2, (0,2)=1/√2, (1,2)=0
    expected = 2 * ((2 ** -0.5 - 0) ** 2 + 0 + (0 - 2 ** -0.5) ** 2) / 6
    assert abs(float(relational_loss(s, t)) - expected) < 1e-6
    assert float(relational_loss(t[:1], t[:1])) == 0.0
