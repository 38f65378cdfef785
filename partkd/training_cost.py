"""A training run before it starts: how long it takes (the measured seconds per 1,000 clips and epoch of a model size
and input shape, times the run's clips and epochs) and the precision it trains in on this machine."""

from __future__ import annotations

from dataclasses import dataclass

from partkd.engine.config import TrainConfig


@dataclass(frozen=True)
class EpochCost:
    """Seconds per 1,000 training clips per epoch of one training preset's model, input shape and batch size."""

    preset: str
    model: str
    frames: int
    persons: int
    batch_size: int
    seconds: float

    def fits(self, cfg: TrainConfig) -> bool:
        """Whether `cfg` trains the measured model on the measured input shape and batch size."""
        shape = (cfg.model, cfg.frames, cfg.persons, cfg.batch_size)
        return shape == (self.model, self.frames, self.persons, self.batch_size)


#: `s_per_1000_clips_epoch` of each preset in benchmarks/results/epoch_cost.json (`python benchmarks/epoch_cost.py
#: --threads 2`: 2 CPU cores, 2 torch threads; one epoch's median step, validation and data loading excluded).
EPOCH_COSTS: tuple[EpochCost, ...] = (
    EpochCost("smoke", "tiny", 16, 1, 16, 3.0),
    EpochCost("cpu", "small", 48, 1, 32, 17.3),
    EpochCost("paper", "full", 300, 2, 32, 964.4),
)
#: The machine those figures were measured on, as the estimate names it.
MEASURED_ON = "2 cores"


def epoch_cost(cfg: TrainConfig) -> EpochCost | None:
    """The measured cost of the config's model, input shape and batch size (None when not measured)."""
    return next((c for c in EPOCH_COSTS if c.fits(cfg)), None)


def training_seconds(train_clips: int, cfg: TrainConfig) -> float | None:
    """Seconds the config's run takes on `train_clips` clips, its epochs times the measured cost (None when its model
    and shape were not measured)."""
    cost = epoch_cost(cfg)
    return None if cost is None else train_clips / 1000 * cfg.epochs * cost.seconds


def training_estimate(train_clips: int, cfg: TrainConfig) -> str:
    """How long the config's run would take on this many clips, in whole minutes (at least 1), roughly."""
    seconds = training_seconds(train_clips, cfg)
    if seconds is None:
        return f"the {cfg.preset} preset's time per epoch is not measured (benchmarks/epoch_cost.py)"
    minutes = max(1, round(seconds / 60))
    return f"about {minutes} min with the {cfg.preset} preset on {MEASURED_ON} for {train_clips} training clips"


def precision_used(cfg: TrainConfig) -> str:
    """The precision the run trains in here: bf16 where engine.evaluate.amp_enabled allows it on the config's device
    (CUDA, or a CPU with bf16 units), else fp32; a ConfigError for cuda without a GPU."""
    from partkd.engine.evaluate import amp_enabled, resolve_device  # deferred: torch

    return "bf16" if amp_enabled(cfg.precision, resolve_device(cfg.device)) else "fp32"
