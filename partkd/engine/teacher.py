"""The teacher recipe: cross-entropy on the high-quality clips (paper §3.2, with the optional part / joint dropout of
method.md §4), and its part-efficiency matrix E (eqs. 12-13) stored in the checkpoint."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from partkd.checkpoints import Loaded, load_checkpoint, stem_of, update_meta
from partkd.data.transforms import augment, drop_parts_and_joints
from partkd.distill.definitions import DEFAULT_EFFICIENCY, EFFICIENCIES
from partkd.engine.allocator import keep_freed_memory
from partkd.engine.config import DataSpec, TrainConfig
from partkd.engine.data import input_settings, load_high, model_inputs
from partkd.engine.distributed import Shard
from partkd.engine.evaluate import amp_enabled, check_compatible, resolve_device
from partkd.engine.fusion import apply_fitted_fusion, holdout_split
from partkd.engine.loop import (
    FitJob,
    ProgressFn,
    base_meta,
    batch_rng,
    ce_step,
    fit,
    new_model,
    setup_run,
    top1_of,
    with_modalities,
)
from partkd.errors import CheckpointError, where
from partkd.io import removed_on_failure
from partkd.layouts import PARTS


def train_teacher(
    cfg: TrainConfig, spec: DataSpec, out_dir: Path | str, progress: ProgressFn | None = None, resume: bool = False
) -> Path:
    """Train the teacher with cross-entropy on the high-quality train clips (paper §3.2), with the config's part and
    joint dropout (method.md §4); returns model.safetensors. A failed run removes the folder it created."""
    with removed_on_failure(out_dir):
        return _train_teacher(cfg, spec, out_dir, progress, resume)


def _train_teacher(
    cfg: TrainConfig, spec: DataSpec, out_dir: Path | str, progress: ProgressFn | None, resume: bool
) -> Path:

    device, amp, ctx, out = setup_run(cfg, out_dir)
    high = load_high(spec)
    cfg = with_modalities(cfg, high.layout, "teacher")
    train, test = high.by_split("train"), high.by_split("test")
    held = None
    if cfg.fusion_holdout > 0:
        keep, held_idx = holdout_split(train.labels, cfg.fusion_holdout, cfg.seed)
        train, held = train.subset(keep), train.subset(held_idx)
    settings = input_settings(cfg, spec)
    x_train, x_test = model_inputs(train, settings), model_inputs(test, settings)
    y_train = torch.as_tensor(train.labels)
    model, model_cfg = new_model(cfg, train.layout, train.num_classes, settings["persons"], ctx)
    model.to(device)
    meta = {
        **base_meta("teacher", out.name, model_cfg, cfg, spec, train.layout, train.class_names, ctx.world_size),
        "degradation": {"op": 0.0, "mode": None, "level": None},
        "kd": None,
    }

    def prepare(shard: Shard, epoch: int, step_i: int) -> np.ndarray:
        xb = x_train[shard.batch]
        if cfg.augment:
            xb = augment(xb, train.layout, batch_rng(cfg.seed, epoch, step_i), rotate_deg=cfg.rotate_deg)
        if cfg.part_dropout > 0 or cfg.joint_dropout > 0:
            xb = drop_parts_and_joints(
                xb,
                train.layout,
                cfg.part_dropout,
                cfg.joint_dropout,
                batch_rng(cfg.seed, epoch, step_i, 1),
                cfg.part_dropout_mode,
            )
        return np.ascontiguousarray(xb[shard.rows])

    def step(shard: Shard, xb: np.ndarray) -> tuple[torch.Tensor, dict[str, float], int]:
        y = y_train[shard.idx].to(device)
        logits, _, loss = ce_step(model, torch.from_numpy(xb).to(device), y, amp)
        (loss * shard.weight).backward()
        return loss.detach(), {}, int((logits.argmax(1) == y).sum())

    def validate() -> float:
        return top1_of(model, x_test, test.labels, device, amp)

    job = FitJob(model, cfg, out, meta, "teacher", train.labels, prepare, step, validate, device, ctx, progress, resume)
    path = fit(job)
    if held is not None and ctx.is_main:
        apply_fitted_fusion(path, model_inputs(held, settings), held.labels)
    return path


def load_teacher(teacher_path: Path | str | None, device: torch.device) -> Loaded:
    """The frozen teacher (eval mode, no grads); CheckpointError when missing or not a teacher."""
    if teacher_path is None:
        raise CheckpointError(where("teacher", "a teacher checkpoint is needed for knowledge distillation"))
    path = Path(teacher_path)
    if not Path(f"{stem_of(path)}.json").exists():
        raise CheckpointError(where(path, "teacher checkpoint not found (train one with `partkd train-teacher`)"))
    loaded = load_checkpoint(path, device=device)
    if loaded.role != "teacher":
        raise CheckpointError(where(path, f"is a {loaded.role or 'unknown'} checkpoint, a teacher is needed"))
    for p in loaded.model.parameters():
        p.requires_grad_(False)
    return loaded


def compute_part_matrix(
    teacher_path: Path | str, spec: DataSpec, progress: ProgressFn | None = None, device: str = "auto"
) -> dict[str, Any]:
    """Part-efficiency matrices of a teacher on its H train clips, from one pass over the 32 part subsets: the raw
    miss rates (eq. 12) and their softmax (eq. 13) as E_raw and E, the true-class probability drop (E_drop) and the
    part Shapley values (E_shapley), each with a 95 % bootstrap interval over clips (E_ci); on data whose carrier
    parts are known (synthetic) also E_truth, the carrier recovery of each. Stored into the teacher's metadata."""
    from partkd.distill.efficiency import (
        bootstrap_interval,
        carrier_recovery,
        class_means,
        efficiency_softmax,
        part_subset_effects,
        per_clip_scores,
    )

    # glibc's dynamic mmap threshold otherwise fragments the heap batch after batch (RSS 4.0 GB against 1.2 GB with
    # this setting, E of 20k NTU-shape clips; benchmarks/results/scale_zen5.md)
    keep_freed_memory()
    dev = resolve_device(device)
    teacher = load_teacher(teacher_path, dev)
    high = load_high(spec)
    train = high.by_split("train")
    check_compatible(teacher, train)
    x = model_inputs(train, teacher.meta)

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress({"phase": "part_matrix", "step": done, "steps": total, "updated": time.time()})

    amp = amp_enabled(teacher.meta.get("train", {}).get("precision", "fp32"), dev)
    values, wrong = part_subset_effects(
        teacher.model, x, train.labels, teacher.layout, device=dev, progress=report, amp=amp
    )
    scores = per_clip_scores(values, wrong)
    k = train.num_classes
    means = {name: class_means(s, train.labels, k) for name, s in scores.items()}
    result: dict[str, Any] = {EFFICIENCIES[name].key: m.tolist() for name, m in means.items()}
    result["E"] = efficiency_softmax(means["miss"]).tolist()
    result["E_parts"] = list(PARTS)
    result["E_ci"] = {
        name: dict(zip(("lo", "hi"), (b.tolist() for b in bootstrap_interval(s, train.labels, k))))
        for name, s in scores.items()
    }
    result["E_clips"] = np.bincount(train.labels, minlength=k).tolist()
    result["E_default"] = DEFAULT_EFFICIENCY
    carriers = high.meta.get("action_parts")
    if isinstance(carriers, dict):
        result["E_truth"] = {name: carrier_recovery(m, train.class_names, carriers) for name, m in means.items()}
    update_meta(teacher.path, **result)
    return result


__all__ = ["compute_part_matrix", "load_teacher", "train_teacher"]
