"""The KD-method registry: each method declares what it needs (a teacher, paired clips, one layout, the teacher's
features or inputs, the part weights E) and its loss over one student step, so the training loop has no branches.

L_student = L_ce + α · L_kd (eq. 4); the losses themselves are in distill/losses.py, one per equation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from partkd.data.inputs import Inputs
from partkd.layouts import Layout
from partkd.registry import Registry

if TYPE_CHECKING:  # torch is imported by the losses when they run: the config and the CLI stay light
    import torch
    from torch import nn


@dataclass
class TeacherSide:
    """The frozen teacher's side of a student run, over the pool of H clips: part features (N, 5, C), global
    features (N, C) and logits (N, K) computed once, or the raw H inputs (N, M, T, V, C) for a per-step pass."""

    model: nn.Module
    layout: Layout
    y: torch.Tensor
    part_features: torch.Tensor | None = None
    global_features: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    inputs: Inputs | None = None


@dataclass
class KDBatch:
    """Everything a KD loss may use for one student step: the student's input x (B, M, T, V, C), its joint
    features z (B·M, C', T', V), logits and labels; which clips have their own H pair (`own`: index into the
    teacher's pool or −1); the H batch `high` (pool indices) with each clip's own position in it (`own_in_high`);
    and the run's settings."""

    x: torch.Tensor
    z: torch.Tensor
    logits: torch.Tensor
    y: torch.Tensor
    own: np.ndarray
    high: torch.Tensor | None
    own_in_high: torch.Tensor | None
    teacher: TeacherSide
    layout: Layout
    efficiency: torch.Tensor
    cfg: Any  # StudentConfig (engine.config; not imported here, the engine imports this module)
    amp: bool

    @property
    def persons(self) -> int:
        return int(self.x.shape[1])

    @property
    def paired(self) -> np.ndarray:
        return self.own >= 0

    def zero(self) -> torch.Tensor:
        """A zero loss connected to the graph (a batch without what the method needs)."""
        return self.logits.sum() * 0.0


@dataclass(frozen=True)
class KDMethod:
    """A distillation method. `teacher_outputs`: what of the teacher it reads ('features': part and global features
    and logits of the H pool, computed once; 'inputs': the H inputs, the teacher runs each step; None: no teacher).
    `high_batch`: draws a class-balanced H batch per step (the contrastive methods). `same_layout`: teacher and
    student must share one skeleton; `same_channels`: their feature widths C' must match; `part_weights`: weighs
    parts by E (eq. 13); `revises_gradient`: backward through SKD's gradient revision."""

    name: str
    description: str
    loss: Callable[[KDBatch], torch.Tensor]
    teacher_outputs: str | None = "features"
    high_batch: bool = False
    same_layout: bool = False
    same_channels: bool = False
    part_weights: bool = False
    revises_gradient: bool = False

    @property
    def needs_teacher(self) -> bool:
        return self.teacher_outputs is not None


def _none(b: KDBatch) -> torch.Tensor:
    return b.zero()


def _kl(b: KDBatch) -> torch.Tensor:
    """Logit KD (Hinton et al.) on the clips that have their own H pair."""
    import torch

    from partkd.distill import losses

    if not b.paired.any() or b.teacher.logits is None:
        return b.zero()
    sel = torch.from_numpy(b.paired).to(b.logits.device)
    own = torch.from_numpy(b.own[b.paired]).to(b.logits.device)
    return losses.kl_distill_loss(b.logits[sel], b.teacher.logits[own], b.cfg.kl_temperature)


def _skd(b: KDBatch) -> torch.Tensor:
    """SKD (seed 002): joint-affinity matching with the teacher run on the paired clips' own H inputs."""
    import torch

    from partkd.distill import losses
    from partkd.distill.parts import persons_present
    from partkd.models.layers import to_model_input

    if not b.paired.any() or b.teacher.inputs is None:
        return b.zero()
    dev = b.z.device
    xh = torch.from_numpy(np.ascontiguousarray(b.teacher.inputs[b.own[b.paired]])).to(dev)
    with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=b.amp):
        _, z_t = b.teacher.model(to_model_input(xh))
    m = b.persons
    rows = np.repeat(np.flatnonzero(b.paired) * m, m) + np.tile(np.arange(m), int(b.paired.sum()))
    sel = torch.from_numpy(rows).to(dev)
    present = persons_present(b.x[torch.from_numpy(b.paired).to(dev)])
    return losses.skd_loss(b.z.index_select(0, sel), z_t.clone(), present)


