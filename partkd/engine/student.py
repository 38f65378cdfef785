"""The student recipe: L_ce + α · L_kd on the low-quality clips (eq. 4), the KD term a method of the registry
(distill/methods.py) against the frozen teacher's outputs over the high-quality pool."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from partkd.checkpoints import Loaded
from partkd.data.dataset import PairedDataset
from partkd.data.inputs import Inputs
from partkd.data.occlusion import occlude
from partkd.data.transforms import augment
from partkd.distill.definitions import EFFICIENCIES
from partkd.distill.methods import KDBatch, TeacherSide, get_method
from partkd.engine.config import LOW_SOURCES, DataSpec, StudentConfig, TrainConfig, to_dict
from partkd.engine.data import input_settings, load_paired, model_inputs
from partkd.engine.distributed import Shard
from partkd.engine.evaluate import check_compatible, occlude_set
from partkd.engine.fusion import apply_fitted_fusion, holdout_split
from partkd.engine.loop import (
    FitJob,
    ProgressFn,
    base_meta,
    batch_rng,
    ce_step,
    fit,
    new_model,
    seed_of,
    setup_run,
    top1_of,
    with_modalities,
)
from partkd.engine.teacher import compute_part_matrix, load_teacher
from partkd.errors import CheckpointError, ConfigError, where
from partkd.io import removed_on_failure
from partkd.layouts import PARTS

EVAL_SEED = 0


@dataclass
class _StudentData:
    """Student-side training arrays: L inputs and labels, own-pair index into the H pool, H pool clips by class."""

    x_low: Inputs
    y_low: np.ndarray
    own: np.ndarray
    high_by_class: dict[int, np.ndarray]


def _pairing(data: PairedDataset, scfg: StudentConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low clips kept, own index into the H pool or -1, H pool) after keeping a fraction p of the pairs.

    A pair is one H clip with every L clip linked to it (several when L has several views of one H clip). The
    dropped pairs' L clips become solitary (use_solitary) or leave the training set; their H clips leave the
    pool (they would otherwise be H data without an L match that the paper's setting does not have)."""
    high_of_low = data.high_index_of_low()
    linked = np.unique(high_of_low[high_of_low >= 0])
    rng = np.random.default_rng([scfg.pairing_seed])
    kept_high = rng.permutation(linked)[: int(round(scfg.paired_fraction * len(linked)))]
    keep = np.isin(high_of_low, kept_high) & (high_of_low >= 0)
    lost = (high_of_low >= 0) & ~keep
    low_keep = np.flatnonzero(~lost | scfg.use_solitary)
    pool_mask = np.ones(len(data.high), dtype=bool)
    pool_mask[high_of_low[lost]] = False
    pool = np.flatnonzero(pool_mask)
    pos_in_pool = np.full(len(data.high), -1, dtype=np.int64)
    pos_in_pool[pool] = np.arange(len(pool))
    own = np.where(keep[low_keep], pos_in_pool[np.maximum(high_of_low[low_keep], 0)], -1)
    return low_keep, own, pool


