"""Shared model pieces: the input adapter, typed model configs with named presets, and the builder."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

import numpy as np
import torch
from torch import nn

from partkd.errors import ConfigError, where
from partkd.layouts import Layout, get_layout


def to_model_input(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Convert a dense batch (N, M, T, V, C) to the model layout (N, C, T, V, M), float32."""
    t = torch.as_tensor(x)
    if t.dim() != 5:
        raise ConfigError(where("to_model_input", f"expected a (N, M, T, V, C) batch, got shape {tuple(t.shape)}"))
    if not t.is_floating_point():
        t = t.float()
    return t.permute(0, 4, 2, 3, 1)


@dataclass(frozen=True)
class ModelConfig:
    """Backbone hyper-parameters; `strides[i]` is the temporal stride of block i."""

    arch: Literal["stgcn", "agcn"] = "stgcn"
    channels: tuple[int, ...] = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
    strides: tuple[int, ...] = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
    temporal_kernel: int = 9
    dropout: float = 0.0
    edge_importance: bool = True
    in_channels: int = 3
    data_bn: Literal["vc", "mvc", "none"] = "vc"
    persons: int = 2

    def __post_init__(self) -> None:
        if self.arch not in ("stgcn", "agcn"):
            raise ConfigError(where("ModelConfig.arch", f"unknown architecture '{self.arch}' (stgcn or agcn)"))
        if not self.channels or len(self.channels) != len(self.strides):
            raise ConfigError(where("ModelConfig", "channels and strides must be non-empty and of equal length"))
        if any(c <= 0 for c in self.channels) or any(s not in (1, 2) for s in self.strides):
            raise ConfigError(where("ModelConfig", "channels must be positive and strides 1 or 2"))
        if self.temporal_kernel < 1 or self.temporal_kernel % 2 == 0:
            raise ConfigError(where("ModelConfig.temporal_kernel", "must be a positive odd number"))
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(where("ModelConfig.dropout", "must be in [0, 1)"))
        if self.data_bn not in ("vc", "mvc", "none"):
            raise ConfigError(where("ModelConfig.data_bn", f"unknown mode '{self.data_bn}' (vc, mvc or none)"))

    @property
    def out_channels(self) -> int:
        """Channels C' of the joint-level features the backbone returns."""
        return self.channels[-1]

    def to_dict(self) -> dict:
        """Plain-data form for checkpoint metadata."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """Inverse of `to_dict`; unknown keys are a ConfigError."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(where("ModelConfig", f"unknown keys {sorted(unknown)}"))
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


PRESETS: dict[str, ModelConfig] = {
    # method.md §2: ten blocks, stride 2 entering the 128 and 256 stages.
    "paper": ModelConfig(),
    "small": ModelConfig(channels=(32, 32, 64, 64, 128, 128, 128), strides=(1, 1, 2, 1, 2, 1, 1)),
    "tiny": ModelConfig(channels=(16, 16, 32, 64, 64), strides=(1, 1, 2, 2, 1), temporal_kernel=5),
}


def resolve_config(arch: str, preset_or_config: str | ModelConfig) -> ModelConfig:
    """A ModelConfig from a preset name or a config, with `arch` applied."""
    if isinstance(preset_or_config, ModelConfig):
        cfg = preset_or_config
    elif preset_or_config in PRESETS:
        cfg = PRESETS[preset_or_config]
    else:
        raise ConfigError(where("model preset", f"unknown preset '{preset_or_config}' (use {', '.join(PRESETS)})"))
    return replace(cfg, arch=arch)


def build_model(arch: str, layout: str | Layout, num_classes: int,
                preset_or_config: str | ModelConfig = "paper") -> nn.Module:
    """Build an ST-GCN or AGCN backbone with its classifier for a layout and class count."""
    from partkd.models.agcn import AGCN
    from partkd.models.stgcn import STGCN

    classes = {"stgcn": STGCN, "agcn": AGCN}
    if arch not in classes:
        raise ConfigError(where("build_model", f"unknown architecture '{arch}' (stgcn or agcn)"))
    if num_classes < 1:
        raise ConfigError(where("build_model", f"num_classes must be >= 1, got {num_classes}"))
    return classes[arch](get_layout(layout), num_classes, resolve_config(arch, preset_or_config))


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
            x = self.bn(x.permute(0, 4, 3, 1, 2).reshape(rows, -1, t))       # (rows, [M]·V·C, T)
            x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2)                 # (N, M, C, T, V)
        else:
            x = x.permute(0, 4, 1, 2, 3)
        return x.reshape(n * m, c, t, v).contiguous(memory_format=torch.channels_last)


class TemporalConv(nn.Sequential):
    """Temporal convolution (kernel k × 1, stride s) followed by batch-norm (and dropout)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dropout: float = 0.0) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, (kernel, 1), (stride, 1), (kernel // 2, 0)),
                                   nn.BatchNorm2d(cout)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


def residual(cin: int, cout: int, stride: int) -> nn.Module:
    """Identity when shapes match, else a strided 1×1 convolution with batch-norm."""
    if cin == cout and stride == 1:
        return nn.Identity()
    return TemporalConv(cin, cout, 1, stride)


class SkeletonNet(nn.Module):
    """Shared frame of both backbones: data norm, a stack of blocks, pooled linear classifier."""

    def __init__(self, layout: Layout, num_classes: int, config: ModelConfig, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.layout, self.num_classes, self.config = layout, num_classes, config
        self.data_bn = DataNorm(config.data_bn, layout.num_joints, config.in_channels, config.persons)
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(config.out_channels, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, T, V, M) -> (logits (N, K), joint features (N*M, C', T', V))."""
        n, m = x.shape[0], x.shape[-1]
        h = self.data_bn(x)
        for block in self.blocks:
            h = block(h)
        features = h.contiguous()
        pooled = features.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)
        return self.fc(pooled), features
