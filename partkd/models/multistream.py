"""Multi-stream models (seed 003, IKEM; 2s-AGCN / pyskl's joint, bone and motion streams): one registered backbone
per modality, each modality derived from the joint input inside the forward pass, late score fusion, and an
optional IKEM-style gated exchange of features between the streams (docs/modalities.md gives the equations)."""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from partkd.data.modalities import modality
from partkd.errors import ConfigError, where
from partkd.layouts import Layout
from partkd.models.config import ModelConfig
from partkd.models.layers import SkeletonNet, pooled

#: κ of the exchange gate σ(κ (c_r − c_s)): a confidence lead of 0.3 opens the gate to 0.95, a lag of 0.3 shuts it
#: to 0.05.
GATE_SHARPNESS = 10.0


def fuse_scores(stream_logits: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Late score fusion: log Σ_s w_s softmax(l_s) over stream logits (S, N, K) with weights (S,) summing to 1;
    a log-probability, so its softmax is the fused score and its argmax the fused prediction."""
    log_w = torch.log(weights.to(stream_logits.dtype)).view(-1, 1, 1)
    return torch.logsumexp(F.log_softmax(stream_logits, dim=-1) + log_w, dim=0)


def confidence(logits: torch.Tensor, classes: int | None = None) -> torch.Tensor:
    """c = 1 − H(softmax(l)) / log K per sample (N,) of logits (N, K): 1 for a one-hot prediction, 0 for a uniform
    one."""
    logp = F.log_softmax(logits.float(), dim=-1)
    entropy = -(logp.exp() * logp).sum(dim=-1)
    return 1.0 - entropy / math.log(classes or int(logits.shape[-1]))


def exchange_gates(conf: torch.Tensor, sharpness: float = GATE_SHARPNESS) -> torch.Tensor:
    """Gates g[r, s] = σ(κ (c_r − c_s)) (S, S, N) from per-stream confidences (S, N): stream r sends to s in
    proportion to how much more confident it is on the sample; the diagonal is 0."""
    g = torch.sigmoid(sharpness * (conf[:, None, :] - conf[None, :, :]))
    eye = torch.eye(conf.shape[0], dtype=torch.bool, device=conf.device)
    return g.masked_fill(eye[:, :, None], 0.0)


class Exchange(nn.Module):
    """IKEM-style exchange at one depth: h_s ← h_s + Σ_{r≠s} g_{r→s} · W_{r→s} h_r, where each stream's confidence
    comes from an auxiliary classifier on its pooled features (trained by cross-entropy, detached in the gate), so
    a stream that cannot tell the classes apart receives but does not send. W starts at zero: the streams start
    independent."""

    def __init__(self, streams: int, channels: int, num_classes: int) -> None:
        super().__init__()
        self.classes = num_classes
        self.aux = nn.ModuleList(nn.Linear(channels, num_classes) for _ in range(streams))
        #: W_{r→s} for the ordered pairs r ≠ s, in the order of `pairs`
        self.pairs = [(r, s) for s in range(streams) for r in range(streams) if r != s]
        self.maps = nn.ModuleList(nn.Conv2d(channels, channels, 1, bias=False) for _ in self.pairs)
        for conv in self.maps:
            assert isinstance(conv, nn.Conv2d)
            nn.init.zeros_(conv.weight)

    def forward(self, hs: list[torch.Tensor], n: int, m: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Stream features (N*M, C, T, V) each -> (exchanged features, auxiliary logits (N, K) each)."""
        aux = [head(pooled(h, n, m)) for head, h in zip(self.aux, hs)]
        gates = exchange_gates(torch.stack([confidence(a.detach(), self.classes) for a in aux]))  # (S, S, N)
        gates = gates.repeat_interleave(m, dim=2).to(hs[0].dtype)  # per row of N*M
        out = list(hs)
        for (r, s), conv in zip(self.pairs, self.maps):
            out[s] = out[s] + gates[r, s].view(-1, 1, 1, 1) * conv(hs[r])
        return out, aux


class MultiStream(nn.Module):
    """One backbone of class `backbone` per modality of `config.modalities`; forward returns (fused
    log-probabilities (N, K), the streams' joint features averaged with the fusion weights (N*M, C', T', V)).
    After a training forward, `train_logits` holds every stream's (and exchange head's) logits: each is trained by
    its own cross-entropy (engine.loop.classification_loss), as independently trained streams are before late
    fusion."""

    weights: torch.Tensor

    def __init__(self, backbone: type[nn.Module], layout: Layout, num_classes: int, config: ModelConfig) -> None:
        super().__init__()
        if config.exchange and not issubclass(backbone, SkeletonNet):
            raise ConfigError(
                where("ModelConfig.exchange", f"the IKEM exchange needs a block-wise backbone, not '{config.arch}'")
            )
        self.layout, self.num_classes, self.config = layout, num_classes, config
        self.modalities = tuple(config.modalities)
        self.streams = nn.ModuleList(backbone(layout, num_classes, config) for _ in self.modalities)
        self.register_buffer("weights", torch.tensor(config.fusion_weights(), dtype=torch.float32))
        chans = config.channels
        #: exchange after the last block of every stage but the last (where the width changes next)
        self.exchange_at = [i for i in range(len(chans) - 1) if chans[i + 1] != chans[i]] if config.exchange else []
        self.exchanges = nn.ModuleDict(
            {str(i): Exchange(len(self.modalities), chans[i], num_classes) for i in self.exchange_at}
        )
        self.train_logits: list[torch.Tensor] = []

    def derive(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """Modality `name` of a model-layout input (N, C, T, V, M), in the same layout."""
        if name == "j":
            return x
        return modality(name)(x.permute(0, 4, 2, 3, 1), self.layout).permute(0, 4, 2, 3, 1)

    def forward_streams(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """x (N, C, T, V, M) -> (stream logits (S, N, K), exchange heads' logits, fused joint features)."""
        logits, aux, hs = self.stream_outputs(x)
        return logits, aux, self._fused(hs)

    def stream_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """x (N, C, T, V, M) -> (stream logits (S, N, K), exchange heads' logits, each stream's joint features, the
        tensors its logits were computed from)."""
        n, m = x.shape[0], x.shape[-1]
        if not self.exchanges:
            outs = [s(self.derive(x, name)) for s, name in zip(self.streams, self.modalities)]
            return torch.stack([lg for lg, _ in outs]), [], [z for _, z in outs]
        streams = cast(list[SkeletonNet], list(self.streams))
        hs = [s.data_bn(self.derive(x, name)) for s, name in zip(streams, self.modalities)]
        aux: list[torch.Tensor] = []
        for i in range(len(self.config.channels)):
            hs = [s.blocks[i](h) for s, h in zip(streams, hs)]
            if str(i) in self.exchanges:
                hs, heads = self.exchanges[str(i)](hs, n, m)
                aux += heads
        hs = [h.contiguous() for h in hs]
        logits = torch.stack([s.fc(pooled(h, n, m)) for s, h in zip(streams, hs)])
        return logits, aux, hs

    def _fused(self, features: list[torch.Tensor]) -> torch.Tensor:
        """The streams' joint features averaged with the fusion weights."""
        w = self.weights.to(features[0].dtype)
        return torch.stack(features).mul(w.view(-1, 1, 1, 1, 1)).sum(0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, aux, features = self.forward_streams(x)
        self.train_logits = [*logits.unbind(0), *aux] if self.training and torch.is_grad_enabled() else []
        return fuse_scores(logits.float(), self.weights), features


class StreamLogits(nn.Module):
    """A multi-stream model seen as (stream logits (N, S, K), fused features), for batched per-stream passes."""

    def __init__(self, model: MultiStream) -> None:
        super().__init__()
        self.model = model
        self.train(model.training)  # batched_forward restores the wrapper's mode, and with it the model's

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, _, features = self.model.forward_streams(x)
        return logits.transpose(0, 1), features


__all__ = ["Exchange", "MultiStream", "StreamLogits", "confidence", "exchange_gates", "fuse_scores"]
