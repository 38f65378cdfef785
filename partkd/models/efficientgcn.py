"""EfficientGCN-Bx (Song et al., TPAMI 2022; the backbone of the paper's table 3): three early-fused input branches
(joints, velocities, bones; 6 channels each, derived from the joints inside the model), spatial graph layers over
the distance partition, sandglass separable temporal layers, spatial-temporal joint attention and compound scaling
(width ×1.2^x, depth ×1.35^x); forward returns (logits, joint features) like every partkd backbone."""

from __future__ import annotations

import torch
from torch import nn

from partkd.data import modalities as M
from partkd.graph import distance_partition
from partkd.layouts import Layout
from partkd.models.config import ModelConfig
from partkd.models.layers import TemporalConv, pooled, residual
from partkd.models.registry import BACKBONES
from partkd.models.stgcn import GraphConv

STEM_CHANNELS = 64
#: Blocks in each input branch before the branches are concatenated (the rest form the main stream).
FUSION_STAGE = 2
REDUCTION = 2  # of the sandglass layer and the attention's inner width
GRAPH_HOPS = 2  # distance partition: the joint itself, its 1-hop and 2-hop neighbours


def branch_inputs(x: torch.Tensor, layout: Layout) -> list[torch.Tensor]:
    """The three 6-channel inputs of (N, C, T, V, M) joints: [j, j − j_centre], [j_{t+1} − j_t, j_{t+2} − j_t] and
    [bone, bone direction cosines] (missing joints stay missing, data/modalities.py)."""
    j = x.permute(0, 4, 2, 3, 1)  # (N, M, T, V, C)
    pairs = (
        (j, M.centred(j, layout)),
        (M.joint_motion(j, layout), M.joint_motion_2(j, layout)),
        (M.bone(j, layout), M.bone_angle(j, layout)),
    )
    n, m = x.shape[0], x.shape[-1]
    # (N, M, T, V, 2C) -> (N*M, 2C, T, V)
    return [torch.cat(p, dim=-1).permute(0, 1, 4, 2, 3).reshape(n * m, -1, x.shape[2], x.shape[3]) for p in pairs]


class SpatialGraphLayer(nn.Module):
    """act(BN(Σ_k (W_k x) (A_k ⊙ M_k)) + residual) over the distance partition."""

    def __init__(self, cin: int, cout: int, partition: torch.Tensor, edge_importance: bool) -> None:
        super().__init__()
        self.gcn = GraphConv(cin, cout, partition, edge_importance)
        self.bn = nn.BatchNorm2d(cout)
        self.residual = residual(cin, cout, 1)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.gcn(x)) + self.residual(x))


class TemporalBasicLayer(nn.Module):
    """act(BN(k × 1 convolution) + x): the stem's temporal layer."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.conv = TemporalConv(channels, channels, kernel)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x) + x)


class SandglassLayer(nn.Module):
    """The sandglass temporal layer: depthwise k × 1, pointwise C → C/r, pointwise C/r → C, depthwise k × 1 (with the
    stride), each with BN (act after the first and third), plus a residual (strided 1 × 1 when downsampling)."""

    def __init__(self, channels: int, kernel: int, stride: int) -> None:
        super().__init__()
        inner = channels // REDUCTION
        self.depth1 = TemporalConv(channels, channels, kernel, groups=channels)
        self.point1 = TemporalConv(channels, inner, 1)
        self.point2 = TemporalConv(inner, channels, 1)
        self.depth2 = TemporalConv(channels, channels, kernel, stride, groups=channels)
        self.residual = residual(channels, channels, stride)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.point1(self.act(self.depth1(x)))
        return self.depth2(self.act(self.point2(y))) + self.residual(x)


class JointAttention(nn.Module):
    """Spatial-temporal joint attention: frame and joint descriptors (means over V and over T) through one shared
    bottleneck, a sigmoid per frame times a sigmoid per joint; out = act(BN(x · a) + x)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = channels // REDUCTION
        self.squeeze = nn.Sequential(nn.Conv2d(channels, inner, 1), nn.BatchNorm2d(inner), nn.Hardswish())
        self.frames = nn.Conv2d(inner, channels, 1)
        self.joints = nn.Conv2d(inner, channels, 1)
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[2]
        desc = torch.cat([x.mean(3, keepdim=True), x.mean(2, keepdim=True).transpose(2, 3)], dim=2)  # (B, C, T+V, 1)
        a_t, a_v = self.squeeze(desc).split([t, x.shape[3]], dim=2)
        att = self.frames(a_t).sigmoid() * self.joints(a_v.transpose(2, 3)).sigmoid()
        return self.act(self.bn(x * att) + x)


def _blocks(
    cin: int,
    widths: tuple[int, ...],
    strides: tuple[int, ...],
    depths: tuple[int, ...],
    kernel: int,
    a: torch.Tensor,
    edges: bool,
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for cout, stride, depth in zip(widths, strides, depths):
        layers.append(SpatialGraphLayer(cin, cout, a, edges))
        layers += [SandglassLayer(cout, kernel, stride if i == 0 else 1) for i in range(depth)]
        layers.append(JointAttention(cout))
        cin = cout
    return nn.Sequential(*layers)


@BACKBONES.decorator("efficientgcn")
class EfficientGCN(nn.Module):
    """EfficientGCN on a config's blocks (`channels`, `strides`, `depths`; presets effgcn-b0 ... effgcn-b4): three input
    branches (BN, stem graph layer to 64 channels, stem temporal layer, the first two blocks), concatenated, the main
    stream, then global pooling, dropout and a linear classifier. Joint features: the main stream's output."""

    def __init__(self, layout: Layout, num_classes: int, config: ModelConfig) -> None:
        super().__init__()
        self.layout, self.num_classes, self.config = layout, num_classes, config
        widths, strides = config.channels, config.strides
        depths = config.depths or (1,) * len(widths)
        fuse = min(FUSION_STAGE, len(widths) - 1)
        a = torch.from_numpy(distance_partition(layout, GRAPH_HOPS))
        k, edges = config.temporal_kernel, config.edge_importance
        cin = 2 * config.in_channels
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm2d(cin),
                SpatialGraphLayer(cin, STEM_CHANNELS, a, edges),
                TemporalBasicLayer(STEM_CHANNELS, k),
                _blocks(STEM_CHANNELS, widths[:fuse], strides[:fuse], depths[:fuse], k, a, edges),
            )
            for _ in range(3)
        )
        main_in = 3 * (widths[fuse - 1] if fuse > 0 else STEM_CHANNELS)
        self.main = _blocks(main_in, widths[fuse:], strides[fuse:], depths[fuse:], k, a, edges)
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(widths[-1], num_classes)
        for mod in self.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="leaky_relu")
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, T, V, M) -> (logits (N, K), joint features (N*M, C', T', V))."""
        n, m = x.shape[0], x.shape[-1]
        h = torch.cat([b(xi) for b, xi in zip(self.branches, branch_inputs(x, self.layout))], dim=1)
        features = self.main(h).contiguous()
        return self.fc(self.dropout(pooled(features, n, m))), features


__all__ = ["EfficientGCN", "branch_inputs"]
