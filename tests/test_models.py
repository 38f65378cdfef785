"""Backbones: shapes on every layout, parameter count, gradients, determinism, learning, bf16."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from partkd.errors import ConfigError
from partkd.graph import spatial_partition
from partkd.layouts import BUILTIN, get_layout
from partkd.models import ModelConfig, build_model, count_parameters, to_model_input
from partkd.models.stgcn import GraphConv

ARCHS = ("stgcn", "agcn", "efficientgcn")


def batch(layout: str, n: int = 2, m: int = 2, t: int = 16, seed: int = 0) -> torch.Tensor:
    """A random model input (N, C, T, V, M) for a layout."""
    v = get_layout(layout).num_joints
    return to_model_input(np.random.default_rng(seed).standard_normal((n, m, t, v, 3)).astype(np.float32))


def test_to_model_input_permutes_axes() -> None:
    x = np.arange(2 * 3 * 4 * 5 * 3, dtype=np.float32).reshape(2, 3, 4, 5, 3)
    y = to_model_input(x)
    assert y.shape == (2, 3, 4, 5, 3) and y.dtype == torch.float32
    assert y[1, 2, 3, 4, 0] == x[1, 0, 3, 4, 2]
    with pytest.raises(ConfigError):
        to_model_input(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("layout", sorted(BUILTIN))
def test_shapes_on_every_layout(arch: str, layout: str) -> None:
    model = build_model(arch, layout, 7, "tiny")
    logits, feats = model(batch(layout, n=3, m=2, t=16))
    v = BUILTIN[layout].num_joints
    assert logits.shape == (3, 7)
    assert feats.shape == (6, 64, 4, v)            # tiny: 64 channels, two stride-2 blocks
    pooled = feats.mean(dim=(2, 3)).view(3, 2, -1).mean(dim=1)
    torch.testing.assert_close(logits, model.fc(pooled))


def test_paper_stgcn_parameter_count_matches_reference() -> None:
    n = count_parameters(build_model("stgcn", "ntu25", 60, "full"))
    assert abs(n - 3.1e6) / 3.1e6 < 0.05, n


def test_graph_conv_equals_reference_einsum() -> None:
    a = torch.from_numpy(spatial_partition(get_layout("coco17")))
    g = GraphConv(4, 6, a, edge_importance=True)
    torch.nn.init.uniform_(g.importance, 0.5, 1.5)
    x = torch.randn(2, 4, 5, 17)
    ref = torch.einsum("nkctv,kvw->nctw", g.conv(x).view(2, 3, 6, 5, 17), a * g.importance)
    torch.testing.assert_close(g(x.contiguous(memory_format=torch.channels_last)), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_reach_every_parameter(arch: str) -> None:
    model = build_model(arch, "penn13", 3, "tiny")
    logits, feats = model(batch("penn13"))
    (logits.sum() + feats.mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("arch", ARCHS)
def test_deterministic_under_seed(arch: str) -> None:
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = build_model(arch, "ntu25", 5, "tiny")
        outs.append(model(batch("ntu25"))[0])
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_model_overfits_two_classes(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(arch, "coco17", 2, "tiny")
    x, y = batch("coco17", n=8, m=1, t=12, seed=1), torch.tensor([0, 1] * 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(80):  # EfficientGCN's many batch norms need ~60 steps of running statistics to match training
        opt.zero_grad()
        logits, _ = model(x)
        torch.nn.functional.cross_entropy(logits, y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        assert (model(x)[0].argmax(1) == y).float().mean() == 1.0


@pytest.mark.parametrize("arch", ARCHS)
def test_bf16_autocast_matches_fp32(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(arch, "penn13", 4, "tiny").eval()
    x = batch("penn13", n=2, m=1, t=8)
    with torch.no_grad():
        ref, _ = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low, _ = model(x)
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), ref, rtol=0.05, atol=0.05 * ref.abs().max().item())


def test_config_errors() -> None:
    with pytest.raises(ConfigError):
        build_model("stgcn", "ntu25", 5, "huge")
    with pytest.raises(ConfigError):
        ModelConfig(channels=(8, 8), strides=(1,))
    model = build_model("stgcn", "ntu25", 5, ModelConfig(channels=(8,), strides=(1,), data_bn="mvc", persons=2))
    with pytest.raises(ConfigError):
        model(batch("ntu25", m=1))
    assert model(batch("ntu25", m=2))[0].shape == (2, 5)


def test_config_round_trip() -> None:
    cfg = ModelConfig(arch="agcn", channels=(8, 16), strides=(1, 2))
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_ctrgcn_matches_the_published_size_and_refines_the_topology_per_channel() -> None:
    """CTR-GCN (Chen et al. 2021): 1.46M parameters for NTU-60 joints (the paper's table), here within 1 %; with
    the refinement weight α = 0 a CTRGC unit is the plain A·ξ(x), and with α ≠ 0 each channel gets its own graph."""
    from dataclasses import replace

    from partkd.models import resolve_config
    from partkd.models.ctrgcn import CTRGC

    model = build_model("ctrgcn", "ntu25", 60, replace(resolve_config("ctrgcn", "full"), persons=2, data_bn="mvc"))
    assert abs(count_parameters(model) - 1.46e6) / 1.46e6 < 0.01
    torch.manual_seed(0)
    unit = CTRGC(16, 32)
    x, a = torch.randn(2, 16, 5, 4), torch.rand(4, 4)
    plain = torch.einsum("uv,nctv->nctu", a, unit.conv3(x))
    assert torch.allclose(unit(x, a, torch.zeros(1)), plain, atol=1e-6)
    refined = unit(x, a, torch.ones(1))
    per_channel = unit.conv4(torch.tanh(unit.conv1(x).mean(-2).unsqueeze(-1) - unit.conv2(x).mean(-2).unsqueeze(-2)))
    assert torch.allclose(refined, torch.einsum("ncuv,nctv->nctu", per_channel + a, unit.conv3(x)), atol=1e-5)
    assert not torch.allclose(refined, plain)


def test_efficientgcn_scales_like_the_reference_and_matches_the_published_sizes() -> None:
    """EfficientGCN-Bx (Song et al. 2022): compound scaling of the B0 blocks gives the reference's B4 blocks
    [[96,1,2],[48,1,2],[128,2,3],[272,2,3]]; on NTU-60 joints the sizes are the paper's 0.29 / 0.51 / 1.10 M once
    the learnable edge masks (3 x 25 x 25 on each of the 11 graph layers) are left out, as its counter (thop)
    leaves plain nn.Parameters out."""
    from dataclasses import replace

    from partkd.models.config import PRESETS, effgcn_config

    b4 = effgcn_config(4)
    assert [list(t) for t in zip(b4.channels, b4.strides, b4.depths)] == [[96, 1, 2], [48, 1, 2], [128, 2, 3],
                                                                           [272, 2, 3]]
    assert effgcn_config(0).depths == (0, 0, 1, 1) and effgcn_config(0).channels == (48, 32, 64, 128)
    for x, published in ((0, 0.29), (2, 0.51), (4, 1.10)):
        model = build_model("efficientgcn", "ntu25", 60, replace(PRESETS[f"effgcn-b{x}"], persons=2))
        masks = sum(p.numel() for n, p in model.named_parameters() if n.endswith("importance"))
        assert masks == 11 * 3 * 25 * 25
        assert round((count_parameters(model) - masks) / 1e6, 2) == published, x


def test_distance_partition_by_hand() -> None:
    """Chain 0-1-2: subsets = the joint itself, 1 hop, 2 hops of the column-normalised A (all within 2 hops)."""
    from partkd.graph import distance_partition
    from partkd.layouts import Layout

    chain = Layout("chain", ("a", "b", "c", "d", "e"), ((1, 0), (2, 1), (3, 0), (4, 0)), 0, (0, 1, 2, 3, 4), 3)
    a = distance_partition(chain, 2)
    assert a.shape == (3, 5, 5)
    np.testing.assert_allclose(a.sum(axis=(0, 1)), 1.0, atol=1e-6)          # every column of the union sums to 1
    # joint 2 (c) reaches c (0 hops), b (1 hop), a (2 hops): a third each
    np.testing.assert_allclose(a[:, :, 2].sum(axis=0)[[0, 1, 2]], [1 / 3] * 3, atol=1e-6)
    assert a[0, 2, 2] == pytest.approx(1 / 3) and a[1, 1, 2] == pytest.approx(1 / 3) and a[2, 0, 2] == pytest.approx(1 / 3)
    assert a[:, 3, 2].sum() == 0                                            # d is 3 hops from c


def test_efficientgcn_branch_inputs_by_hand() -> None:
    """The three 6-channel inputs on a 3D chain: joints and joints minus the centre, 1- and 2-frame velocities,
    bones and their direction cosines; a missing joint stays missing in each."""
    from partkd.layouts import Layout
    from partkd.models.efficientgcn import branch_inputs

    chain = Layout("chain", ("a", "b", "c", "d", "e"), ((1, 0), (2, 1), (3, 0), (4, 0)), 0, (0, 1, 2, 3, 4), 3)
    x = torch.zeros(1, 1, 3, 5, 3)                                           # (N, M, T, V, C)
    x[..., 0, :] = torch.tensor([0.0, 0.0, 1.0])
    x[..., 1, :] = torch.tensor([0.0, 1.0, 1.0])
    x[0, 0, :, 2] = torch.tensor([[0.0, 2.0, 1.0], [1.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    j, v, b = (t.reshape(6, 3, 5) for t in branch_inputs(to_model_input(x), chain))   # (2C, T, V)
    torch.testing.assert_close(j[:3, 1, 2], torch.tensor([1.0, 2.0, 1.0]))
    torch.testing.assert_close(j[3:, 1, 2], torch.tensor([1.0, 2.0, 0.0]))  # minus the centre (0, 0, 1)
    torch.testing.assert_close(v[:3, 0, 2], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(v[3:, 0, 2], torch.tensor([3.0, 0.0, 0.0]))  # two frames on
    assert float(v[3:, 1:].abs().sum()) == 0                                # no frame two on
    torch.testing.assert_close(b[:3, 1, 2], torch.tensor([1.0, 1.0, 0.0]))
    torch.testing.assert_close(b[3:, 1, 2], torch.tensor([2**-0.5, 2**-0.5, 0.0]))
    assert float(j[:, :, 3].abs().sum() + b[:, :, 3].abs().sum()) == 0      # joint d is missing everywhere
