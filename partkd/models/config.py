"""Typed backbone hyper-parameters with named model presets (method.md §2)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

from partkd.data.modalities import MODALITIES
from partkd.errors import ConfigError, where


@dataclass(frozen=True)
class ModelConfig:
    """Backbone hyper-parameters; `strides[i]` is the temporal stride of block i."""

    arch: str = "stgcn"  # a name in models.registry.BACKBONES, checked when a model is built
    channels: tuple[int, ...] = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
    strides: tuple[int, ...] = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
    temporal_kernel: int = 9
    dropout: float = 0.0
    edge_importance: bool = True
    in_channels: int = 3
    data_bn: Literal["vc", "mvc", "none"] = "vc"
    persons: int = 2
    depths: tuple[int, ...] = ()  # EfficientGCN: temporal layers per block (empty: one each)
    # Multi-stream models (models/multistream.py, seed 003): one backbone per modality (data/modalities.py), late
    # score fusion with `fusion` weights (empty: equal), IKEM-style gated exchange between the streams.
    modalities: tuple[str, ...] = ("j",)
    fusion: tuple[float, ...] = ()
    exchange: bool = False

    def __post_init__(self) -> None:
        if not self.channels or len(self.channels) != len(self.strides):
            raise ConfigError(where("ModelConfig", "channels and strides must be non-empty and of equal length"))
        if any(c <= 0 for c in self.channels) or any(s not in (1, 2) for s in self.strides):
            raise ConfigError(where("ModelConfig", "channels must be positive and strides 1 or 2"))
        if self.depths and (len(self.depths) != len(self.channels) or min(self.depths) < 0):
            raise ConfigError(where("ModelConfig.depths", "needs one count >= 0 per block, or none"))
        if self.temporal_kernel < 1 or self.temporal_kernel % 2 == 0:
            raise ConfigError(where("ModelConfig.temporal_kernel", "must be a positive odd number"))
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(where("ModelConfig.dropout", "must be in [0, 1)"))
        if self.data_bn not in ("vc", "mvc", "none"):
            raise ConfigError(where("ModelConfig.data_bn", f"unknown mode '{self.data_bn}' (vc, mvc or none)"))
        check_streams(self.modalities, self.fusion, self.exchange, "ModelConfig", ("modalities", "fusion", "exchange"))

    @property
    def multi_stream(self) -> bool:
        """Whether the model is not a plain joint backbone (models/multistream.py builds it)."""
        return self.modalities != ("j",) or self.exchange

    def fusion_weights(self) -> tuple[float, ...]:
        """The late-fusion weights, normalised to sum 1 (equal when none are set)."""
        w = self.fusion or (1.0,) * len(self.modalities)
        return tuple(v / sum(w) for v in w)

    @property
    def out_channels(self) -> int:
        """Channels C' of the joint-level features the backbone returns."""
        return self.channels[-1]

    def to_dict(self) -> dict:
        """Plain-data form for checkpoint metadata."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Inverse of `to_dict`; unknown keys are a ConfigError."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(where("ModelConfig", f"unknown keys {sorted(unknown)}"))
        values: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
        if "fusion" in values:
            values["fusion"] = tuple(float(v) for v in values["fusion"])
        return cls(**values)


def check_streams(
    modalities: tuple[str, ...], fusion: tuple[float, ...], exchange: bool, source: str, names: tuple[str, str, str]
) -> None:
    """ConfigError (naming `source`.field) unless every modality is known and named once, the fusion weights are
    one per modality (>= 0, not all 0) or none, and the exchange has at least two streams."""

    unknown = [m for m in modalities if m not in MODALITIES]
    if not modalities or unknown or len(set(modalities)) != len(modalities):
        raise ConfigError(
            where(f"{source}.{names[0]}", f"{list(modalities)}: name each of {', '.join(MODALITIES)} at most once")
        )
    if fusion and (
        len(fusion) != len(modalities) or not all(math.isfinite(w) and w >= 0 for w in fusion) or sum(fusion) <= 0
    ):
        raise ConfigError(
            where(
                f"{source}.{names[1]}",
                f"needs one weight >= 0 per modality ({len(modalities)}), not all 0; got {list(fusion)}",
            )
        )
    if exchange and len(modalities) < 2:
        raise ConfigError(where(f"{source}.{names[2]}", "the IKEM exchange needs at least two modalities"))


#: EfficientGCN's B0 blocks (width, temporal stride, depth) the compound scaling starts from, and its growth factors.
EFFGCN_BASE: tuple[tuple[int, int, float], ...] = ((48, 1, 0.5), (24, 1, 0.5), (64, 2, 1.0), (128, 2, 1.0))
EFFGCN_GROWTH = (1.2, 1.35)


def effgcn_config(x: int) -> ModelConfig:
    """EfficientGCN-B{x}: width × 1.2^x rounded to a multiple of 16 (at least 16) and depth × 1.35^x rounded half to
    even, as the reference does (so B0's first two blocks have no temporal layer); kernel 5, dropout 0.25."""
    w, d = (g**x for g in EFFGCN_GROWTH)
    return ModelConfig(
        arch="efficientgcn",
        channels=tuple(max(int(round(c * w / 16)) * 16, 16) for c, _, _ in EFFGCN_BASE),
        strides=tuple(s for _, s, _ in EFFGCN_BASE),
        depths=tuple(int(round(n * d)) for _, _, n in EFFGCN_BASE),
        temporal_kernel=5,
        dropout=0.25,
    )


PRESETS: dict[str, ModelConfig] = {
    # method.md §2: ten blocks, stride 2 entering the 128 and 256 stages.
    "full": ModelConfig(),
    "small": ModelConfig(channels=(32, 32, 64, 64, 128, 128, 128), strides=(1, 1, 2, 1, 2, 1, 1)),
    "tiny": ModelConfig(channels=(16, 16, 32, 64, 64), strides=(1, 1, 2, 2, 1), temporal_kernel=5),
    # EfficientGCN-B0 for CPU runs, B2, and B4 as in the paper's table 3 (use with --arch efficientgcn).
    **{f"effgcn-b{x}": effgcn_config(x) for x in (0, 2, 4)},
}
