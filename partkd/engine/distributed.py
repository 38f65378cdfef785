"""Data-parallel training under `torchrun` (gloo on CPU, nccl on CUDA): rank context, sharding, reductions."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    """Rank and world size of this process; world_size 1 means no process group (plain training)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> DistContext:
    """Join the process group torchrun describes (WORLD_SIZE/RANK/LOCAL_RANK); a no-op outside torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def rank_device(device: torch.device, ctx: DistContext) -> torch.device:
    """Each rank's own GPU under torchrun (cuda:LOCAL_RANK); CPU stays CPU."""
    if device.type == "cuda" and ctx.active:
        torch.cuda.set_device(ctx.local_rank)
        return torch.device("cuda", ctx.local_rank)
    return device


def shard_batch(index: np.ndarray, labels: np.ndarray, ctx: DistContext) -> np.ndarray:
    """This rank's share of a global batch: sorted by class and dealt round-robin, so every rank sees the
    same class mix (a class-stratified DistributedSampler). Paired H clips follow their L clip later."""
    if not ctx.active:
        return index
    order = index[np.argsort(labels[index], kind="stable")]
    return order[ctx.rank :: ctx.world_size]


def global_batches(perm: np.ndarray, batch_size: int, ctx: DistContext) -> list[np.ndarray]:
    """Split an epoch permutation into global batches of batch_size per rank; drop a tail too small to give
    every rank two clips (batch norm needs two)."""
    size = batch_size * ctx.world_size
    batches = [perm[i : i + size] for i in range(0, len(perm), size)]
    return [b for b in batches if len(b) >= 2 * ctx.world_size]


def broadcast_parameters(model: nn.Module, ctx: DistContext) -> None:
    """Give every rank rank 0's weights and buffers."""
    if ctx.active:
        for t in model.state_dict().values():
            dist.broadcast(t, src=0)


def all_reduce_gradients(params: list[nn.Parameter], ctx: DistContext) -> None:
    """Average the gradients of all ranks (one flattened all-reduce)."""
    if not ctx.active:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= ctx.world_size
    for p, g in zip(params, flat.split([q.numel() for q in params])):
        p.grad = g.view_as(p).clone()


def all_reduce_sum(values: list[float], ctx: DistContext, device: torch.device) -> list[float]:
    """Sum scalars over ranks (loss sums, correct counts, stop flags)."""
    if not ctx.active:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def barrier(ctx: DistContext) -> None:
    """Wait for every rank."""
    if ctx.active:
        dist.barrier()


def shutdown() -> None:
    """Leave the process group, when this process joined one (at the end of a command: a gloo group still alive at
    interpreter exit can abort the process with "terminate called without an active exception")."""
    if dist.is_initialized():
        dist.destroy_process_group()


__all__ = [
    "DistContext",
    "init_distributed",
    "rank_device",
    "shard_batch",
    "global_batches",
    "broadcast_parameters",
    "all_reduce_gradients",
    "all_reduce_sum",
    "barrier",
    "shutdown",
]
