"""Typed run configurations with named presets: what data, how to train, how to distil (method.md §5-7)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from partkd.data.estimator import ESTIMATOR_PRESETS
from partkd.data.formats import FORMATS
from partkd.data.modalities import MODALITIES
from partkd.data.occlusion import DEFAULT_OCCLUSION_MODE, OCCLUSION_MODES
from partkd.data.synthetic import CLEAN_ACTIONS, SYNTH_MOTIONS
from partkd.data.transforms import FRAME_MODES, PART_DROPOUT_MODES
from partkd.distill.definitions import EFFICIENCIES
from partkd.distill.methods import KD_METHODS
from partkd.engine.schema import check_limits, default_of, opt, options
from partkd.errors import ConfigError, where
from partkd.models.config import PRESETS as MODEL_PRESETS
from partkd.models.config import check_streams
from partkd.models.registry import BACKBONES

PRECISIONS: tuple[str, ...] = ("bf16", "fp32")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
#: The layout of simulated low-quality data when none is named: what most pose estimators output.
DEFAULT_LOW_LAYOUT = "coco17"
ESTIMATOR_LEVELS: tuple[str, ...] = tuple(ESTIMATOR_PRESETS)

T = TypeVar("T")


#: The values of `low` that name how L is made; any other value is a path to L files.
LOW_SOURCES: tuple[str, ...] = ("simulate", "real")


@dataclass
class DataSpec:
    """Where the paired data comes from: the synthetic generator or a dataset path, and how L is made.

    `low` is "simulate" (pose-estimator simulation of H into `low_layout`, default coco17; "same" keeps H's layout,
    the homogeneous case), "real" (the real low-quality source a format carries itself, e.g. Human3.6M's detections)
    or a path to a real low-quality dataset whose pair ids link it to H (`low_layout`: that file's layout, when
    it neither embeds one nor has a built-in joint count). `high_layout` is the layout of the `source` files.
    `high_source` picks the high-quality source of such a format (h36m: mocap | projected); `options` are the
    format's loader options (e.g. window_s).
    `frames` and `persons` override the training preset's input shape when set.
    """

    source: str = opt("synthetic", "'synthetic' or a dataset path (H, the high-quality source)", flag="--data")
    format: str | None = opt(None, "dataset format; detected when omitted", choices=FORMATS)
    high_layout: str | None = opt(
        None,
        "layout of the --data files (built-in name or .json/.toml layout file) when they neither embed one nor have "
        "a built-in joint count; may alias joints and declare up / units",
        flags=("--high-layout", "--layout"),
        label="high-quality layout",
    )
    low: str = opt(
        "simulate",
        "'simulate' (pose-estimator simulation of H), 'real' (the format's own low-quality source: h36m "
        "detections) or a path to real low-quality data paired by id",
        label="low quality",
        degradation=True,
    )
    low_format: str | None = opt(None, "format of --low when it is a path", choices=FORMATS)
    low_layout: str | None = opt(
        None,
        f"layout of L: the simulation's target with --low simulate (default {DEFAULT_LOW_LAYOUT}; 'same' = H's), "
        "or the layout of the --low files when they are a path",
        label="low-quality layout",
        degradation=True,
    )
    level: str = opt(
        "medium",
        "pose-estimator simulation level",
        choices=ESTIMATOR_LEVELS,
        label="estimator level",
        degradation=True,
    )
    seed: int = opt(
        0,
        "seed of the synthetic data and of the L simulation",
        flag="--data-seed",
        dest="data_seed",
        low=0,
        degradation=True,
    )
    num_classes: int = opt(
        10,
        "synthetic: number of classes",
        flag="--classes",
        low=2,
        high=len(CLEAN_ACTIONS),
        label="classes",
        synthetic_only=True,
    )
    synth_motion: str = opt(
        "clean",
        "synthetic: action set; clean = only the carrier parts move class-specifically (the ground truth for part "
        "importance), coupled = the earlier set whose carriers drag other parts along",
        choices=SYNTH_MOTIONS,
        label="synthetic motion",
        synthetic_only=True,
    )
    clips_per_class: int = opt(60, "synthetic: clips per class", low=2, high=10_000, synthetic_only=True)
    synth_frames: int = opt(64, "synthetic: frames per clip", low=4, high=10_000, synthetic_only=True)
    frames: int | None = None
    persons: int | None = None
    high_source: str | None = opt(
        None, "high-quality source of a format with several (h36m: mocap, the default, or projected)"
    )
    validation: float = opt(
        0.0,
        "share of the training subjects (of the training clips where the names carry no subject) held out as a "
        "validation split that takes the test split's place: for choosing recipes without reading the test split",
        low=0.0,
        high=0.5,
        step=0.05,
    )
    options: dict[str, Any] = opt(
        {},
        "loader option of the format, repeatable (h36m: window_s, stride_s, frame, fps, frame_step, cameras; see "
        "docs/data_formats.md); VALUE is read as JSON when it parses",
        flag="--data-option",
    )

    def __post_init__(self) -> None:
        if not isinstance(self.options, dict):
            raise ConfigError(where("data.options", f"must be a table of loader options, got {self.options!r}"))
        check_limits(self, "data")
        for name in ("frames", "persons"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(where(f"data.{name}", f"must be >= 1, got {v}"))

    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"

    def describe(self) -> str:
        """One line naming the high- and low-quality data (for captions and summaries)."""
        if self.is_synthetic:
            motion = "" if self.synth_motion == "clean" else f", {self.synth_motion} motion"
            size = f"{self.num_classes} classes × {self.clips_per_class} clips"
            high = f"synthetic actions: {size} (seed {self.seed}{motion})"
        else:
            high = f"{self.source} ({self.format or 'auto-detected format'})"
        if self.validation:
            high += f"; validation split: {self.validation:.0%} of the training subjects, not the test split"
        if self.low not in LOW_SOURCES:
            return f"{high}; low quality: {self.low}" + (f" ({self.low_layout})" if self.low_layout else "")
        if self.low == "real":
            return f"{high}; high quality: {self.high_source or 'default'}; low quality: the dataset's real one"
        return f"{high}; low quality: {self.simulated_layout} simulated at '{self.level}'"

    @property
    def simulated_layout(self) -> str:
        """The layout L is simulated into: `low_layout`, coco17 when unset."""
        return self.low_layout or DEFAULT_LOW_LAYOUT


@dataclass
class TrainConfig:
    """Optimisation recipe and model choice (paper §4.2: SGD 0.9, wd 1e-4, lr 0.1 ×0.1 at 30/40/50, 60 epochs)."""

    preset: str = "paper"  # the named preset these values started from (TRAIN_PRESETS); set by train_preset
    arch: str = opt("stgcn", "backbone: a name registered in models/registry.py", choices=BACKBONES)
    model: str = opt("full", "model preset (models/config.py)", choices=tuple(MODEL_PRESETS))
    epochs: int = opt(60, "run length; without --lr-steps the preset's milestones move to the same fractions", low=1)
    batch_size: int = opt(32, "clips per optimiser step (batch norm and the contrastive sets need 2)", low=2)
    lr: float = opt(0.1, "SGD learning rate", low=0.0, low_open=True)
    milestones: tuple[int, ...] = opt(
        (30, 40, 50), "epochs at which the rate is multiplied by gamma (none given: constant)", flag="--lr-steps", low=1
    )
    gamma: float = opt(0.1, "learning-rate factor at each milestone", low=0.0, low_open=True, high=1.0)
    momentum: float = opt(0.9, "SGD momentum", low=0.0)
    weight_decay: float = opt(1e-4, "SGD weight decay", low=0.0)
    frames: int = opt(300, "input frames T", low=1)
    persons: int = opt(2, "input persons M", low=1)
    frame_mode: str = opt("pad", "how clips are fit to T frames", choices=FRAME_MODES)
    device: str = opt("auto", "auto picks CUDA when present", choices=DEVICES)
    precision: str = opt(
        "bf16",
        "bf16 autocast on CUDA and on CPUs with bf16 units (AMX, AVX512-BF16), fp32 elsewhere",
        choices=PRECISIONS,
    )
    seed: int = opt(0, "seed of the initial weights, batch order and augmentation", low=0)
    augment: bool = opt(True, "no random rotation / scale / shift", flag="--no-augment", negate=True)
    rotate_deg: float = opt(15.0, "augmentation rotation range (±deg; about the vertical axis in 3D)", low=0, high=180)
    eval_every: int = opt(1, "validate every N epochs (and after the last)", low=1)
    workers: int = opt(
        1,
        "DataLoader worker processes making the training batches while a step runs (0: in the training process; "
        "the batches are the same either way)",
        low=0,
        high=16,
    )
    # Teacher only: share of training clips with one random part removed (all frames), and the per-joint, per-frame
    # drop probability, so that a missing part is in distribution when eq. 12 zeroes one (method.md §4). On by
    # default: a teacher that never saw a missing part names the carriers of at most 40 % of the synthetic classes,
    # one trained with 0.5 / 0.1 all of them (benchmarks/results/e_truth_synthetic.md).
    part_dropout: float = opt(
        0.5,
        "teacher: share of training clips with one random part removed in every frame",
        low=0,
        high=1,
        high_open=True,
    )
    joint_dropout: float = opt(
        0.1, "teacher: per-joint, per-frame drop probability of the training clips", low=0, high=1, high_open=True
    )
    part_dropout_mode: str = opt(
        "one",
        "teacher: what a part-dropped clip loses; one = one random part (eq. 12's single occlusions in "
        "distribution), subset = a random 1-4 of the 5 parts (every part subset E's Shapley value reads in "
        "distribution)",
        choices=PART_DROPOUT_MODES,
    )
    modalities: tuple[str, ...] = opt(
        (),
        "input modalities, one backbone stream each with late score fusion (j joint, b bone, jm / bm joint / bone "
        "motion, ja joint acceleration, ba bone angle; e.g. j,b,jm,bm); none given: a teacher of a 2D skeleton "
        "reads ba (translation-free, so its part importance follows the limbs: docs/part_importance.md), "
        "every other model j",
        choices=MODALITIES,
        item=str,
    )
    fusion_weights: tuple[float, ...] = opt(
        (), "late-fusion weight of each modality's scores, in --modalities order (none given: equal)", low=0, item=float
    )
    ikem: bool = opt(False, "IKEM gated feature exchange between the modality streams (needs two or more)")
    fusion_holdout: float = opt(
        0.0,
        "share of each class's train clips held out of training to fit the late-fusion weights on afterwards "
        "(0: the --fusion-weights)",
        low=0,
        high=0.5,
        high_open=True,
        step=0.05,
        label="fusion hold-out",
    )

    def __post_init__(self) -> None:
        self.milestones = tuple(int(m) for m in self.milestones)
        self.modalities = tuple(str(m) for m in self.modalities)
        self.fusion_weights = tuple(float(w) for w in self.fusion_weights)
        check_limits(self, "train")
        check_streams(  # none named: one stream, whichever default_modalities picks
            self.modalities or ("j",), self.fusion_weights, self.ikem, "train", ("modalities", "fusion_weights", "ikem")
        )
        if self.fusion_holdout > 0 and (len(self.modalities) < 2 or self.fusion_weights):
            raise ConfigError(
                where("train.fusion_holdout", "fits the fusion weights of two or more modalities given no weights")
            )

    def lr_at(self, epoch: int) -> float:
        """Step schedule: lr × gamma^(milestones passed) at a 0-based epoch."""
        return self.lr * self.gamma ** sum(epoch >= m for m in self.milestones)


TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    # Paper recipe (GPU): ST-GCN paper blocks, T = 300 zero-padded, M = 2.
    "paper": {},
    # Penn Action-sized data (~1,300 clips) on 2 CPU cores in about 15 minutes.
    "cpu": {
        "model": "small",
        "epochs": 20,
        "batch_size": 32,
        "milestones": (12, 16, 18),
        "frames": 48,
        "persons": 1,
        "frame_mode": "resample",
        "eval_every": 2,
    },
    # The cpu preset cut to 10 epochs (×0.1 at 6 and 8), evaluated every 5: the length of the real-data tables
    # (benchmarks/kd_real.py, benchmarks/occlusion_protocol.py) and of the shipped real-data checkpoints.
    "bench": {
        "model": "small",
        "epochs": 10,
        "batch_size": 32,
        "milestones": (6, 8),
        "frames": 48,
        "persons": 1,
        "frame_mode": "resample",
        "eval_every": 5,
    },
    # Seconds: for tests and the quick synthetic recipe.
    "smoke": {
        "model": "tiny",
        "epochs": 4,
        "batch_size": 16,
        "milestones": (3,),
        "frames": 16,
        "persons": 1,
        "frame_mode": "resample",
        "precision": "fp32",
        "workers": 0,
    },
}


#: The training preset a command line or run config without one gets: minutes on 2 CPU cores.
DEFAULT_PRESET = "cpu"


def scaled_milestones(milestones: tuple[int, ...], epochs: int, new_epochs: int) -> tuple[int, ...]:
    """A step schedule stretched to `new_epochs`: each milestone at the same fraction of the run (rounded half up),
    dropped when it no longer falls inside it."""
    scaled = {int(m * new_epochs / epochs + 0.5) for m in milestones}
    return tuple(sorted(m for m in scaled if 1 <= m < new_epochs))


def _preset_values(name: str, given: dict[str, Any], source: object) -> dict[str, Any]:
    """The preset's values under `given`; a run length set without milestones scales the preset's milestones."""
    if name not in TRAIN_PRESETS:
        raise ConfigError(
            where(f"{source}.preset", f"unknown preset '{name}' (choose from {', '.join(TRAIN_PRESETS)})")
        )
    base = {"epochs": TrainConfig.epochs, "milestones": TrainConfig.milestones, **TRAIN_PRESETS[name]}
    values = {**TRAIN_PRESETS[name], **given, "preset": name}
    if "epochs" in given and "milestones" not in given and isinstance(given["epochs"], int) and given["epochs"] > 0:
        values["milestones"] = scaled_milestones(tuple(base["milestones"]), base["epochs"], given["epochs"])
    return values


def train_preset(name: str, **overrides: Any) -> TrainConfig:
    """A TrainConfig from a named preset (paper | cpu | smoke) with field overrides (None values ignored); a new
    `epochs` without `milestones` moves the preset's milestones to the same fractions of the run."""
    values = _preset_values(name, {k: v for k, v in overrides.items() if v is not None}, "train")
    return _build(TrainConfig, values, "train")


#: How a student's training clips are occluded: all at OP, or each at an OP drawn from [0, OP].
OP_SAMPLINGS = ("fixed", "uniform")


@dataclass
class StudentConfig:
    """Distillation settings: L_student = L_ce + α · L_kd (eq. 4), PMSC τ and w (eqs. 6, 8), occlusion, pairing, and
    the PMSC part weights: softmax over parts (eq. 13) of the teacher's `efficiency` matrix / temperature."""

    kd: str = opt("pmsc", "distillation loss (distill/methods.py)", choices=KD_METHODS, label="KD method")
    alpha: float = opt(1.0, "weight of the KD loss (eq. 4)", low=0.0, high=100.0, step=0.1, label="α (KD weight)")
    # The paper's τ = 1 trains a weaker student on Penn Action and Human3.6M (README, results): 0.1 is the default.
    tau: float = opt(
        0.1,
        "temperature of C(i, j) (eqs. 6-8; 0.1 measured better than the paper's 1 on real data)",
        low=0.0,
        low_open=True,
        high=10.0,
        step=0.05,
        label="τ (temperature)",
    )
    w: float = opt(0.5, "weight of the positives C^P (eq. 8)", low=0.0, high=10.0, step=0.05, label="w (positives)")
    kl_temperature: float = opt(4.0, "temperature of logit KD (--kd kl)", low=0.0, low_open=True, step=0.5)
    op: float = opt(0.0, "occlusion probability of the L inputs", low=0.0, high=1.0, step=0.05, label="OP")
    occlusion: str = opt(DEFAULT_OCCLUSION_MODE, "occlusion mode of the L inputs", choices=OCCLUSION_MODES)
    op_sampling: str = opt(
        "fixed",
        "fixed: every training clip occluded at OP; uniform: each clip at an OP drawn uniformly from [0, OP] (one "
        "student for every OP up to it)",
        choices=OP_SAMPLINGS,
        label="OP sampling",
    )
    paired_fraction: float = opt(
        1.0, "fraction of L clips that keep their H pair", low=0.0, high=1.0, step=0.05, label="paired fraction"
    )
    use_solitary: bool = opt(
        True, "drop unpaired L clips instead of training on them", flag="--no-solitary", negate=True
    )
    positives_per_class: int = opt(2, "further H clips of each batch class drawn as positives", low=1)
    pairing_seed: int = opt(0, "seed of which pairs are kept with --paired-fraction", low=0)
    # The teacher's Shapley E at T 0.2: weights that are not flat (the miss rate's softmax is near 0.2 everywhere) and
    # a PMSC gain on Penn Action above the miss rate's at every OP (benchmarks/results/occlusion_protocol.md).
    efficiency: str = opt(
        "shapley",
        "PMSC part weights: softmax of the teacher's miss rate (eq. 12, the paper), of its true-class "
        "probability drop or of its part Shapley values",
        choices=EFFICIENCIES,
    )
    relational_weight: float = opt(
        1.0, "weight β of relational KD in --kd pmsc_relational (L_pmsc + β·L_rel)", low=0.0, step=0.1
    )
    efficiency_temperature: float = opt(
        0.2, "temperature of that softmax (eq. 13; paper 1, smaller is sharper)", low=0.0, low_open=True, step=0.1
    )

    def __post_init__(self) -> None:
        check_limits(self, "student")


def _build(cls: type[T], values: dict[str, Any], source: object) -> T:
    """Instantiate a config dataclass, rejecting unknown keys and wrongly typed values with one line."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(where(source, f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})"))
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in values:
            item = f.metadata.get("option", {}).get("item", int)
            _check_type(f"{source}.{f.name}", values[f.name], default_of(f), item)
    return cls(**values)


def _check_type(name: str, value: Any, default: Any, item: type = int) -> None:
    """Type check against the field's default (bool, int, float, str, tuple of `item`; None allows str or int)."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    elif isinstance(default, tuple):
        kinds = (int, float) if item is float else (item,)
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, kinds) and not isinstance(v, bool) for v in value)
    else:
        ok = value is None or isinstance(value, (str, int))
    if not ok:
        raise ConfigError(where(name, f"bad value {value!r}"))


