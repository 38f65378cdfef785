"""Skeleton modalities derived from joint coordinates for any layout (seed 003, IKEM; 2s-AGCN's bone and motion
streams). One named, vectorised transform per modality over arrays or tensors (..., T, V, C), written once in torch
so the multi-stream models derive them inside their forward pass; a value built from a missing joint (all-zero,
confidence 0) is missing (all-zero) too. docs/modalities.md gives the equations."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from partkd.layouts import Layout
from partkd.registry import Registry

if TYPE_CHECKING:  # torch loads when a transform runs, so the config and the CLI that name modalities stay light
    import torch

Transform = Callable[[Any, Layout], Any]


def bone_parents(layout: Layout) -> np.ndarray:
    """(V,) parent of each joint on the layout's bone tree (Layout.parents: breadth-first from the centre joint, which
    is its own parent); a joint the edges do not reach is its own parent too."""
    par = layout.parents()
    return np.where(par < 0, np.arange(layout.num_joints), par)


def _tensor_in_out(fn: Callable[[torch.Tensor, Layout], torch.Tensor]) -> Transform:
    """A tensor transform that also takes a numpy array and then returns one (float32)."""

    @functools.wraps(fn)
    def run(x: Any, layout: Layout) -> Any:
        import torch

        if isinstance(x, torch.Tensor):
            return fn(x.float(), layout)
        return fn(torch.from_numpy(np.asarray(x, dtype=np.float32)), layout).numpy()

    return run


def _present(x: torch.Tensor) -> torch.Tensor:
    return (x != 0).any(dim=-1)


def _combine(
    values: torch.Tensor, ok: torch.Tensor, x: torch.Tensor, layout: Layout, conf: torch.Tensor | None
) -> torch.Tensor:
    """Coordinates `values` (..., d) where `ok`, zero elsewhere, shaped as x; 2D layouts carry a confidence channel
    (`conf`, x's own when None), further channels are zero."""
    import torch

    d = layout.dims
    parts = [torch.where(ok[..., None], values[..., :d], 0.0)]
    if d == 2:
        parts.append(torch.where(ok, conf if conf is not None else x[..., 2], 0.0)[..., None])
    extra = x.shape[-1] - sum(p.shape[-1] for p in parts)
    if extra > 0:
        parts.append(torch.zeros_like(x[..., :extra]))
    return torch.cat(parts, dim=-1)


def _conf(layout: Layout, *xs: torch.Tensor) -> torch.Tensor | None:
    """The smallest confidence of the joints a 2D value is built from (None in 3D)."""
    if layout.dims == 3:
        return None
    out = xs[0][..., 2]
    for x in xs[1:]:
        out = out.minimum(x[..., 2])
    return out


def _shifted(x: torch.Tensor, by: int) -> torch.Tensor:
    """x moved by `by` frames along axis −3 (+k: each frame holds the one k later), zero-filled at the end."""
    import torch

    k = min(abs(by), x.shape[-3])
    pad = torch.zeros_like(x[..., :k, :, :])
    return (
        torch.cat([x[..., k:, :, :], pad], dim=-3)
        if by > 0
        else torch.cat([pad, x[..., : x.shape[-3] - k, :, :]], dim=-3)
    )


def _bone(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    import torch

    up = x[..., torch.as_tensor(bone_parents(layout), device=x.device), :]
    return _combine(x - up, _present(x) & _present(up), x, layout, _conf(layout, x, up))


def _motion(x: torch.Tensor, layout: Layout, step: int = 1) -> torch.Tensor:
    """m_t = x_{t+step} − x_t over frames (axis −3), zero at the last `step` frames; missing when either frame is."""
    nxt = _shifted(x, step)
    return _combine(nxt - x, _present(x) & _present(nxt), x, layout, _conf(layout, x, nxt))


@_tensor_in_out
def joint(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """j: the joint coordinates themselves."""
    return x.clone()


@_tensor_in_out
def bone(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """b_v = j_v − j_parent(v) (the centre's bone is zero); missing when either end is; 2D confidence = the smaller
    of the two ends'."""
    return _bone(x, layout)


@_tensor_in_out
def joint_motion(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """jm_t = j_{t+1} − j_t."""
    return _motion(x, layout)


@_tensor_in_out
def bone_motion(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """bm_t = b_{t+1} − b_t."""
    return _motion(_bone(x, layout), layout)


@_tensor_in_out
def joint_acceleration(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """ja_t = j_{t+1} − 2 j_t + j_{t−1} (zero at the first and last frames); missing unless all three frames are
    present."""
    prev, nxt = _shifted(x, -1), _shifted(x, 1)
    ok = _present(prev) & _present(x) & _present(nxt)
    return _combine(nxt - 2 * x + prev, ok, x, layout, _conf(layout, prev, x, nxt))


@_tensor_in_out
def bone_angle(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """ba_v = b_v / |b_v|, the bone's direction cosines (its angles to the axes, free of bone length and body
    size); missing where the bone is missing or of zero length (the centre)."""
    import torch

    b = _bone(x, layout)
    d = layout.dims
    length = torch.linalg.vector_norm(b[..., :d], dim=-1)
    ok = length > 1e-8
    unit = b[..., :d] / torch.where(ok, length, 1.0)[..., None]
    return _combine(unit, ok, b, layout, b[..., 2] if layout.dims != 3 else None)


@_tensor_in_out
def joint_motion_2(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """j_{t+2} − j_t (EfficientGCN's second velocity input); zero at the last two frames."""
    return _motion(x, layout, 2)


@_tensor_in_out
def centred(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """j_v − j_centre (EfficientGCN's relative joint input); missing when the joint or the centre is."""
    c = x[..., layout.center : layout.center + 1, :].expand_as(x)
    return _combine(x - c, _present(x) & _present(c), x, layout, _conf(layout, x, c))


@dataclass(frozen=True)
class Modality:
    """A named stream: its short name, what it stands for (CLI help, the app's labels) and its transform."""

    name: str
    label: str
    transform: Transform

    def __call__(self, x: Any, layout: Layout) -> Any:
        return self.transform(x, layout)


#: Short name -> modality, in the order streams are listed (j, b, jm, bm the 2s-AGCN / pyskl four).
MODALITIES: Registry[Modality] = Registry("modality")
for _m in (
    Modality("j", "joint", joint),
    Modality("b", "bone", bone),
    Modality("jm", "joint motion", joint_motion),
    Modality("bm", "bone motion", bone_motion),
    Modality("ja", "joint acceleration", joint_acceleration),
    Modality("ba", "bone angle", bone_angle),
):
    MODALITIES.register(_m.name, _m)
#: What each short name stands for, read from MODALITIES.
MODALITY_NAMES: dict[str, str] = {m.name: m.label for m in MODALITIES.values()}


def modality(name: str) -> Transform:
    """The transform of a modality name; ConfigError listing the known ones otherwise."""
    return MODALITIES.get(name).transform


def default_modalities(layout: Layout, role: str) -> tuple[str, ...]:
    """What a model reads when no modality is named: a teacher of a 2D (image) skeleton bone angles, whose E then
    names the moving limbs instead of the image translation its centre part carries (6 of 7 Penn Action classes
    against 4 of 7 for joints, docs/part_importance.md); every other model joints."""
    return ("ba",) if role == "teacher" and layout.dims == 2 else ("j",)


__all__ = [
    "MODALITIES",
    "Modality",
    "MODALITY_NAMES",
    "bone",
    "bone_angle",
    "bone_motion",
    "bone_parents",
    "centred",
    "default_modalities",
    "joint",
    "joint_acceleration",
    "joint_motion",
    "joint_motion_2",
    "modality",
]
