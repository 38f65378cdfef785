"""The epoch loop every run shares: SGD with a step schedule, exact resume, SIGTERM, NaN guard, DDP reduction of
typed per-step statistics, progress files and checkpoints (a run folder holds `progress.json`, `history.jsonl`, the
resume point `last.*` every epoch and on SIGTERM, and `model.*` when finished). Every random choice is derived from
(seed, epoch, step, rank), so a resumed run draws exactly what the uninterrupted run would have drawn.
"""

from __future__ import annotations

import ctypes
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from partkd.checkpoints import model_meta, resume_tensors, save_checkpoint
from partkd.data.inputs import Inputs
from partkd.data.modalities import default_modalities
from partkd.engine import distributed as D
from partkd.engine.allocator import keep_freed_memory
from partkd.engine.config import DataSpec, StudentConfig, TrainConfig, spec_dict, to_dict
from partkd.engine.data import input_settings
from partkd.engine.evaluate import amp_enabled, model_logits, resolve_device
from partkd.engine.schema import default_of
from partkd.errors import ConfigError, PartKDError, where
from partkd.io import atomic_write_json, atomic_write_text
from partkd.models import build_model, resolve_config, to_model_input

ProgressFn = Callable[[dict], None]


# Settings that may change between an interrupted run and its resumption.
_RESUMABLE_CHANGES = {"epochs", "device", "precision", "eval_every", "workers"}


class Cancelled(PartKDError):
    """Training was stopped by SIGTERM after saving its resume point."""


def seed_of(*keys: int) -> int:
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


#: Steps timed (after the first) for the measured ETA a run prints before its first epoch ends.
ETA_STEPS = 5


def _duration(seconds: float) -> str:
    """Seconds as '12 s', '3.4 min' or '1.2 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


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
        self.timing: list[float] | None = []  # when the first ETA_STEPS + 1 steps finished (None: ETA printed)

    def announce(self, clips: int, batch_size: int, steps: int, epochs_left: int) -> None:
        """Print the run's size before its first step: clips, steps per epoch, epochs."""
        if self.enabled:
            tqdm.write(
                f"{self.phase}: {clips} training clips, {steps} steps of {batch_size} clips per epoch, "
                f"{epochs_left} epoch(s) to run",
                file=sys.stderr,
            )

    def _eta_line(self) -> None:
        """After the first few steps, the measured seconds per step and the epoch and run they extrapolate to (the
        first step, with its one-off set-up, is left out)."""
        assert self.timing is not None
        per_step = (self.timing[-1] - self.timing[0]) / (len(self.timing) - 1)
        left = (self.epochs - self.epoch - 1) * self.steps + (self.steps - self.step)
        tqdm.write(
            f"{self.phase}: {per_step:.2f} s per step measured over {len(self.timing) - 1} steps: about "
            f"{per_step * self.steps:.0f} s per epoch, {_duration(per_step * left)} left",
            file=sys.stderr,
        )

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
        if self.enabled and self.timing is not None:
            self.timing.append(time.monotonic())
            if len(self.timing) == ETA_STEPS + 1 or (self.step == self.steps and len(self.timing) > 1):
                self._eta_line()
            if len(self.timing) == ETA_STEPS + 1 or self.step == self.steps:
                self.timing = None  # printed once, from the first epoch's steps only
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


#: Makes one step's inputs from its shard, epoch and step (numpy only, seeded by the step: run in a worker or not).
PrepareFn = Callable[[D.Shard, int, int], Any]
#: Forward + backward of one step on prepared inputs: (loss, named extra terms, correct count).
StepFn = Callable[[D.Shard, Any], tuple[torch.Tensor, dict[str, float], int]]


class _EpochSteps(torch.utils.data.Dataset):
    """Item k: the prepared inputs of step start + k of one epoch (what a DataLoader worker makes ahead)."""

    def __init__(self, prepare: PrepareFn, shards: list[D.Shard], epoch: int, start: int) -> None:
        self.prepare, self.shards, self.epoch, self.start = prepare, shards, epoch, start

    def __len__(self) -> int:
        return len(self.shards) - self.start

    def __getitem__(self, k: int) -> Any:
        return self.prepare(self.shards[self.start + k], self.epoch, self.start + k)


