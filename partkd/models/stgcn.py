"""ST-GCN (Yan et al. 2018) with the spatial partition and learnable edge importance (method.md §2)."""

from __future__ import annotations

import torch
from torch import nn

from partkd.models.config import ModelConfig
from partkd.models.layers import SkeletonNet, TemporalConv, residual
from partkd.models.registry import register_backbone


class GraphConv(nn.Module):
    """Spatial graph convolution  y = Σ_k (W_k x + b_k) (A_k ⊙ M_k)  over the 3-subset partition."""

    A: torch.Tensor
    importance: nn.Parameter | None

    def __init__(self, cin: int, cout: int, partition: torch.Tensor, edge_importance: bool) -> None:
        super().__init__()
        self.subsets = partition.shape[0]
        self.conv = nn.Conv2d(cin, self.subsets * cout, 1)
        self.register_buffer("A", partition.clone())
        self.importance = nn.Parameter(torch.ones_like(partition)) if edge_importance else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, Cin, T, V) -> (B, Cout, T, V); channels-last in and out."""
        a = self.A if self.importance is None else self.A * self.importance
        b, _, t, v = x.shape
        y = self.conv(x).permute(0, 2, 3, 1).reshape(b * t, v * self.subsets, -1)  # free view when channels-last
        # einsum("nvkc,kvw->nwc") as a batched product over the fused (v, k) axis with the graph broadcast: unlike
        # matmul (which folds the batch into one GEMM through a transposed copy) it copies no activations (the
        # graph is cast before the broadcast, so autocast copies nothing either; its gradient is summed per frame).
        agg = a.permute(2, 1, 0).reshape(v, -1).to(y.dtype)
        z = torch.bmm(agg.expand(b * t, *agg.shape), y)
        return z.view(b, t, v, -1).permute(0, 3, 1, 2)


class STGCNBlock(nn.Module):
    """GCN -> BN -> ReLU -> temporal conv -> BN, plus a residual, then ReLU."""

    def __init__(
        self, cin: int, cout: int, stride: int, partition: torch.Tensor, config: ModelConfig, first: bool = False
    ) -> None:
        super().__init__()
        self.gcn = GraphConv(cin, cout, partition, config.edge_importance)
        self.bn = nn.BatchNorm2d(cout)
        self.tcn = TemporalConv(cout, cout, config.temporal_kernel, stride, config.dropout)
        self.residual = None if first else residual(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, Cin, T, V) -> (B, Cout, T/stride, V)."""
        # in place: batch-norm, dropout and addition keep nothing of their outputs for backward
        y = self.tcn(torch.relu_(self.bn(self.gcn(x))))
        if self.residual is not None:
            y = y.add_(self.residual(x))
        return torch.relu_(y)


@register_backbone("stgcn")
class STGCN(SkeletonNet):
    """ST-GCN backbone + classifier; forward returns (logits, joint features before pooling)."""

    make_block = STGCNBlock