def data_spec_from_dict(d: dict[str, Any], source: object = "data") -> DataSpec:
    """DataSpec from a plain dict (a TOML table or checkpoint metadata); unknown keys are an error."""
    return _build(DataSpec, dict(d), source)


def train_config_from_dict(d: dict[str, Any], source: object = "train") -> TrainConfig:
    """TrainConfig from a dict: `preset` (default DEFAULT_PRESET) names the base, the other keys override it."""
    d = dict(d)
    name = d.pop("preset", DEFAULT_PRESET)
    return _build(TrainConfig, _preset_values(name, d, source), source)


def student_config_from_dict(d: dict[str, Any], source: object = "student") -> StudentConfig:
    """StudentConfig from a dict; unknown keys are an error."""
    return _build(StudentConfig, dict(d), source)


def to_dict(cfg: object) -> dict[str, Any]:
    """Plain JSON-able dict of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}  # type: ignore[call-overload]


#: DataSpec fields that say how L is made from H (marked `degradation` in the schema): a checkpoint's are kept when
#: --data names other files of its kind.
DEGRADATION_FIELDS: tuple[str, ...] = tuple(o.name for o in options(DataSpec) if o.degradation)
#: DataSpec fields that only the synthetic generator reads (marked `synthetic_only` in the schema).
SYNTHETIC_ONLY: tuple[str, ...] = tuple(o.name for o in options(DataSpec) if o.synthetic_only)


def spec_dict(spec: DataSpec) -> dict[str, Any]:
    """A DataSpec as recorded in checkpoints and run configs: to_dict without the synthetic-only fields for a
    dataset on disk (they describe nothing there)."""
    out = to_dict(spec)
    if not spec.validation:  # the test split, as every spec recorded before the field existed
        out.pop("validation", None)
    if not spec.is_synthetic:
        for name in SYNTHETIC_ONLY:
            out.pop(name, None)
    return out


__all__ = [
    "DataSpec",
    "TrainConfig",
    "StudentConfig",
    "KD_METHODS",
    "OCCLUSION_MODES",
    "TRAIN_PRESETS",
    "DEFAULT_PRESET",
    "DEFAULT_LOW_LAYOUT",
    "scaled_milestones",
    "train_preset",
    "data_spec_from_dict",
    "train_config_from_dict",
    "student_config_from_dict",
    "to_dict",
]
