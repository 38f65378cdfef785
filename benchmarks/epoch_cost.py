"""Seconds per 1,000 training clips per epoch of each training preset on this machine (the figure the docs quote to
size a run before starting it; `train-teacher` prints its own measured ETA after its first steps).

Each preset trains a teacher on synthetic ntu25 clips through the engine (train_teacher) for one epoch; the time
of every optimiser step after the first is read from the progress callback; the figure is the median step time ×
1,000 / batch size (validation and data loading before the first step excluded).

    python benchmarks/epoch_cost.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness import (
    RESULTS,
    add_save_arg,
    add_threads_arg,
    md_head,
    md_table,
    provenance,
    publish,
    set_threads,
)

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
    per_step = [(t1 - t0) / (s1 - s0) for (s0, t0), (s1, t1) in zip(stamps, stamps[1:]) if s1 > s0 and s0 >= 1]
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
    """CLI: one epoch of each preset; print and write the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_threads_arg(ap, 2, help="torch threads")
    ap.add_argument("--presets", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    add_save_arg(ap, RESULTS / "epoch_cost")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            rows.append(measure(preset, CLIPS[preset], Path(tmp) / preset))
            print(json.dumps(rows[-1]), flush=True)
    prov = provenance(argv)
    info = {
        "command": prov.command,
        "date": prov.date,
        "machine": prov.machine,
        "code_version": prov.code_version,
        "rows": rows,
    }
    header = [
        "preset",
        "model",
        "T",
        "M",
        "batch",
        "steps timed",
        "s / step (median, range)",
        "s per 1,000 clips per epoch",
    ]
    table = [
        [
            r["preset"],
            r["model"],
            r["frames"],
            r["persons"],
            r["batch_size"],
            r["steps_timed"],
            f"{r['s_per_step_median']:.3f} ({r['s_per_step_spread'][0]:.3f}–{r['s_per_step_spread'][1]:.3f})",
            f"{r['s_per_1000_clips_epoch']:.1f}",
        ]
        for r in rows
    ]
    lines = [
        *md_head("Seconds per 1,000 training clips per epoch, by preset", prov),
        "fp32, synthetic ntu25 clips, median step time over one epoch (first step excluded) × 1,000 / batch size; "
        "validation excluded.",
        "",
        md_table(header, table),
    ]
    publish(args.save, info, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
