"""Inference latency of one clip for partkd backbones on CPU: p50/p95 in fp32 and bf16 autocast.
    python benchmarks/latency.py --save benchmarks/results/latency
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from partkd.models import build_model

sys.path.insert(0, str(Path(__file__).parent))
from throughput import cpu_model  # noqa: E402  (same-folder helper)

CLIPS = {  # name: (layout, frames, persons)
    "penn13-T100-M1": ("penn13", 100, 1),
    "ntu25-T300-M2": ("ntu25", 300, 2),
}


def measure(arch: str, preset: str, clip: str, precision: str, runs: int, warmup: int) -> dict:
    """p50/p95 latency (ms) of a single-clip forward pass in eval mode."""
    layout, frames, persons = CLIPS[clip]
    torch.manual_seed(0)
    model = build_model(arch, layout, 60, preset).eval()
    x = torch.randn(1, 3, frames, model.layout.num_joints, persons)
    times = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000)
    return {"arch": arch, "preset": preset, "clip": clip, "precision": precision,
            "p50_ms": round(float(np.percentile(times, 50)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2),
            "runs": runs}


def main() -> None:
    """CLI: measure every clip × precision and print (and optionally save) the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="stgcn", choices=["stgcn", "agcn"])
    p.add_argument("--preset", default="full", help="model preset (full | small | tiny)")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--save", type=Path, help="write <SAVE>.json and <SAVE>.md")
    a = p.parse_args()
    rows = [measure(a.arch, a.preset, clip, prec, a.runs, a.warmup)
            for clip in CLIPS for prec in a.precisions.split(",")]
    command = "python " + " ".join([os.path.relpath(__file__)] + sys.argv[1:])
    meta = {"cpu": cpu_model(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "date": datetime.date.today().isoformat(), "load_avg_after": os.getloadavg()}
    table = "\n".join(f"| {r['clip']} | {r['precision']} | {r['p50_ms']} | {r['p95_ms']} |" for r in rows)
    md = (f"# Single-clip inference latency ({a.arch}, preset {a.preset})\n\nCommand: `{command}`\n\n"
          f"Device: {meta['cpu']}, {meta['threads']} torch threads, torch {meta['torch']}; date {meta['date']}; "
          f"shared machine (load average after: {meta['load_avg_after']})\n\n"
          f"| clip | precision | p50 ms | p95 ms |\n|---|---|---|---|\n{table}\n")
    if a.save:
        a.save.with_suffix(".json").write_text(json.dumps({"rows": rows, "meta": meta, "command": command}, indent=1))
        a.save.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