@torch.inference_mode()
def _teacher_side(
    method: Any, teacher: Loaded | None, pool: Any, device: torch.device, amp: bool, batch_size: int = 64
) -> Any:
    """The frozen teacher's side of a student run (distill.methods.TeacherSide) over the H pool: its part and global
    features and logits (N, 5, C), (N, C), (N, K) for methods that read them, the raw H inputs for SKD."""
    from partkd.distill.parts import global_features, part_features, persons_present
    from partkd.models.inference import batched_forward

    y = torch.as_tensor(pool.labels)
    if teacher is None:
        return TeacherSide(nn.Identity(), pool.layout, y)
    x = model_inputs(pool, teacher.meta)
    if method.teacher_outputs == "inputs":
        return TeacherSide(teacher.model, teacher.layout, y, inputs=x)

    def collect(lg: torch.Tensor, z: torch.Tensor, xb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        present = persons_present(xb)
        persons = xb.shape[1]
        return (
            part_features(z.float(), teacher.layout, persons, present),
            global_features(z.float(), persons, present),
            lg.float(),
        )

    parts, glob, logits = zip(*batched_forward(teacher.model, x, collect, device, amp, batch_size))
    return TeacherSide(teacher.model, teacher.layout, y, torch.cat(parts), torch.cat(glob), torch.cat(logits))


def _high_batch(idx: np.ndarray, sd: _StudentData, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """B_H for a low batch: the own H clips of its paired clips plus up to k further H clips of each class in the
    batch (class-balanced, so most anchors have positives); returns (pool indices, own position in B_H or -1)."""
    own = sd.own[idx]
    chosen = list(dict.fromkeys(int(o) for o in own if o >= 0))
    taken = set(chosen)
    for c in np.unique(sd.y_low[idx]):
        cand = [int(j) for j in rng.permutation(sd.high_by_class.get(int(c), np.zeros(0, np.int64))) if j not in taken]
        chosen += cand[:k]
        taken.update(cand[:k])
    pos = {j: i for i, j in enumerate(chosen)}
    return np.asarray(chosen, dtype=np.int64), np.asarray([pos[int(o)] if o >= 0 else -1 for o in own], np.int64)


def _student_checks(method: Any, teacher: Loaded, data: PairedDataset, student_persons: int) -> None:
    """ConfigError/CheckpointError for combinations that cannot work (before any training)."""
    check_compatible(teacher, data.high)
    tl, sl = teacher.layout, data.low.layout
    if method.same_layout:
        if tl.name != sl.name or tl.num_joints != sl.num_joints:
            raise ConfigError(
                where(
                    f"kd={method.name}",
                    f"needs the same skeleton layout for teacher and student (teacher "
                    f"'{tl.name}', student '{sl.name}'); use pmsc across layouts",
                )
            )
        if int(teacher.meta["input"]["persons"]) != student_persons:
            raise ConfigError(
                where(f"kd={method.name}", "needs the same number of persons for teacher and student inputs")
            )


def train_student(
    cfg: TrainConfig,
    student_cfg: StudentConfig,
    teacher_path: Path | str | None,
    spec: DataSpec,
    out_dir: Path | str,
    progress: ProgressFn | None = None,
    resume: bool = False,
) -> Path:
    """Train the student on L clips with L_ce + α·L_kd (eq. 4; L_kd = PMSC eq. 11 or a baseline); returns the
    model path. Per step: a low batch B_L (occluded with OP) and a high batch B_H through the frozen teacher;
    kd="none" needs no teacher. A failed run removes the folder it created."""
    with removed_on_failure(out_dir):
        return _train_student(cfg, student_cfg, teacher_path, spec, out_dir, progress, resume)


def _train_student(
    cfg: TrainConfig,
    student_cfg: StudentConfig,
    teacher_path: Path | str | None,
    spec: DataSpec,
    out_dir: Path | str,
    progress: ProgressFn | None,
    resume: bool,
) -> Path:
    from partkd.distill import losses

    scfg = student_cfg
    method = get_method(scfg.kd)
    device, amp, ctx, out = setup_run(cfg, out_dir)
    data = load_paired(spec)
    cfg = with_modalities(cfg, data.low.layout, "student")
    train, test = data.by_split("train"), data.low.by_split("test")
    settings = input_settings(cfg, spec)
    teacher = load_teacher(teacher_path, device) if method.needs_teacher else None
    if teacher is not None:
        _student_checks(method, teacher, train, settings["persons"])
        needs = "E" if scfg.efficiency == "miss" else EFFICIENCIES.get(scfg.efficiency).key
        if method.part_weights and needs not in teacher.meta:
            if ctx.active:
                raise ConfigError(where(teacher.path, "has no part matrix E; run `partkd part-matrix` first"))
            compute_part_matrix(teacher.path, spec, device=str(device))
            teacher = load_teacher(teacher.path, device)
    low_keep, own, pool = _pairing(train, scfg)
    held = None
    if cfg.fusion_holdout > 0:
        kept, held_at = holdout_split(train.low.labels[low_keep], cfg.fusion_holdout, cfg.seed)
        held = train.low.subset(low_keep[held_at])
        low_keep, own = low_keep[kept], own[kept]
    low = train.low.subset(low_keep)
    high_pool = train.high.subset(pool)
    sd = _StudentData(
        model_inputs(low, settings),
        low.labels,
        own,
        {int(c): np.flatnonzero(high_pool.labels == c) for c in np.unique(high_pool.labels)},
    )
    x_test = occlude_set(model_inputs(test, settings), test.layout, scfg.op, scfg.occlusion, EVAL_SEED)
    model, model_cfg = new_model(cfg, low.layout, low.num_classes, settings["persons"], ctx)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    side = _teacher_side(method, teacher, high_pool, device, amp)
    if method.same_channels and side.part_features is not None:
        c_student = _feature_channels(model, sd.x_low[:2], device)
        if c_student != side.part_features.shape[-1]:
            raise ConfigError(
                where(
                    "kd",
                    f"student features have {c_student} channels, the teacher's "
                    f"{side.part_features.shape[-1]}; use the same model preset for both",
                )
            )
    if method.part_weights and teacher is not None:
        efficiency = torch.tensor(part_weights(teacher.meta, scfg), dtype=torch.float32, device=device)
    else:
        efficiency = torch.full((low.num_classes, len(PARTS)), 1.0 / len(PARTS), device=device)
    y_low_t = torch.as_tensor(sd.y_low)

    meta = {
        **base_meta("student", out.name, model_cfg, cfg, spec, low.layout, low.class_names, ctx.world_size),
        "student": to_dict(scfg),
        "degradation": {
            "op": scfg.op,
            "mode": scfg.occlusion,
            "op_sampling": scfg.op_sampling,
            "level": spec.level if spec.low == "simulate" else None,
            "low_source": spec.low if spec.low in LOW_SOURCES else "file",
            "low_layout": low.layout.name,
        },
        "kd": {
            "method": scfg.kd,
            "alpha": scfg.alpha,
            "tau": scfg.tau,
            "w": scfg.w,
            "efficiency": scfg.efficiency if method.part_weights else None,
            "efficiency_temperature": scfg.efficiency_temperature if method.part_weights else None,
            "kl_temperature": scfg.kl_temperature,
            "paired_fraction": scfg.paired_fraction,
            "use_solitary": scfg.use_solitary,
            "teacher": str(Path(teacher.path).resolve()) if teacher is not None else None,
            "teacher_sha256": teacher.meta.get("weights_sha256") if teacher is not None else None,
        },
        "pairs": {"low_clips": int(len(low)), "paired": int((own >= 0).sum()), "high_pool": int(len(pool))},
    }

    def prepare(shard: Shard, epoch: int, step_i: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
        rng = batch_rng(cfg.seed, epoch, step_i)
        xb = sd.x_low[shard.batch]
        if cfg.augment:
            xb = augment(xb, low.layout, rng, rotate_deg=cfg.rotate_deg)
        if scfg.op > 0:
            xb = occlude_batch(xb, low.layout, scfg, seed_of(cfg.seed, epoch, step_i, 0))
        hb = _high_batch(shard.idx, sd, scfg.positives_per_class, rng) if method.high_batch else None
        return np.ascontiguousarray(xb[shard.rows], dtype=np.float32), hb

    def step(
        shard: Shard, prepared: tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]
    ) -> tuple[torch.Tensor, dict[str, float], int]:
        xb, hb = prepared
        idx = shard.idx
        x = torch.from_numpy(xb).to(device)
        y = y_low_t[idx].to(device)
        logits, z, ce = ce_step(model, x, y, amp)
        high = own_in_high = None
        if hb is not None:
            high, own_in_high = torch.from_numpy(hb[0]).to(device), torch.from_numpy(hb[1]).to(device)
        batch = KDBatch(x, z, logits, y, sd.own[idx], high, own_in_high, side, low.layout, efficiency, scfg, amp)
        kd = method.loss(batch)
        loss = ce + scfg.alpha * kd
        if method.revises_gradient and kd.requires_grad:
            losses.backward_with_revision(ce * shard.weight, scfg.alpha * kd * shard.weight, params)
        else:
            (loss * shard.weight).backward()
        return loss.detach(), {"ce": float(ce.detach()), "kd": float(kd.detach())}, int((logits.argmax(1) == y).sum())

    def validate() -> float:
        return top1_of(model, x_test, test.labels, device, amp)

    job = FitJob(model, cfg, out, meta, "student", sd.y_low, prepare, step, validate, device, ctx, progress, resume)
    path = fit(job)
    if held is not None and ctx.is_main:
        # fitted on what the student sees: its inputs occluded as at test time
        x_held = occlude_set(model_inputs(held, settings), held.layout, scfg.op, scfg.occlusion, EVAL_SEED)
        apply_fitted_fusion(path, x_held, held.labels)
    return path


def occlude_batch(x: np.ndarray, layout: Any, scfg: StudentConfig, seed: int) -> np.ndarray:
    """A training batch occluded under the config's mode: every clip at OP, or (op_sampling uniform) clip i at an OP
    drawn uniformly from [0, OP], all from `seed`."""
    if scfg.op_sampling == "fixed":
        return occlude(x, layout, scfg.op, mode=scfg.occlusion, seed=seed)
    rng = np.random.default_rng(seed)
    ops = rng.uniform(0.0, scfg.op, len(x))
    seeds = rng.integers(0, 2**63 - 1, len(x))
    return np.stack([occlude(c, layout, float(o), mode=scfg.occlusion, seed=int(s)) for c, o, s in zip(x, ops, seeds)])


def part_weights(teacher_meta: dict, scfg: StudentConfig) -> np.ndarray:
    """The (classes, 5) PMSC part weights: softmax (eq. 13) of the teacher's matrix of the config's E definition
    divided by the temperature (the stored E itself for the paper's miss rate at temperature 1)."""
    from partkd.distill.efficiency import efficiency_softmax

    if scfg.efficiency == "miss" and scfg.efficiency_temperature == 1.0:
        return np.asarray(teacher_meta["E"], dtype=np.float32)
    key = EFFICIENCIES.get(scfg.efficiency).key
    if key not in teacher_meta:
        raise CheckpointError(where("teacher", f"has no {key}: recompute E with `partkd part-matrix`"))
    source = teacher_meta[key]
    return efficiency_softmax(np.asarray(source), scfg.efficiency_temperature).astype(np.float32)


def _feature_channels(model: nn.Module, x: np.ndarray, device: torch.device) -> int:
    """C' of a model's joint features, from one forward pass in eval mode."""
    from partkd.models.inference import batched_forward

    return batched_forward(model, x, lambda _lg, z, _x: int(z.shape[1]), device, batch_size=len(x))[0]


__all__ = ["EVAL_SEED", "part_weights", "train_student"]
