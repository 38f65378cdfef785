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

ARCHS = ("stgcn", "agcn")


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
    for _ in range(40):
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
