"""Data: the dataset container, preprocessing/augmentation, degradations and the synthetic paired set."""

from partkd.data.dataset import NO_PAIR, PairedDataset, SkeletonDataset, validate_clip
from partkd.data.estimator import ESTIMATOR_PRESETS, EstimatorSim, simulate_estimator
from partkd.data.inputs import to_array
from partkd.data.occlusion import occlude, occlude_part
from partkd.data.synthetic import SYNTH_ACTIONS, SynthAction, action_parts, make_synthetic
from partkd.data.transforms import augment, fit_frames, fit_persons, normalize_clip

__all__ = [
    "NO_PAIR",
    "PairedDataset",
    "SkeletonDataset",
    "validate_clip",
    "ESTIMATOR_PRESETS",
    "EstimatorSim",
    "occlude",
    "occlude_part",
    "simulate_estimator",
    "SYNTH_ACTIONS",
    "SynthAction",
    "action_parts",
    "make_synthetic",
    "augment",
    "fit_frames",
    "fit_persons",
    "normalize_clip",
    "to_array",
]
