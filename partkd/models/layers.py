"""Pieces every backbone shares: the input adapter, input batch-norm, temporal convolution, residual, and the
frame of data norm -> blocks -> pooled classifier."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from partkd.errors import ConfigError, where
from partkd.graph import spatial_partition
from partkd.layouts import Layout
from partkd.models.config import ModelConfig


def to_model_input(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Convert a dense batch (N, M, T, V, C) to the model layout (N, C, T, V, M), float32."""
    t = torch.as_tensor(x)
    if t.dim() != 5:
        raise ConfigError(where("to_model_input", f"expected a (N, M, T, V, C) batch, got shape {tuple(t.shape)}"))
    if not t.is_floating_point():
        t = t.float()
    return t.permute(0, 4, 2, 3, 1)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class DataNorm(nn.Module):
    """Batch-norm of the raw input per (V, C) ('vc', shared by persons) or per (M, V, C) ('mvc')."""

    def __init__(self, mode: str, joints: int, channels: int, persons: int) -> None:
        super().__init__()
        self.mode, self.persons = mode, persons
        width = joints * channels * (persons if mode == "mvc" else 1)
        self.bn = nn.BatchNorm1d(width) if mode != "none" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) -> (N*M, C, T, V) in channels-last memory."""
        n, c, t, v, m = x.shape
        if self.bn is not None:
            if self.mode == "mvc" and m != self.persons:
                raise ConfigError(where("DataNorm", f"model built for {self.persons} persons, input has {m}"))
            rows = n * m if self.mode == "vc" else n
            x = self.bn(x.permute(0, 4, 3, 1, 2).reshape(rows, -1, t))  # (rows, [M]·V·C, T)
            x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2)  # (N, M, C, T, V)
        else:
            x = x.permute(0, 4, 1, 2, 3)
        return x.reshape(n * m, c, t, v).contiguous(memory_format=torch.channels_last)


class TemporalConv(nn.Sequential):
    """Temporal convolution (kernel k × 1, stride s; `groups` = channels: depthwise) followed by batch-norm (and
    dropout)."""

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int = 1, dropout: float = 0.0, groups: int = 1
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, (kernel, 1), (stride, 1), (kernel // 2, 0), groups=groups),
            nn.BatchNorm2d(cout),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


def residual(cin: int, cout: int, stride: int) -> nn.Module:
    """Identity when shapes match, else a strided 1×1 convolution with batch-norm."""
    if cin == cout and stride == 1:
        return nn.Identity()
    return TemporalConv(cin, cout, 1, stride)


#: A block factory: (cin, cout, temporal stride, spatial partition (K, V, V), config, first block?) -> block.
BlockFactory = Callable[[int, int, int, torch.Tensor, ModelConfig, bool], nn.Module]


class SkeletonNet(nn.Module):
    """The frame every graph backbone shares: data norm, one block per entry of `config.channels` (built by the
    subclass's `make_block` over the layout's spatial partition), and a pooled linear classifier."""

    make_block: BlockFactory

    def __init__(self, layout: Layout, num_classes: int, config: ModelConfig) -> None:
        super().__init__()
        self.layout, self.num_classes, self.config = layout, num_classes, config
        self.data_bn = DataNorm(config.data_bn, layout.num_joints, config.in_channels, config.persons)
        partition = torch.from_numpy(spatial_partition(layout))
        cins = (config.in_channels, *config.channels[:-1])
        self.blocks = nn.ModuleList(
            type(self).make_block(cin, cout, s, partition, config, i == 0)
            for i, (cin, cout, s) in enumerate(zip(cins, config.channels, config.strides))
        )
        self.fc = nn.Linear(config.out_channels, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, T, V, M) -> (logits (N, K), joint features (N*M, C', T', V))."""
        n, m = x.shape[0], x.shape[-1]
        h = self.data_bn(x)
        for block in self.blocks:
            h = block(h)
        features = h.contiguous()
        return self.fc(pooled(features, n, m)), features


def pooled(features: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Joint features (N*M, C, T, V) averaged over frames, joints and persons: (N, C)."""
    return features.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)
