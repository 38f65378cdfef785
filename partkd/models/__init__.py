"""Skeleton backbones returning logits and joint-level features, by name from the registry (ST-GCN, Js-AGCN, CTR-GCN,
EfficientGCN).

Names are imported from their modules on first use (PEP 562), so `partkd.models.config` (the model presets) can be
read by the CLI without loading torch."""

from __future__ import annotations

from partkd.lazy import lazy_exports

_HOME: dict[str, str] = {
    "BACKBONES": "partkd.models.registry",
    "PRESETS": "partkd.models.config",
    "ModelConfig": "partkd.models.config",
    "build_model": "partkd.models.registry",
    "count_parameters": "partkd.models.layers",
    "resolve_config": "partkd.models.registry",
    "to_model_input": "partkd.models.layers",
}

__all__ = sorted(_HOME)

__getattr__ = lazy_exports(__name__, _HOME)