def _contrastive_inputs(b: KDBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from partkd.distill.parts import persons_present

    assert b.high is not None and b.own_in_high is not None  # high_batch methods get both
    return b.high, b.teacher.y[b.high.cpu()].to(b.y.device), b.own_in_high, persons_present(b.x)


def _global_msc(b: KDBatch) -> torch.Tensor:
    """Multi-sample contrastive loss on pooled features (no parts): the ablation without part weights."""
    from partkd.distill import losses
    from partkd.distill.parts import global_features

    high, y_high, own, present = _contrastive_inputs(b)
    assert b.teacher.global_features is not None
    g_low = global_features(b.z, b.persons, present)
    return losses.global_msc_loss(g_low, b.teacher.global_features[high], b.y, y_high, own, b.cfg.tau, b.cfg.w)


def _pmsc(b: KDBatch) -> torch.Tensor:
    """PMSC (eq. 11): part-level multi-sample contrast weighted by the efficiency matrix (uniform for the ablation)."""
    from partkd.distill import losses
    from partkd.distill.parts import part_features

    high, y_high, own, present = _contrastive_inputs(b)
    assert b.teacher.part_features is not None
    f_low = part_features(b.z, b.layout, b.persons, present)
    return losses.pmsc_loss(f_low, b.teacher.part_features[high], b.y, y_high, own, b.efficiency, b.cfg.tau, b.cfg.w)


def _relational(b: KDBatch) -> torch.Tensor:
    """Relational KD: the paired clips' student global features keep the similarity structure of their own H
    clips' teacher features (losses.relational_loss)."""
    import torch

    from partkd.distill import losses
    from partkd.distill.parts import global_features, persons_present

    if int(b.paired.sum()) < 2 or b.teacher.global_features is None:
        return b.zero()
    g = global_features(b.z, b.persons, persons_present(b.x))
    sel = torch.from_numpy(b.paired).to(g.device)
    own = torch.from_numpy(b.own[b.paired]).to(g.device)
    return losses.relational_loss(g[sel], b.teacher.global_features[own].to(g.device))


def _pmsc_relational(b: KDBatch) -> torch.Tensor:
    """PMSC plus relational KD: L_pmsc + β·L_rel (β = relational_weight)."""
    return _pmsc(b) + b.cfg.relational_weight * _relational(b)


#: name -> method, in the order the CLI and the app list them.
KD_METHODS: Registry[KDMethod] = Registry("KD method")

for _m in (
    KDMethod("none", "no distillation: cross-entropy only", _none, teacher_outputs=None),
    KDMethod("kl", "logit KD (KL of softened logits) on paired clips", _kl),
    KDMethod(
        "global_msc", "multi-sample contrast on pooled features", _global_msc, high_batch=True, same_channels=True
    ),
    KDMethod("pmsc_uniform", "PMSC with equal part weights", _pmsc, high_batch=True, same_channels=True),
    KDMethod(
        "pmsc",
        "part-level multi-sample contrast weighted by E (the paper)",
        _pmsc,
        high_batch=True,
        same_channels=True,
        part_weights=True,
    ),
    KDMethod("relational", "relational KD: the teacher's sample-sample similarity structure", _relational),
    KDMethod(
        "pmsc_relational",
        "PMSC plus relational KD (weight --relational-weight)",
        _pmsc_relational,
        high_batch=True,
        same_channels=True,
        part_weights=True,
    ),
    KDMethod(
        "skd",
        "SKD joint affinities with gradient revision (same layout)",
        _skd,
        teacher_outputs="inputs",
        same_layout=True,
        revises_gradient=True,
    ),
):
    KD_METHODS.register(_m.name, _m)


def get_method(name: str) -> KDMethod:
    """The registered method `name`; ConfigError listing the choices otherwise."""
    return KD_METHODS.get(name)


__all__ = ["KDBatch", "KDMethod", "KD_METHODS", "TeacherSide", "get_method"]
