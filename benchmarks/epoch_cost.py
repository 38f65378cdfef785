"""Seconds per 1,000 training clips per epoch of each training preset on this machine (the figure the docs quote to
size a run before starting it; `train-teacher` prints its own measured ETA after its first steps).

Each preset trains a teacher on synthetic ntu25 clips through the engine (train_teacher) for one epoch; the time
of every optimiser step after the first is read from the progress callback; the figure is the median step time ×
1,000 / batch size (validation and data loading before the first step excluded).

    python benchmarks/epoch_cost.py --threads 2
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: preset: synthetic clips to train on (enough for a few dozen steps at the preset's batch size)
CLIPS = {"smoke": 480, "cpu": 640, "paper": 160}


def measure(preset: str, clips: int, out: Path) -> dict:
    """One epoch of `preset` on `clips` synthetic clips: median seconds per step and per 1,000 clips."""
    from partkd.engine.config import DataSpec, train_preset
    from partkd.engine.teacher import train_teacher

    cfg = train_preset(preset, epochs=1, precision="fp32", eval_every=1)
    spec = DataSpec(num_classes=10, clips_per_class=clips // 7, synth_frames=max(cfg.frames, 16))  # ~70 % train
    stamps: list[tuple[int, float]] = []

    def progress(p: dict) -> None:
        if p.get("phase") == "teacher" and p.get("step"):
            stamps.append((int(p["step"]), time.monotonic()))

    train_teacher(cfg, spec, out, progress=progress)
    per_step = [
        (t1 - t0) / (s1 - s0) for (s0, t0), (s1, t1) in zip(stamps, stamps[1:]) if s1 > s0 and s0 >= 1
    ]
    median = statistics.median(per_step)
    return {
        "preset": preset,
        "model": cfg.model,
        "frames": cfg.frames,
        "persons": cfg.persons,
        "batch_size": cfg.batch_size,
        "steps_timed": len(per_step),
        "s_per_step_median": round(median, 4),
        "s_per_step_spread": [round(min(per_step), 4), round(max(per_step), 4)],
        "s_per_1000_clips_epoch": round(median * 1000 / cfg.batch_size, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--presets", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    args = ap.parse_args(argv)
    import torch

    from partkd.checkpoints import code_version
    from partkd.io import atomic_write_json, atomic_write_text

    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            rows.append(measure(preset, CLIPS[preset], Path(tmp) / preset))
            print(json.dumps(rows[-1]), flush=True)
    info = {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])]),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.threads} torch threads",
        "code_version": code_version(),
        "rows": rows,
    }
    atomic_write_json(RESULTS / "epoch_cost.json", info)
    lines = [
        "# Seconds per 1,000 training clips per epoch, by preset",
        "",
        f"Command: `{info['command']}`; {info['date']}; {info['machine']}; code {info['code_version']}. fp32, "
        "synthetic ntu25 clips, median step time over one epoch (first step excluded) × 1,000 / batch size; "
        "validation excluded.",
        "",
        "| preset | model | T | M | batch | steps timed | s / step (median, range) | s per 1,000 clips per epoch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['preset']} | {r['model']} | {r['frames']} | {r['persons']} | {r['batch_size']} | {r['steps_timed']} | "
        f"{r['s_per_step_median']:.3f} ({r['s_per_step_spread'][0]:.3f}–{r['s_per_step_spread'][1]:.3f}) | "
        f"{r['s_per_1000_clips_epoch']:.1f} |"
        for r in rows
    ]
    atomic_write_text(RESULTS / "epoch_cost.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
