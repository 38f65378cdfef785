"""Distillation losses: PMSC (paper eqs. 6-11), global MSC, logit KD and SKD-style structural KD (method.md §5-6).

Every loss is computed in float32 with autocast disabled, so it is safe inside a bf16 autocast region.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from partkd.errors import ConfigError, DataError, where

_EPS = 1e-8


def part_similarity(f_low: torch.Tensor, f_high: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """φ(i, j) = Σ_p cos(f^L_{i,p}, f^H_{j,p}) · E[y_i, p] (paper eq. 7); f (B, 5, C), weights (B, 5) -> (B, Bh)."""
    with torch.autocast(f_low.device.type, enabled=False):
        a = F.normalize(f_low.float(), dim=-1, eps=_EPS)
        b = F.normalize(f_high.float(), dim=-1, eps=_EPS)
        return torch.einsum("ipc,jpc,ip->ij", a, b, weights.float())


def cosine_similarity_matrix(g_low: torch.Tensor, g_high: torch.Tensor) -> torch.Tensor:
    """cos(g^L_i, g^H_j) for global features (B, C) x (Bh, C) -> (B, Bh) (global-MSC analogue of eq. 7)."""
    with torch.autocast(g_low.device.type, enabled=False):
        a = F.normalize(g_low.float(), dim=-1, eps=_EPS)
        b = F.normalize(g_high.float(), dim=-1, eps=_EPS)
        return a @ b.T


def _log_mean_exp(s: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-wise log(mean_{j: mask} exp(s_ij)) and whether the row's set is non-empty (0 where empty, NaN-free)."""
    filled = s.masked_fill(~mask, float("-inf"))
    shift = filled.amax(dim=1, keepdim=True).detach()
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    count = mask.sum(dim=1)
    nonempty = count > 0
    total = (filled - shift).exp().sum(dim=1)
    total = torch.where(nonempty, total, torch.ones_like(total))
    return total.log() + shift[:, 0] - count.clamp(min=1).to(s.dtype).log(), nonempty


def multi_sample_contrastive_loss(
    sim: torch.Tensor, y_low: torch.Tensor, y_high: torch.Tensor, own: torch.Tensor, tau: float = 1.0, w: float = 0.5
) -> torch.Tensor:
    """Multi-sample contrastive loss of eqs. 6 and 8-11 for a similarity matrix sim = φ (B, Bh), in log space.

    C(i, j) = exp(φ(i, j)/τ) (eq. 6); P_i = same class as y_i except own[i], N_i = other classes; C^P, C^N
    are their means (eqs. 9-10). Paired (own[i] >= 0): ℓ_i = -log((C(i,i) + w C^P) / (C(i,i) + w C^P + C^N));
    solitary (own[i] = -1): ℓ_i = -log(w C^P / (w C^P + C^N)) (eq. 8). Empty sets: a paired sample without
    positives drops the w C^P term; a solitary sample without positives (or with w = 0) is skipped; a sample
    without negatives is skipped (its ℓ_i would be exactly 0 with no gradient). The mean (eq. 11) runs over
    the samples that contribute; with none it is 0, still attached to the graph.
    """
    if tau <= 0 or w < 0:
        raise ConfigError(where("multi-sample contrastive loss", f"needs tau > 0 and w >= 0, got {tau}, {w}"))
    b, bh = sim.shape
    if y_low.shape != (b,) or y_high.shape != (bh,) or own.shape != (b,):
        raise DataError(
            where(
                "multi-sample contrastive loss",
                f"labels {tuple(y_low.shape)}/{tuple(y_high.shape)}, own {tuple(own.shape)} "
                f"do not match similarities {tuple(sim.shape)}",
            )
        )
    with torch.autocast(sim.device.type, enabled=False):
        s = sim.float() / tau  # log C(i, j)
        paired = own >= 0
        own_idx = own.clamp(min=0)
        if bool((own >= bh).any()) or bool((paired & (y_high[own_idx] != y_low)).any()):
            raise DataError(where("multi-sample contrastive loss", "own-pair index out of range or of another class"))
        same = y_low[:, None] == y_high[None, :]
        not_own = torch.arange(bh, device=s.device)[None, :] != own[:, None]
        log_cp, has_pos = _log_mean_exp(s, same & not_own)
        log_cn, has_neg = _log_mean_exp(s, ~same)
        has_pos = has_pos & (w > 0)
        log_wcp = log_cp + (math.log(w) if w > 0 else 0.0)  # only read where has_pos, i.e. w > 0
        log_own = s.gather(1, own_idx[:, None])[:, 0]
        log_num_paired = torch.where(has_pos, torch.logaddexp(log_own, log_wcp), log_own)
        log_num = torch.where(paired, log_num_paired, log_wcp)
        contributes = has_neg & (paired | has_pos)
        loss_i = F.softplus(log_cn - log_num)  # -log(num / (num + C^N))
        loss_i = torch.where(contributes, loss_i, torch.zeros_like(loss_i))
        return loss_i.sum() / contributes.sum().clamp(min=1)


def pmsc_loss(
    f_low: torch.Tensor,
    f_high: torch.Tensor,
    y_low: torch.Tensor,
    y_high: torch.Tensor,
    own: torch.Tensor,
    efficiency: torch.Tensor | np.ndarray,
    tau: float = 1.0,
    w: float = 0.5,
) -> torch.Tensor:
    """Part-level multi-sample contrastive loss L_pmsc (paper eq. 11 with eqs. 6-10), part weights E[y_i] (K, 5)."""
    weights = torch.as_tensor(efficiency, dtype=torch.float32, device=f_low.device)[y_low]
    return multi_sample_contrastive_loss(part_similarity(f_low, f_high, weights), y_low, y_high, own, tau, w)


