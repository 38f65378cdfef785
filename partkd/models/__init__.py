"""Skeleton backbones returning logits and joint-level features, by name from the registry (ST-GCN, Js-AGCN)."""

from partkd.models import agcn, stgcn  # noqa: F401  (each registers its backbone)
from partkd.models.config import PRESETS, ModelConfig
from partkd.models.layers import count_parameters, to_model_input
from partkd.models.registry import BACKBONES, backbone_names, build_model, register_backbone, resolve_config

__all__ = [
    "BACKBONES",
    "PRESETS",
    "ModelConfig",
    "backbone_names",
    "build_model",
    "count_parameters",
    "register_backbone",
    "resolve_config",
    "to_model_input",
]
