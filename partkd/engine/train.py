"""Training: the teacher (CE on H), the part-efficiency matrix E (eqs. 12-13) and the student (L_ce + α·L_kd, eq. 4).

A run folder holds `progress.json`, `history.jsonl`, the resume point `last.*` (every epoch, and on SIGTERM) and
`model.*` when finished. Every random choice is derived from (seed, epoch, step, rank), so a resumed run draws
exactly what the uninterrupted run would have drawn.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from partkd.checkpoints import (
    Loaded,
    load_checkpoint,
    model_meta,
    resume_tensors,
    save_checkpoint,
    stem_of,
    update_meta,
)
from partkd.data.dataset import PairedDataset
from partkd.engine import distributed as D
from partkd.engine.config import DataSpec, StudentConfig, TrainConfig, to_dict
from partkd.engine.data import input_settings, load_high, load_paired, model_inputs
from partkd.engine.evaluate import amp_enabled, check_compatible, model_logits, resolve_device
from partkd.errors import CheckpointError, ConfigError, PartKDError, where
from partkd.io import atomic_write_json, atomic_write_text, removed_on_failure
from partkd.layouts import PARTS

ProgressFn = Callable[[dict], None]
EVAL_SEED = 0
# Settings that may change between an interrupted run and its resumption.
_RESUMABLE_CHANGES = {"epochs", "device", "precision", "eval_every"}


class Cancelled(PartKDError):
    """Training was stopped by SIGTERM after saving its resume point."""


def _seed(*keys: int) -> int:
    """A 63-bit seed derived from integer keys (seed, epoch, step, rank)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))


@contextmanager
def _sigterm_flag() -> Iterator[list[bool]]:
    """Catch SIGTERM as a flag (graceful cancel) for the duration of a training loop."""
    flag = [False]
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: object) -> None:
        flag[0] = True

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous)


class RunLog:
    """progress.json (throttled), history.jsonl and a tqdm bar for one run; silent on non-main ranks."""

    def __init__(
        self, out_dir: Path, phase: str, epochs: int, history: list[dict], progress: ProgressFn | None, enabled: bool
    ) -> None:
        self.out_dir, self.phase, self.epochs, self.history = out_dir, phase, epochs, history
        self.callback, self.enabled = progress, enabled
        self.started = time.monotonic()
        self.done_steps = 0
        self.last_write = 0.0
        self.bar: tqdm | None = None
        self.epoch = self.steps = self.step = 0

    def start_epoch(self, epoch: int, steps: int, first_step: int) -> None:
        self.epoch, self.steps, self.step = epoch, steps, first_step
        if self.enabled:
            self.bar = tqdm(
                total=steps,
                initial=first_step,
                desc=f"{self.phase} {epoch + 1}/{self.epochs}",
                file=sys.stderr,
                leave=False,
                mininterval=1.0,
                dynamic_ncols=True,
                disable=None,
            )  # None: no bar when stderr is not a terminal (logs, jobs)
        self.write(force=True)

    def advance(self, step: int, loss: float) -> None:
        self.step, self.done_steps = step + 1, self.done_steps + 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        self.write()

    def write(self, force: bool = False, phase: str | None = None) -> None:
        """Rewrite progress.json ({phase, epoch, epochs, step, steps, eta_s, updated}) at most once a second."""
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last_write < 1.0):
            return
        self.last_write = now
        left = (self.epochs - self.epoch - 1) * self.steps + (self.steps - self.step)
        rate = (now - self.started) / self.done_steps if self.done_steps else None
        record = {
            "phase": phase or self.phase,
            "epoch": self.epoch + 1,
            "epochs": self.epochs,
            "step": self.step,
            "steps": self.steps,
            "eta_s": round(rate * left, 1) if rate is not None else None,
            "updated": time.time(),
        }
        atomic_write_json(self.out_dir / "progress.json", record)
        if self.callback is not None:
            self.callback(record)

    def end_epoch(self, record: dict) -> None:
        self.history.append(record)
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.enabled:
            atomic_write_text(self.out_dir / "history.jsonl", "".join(_json_line(r) for r in self.history))
            tqdm.write(
                f"{self.phase} epoch {record['epoch']}/{self.epochs}: loss {record['loss']:.4f} "
                f"train_acc {record['train_acc']:.3f} val_acc "
                f"{'-' if record['val_acc'] is None else format(record['val_acc'], '.3f')}",
                file=sys.stderr,
            )
        self.write(force=True)

    def close(self, phase: str) -> None:
        if self.bar is not None:
            self.bar.close()
        self.write(force=True, phase=phase)

    @contextmanager
    def closing_bar_on_error(self) -> Iterator[None]:
        """Clear an open progress bar when the loop fails, so the error message starts on a line of its own."""
        try:
            yield
        except BaseException:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            raise