def global_msc_loss(
    g_low: torch.Tensor,
    g_high: torch.Tensor,
    y_low: torch.Tensor,
    y_high: torch.Tensor,
    own: torch.Tensor,
    tau: float = 1.0,
    w: float = 0.5,
) -> torch.Tensor:
    """Global MSC baseline (paper table 4): eq. 8-11 with φ = cosine of pooled global features, no E."""
    return multi_sample_contrastive_loss(cosine_similarity_matrix(g_low, g_high), y_low, y_high, own, tau, w)


def relational_loss(g_student: torch.Tensor, g_teacher: torch.Tensor) -> torch.Tensor:
    """Relational KD (after Park et al. 2019; docs/modalities.md): L_rel = 1/(P(P−1)) Σ_{i≠j} (cos(g^s_i, g^s_j) −
    cos(g^t_i, g^t_j))² over the P paired clips of a batch, so the student keeps the teacher's sample–sample
    similarity structure whatever their feature widths, layouts or modalities; 0 for fewer than two clips."""
    p = g_student.shape[0]
    if p < 2:
        return g_student.sum() * 0.0
    with torch.autocast(g_student.device.type, enabled=False):
        s = F.normalize(g_student.float(), dim=1, eps=_EPS)
        t = F.normalize(g_teacher.float().detach(), dim=1, eps=_EPS)
        diff = (s @ s.T - t @ t.T) ** 2
        off = ~torch.eye(p, dtype=torch.bool, device=diff.device)
        return diff[off].mean()


def kl_distill_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float = 4.0) -> torch.Tensor:
    """Logit KD (Hinton et al., method.md §6): T² · KL(softmax(t/T) || softmax(s/T)), mean over the batch."""
    if T <= 0:
        raise ConfigError(where("kl_distill_loss", f"temperature must be > 0, got {T}"))
    with torch.autocast(student_logits.device.type, enabled=False):
        log_p_s = F.log_softmax(student_logits.float() / T, dim=1)
        log_p_t = F.log_softmax(teacher_logits.float().detach() / T, dim=1)
        return F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True) * T * T


def joint_affinity(z: torch.Tensor) -> torch.Tensor:
    """Joint-joint cosine affinity of time-pooled features (SKD structure): (K, C, T', V) -> (K, V, V)."""
    with torch.autocast(z.device.type, enabled=False):
        joints = F.normalize(z.float().mean(dim=2), dim=1, eps=_EPS)  # (K, C, V), unit vector per joint
        return joints.transpose(1, 2) @ joints


def skd_loss(z_student: torch.Tensor, z_teacher: torch.Tensor, present: torch.Tensor | None = None) -> torch.Tensor:
    """SKD-style structural KD: mean squared difference of joint affinities, z_* (N*M, C_*, T_*, V), same V.

    `present` (N, M) bool restricts the mean to present person slots; the teacher side is detached."""
    if z_student.dim() != 4 or z_teacher.dim() != 4:
        raise ConfigError(where("skd_loss", "features must be (N*M, C, T', V)"))
    if z_student.shape[3] != z_teacher.shape[3]:
        raise ConfigError(
            where(
                "skd_loss",
                f"needs the same joints in student and teacher, got "
                f"V={z_student.shape[3]} vs V={z_teacher.shape[3]}; use PMSC",
            )
        )
    if z_student.shape[0] != z_teacher.shape[0]:
        raise ConfigError(where("skd_loss", f"batch {z_student.shape[0]} vs {z_teacher.shape[0]} person slots"))
    diff = (joint_affinity(z_student) - joint_affinity(z_teacher.detach())).square().mean(dim=(1, 2))
    if present is None:
        return diff.mean()
    mask = present.reshape(-1).to(diff.device, torch.float32)
    return (diff * mask).sum() / mask.sum().clamp(min=1.0)


def revise_gradient(g_kd: torch.Tensor, g_ce: torch.Tensor) -> torch.Tensor:
    """SKD gradient revision (PCGrad-style): if g_kd·g_ce < 0 remove g_kd's component along g_ce, else keep g_kd."""
    g_kd, g_ce = g_kd.float(), g_ce.float()
    dot = (g_kd * g_ce).sum()
    return g_kd - dot.clamp(max=0.0) / g_ce.square().sum().clamp(min=_EPS * _EPS) * g_ce


def backward_with_revision(loss_ce: torch.Tensor, loss_kd: torch.Tensor, params: Sequence[torch.nn.Parameter]) -> None:
    """Accumulate g_ce + revise_gradient(g_kd, g_ce) into .grad of params (flattened over all of them)."""
    params = [p for p in params if p.requires_grad]
    g_ce = torch.autograd.grad(loss_ce, params, retain_graph=True, allow_unused=True)
    g_kd = torch.autograd.grad(loss_kd, params, allow_unused=True)

    def flat(grads: Sequence[torch.Tensor | None]) -> torch.Tensor:
        return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1).float() for p, g in zip(params, grads)])

    ce = flat(g_ce)
    total = ce + revise_gradient(flat(g_kd), ce)
    for p, g in zip(params, total.split([p.numel() for p in params])):
        g = g.view_as(p).to(p.dtype)
        if p.grad is None:
            p.grad = g.clone()
        else:
            p.grad.add_(g)
