"""The backbone registry (as timm's): a model is a registered name, built for any layout and class count."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from torch import nn

from partkd.errors import ConfigError, where
from partkd.layouts import Layout, get_layout
from partkd.models.config import PRESETS, ModelConfig

#: name -> backbone class; filled by @register_backbone as the backbone modules are imported (BUILTIN_MODULES on the
#: first lookup, so that `import partkd.models` stays light).
BACKBONES: dict[str, type[nn.Module]] = {}
BUILTIN_MODULES = ("partkd.models.stgcn", "partkd.models.agcn", "partkd.models.ctrgcn", "partkd.models.efficientgcn")


def _builtins() -> dict[str, type[nn.Module]]:
    """BACKBONES with the built-in backbones registered."""
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    return BACKBONES


def register_backbone(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator adding a backbone to BACKBONES under `name` (a name is registered once): a module built from
    (layout, num_classes, ModelConfig) mapping (N, C, T, V, M) to (logits, joint features (N*M, C', T', V))."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in BACKBONES:
            raise ConfigError(where("register_backbone", f"'{name}' is already registered"))
        BACKBONES[name] = cls
        return cls

    return add


def backbone_names() -> list[str]:
    """The registered backbone names, in registration order."""
    return list(_builtins())


def resolve_config(arch: str, preset_or_config: str | ModelConfig) -> ModelConfig:
    """A ModelConfig from a model preset name or a config, with `arch` (a registered backbone) applied."""
    if arch not in _builtins():
        raise ConfigError(where("model", f"unknown architecture '{arch}' ({', '.join(BACKBONES)})"))
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

        return MultiStream(BACKBONES[arch], get_layout(layout), num_classes, config)
    return BACKBONES[arch](get_layout(layout), num_classes, config)


__all__ = ["BACKBONES", "register_backbone", "backbone_names", "resolve_config", "build_model"]