def _json_line(record: dict) -> str:
    return json.dumps(record) + "\n"


StepFn = Callable[[np.ndarray, int, int], tuple[torch.Tensor, dict[str, float], int]]


@dataclass
class _Loop:
    """Everything the shared epoch loop needs; `step` does forward + backward for one rank's share of a batch."""

    model: nn.Module
    cfg: TrainConfig
    out_dir: Path
    meta: dict
    phase: str
    labels: np.ndarray
    step: StepFn
    validate: Callable[[], float]
    device: torch.device
    ctx: D.DistContext
    progress: ProgressFn | None
    resume: bool
    params: list[nn.Parameter] = field(default_factory=list)


def _check_resume(stored: dict, current: dict, last: Path) -> None:
    """ConfigError unless the resume point was made with the same settings (epochs, device, precision may change)."""
    diffs = []
    for section in ("role", "train", "student", "input", "data"):
        a, b = stored.get(section), current.get(section)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [
                f"{section}.{k}"
                for k in sorted(set(a) | set(b))
                if k not in _RESUMABLE_CHANGES and a.get(k) != b.get(k)
            ]
        elif a != b:
            diffs.append(section)
    if diffs:
        raise ConfigError(
            where(
                last,
                f"resume point was made with different settings ({', '.join(diffs)}); "
                "use another --out or drop --resume",
            )
        )


