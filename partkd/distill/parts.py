"""Pool joint-level features into part and global features (paper §3.3.1, method.md §3)."""

from __future__ import annotations

import torch

from partkd.errors import ConfigError, where
from partkd.layouts import PARTS, Layout


def persons_present(x: torch.Tensor) -> torch.Tensor:
    """(N, M) bool: a person slot of a dense batch (N, M, T, V, C) is present unless it is all zero."""
    return x.flatten(start_dim=2).ne(0).any(dim=2)


def _person_weights(
    n: int, persons: int, present: torch.Tensor | None, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """(N, M) averaging weights over present persons; a clip with none present averages all slots."""
    if present is None:
        return torch.full((n, persons), 1.0 / persons, device=device, dtype=dtype)
    if tuple(present.shape) != (n, persons):
        raise ConfigError(where("present", f"shape {tuple(present.shape)} does not match ({n}, {persons})"))
    mask = present.to(device=device, dtype=torch.bool)
    mask = mask | ~mask.any(dim=1, keepdim=True)
    w = mask.to(dtype)
    return w / w.sum(dim=1, keepdim=True)


def _split_persons(z: torch.Tensor, persons: int) -> int:
    """Number of clips N of a (N*M, C, T', V) feature map, checking that M divides its batch."""
    if z.dim() != 4:
        raise ConfigError(where("z", f"expected (N*M, C, T', V) features, got shape {tuple(z.shape)}"))
    if persons < 1 or z.shape[0] % persons:
        raise ConfigError(where("z", f"batch {z.shape[0]} is not a multiple of persons={persons}"))
    return z.shape[0] // persons


def part_features(z: torch.Tensor, layout: Layout, persons: int, present: torch.Tensor | None = None) -> torch.Tensor:
    """Part features f_{i,p} (paper eq. 3 + §3.3.1): mean of z over each part's joints, time, present persons."""
    n = _split_persons(z, persons)
    if z.shape[3] != layout.num_joints:
        raise ConfigError(
            where(f"layout '{layout.name}'", f"has {layout.num_joints} joints but the features have {z.shape[3]}")
        )
    pool = torch.as_tensor(layout.part_matrix(), device=z.device, dtype=z.dtype)  # (5, V)
    per_person = torch.einsum("kctv,pv->kpc", z, pool) / z.shape[2]  # (N*M, 5, C)
    w = _person_weights(n, persons, present, z.device, z.dtype)
    return torch.einsum("nmpc,nm->npc", per_person.reshape(n, persons, len(PARTS), -1), w)


def global_features(z: torch.Tensor, persons: int, present: torch.Tensor | None = None) -> torch.Tensor:
    """Global feature of a clip (paper §3.2, before the classifier): mean of z over joints, time, persons."""
    n = _split_persons(z, persons)
    per_person = z.mean(dim=(2, 3))  # (N*M, C)
    w = _person_weights(n, persons, present, z.device, z.dtype)
    return torch.einsum("nmc,nm->nc", per_person.reshape(n, persons, -1), w)
