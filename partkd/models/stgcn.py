"""ST-GCN (Yan et al. 2018) with the spatial partition and learnable edge importance (method.md §2)."""

from __future__ import annotations

import ctypes
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from partkd.models import native
from partkd.models.config import ModelConfig
from partkd.models.layers import SkeletonNet, TemporalConv, residual
from partkd.models.registry import BACKBONES


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
        # the native kernel aggregates whichever side of the 1×1 convolution has fewer channels
        self.aggregate_first = cin < cout
        self.edges = native.Edges.of(partition, self.aggregate_first)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object, **kwargs: object) -> None:
        """Load, then take the kernel's edges from the loaded A (an import may bring another sparsity pattern)."""
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.edges = native.Edges.of(self.A.detach().cpu(), self.aggregate_first)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, Cin, T, V) -> (B, Cout, T, V); channels-last in and out."""
        a = self.A if self.importance is None else self.A * self.importance
        lib = native.native_library_for(x)
        if lib is not None and x.is_contiguous(memory_format=torch.channels_last):
            return self.native_forward(x, a, lib)
        b, _, t, v = x.shape
        y = self.conv(x).permute(0, 2, 3, 1).reshape(b * t, v * self.subsets, -1)  # free view when channels-last
        # einsum("nvkc,kvw->nwc") as a batched product over the fused (v, k) axis with the graph broadcast: unlike
        # matmul (which folds the batch into one GEMM through a transposed copy) it copies no activations (the
        # graph is cast before the broadcast, so autocast copies nothing either; its gradient is summed per frame).
        agg = a.permute(2, 1, 0).reshape(v, -1).to(y.dtype)
        z = torch.bmm(agg.expand(b * t, *agg.shape), y)
        return z.view(b, t, v, -1).permute(0, 3, 1, 2)

    def native_forward(self, x: torch.Tensor, a: torch.Tensor, lib: ctypes.CDLL) -> torch.Tensor:
        """The same map with the sparse C kernel: after the convolution, or first (then one convolution over the
        K aggregated copies of the input, Σ_k W_k (x A_k), whose bias is Σ_k b_k Σ_v A_k[v, w] per joint w)."""
        b, cin, t, v = x.shape
        k, edges = self.subsets, self.edges
        weights = a[edges.index]
        if not self.aggregate_first:
            y = self.conv(x).permute(0, 2, 3, 1).reshape(b * t, v * k, -1)
            return native.aggregate(y, weights, edges, lib).view(b, t, v, -1).permute(0, 3, 1, 2)
        xa = native.aggregate(x.permute(0, 2, 3, 1).reshape(b * t, v, cin), weights, edges, lib)
        cout = self.conv.out_channels // k
        w = self.conv.weight.view(k, cout, cin).transpose(0, 1).reshape(cout, k * cin, 1, 1)
        bias = torch.einsum("kc,kvw->cw", cast(torch.Tensor, self.conv.bias).view(k, cout), a).view(1, cout, 1, v)
        return F.conv2d(xa.view(b, t, v, k * cin).permute(0, 3, 1, 2), w).add_(bias)


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
        h = self.gcn(x)
        lib = native.native_library_for(h) if len(self.tcn) == 2 else None  # no dropout between BN and the sum
        if lib is not None and native.fusable(self.bn) and native.fusable(self.tcn[1]):
            c = self.tcn[0](native.batch_norm_relu(h, self.bn, None, lib))
            r = None if self.residual is None else self.residual(x)
            return native.batch_norm_relu(c, cast(nn.BatchNorm2d, self.tcn[1]), r, lib)
        # in place: batch-norm, dropout and addition keep nothing of their outputs for backward
        y = self.tcn(torch.relu_(self.bn(h)))
        if self.residual is not None:
            y = y.add_(self.residual(x))
        return torch.relu_(y)


@BACKBONES.decorator("stgcn")
class STGCN(SkeletonNet):
    """ST-GCN backbone + classifier; forward returns (logits, joint features before pooling)."""

    make_block = STGCNBlock