def _fit(loop: _Loop) -> Path:
    """The epoch loop shared by teacher and student: SGD step schedule, resume, SIGTERM, NaN guard, checkpoints."""
    cfg, model, ctx = loop.cfg, loop.model, loop.ctx
    loop.params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(loop.params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    last = loop.out_dir / "last"
    history: list[dict] = []
    start_epoch, start_step, sums = 0, 0, {}
    if loop.resume and ctx.is_main:
        for tmp in loop.out_dir.glob(".*.tmp"):  # partial writes of a killed run (never read; the finals are whole)
            tmp.unlink(missing_ok=True)
    if loop.resume and (loop.out_dir / "last.json").exists():
        stored, state, extra = resume_tensors(last)
        _check_resume(stored, loop.meta, last)
        model.load_state_dict(state)
        for i, p in enumerate(loop.params):
            if f"optim.{i}" in extra:
                opt.state[p]["momentum_buffer"] = extra[f"optim.{i}"].to(loop.device)
        history = list(stored.get("history", []))
        r = stored["resume"]
        start_epoch, start_step, sums = int(r["epoch"]), int(r["step"]), dict(r["sums"])
    D.broadcast_parameters(model, ctx)
    log = RunLog(loop.out_dir, loop.phase, cfg.epochs, history, loop.progress, ctx.is_main)

    def save_last(epoch: int, step: int, sums_now: dict) -> None:
        if not ctx.is_main:
            return
        extra = {
            f"optim.{i}": opt.state[p]["momentum_buffer"]
            for i, p in enumerate(loop.params)
            if "momentum_buffer" in opt.state.get(p, {})
        }
        save_checkpoint(
            last,
            model,
            {**loop.meta, "history": history, "resume": {"epoch": epoch, "step": step, "sums": sums_now}},
            extra=extra,
        )

    amp_note = "bf16" if amp_enabled(cfg.precision, loop.device) else "fp32"
    loop.meta["precision_used"], loop.meta["device_used"] = amp_note, str(loop.device)
    with _sigterm_flag() as stop, log.closing_bar_on_error():
        for epoch in range(start_epoch, cfg.epochs):
            for g in opt.param_groups:
                g["lr"] = cfg.lr_at(epoch)
            perm = np.random.default_rng([cfg.seed, epoch]).permutation(len(loop.labels))
            batches = D.global_batches(perm, cfg.batch_size, ctx)
            if not batches:
                raise ConfigError(
                    where(loop.out_dir, f"{len(perm)} training clips are too few for {ctx.world_size} process(es)")
                )
            log.start_epoch(epoch, len(batches), start_step)
            t0 = time.monotonic() - sums.get("seconds", 0.0)
            model.train()
            for step in range(start_step, len(batches)):
                idx = D.shard_batch(batches[step], loop.labels, ctx)
                torch.manual_seed(_seed(cfg.seed, epoch, step, ctx.rank))
                opt.zero_grad(set_to_none=True)
                loss, parts, correct = loop.step(idx, epoch, step)
                D.all_reduce_gradients(loop.params, ctx)
                value = float(loss)
                keys = sorted(parts)
                reduced = D.all_reduce_sum(
                    [value * len(idx), float(correct), float(len(idx)), float(stop[0]), float(not math.isfinite(value))]
                    + [parts[k] * len(idx) for k in keys],
                    ctx,
                    loop.device,
                )
                if reduced[4] > 0:
                    done = history[-1]["epoch"] if history else 0
                    raise PartKDError(
                        where(
                            loop.out_dir,
                            f"loss is not finite at epoch {epoch + 1} step {step + 1}; "
                            f"stopped, last good checkpoint last.* (epoch {done}) kept; "
                            "try a lower --lr or --precision fp32",
                        )
                    )
                opt.step()
                for k, v in zip(["loss", "correct", "count"] + keys, reduced[:3] + reduced[5:]):
                    sums[k] = sums.get(k, 0.0) + v
                log.advance(step, value)
                if reduced[3] > 0:
                    save_last(epoch, step + 1, {**sums, "seconds": time.monotonic() - t0})
                    log.close("cancelled")
                    raise Cancelled(
                        where(
                            loop.out_dir, f"cancelled at epoch {epoch + 1} step {step + 1}; resume point last.* saved"
                        )
                    )
            start_step = 0
            count = max(sums.get("count", 0.0), 1.0)
            due = (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs
            val = loop.validate() if due and ctx.is_main else None
            record = {
                "epoch": epoch + 1,
                "loss": sums.get("loss", 0.0) / count,
                "train_acc": sums.get("correct", 0.0) / count,
                "val_acc": val,
                "lr": cfg.lr_at(epoch),
                "seconds": round(time.monotonic() - t0, 2),
                **{k: sums[k] / count for k in sorted(sums) if k not in ("loss", "correct", "count", "seconds")},
            }
            sums = {}
            log.end_epoch(record)
            save_last(epoch + 1, 0, {})
    final_val = next((r["val_acc"] for r in reversed(history) if r["val_acc"] is not None), None)
    metrics = {
        "val_top1": final_val,
        "train_acc": history[-1]["train_acc"] if history else None,
        "epochs": len(history),
    }
    out = loop.out_dir / "model.safetensors"
    if ctx.is_main:
        out = save_checkpoint(loop.out_dir / "model", model, {**loop.meta, "history": history, "metrics": metrics})
    log.close("done")
    D.barrier(ctx)
    return out


def _setup(cfg: TrainConfig, out_dir: Path | str) -> tuple[torch.device, bool, D.DistContext, Path]:
    """Device, autocast flag, distributed context (under torchrun) and the created output folder."""
    device = resolve_device(cfg.device)
    ctx = D.init_distributed(device)
    device = D.rank_device(device, ctx)
    out = Path(out_dir)
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
    return device, amp_enabled(cfg.precision, device), ctx, out


def _build(cfg: TrainConfig, layout: Any, num_classes: int, persons: int) -> tuple[nn.Module, Any]:
    """A freshly initialised model (seeded by cfg.seed) and its ModelConfig."""
    from dataclasses import replace

    from partkd.models import build_model, resolve_config

    model_cfg = replace(resolve_config(cfg.arch, cfg.model), persons=persons)
    torch.manual_seed(cfg.seed)
    return build_model(cfg.arch, layout, num_classes, model_cfg), model_cfg


def _base_meta(
    role: str,
    name: str,
    model_cfg: Any,
    cfg: TrainConfig,
    spec: DataSpec,
    layout: Any,
    class_names: list[str],
    world: int,
) -> dict[str, Any]:
    return {
        "role": role,
        "name": name,
        "layout": layout.to_dict(),
        "class_names": list(class_names),
        "model": model_meta(model_cfg, len(class_names)),
        "preset": cfg.preset,
        "train": to_dict(cfg),
        "data": to_dict(spec),
        "input": input_settings(cfg, spec),
        "world_size": world,
    }


def _ce_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward under autocast; returns (logits, features)."""
    from partkd.models import to_model_input

    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        return model(to_model_input(x))


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
    from partkd.data.transforms import augment, drop_parts_and_joints

    device, amp, ctx, out = _setup(cfg, out_dir)
    high = load_high(spec)
    train, test = high.by_split("train"), high.by_split("test")
    settings = input_settings(cfg, spec)
    x_train, x_test = model_inputs(train, settings), model_inputs(test, settings)
    y_train = torch.as_tensor(train.labels)
    model, model_cfg = _build(cfg, train.layout, train.num_classes, settings["persons"])
    model.to(device)
    meta = {
        **_base_meta("teacher", out.name, model_cfg, cfg, spec, train.layout, train.class_names, ctx.world_size),
        "degradation": {"op": 0.0, "mode": None, "level": None},
        "kd": None,
    }

    def step(idx: np.ndarray, epoch: int, step_i: int) -> tuple[torch.Tensor, dict[str, float], int]:
        xb = x_train[idx]
        if cfg.augment:
            xb = augment(
                xb, train.layout, np.random.default_rng([cfg.seed, epoch, step_i, ctx.rank]), rotate_deg=cfg.rotate_deg
            )
        if cfg.part_dropout > 0 or cfg.joint_dropout > 0:
            xb = drop_parts_and_joints(
                xb,
                train.layout,
                cfg.part_dropout,
                cfg.joint_dropout,
                np.random.default_rng([cfg.seed, epoch, step_i, ctx.rank, 1]),
            )
        y = y_train[idx].to(device)
        logits, _ = _ce_step(model, torch.from_numpy(np.ascontiguousarray(xb)).to(device), y, amp)
        loss = F.cross_entropy(logits.float(), y)
        loss.backward()
        return loss.detach(), {}, int((logits.argmax(1) == y).sum())

    def validate() -> float:
        logits = model_logits(model, x_test, device, amp)
        return float((logits.argmax(1).numpy() == test.labels).mean()) if len(test) else float("nan")

    return _fit(_Loop(model, cfg, out, meta, "teacher", train.labels, step, validate, device, ctx, progress, resume))


def _load_teacher(teacher_path: Path | str | None, device: torch.device) -> Loaded:
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
    """Part-efficiency matrix of a teacher on its H train clips: raw miss rates (eq. 12), their softmax (eq. 13)
    and the true-class probability drop, stored into the teacher's metadata as E_raw, E and E_drop; on data whose
    carrier parts are known (synthetic) also E_truth, the carrier recovery of each."""
    from partkd.distill.efficiency import carrier_recovery, efficiency_softmax, part_occlusion_effects

    dev = resolve_device(device)
    teacher = _load_teacher(teacher_path, dev)
    high = load_high(spec)
    train = high.by_split("train")
    check_compatible(teacher, train)
    x = model_inputs(train, teacher.meta)

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress({"phase": "part_matrix", "step": done, "steps": total, "updated": time.time()})

    amp = amp_enabled(teacher.meta.get("train", {}).get("precision", "fp32"), dev)
    raw, drop = part_occlusion_effects(
        teacher.model, x, train.labels, teacher.layout, train.num_classes, device=dev, progress=report, amp=amp
    )
    result: dict[str, Any] = {
        "E_raw": raw.tolist(),
        "E": efficiency_softmax(raw).tolist(),
        "E_drop": drop.tolist(),
        "E_parts": list(PARTS),
    }
    carriers = high.meta.get("action_parts")
    if isinstance(carriers, dict):
        result["E_truth"] = {
            name: carrier_recovery(m, train.class_names, carriers) for name, m in (("miss", raw), ("drop", drop))
        }
    update_meta(teacher.path, **result)
    return result


@dataclass
class _StudentData:
    """Student-side training arrays: L inputs, labels, own-pair index into the H pool, H pool features."""

    x_low: np.ndarray
    y_low: np.ndarray
    own: np.ndarray
    y_high: np.ndarray
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
    from partkd.distill.methods import TeacherSide
    from partkd.distill.parts import global_features, part_features, persons_present
    from partkd.models import to_model_input

    y = torch.as_tensor(pool.labels)
    if teacher is None:
        return TeacherSide(nn.Identity(), pool.layout, y)
    x = model_inputs(pool, teacher.meta)
    if method.teacher_outputs == "inputs":
        return TeacherSide(teacher.model, teacher.layout, y, inputs=x)
    parts, glob, logits = [], [], []
    for s in range(0, len(x), batch_size):
        xb = torch.from_numpy(np.ascontiguousarray(x[s : s + batch_size])).to(device)
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            lg, z = teacher.model(to_model_input(xb))
        present = persons_present(xb)
        parts.append(part_features(z.float(), teacher.layout, xb.shape[1], present))
        glob.append(global_features(z.float(), xb.shape[1], present))
        logits.append(lg.float())
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
    from partkd.data.degrade import occlude
    from partkd.data.transforms import augment
    from partkd.distill import losses
    from partkd.distill.methods import KDBatch, get_method

    scfg = student_cfg
    method = get_method(scfg.kd)
    device, amp, ctx, out = _setup(cfg, out_dir)
    data = load_paired(spec)
    train, test = data.by_split("train"), data.low.by_split("test")
    settings = input_settings(cfg, spec)
    teacher = _load_teacher(teacher_path, device) if method.needs_teacher else None
    if teacher is not None:
        _student_checks(method, teacher, train, settings["persons"])
        needs = "E_drop" if scfg.efficiency == "drop" else "E"
        if method.part_weights and needs not in teacher.meta:
            if ctx.active:
                raise ConfigError(where(teacher.path, "has no part matrix E; run `partkd part-matrix` first"))
            compute_part_matrix(teacher.path, spec, device=str(device))
            teacher = _load_teacher(teacher.path, device)
    low_keep, own, pool = _pairing(train, scfg)
    low = train.low.subset(low_keep)
    high_pool = train.high.subset(pool)
    sd = _StudentData(
        model_inputs(low, settings),
        low.labels,
        own,
        high_pool.labels,
        {int(c): np.flatnonzero(high_pool.labels == c) for c in np.unique(high_pool.labels)},
    )
    x_test = model_inputs(test, settings)
    if scfg.op > 0:
        x_test = occlude(x_test, test.layout, scfg.op, mode=scfg.occlusion, seed=EVAL_SEED)
    model, model_cfg = _build(cfg, low.layout, low.num_classes, settings["persons"])
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
        **_base_meta("student", out.name, model_cfg, cfg, spec, low.layout, low.class_names, ctx.world_size),
        "student": to_dict(scfg),
        "degradation": {
            "op": scfg.op,
            "mode": scfg.occlusion,
            "level": spec.level if spec.low == "simulate" else None,
            "low_source": spec.low if spec.low in ("simulate", "real") else "file",
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
            "teacher": str(teacher.path) if teacher is not None else None,
            "teacher_sha256": teacher.meta.get("weights_sha256") if teacher is not None else None,
        },
        "pairs": {"low_clips": int(len(low)), "paired": int((own >= 0).sum()), "high_pool": int(len(pool))},
    }

    def step(idx: np.ndarray, epoch: int, step_i: int) -> tuple[torch.Tensor, dict[str, float], int]:
        rng = np.random.default_rng([cfg.seed, epoch, step_i, ctx.rank])
        xb = sd.x_low[idx]
        if cfg.augment:
            xb = augment(xb, low.layout, rng, rotate_deg=cfg.rotate_deg)
        if scfg.op > 0:
            xb = occlude(xb, low.layout, scfg.op, mode=scfg.occlusion, seed=_seed(cfg.seed, epoch, step_i, ctx.rank))
        x = torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32)).to(device)
        y = y_low_t[idx].to(device)
        logits, z = _ce_step(model, x, y, amp)
        ce = F.cross_entropy(logits.float(), y)
        high = own_in_high = None
        if method.high_batch:
            hb, own_in_b = _high_batch(idx, sd, scfg.positives_per_class, rng)
            high, own_in_high = torch.from_numpy(hb).to(device), torch.from_numpy(own_in_b).to(device)
        batch = KDBatch(x, z, logits, y, sd.own[idx], high, own_in_high, side, low.layout, efficiency, scfg, amp)
        kd = method.loss(batch)
        loss = ce + scfg.alpha * kd
        if method.revises_gradient and kd.requires_grad:
            losses.backward_with_revision(ce, scfg.alpha * kd, params)
        else:
            loss.backward()
        return loss.detach(), {"ce": float(ce.detach()), "kd": float(kd.detach())}, int((logits.argmax(1) == y).sum())

    def validate() -> float:
        lg = model_logits(model, x_test, device, amp)
        return float((lg.argmax(1).numpy() == test.labels).mean()) if len(test) else float("nan")

    return _fit(_Loop(model, cfg, out, meta, "student", sd.y_low, step, validate, device, ctx, progress, resume))


def part_weights(teacher_meta: dict, scfg: StudentConfig) -> np.ndarray:
    """The (classes, 5) PMSC part weights: softmax (eq. 13) of the teacher's miss-rate or probability-drop matrix
    divided by the temperature (the stored E itself for the paper's miss rate at temperature 1)."""
    from partkd.distill.efficiency import efficiency_softmax

    if scfg.efficiency == "miss" and scfg.efficiency_temperature == 1.0:
        return np.asarray(teacher_meta["E"], dtype=np.float32)
    source = teacher_meta["E_raw" if scfg.efficiency == "miss" else "E_drop"]
    return efficiency_softmax(np.asarray(source), scfg.efficiency_temperature).astype(np.float32)


def _feature_channels(model: nn.Module, x: np.ndarray, device: torch.device) -> int:
    """C' of a model's joint features, from one forward pass in eval mode."""
    from partkd.models import to_model_input

    was = model.training
    model.eval()
    with torch.inference_mode():
        _, z = model(to_model_input(torch.from_numpy(np.ascontiguousarray(x)).to(device)))
    model.train(was)
    return int(z.shape[1])


__all__ = ["Cancelled", "RunLog", "train_teacher", "compute_part_matrix", "train_student", "part_weights"]