def _as_is(item: Any) -> Any:
    return item


def _die_with_parent(_worker: int) -> None:
    """A worker killed with its training process (Linux PR_SET_PDEATHSIG): one orphaned by SIGKILL would wait on its
    full result pipe for ever."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def epoch_inputs(prepare: PrepareFn, shards: list[D.Shard], epoch: int, start: int, workers: int) -> Iterator[Any]:
    """The prepared inputs of steps start.. of an epoch, in order: made by `workers` forked DataLoader workers two
    steps ahead, or in this process with 0 (the same arrays: every draw is seeded by its step)."""
    steps = _EpochSteps(prepare, shards, epoch, start)
    if workers == 0 or len(steps) < 2:
        return (steps[k] for k in range(len(steps)))
    return iter(
        torch.utils.data.DataLoader(
            steps,
            batch_size=None,
            num_workers=workers,
            collate_fn=_as_is,
            multiprocessing_context="fork",
            worker_init_fn=_die_with_parent,
        )
    )


@dataclass
class StepStats:
    """One training step's statistics summed over a rank's clips, reduced over the ranks by field name: the loss and
    correct counts, the clip count, the stop (SIGTERM) and non-finite flags, and the sums of named extra terms."""

    loss: float
    correct: float
    count: float
    stop: float = 0.0
    nonfinite: float = 0.0
    terms: dict[str, float] = field(default_factory=dict)

    def reduced(self, ctx: D.DistContext, device: torch.device) -> StepStats:
        """The sums over every rank (this record itself without torchrun)."""
        names = [f.name for f in fields(self) if f.name != "terms"]
        keys = sorted(self.terms)
        total = D.all_reduce_sum([getattr(self, n) for n in names] + [self.terms[k] for k in keys], ctx, device)
        return StepStats(**dict(zip(names, total[: len(names)])), terms=dict(zip(keys, total[len(names) :])))


def top1_of(model: nn.Module, x: Inputs, labels: np.ndarray, device: torch.device, amp: bool) -> float:
    """Top-1 accuracy of a model on dense inputs (NaN without clips): the validation every run reports."""
    if not len(labels):
        return float("nan")
    return float((model_logits(model, x, device, amp).argmax(1).numpy() == labels).mean())


@dataclass
class FitJob:
    """Everything the shared epoch loop needs; `step` does forward + backward for one rank's share of a batch."""

    model: nn.Module
    cfg: TrainConfig
    out_dir: Path
    meta: dict
    phase: str
    labels: np.ndarray
    prepare: PrepareFn
    step: StepFn
    validate: Callable[[], float]
    device: torch.device
    ctx: D.DistContext
    progress: ProgressFn | None
    resume: bool
    params: list[nn.Parameter] = field(default_factory=list)


def _field_defaults() -> dict[str, dict[str, Any]]:
    """Each config section's field defaults: what a resume point from before a field existed ran with."""

    out = {
        name: {f.name: default_of(f) for f in fields(cls)}
        for name, cls in (("train", TrainConfig), ("student", StudentConfig), ("data", DataSpec))
    }
    out["train"]["modalities"] = ("j",)  # the default before inputs were resolved per layout
    return out


def _check_resume(stored: dict, current: dict, last: Path) -> None:
    """ConfigError unless the resume point was made with the same settings (epochs, device, precision may change; a
    setting the resume point predates counts as its default)."""
    diffs = []
    defaults = _field_defaults()
    for section in ("role", "train", "student", "input", "data"):
        a, b = stored.get(section), current.get(section)
        if isinstance(a, dict) and isinstance(b, dict):
            old = {k: list(v) if isinstance(v, tuple) else v for k, v in defaults.get(section, {}).items() if k in b}
            a = {**old, **a}
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


