"""The backbone registry (as timm's): a model is a registered name, built for any layout and class count."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from partkd.errors import ConfigError, where
from partkd.layouts import Layout, get_layout
from partkd.models.config import PRESETS, ModelConfig
from partkd.registry import Registry

if TYPE_CHECKING:
    from torch import nn

#: name -> backbone class: a module built from (layout, num_classes, ModelConfig) mapping (N, C, T, V, M) to
#: (logits, joint features (N*M, C', T', V)). The built-in ones are declared here and imported on first use, so that
#: listing the names loads no torch; a new one is added with `@BACKBONES.decorator(name)`.
BACKBONES: Registry[type[nn.Module]] = Registry("backbone")
for _name, _target in (
    ("stgcn", "partkd.models.stgcn:STGCN"),
    ("agcn", "partkd.models.agcn:AGCN"),
    ("ctrgcn", "partkd.models.ctrgcn:CTRGCN"),
    ("efficientgcn", "partkd.models.efficientgcn:EfficientGCN"),
):
    BACKBONES.declare(_name, _target)


def resolve_config(arch: str, preset_or_config: str | ModelConfig) -> ModelConfig:
    """A ModelConfig from a model preset name or a config, with `arch` (a registered backbone) applied."""
    BACKBONES.get(arch)
    if isinstance(preset_or_config, ModelConfig):
        cfg = preset_or_config
    elif preset_or_config in PRESETS:
        cfg = PRESETS[preset_or_config]
        if cfg.arch != ModelConfig.arch and cfg.arch != arch:
            raise ConfigError(
                where("model preset", f"'{preset_or_config}' is a preset of --arch {cfg.arch}, not of {arch}")
            )
    else:
        raise ConfigError(where("model preset", f"unknown preset '{preset_or_config}' (use {', '.join(PRESETS)})"))
    return replace(cfg, arch=arch)


def build_model(
    arch: str, layout: str | Layout, num_classes: int, preset_or_config: str | ModelConfig = "full"
) -> nn.Module:
    """A registered backbone with its classifier for a layout and class count; with modalities beyond the joints
    (or the IKEM exchange), a multi-stream model of that backbone (models/multistream.py)."""
    if num_classes < 1:
        raise ConfigError(where("build_model", f"num_classes must be >= 1, got {num_classes}"))
    config = resolve_config(arch, preset_or_config)
    if config.multi_stream:
        from partkd.models.multistream import MultiStream

        return MultiStream(BACKBONES.get(arch), get_layout(layout), num_classes, config)
    return BACKBONES.get(arch)(get_layout(layout), num_classes, config)


__all__ = ["BACKBONES", "resolve_config", "build_model"]
