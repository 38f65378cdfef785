"""CTR-GCN (Chen et al., ICCV 2021): channel-wise topology refinement graph convolution with multi-scale temporal
convolution, on partkd's shared SkeletonNet frame (so E, PMSC and every KD method read its joint features)."""

from __future__ import annotations

import torch
from torch import nn

from partkd.models.config import ModelConfig
from partkd.models.layers import SkeletonNet
from partkd.models.registry import BACKBONES

#: The paper's temporal kernel and dilations of the multi-scale temporal convolution (independent of the preset's
#: ST-GCN kernel), and the reduction of the channel-wise relation features.
KERNEL, DILATIONS, REDUCTION = 5, (1, 2), 8


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c)


class CTRGC(nn.Module):
    """One channel-wise topology refinement: A_c = A + α·φ(tanh(ψ1(x)ᵀ − ψ2(x))) per output channel, then
    y_c = A_c · ξ(x)_c (the paper's eqs. 3-6; ψ pooled over time)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        rel = 8 if cin in (3, 9) else cin // REDUCTION
        self.conv1, self.conv2 = nn.Conv2d(cin, rel, 1), nn.Conv2d(cin, rel, 1)
        self.conv3 = nn.Conv2d(cin, cout, 1)
        self.conv4 = nn.Conv2d(rel, cout, 1)

    def forward(self, x: torch.Tensor, a: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """x (B, Cin, T, V), a (V, V) -> (B, Cout, T, V)."""
        x1, x2 = self.conv1(x).mean(-2), self.conv2(x).mean(-2)  # (B, R, V)
        rel = self.conv4(torch.tanh(x1.unsqueeze(-1) - x2.unsqueeze(-2))) * alpha + a  # (B, Cout, V, V)
        return torch.einsum("ncuv,nctv->nctu", rel, self.conv3(x))


class CTRGraphConv(nn.Module):
    """The CTR-GCN spatial unit: one CTRGC per partition subset over a learnable topology, summed, batch-normed,
    plus a (projected) residual, then ReLU."""

    def __init__(self, cin: int, cout: int, partition: torch.Tensor) -> None:
        super().__init__()
        self.A = nn.Parameter(partition.clone().float())  # shared topology, refined per channel
        self.alpha = nn.Parameter(torch.zeros(1))
        self.convs = nn.ModuleList(CTRGC(cin, cout) for _ in range(partition.shape[0]))
        self.bn = _bn(cout)
        self.down = nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1), _bn(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = sum(conv(x, self.A[k], self.alpha) for k, conv in enumerate(self.convs))
        return torch.relu(self.bn(y) + self.down(x))


class MultiScaleTemporalConv(nn.Module):
    """Four branches of out/4 channels each, concatenated: dilated k×1 convolutions (dilations 1 and 2), a 3×1
    max-pool and a strided 1×1 convolution, each after a 1×1 reduction."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        branches = len(DILATIONS) + 2
        width = cout // branches
        self.branches = nn.ModuleList()
        for d in DILATIONS:
            pad = (KERNEL + (KERNEL - 1) * (d - 1) - 1) // 2
            self.branches.append(
                nn.Sequential(
                    nn.Conv2d(cin, width, 1),
                    _bn(width),
                    nn.ReLU(),
                    nn.Conv2d(width, width, (KERNEL, 1), (stride, 1), (pad, 0), (d, 1)),
                    _bn(width),
                )
            )
        self.branches.append(
            nn.Sequential(
                nn.Conv2d(cin, width, 1), _bn(width), nn.ReLU(), nn.MaxPool2d((3, 1), (stride, 1), (1, 0)), _bn(width)
            )
        )
        self.branches.append(
            nn.Sequential(
                nn.Conv2d(cin, cout - width * (branches - 1), 1, (stride, 1)), _bn(cout - width * (branches - 1))
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)


class CTRGCNBlock(nn.Module):
    """CTR graph convolution -> multi-scale temporal convolution, plus a residual (none in the first block)."""

    def __init__(
        self, cin: int, cout: int, stride: int, partition: torch.Tensor, config: ModelConfig, first: bool = False
    ) -> None:
        super().__init__()
        self.gcn = CTRGraphConv(cin, cout, partition)
        self.tcn = MultiScaleTemporalConv(cout, cout, stride)
        if first:
            self.residual: nn.Module | None = None
        elif cin == cout and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, (stride, 1)), _bn(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, Cin, T, V) -> (B, Cout, T/stride, V)."""
        y = self.tcn(self.gcn(x))
        return torch.relu(y if self.residual is None else y + self.residual(x))


@BACKBONES.decorator("ctrgcn")
class CTRGCN(SkeletonNet):
    """CTR-GCN backbone + classifier; forward returns (logits, joint features before pooling)."""

    make_block = CTRGCNBlock