def fit(loop: FitJob) -> Path:
    """The epoch loop shared by teacher and student: SGD step schedule, resume, SIGTERM, NaN guard, checkpoints."""
    cfg, model, ctx = loop.cfg, loop.model, loop.ctx
    if loop.device.type == "cpu":
        keep_freed_memory()
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
            if epoch == start_epoch:
                log.announce(len(loop.labels), cfg.batch_size, len(batches), cfg.epochs - start_epoch)
            log.start_epoch(epoch, len(batches), start_step)
            t0 = time.monotonic() - sums.get("seconds", 0.0)
            model.train()
            shards = [D.shard_batch(b, loop.labels, ctx) for b in batches]
            inputs = epoch_inputs(loop.prepare, shards, epoch, start_step, cfg.workers)
            for step, prepared in zip(range(start_step, len(batches)), inputs):
                shard = shards[step]
                torch.manual_seed(seed_of(cfg.seed, epoch, step, ctx.rank))
                opt.zero_grad(set_to_none=True)
                loss, parts, correct = loop.step(shard, prepared)
                D.all_reduce_gradients(loop.params, ctx)
                value = float(loss)
                n = float(len(shard.rows))
                stats = StepStats(
                    value * n,
                    float(correct),
                    n,
                    float(stop[0]),
                    float(not math.isfinite(value)),
                    {k: v * n for k, v in parts.items()},
                ).reduced(ctx, loop.device)
                if stats.nonfinite > 0:
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
                for k, v in {"loss": stats.loss, "correct": stats.correct, "count": stats.count, **stats.terms}.items():
                    sums[k] = sums.get(k, 0.0) + v
                log.advance(step, value)
                if stats.stop > 0:
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


def setup_run(cfg: TrainConfig, out_dir: Path | str) -> tuple[torch.device, bool, D.DistContext, Path]:
    """Device, autocast flag, distributed context (under torchrun) and the created output folder."""
    device = resolve_device(cfg.device)
    ctx = D.init_distributed(device)
    device = D.rank_device(device, ctx)
    out = Path(out_dir)
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
    return device, amp_enabled(cfg.precision, device), ctx, out


def with_modalities(cfg: TrainConfig, layout: Any, role: str) -> TrainConfig:
    """The config with its modalities named: the given ones, else the layout's default for the role."""
    return cfg if cfg.modalities else replace(cfg, modalities=default_modalities(layout, role))


def new_model(
    cfg: TrainConfig, layout: Any, num_classes: int, persons: int, ctx: D.DistContext
) -> tuple[nn.Module, Any]:
    """A freshly initialised model (seeded by cfg.seed; global-batch batch norm under torchrun) and its config."""

    model_cfg = replace(
        resolve_config(cfg.arch, cfg.model),
        persons=persons,
        modalities=cfg.modalities,
        fusion=cfg.fusion_weights,
        exchange=cfg.ikem,
    )
    torch.manual_seed(cfg.seed)
    return D.sync_batch_norm(build_model(cfg.arch, layout, num_classes, model_cfg), ctx), model_cfg


def batch_rng(seed: int, epoch: int, step: int, *stream: int) -> np.random.Generator:
    """The generator of a step's random transforms (`stream` numbers further independent ones), the same on every
    rank: they transform the global batch."""
    return np.random.default_rng([seed, epoch, step, 0, *stream])  # 0: once the rank; single-process draws unchanged


def base_meta(
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
        "data": spec_dict(spec),
        "input": input_settings(cfg, spec),
        "world_size": world,
    }


def ce_step(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward under autocast; returns (logits, features, classification loss)."""

    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        logits, features = model(to_model_input(x))
    return logits, features, classification_loss(model, logits, y)


def classification_loss(model: nn.Module, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the logits; for a multi-stream model the sum of each stream's (and exchange head's)
    cross-entropy from its training forward, so every stream learns as it would alone before late fusion."""
    heads = getattr(model, "train_logits", None)
    if heads:
        return torch.stack([torch.nn.functional.cross_entropy(h.float(), y) for h in heads]).sum()
    return torch.nn.functional.cross_entropy(logits.float(), y)


__all__ = [
    "Cancelled",
    "FitJob",
    "ProgressFn",
    "RunLog",
    "PrepareFn",
    "StepFn",
    "epoch_inputs",
    "StepStats",
    "base_meta",
    "batch_rng",
    "ce_step",
    "classification_loss",
    "fit",
    "new_model",
    "seed_of",
    "setup_run",
    "top1_of",
]
