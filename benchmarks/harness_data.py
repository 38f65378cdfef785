"""What several benchmark scripts share about the experiments: the real datasets and their protocol, the `bench`
training preset, run-folder helpers, the model input shapes and GEMM peak of the speed benchmarks, and the annotated
heatmap of a part-efficiency matrix E."""

from __future__ import annotations

import functools
import json
import statistics
import time
from pathlib import Path
from typing import Any

from harness import DATA_ROOT

DATASETS: dict[str, dict[str, Any]] = {
    # H = human annotations (penn13, 2D); L = simulated medium pose estimator, COCO-17 (heterogeneous) or penn13.
    "penn_action": {"format": "penn_action", "high": "penn13"},
    # H = Kinect v1 3D (kinect_v1_20); L = simulated 2D COCO-17 estimator output, or a noisy 3D kinect copy (homog.).
    # Its 3D teacher under-fits in 10 epochs (train 75 %, test 52 %): it trains twice as long, with ±30° yaw
    # augmentation because the subjects face the cameras anywhere within about ±50° in every view.
    "nw_ucla": {
        "format": "nw_ucla",
        "high": "kinect_v1_20",
        "teacher": {"epochs": 20, "milestones": (12, 16), "rotate_deg": 30.0},
    },
    # H = Vicon motion capture, 3D in each camera's frame (h36m17); L = the real Stacked-Hourglass detections of that
    # camera (mpii16). Homogeneous: H = the motion capture projected into the camera in the detector's joints, with a
    # teacher of its own. Clips: 5 s windows every 20 s (10 Hz, 4 cameras), about as many clips as Penn Action.
    # The teacher keeps the 10-epoch schedule: trained 20 epochs (×0.1 at 12, 16) it fits the train subjects better
    # (train 52 % vs 46 %) but generalises worse to the test subjects (33.5 % vs 37.8 %).
    "h36m": {
        "format": "h36m",
        "high": "h36m17",
        "low": "real",
        "low_layout": "mpii16",
        "options": {"window_s": 5.0, "stride_s": 20.0},
        "homogeneous_high": "projected",
        "targets": {"0": 3.0, "0.3": 3.0, "0.6": 3.0},
        "min_seeds": 3,
        "every_seed_positive": True,
    },
}
#: Paper table 1 targets for the PMSC gain at each OP (Penn Action); a dataset entry may set its own.
DEFAULT_TARGETS = {"0": 3.0, "0.3": 5.0, "0.6": 7.0}

#: The presets the real-data tables name: the engine's (`bench` is the cpu preset cut to 10 epochs for 2 CPU cores,
#: `partkd train-teacher --preset bench`), and `smoke` cut to one epoch for the benchmarks' own tests.
BENCH_PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "bench": ("bench", {}),
    "cpu": ("cpu", {}),
    "smoke": ("smoke", {"epochs": 1}),
    "paper": ("paper", {}),
}


def train_cfg(preset: str, seed: int, **extra: Any) -> Any:
    """The TrainConfig of a BENCH_PRESETS name with field overrides and the seed; joints unless `modalities` is given
    (the committed tables' teachers read joints, trained before 2D teachers defaulted to bone angles)."""
    from partkd.engine.config import train_preset

    base, over = BENCH_PRESETS[preset]
    return train_preset(base, **{"modalities": ("j",), **over, **extra, "seed": seed})


#: StudentConfig fields only a distilling student reads (a no-KD student trained under other values is the same).
KD_ONLY: tuple[str, ...] = (
    "alpha",
    "tau",
    "w",
    "kl_temperature",
    "efficiency",
    "efficiency_temperature",
    "relational_weight",
    "positives_per_class",
)


def stale(path: Path, spec: Any = None, train: Any = None, student: Any = None) -> list[str]:
    """The settings a finished run recorded that differ from the DataSpec / TrainConfig / StudentConfig asked for
    (empty: safe to reuse); a TrainConfig naming no modality accepts the one the run resolved, a no-KD student
    ignores KD_ONLY."""
    from partkd.checkpoints import read_meta
    from partkd.engine.config import spec_dict, to_dict

    meta = read_meta(path)
    want: dict[str, dict[str, Any]] = {}
    if spec is not None:
        want["data"] = spec_dict(spec)
    if train is not None:
        want["train"] = {k: v for k, v in to_dict(train).items() if k != "modalities" or v}
    if student is not None:
        want["student"] = {k: v for k, v in to_dict(student).items() if student.kd != "none" or k not in KD_ONLY}

    def differs(a: Any, b: Any) -> bool:
        return json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True)

    out = [
        f"{section}.{k}"
        for section, asked in want.items()
        for k, v in asked.items()
        if differs(meta.get(section, {}).get(k, v), v)
    ]
    if spec is not None:  # a data key only the run recorded (e.g. its validation share) differs too
        out += [f"data.{k}" for k in meta.get("data", {}) if k not in want["data"]]
    return out


