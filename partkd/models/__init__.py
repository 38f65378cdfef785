"""Skeleton backbones (ST-GCN, Js-AGCN) returning logits and joint-level features."""
from partkd.models.agcn import AGCN
from partkd.models.common import PRESETS, ModelConfig, build_model, count_parameters, to_model_input
from partkd.models.stgcn import STGCN

__all__ = ["AGCN", "PRESETS", "STGCN", "ModelConfig", "build_model", "count_parameters", "to_model_input"]
