"""Data-parallel training under `torchrun` (gloo on CPU, nccl on CUDA): rank context, sharding, reductions."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


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


@dataclass(frozen=True)
class Shard:
    """This rank's share of a global batch: `rows` are its positions in `batch` (the global batch's clip indices).

    A step draws its random transforms for the whole global batch with rank-free seeds and keeps its rows, so the
    clips of a step are transformed alike however many processes share it."""

    batch: np.ndarray
    rows: np.ndarray
    world_size: int = 1

    @property
    def idx(self) -> np.ndarray:
        """The clip indices of this rank's share."""
        return self.batch[self.rows]

    @property
    def weight(self) -> float:
        """Factor on this rank's mean loss so that averaging the ranks' gradients gives the global batch mean's."""
        return len(self.rows) * self.world_size / len(self.batch)


def shard_batch(index: np.ndarray, labels: np.ndarray, ctx: DistContext) -> Shard:
    """This rank's share of a global batch: sorted by class and dealt round-robin, so every rank sees the
    same class mix (a class-stratified DistributedSampler). Paired H clips follow their L clip later."""
    if not ctx.active:
        return Shard(index, np.arange(len(index)))
    order = np.argsort(labels[index], kind="stable")
    return Shard(index, order[ctx.rank :: ctx.world_size], ctx.world_size)


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


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) whose backward all-reduces the gradient: d(sum of the ranks' losses)/d(each rank's input)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone()
        dist.all_reduce(out)
        return out


def sum_over_ranks(x: torch.Tensor) -> torch.Tensor:
    """The sum of `x` over all ranks, differentiable."""
    return _SumOverRanks.apply(x)


class AllReduceBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the global batch: the per-channel mean, then the squared
    deviations from it (two passes, as exact as one process's), summed over the ranks with autograd, as SyncBatchNorm
    does on CUDA but on CPU / gloo too, so N ranks normalise as one process would."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
        xf = x.float()
        count = torch.tensor([x.numel() / x.shape[1]], dtype=torch.float32, device=x.device)
        sums = sum_over_ranks(torch.cat([xf.sum(dims), count]))
        n = sums[-1]
        mean = sums[:-1] / n
        centred = xf - mean.view(shape)
        var = sum_over_ranks(centred.square().sum(dims)) / n
        tracked = self.num_batches_tracked
        if self.running_mean is not None and self.running_var is not None and tracked is not None:
            with torch.no_grad():
                tracked.add_(1)
                m = 1.0 / float(tracked) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
        y = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def sync_batch_norm(model: nn.Module, ctx: DistContext) -> nn.Module:
    """Under torchrun, make every batch norm of `model` normalise with global-batch statistics (in place: the
    parameters, buffers and state-dict keys stay the same objects and names)."""
    if ctx.active:
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.__class__ = AllReduceBatchNorm
    return model


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
    "AllReduceBatchNorm",
    "Shard",
    "shard_batch",
    "sum_over_ranks",
    "sync_batch_norm",
    "global_batches",
    "broadcast_parameters",
    "all_reduce_gradients",
    "all_reduce_sum",
    "barrier",
    "shutdown",
]
