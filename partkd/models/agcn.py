"""Js-AGCN: the joint stream of 2s-AGCN (Shi et al. 2019), adaptive graph A_k + B_k + C_k(x)."""

from __future__ import annotations

import torch
from torch import nn

from partkd.models.config import ModelConfig
from partkd.models.layers import SkeletonNet, TemporalConv, residual
from partkd.models.registry import BACKBONES


class AdaptiveGraphConv(nn.Module):
    """y = BN(Σ_k W_k x (A_k + B_k + C_k(x))) + down(x), C_k = softmax of embedded joint similarity."""

    A: torch.Tensor

    def __init__(self, cin: int, cout: int, partition: torch.Tensor, embed_ratio: int = 4) -> None:
        super().__init__()
        k = partition.shape[0]
        self.subsets, self.embed = k, max(cout // embed_ratio, 1)
        self.register_buffer("A", partition.clone())
        self.B = nn.Parameter(torch.full_like(partition, 1e-6))
        self.theta = nn.Conv2d(cin, k * self.embed, 1)
        self.phi = nn.Conv2d(cin, k * self.embed, 1)
        # W_k for all subsets in one conv; no bias because batch-norm follows.
        self.conv = nn.Conv2d(cin, k * cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.down = residual(cin, cout, 1)

    def adjacency(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample graphs A + B + C(x): (B, K, V, V), entry [.., v, w] weighs the message v -> w."""
        b, _, t, v = x.shape
        th = self.theta(x).view(b, self.subsets, self.embed, t, v)
        ph = self.phi(x).view(b, self.subsets, self.embed, t, v)
        sim = torch.einsum("bkctv,bkctw->bkvw", th, ph) / (self.embed * t)
        return torch.softmax(sim, dim=-2) + self.A + self.B

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, Cin, T, V) -> (B, Cout, T, V); channels-last in and out."""
        b, _, t, v = x.shape
        g = self.adjacency(x).permute(0, 3, 2, 1).reshape(b, 1, v, v * self.subsets)  # [b, w, (v, k)]
        y = self.conv(x).permute(0, 2, 3, 1).reshape(b, t, v * self.subsets, -1)  # [b, t, (v, k), c]
        z = torch.matmul(g, y).permute(0, 3, 1, 2)  # (B, Cout, T, V)
        return torch.relu(self.bn(z) + self.down(x))


class AGCNBlock(nn.Module):
    """Adaptive GCN -> temporal conv -> BN, plus a residual, then ReLU."""

    def __init__(
        self, cin: int, cout: int, stride: int, partition: torch.Tensor, config: ModelConfig, first: bool = False
    ) -> None:
        super().__init__()
        self.gcn = AdaptiveGraphConv(cin, cout, partition)
        self.tcn = TemporalConv(cout, cout, config.temporal_kernel, stride, config.dropout)
        self.residual = None if first else residual(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, Cin, T, V) -> (B, Cout, T/stride, V)."""
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return torch.relu(y)


@BACKBONES.decorator("agcn")
class AGCN(SkeletonNet):
    """Js-AGCN backbone + classifier with the same interface as STGCN."""

    make_block = AGCNBlock