def refuse_stale(path: Path, spec: Any = None, train: Any = None, student: Any = None) -> None:
    """Stop with one line when a finished run was made with other settings than asked (stale), instead of reusing it."""
    differences = stale(path, spec, train, student)
    if differences:
        raise SystemExit(f"{path}: finished with other settings ({', '.join(differences)}); remove it to retrain")


def data_spec(dataset: str, data_root: Path = DATA_ROOT, level: str = "medium") -> Any:
    """The paired DataSpec of a DATASETS entry (its L source and layout, loader options; data seed 0)."""
    from partkd.engine.config import DataSpec

    ds = DATASETS[dataset]
    return DataSpec(
        source=str(data_root / dataset),
        format=ds["format"],
        low=ds.get("low", "simulate"),
        low_layout=ds.get("low_layout", "coco17"),
        level=level,
        seed=0,
        options=dict(ds.get("options", {})),
    )


def finished(run_dir: Path) -> bool:
    """Whether a run folder holds a finished model (weights and metadata)."""
    return (run_dir / "model.json").exists() and (run_dir / "model.safetensors").exists()


def training_seconds(meta: dict[str, Any]) -> float:
    """A checkpoint's training time: its epochs' seconds, summed (0.1 s)."""
    return round(sum(h["seconds"] for h in meta["history"]), 1)


def mean_std(vals: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def paired_diffs(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[float]:
    """Per-seed top-1 differences a − b in points, over the seeds both lists of {seed, top1} share (a's order)."""
    sb = {s["seed"]: s["top1"] for s in b}
    return [100 * (s["top1"] - sb[s["seed"]]) for s in a if s["seed"] in sb]


# ------------------------------------------------------------------------------------ speed benchmarks (ST-GCN)
SHAPES = {  # name: (partkd layout, peer layout, frames, persons, batch)
    "ntu25-T100-M2-B16": ("ntu25", "nturgb+d", 100, 2, 16),
    "coco17-T64-M1-B32": ("coco17", "coco", 64, 1, 32),
}


def gemm_peak_gflops(precision: str = "fp32", sizes: tuple[int, ...] = (2048, 4096), reps: int = 5) -> float:
    """Best GFLOP/s of n×n matrix products in `precision` (each size `reps` times) with torch's current thread count,
    through both of torch's CPU GEMM routes: torch.mm (MKL) and a 1×1 channels-last convolution (oneDNN, the route
    the models' convolutions take; MKL runs AVX2 code on AMD CPUs, oneDNN AVX-512 where there is one). The roofline's
    peak is the fastest rate the machine is seen to reach, not a typical one."""
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        x = torch.randn(1, n, n, 1, dtype=dtype).contiguous(memory_format=torch.channels_last)
        w = torch.randn(n, n, 1, 1, dtype=dtype)
        for product in (functools.partial(torch.mm, a, b), functools.partial(torch.nn.functional.conv2d, x, w)):
            product()
            for _ in range(reps):
                t0 = time.perf_counter()
                product()
                best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


# ----------------------------------------------------------------------------------- part-efficiency matrices E
def variant_label(part: float, joint: float, mode: str) -> str:
    """A teacher-dropout variant as the reports name it: 'PART : JOINT' (and its part-dropout mode unless 'one')."""
    return f"{part:g} : {joint:g}" + ("" if mode == "one" else f" ({mode})")


def draw_e(ax: Any, E: Any, classes: list[str], title: str, vmax: float, class_size: int = 8, vmin: float = 0.0) -> Any:
    """An annotated classes × parts heatmap of E on a matplotlib axis (colour scale vmin..vmax); returns the image."""
    import numpy as np

    from partkd.layouts import PARTS

    arr = np.asarray(E, dtype=float)
    im = ax.imshow(arr, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(PARTS)), [p.replace("_", " ") for p in PARTS], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=class_size)
    for i in range(arr.shape[0]):
        for j in range(arr.shape[1]):
            ax.text(
                j,
                i,
                f"{arr[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if arr[i, j] < 0.6 * vmax else "black",
            )
    ax.set_title(title, fontsize=8)
    return im


#: The classes of the Penn Action target and the region a coach would name.
COACH = {
    "bench_press": "arms",
    "pullup": "arms",
    "pushup": "arms",
    "strum_guitar": "arms",
    "tennis_serve": "arms",
    "squat": "legs",
    "jump_rope": "legs",
}
REGION = {"head": "head", "left_arm": "arms", "right_arm": "arms", "left_leg": "legs", "right_leg": "legs"}
