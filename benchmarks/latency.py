"""Inference latency on CPU: one clip through a partkd backbone (p50/p95 in fp32 and bf16 autocast), or, with
--checkpoints, one streaming window through trained checkpoints (preparation + forward, in torch and in
onnxruntime from `partkd export`).
    python benchmarks/latency.py --save benchmarks/results/latency
    python benchmarks/latency.py --checkpoints checkpoints/student_pmsc.safetensors RUN/model.safetensors \
        --runs 200 --threads 1 --save benchmarks/results/latency_windows
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from harness import (
    Provenance,
    add_save_arg,
    add_threads_arg,
    cpu_model,
    md_head,
    md_table,
    provenance,
    publish,
    set_threads,
)

from partkd.models import build_model

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
    return {
        "arch": arch,
        "preset": preset,
        "clip": clip,
        "precision": precision,
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
        "runs": runs,
    }


def _percentiles(times: list[float]) -> dict:
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 3),
        "p95_ms": round(float(np.percentile(times, 95)), 3),
        "mean_ms": round(float(np.mean(times)), 3),
        "runs": len(times),
    }


def measure_windows(path: str, window_s: float, fps: float, runs: int, warmup: int, work: Path) -> list[dict]:
    """Per-window latency of a checkpoint: a window of real clips from its own test data, prepared as evaluation
    prepares it (model_inputs) and classified by torch (batch 1) and by onnxruntime on its exported ONNX file."""
    import contextlib

    import onnxruntime as ort

    from partkd.checkpoints import load_checkpoint
    from partkd.data.dataset import SkeletonDataset
    from partkd.engine.config import data_spec_from_dict
    from partkd.engine.data import load_paired, model_inputs
    from partkd.engine.evaluate import data_side
    from partkd.export import export_onnx
    from partkd.streaming import window_bounds

    loaded = load_checkpoint(path)
    test = data_side(loaded, load_paired(data_spec_from_dict(loaded.meta["data"]))).by_split("test")
    pieces = []
    for clip in test.clips:
        pieces += [clip[:, a:b] for a, b in window_bounds(clip.shape[1], fps, window_s, window_s)]
    pieces = (pieces * (1 + (warmup + runs) // max(len(pieces), 1)))[: warmup + runs]
    one = [
        SkeletonDataset([c], np.zeros(1, np.int64), loaded.class_names, np.array(["test"]), test.layout, ["w"])
        for c in pieces
    ]
    onnx_path = work / f"{Path(path).parent.name}_{Path(path).stem}.onnx"
    with contextlib.redirect_stdout(sys.stderr):
        export_onnx(loaded, onnx_path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(onnx_path), options)
    model = loaded.model.eval()
    out = []
    for runtime in ("torch", "onnxruntime"):
        times = []
        with torch.inference_mode():
            for i, ds in enumerate(one):
                t0 = time.perf_counter()
                x = model_inputs(ds, loaded.meta)
                if runtime == "torch":
                    model(torch.from_numpy(x).permute(0, 4, 2, 3, 1))
                else:
                    session.run(None, {"x": x})
                if i >= warmup:
                    times.append((time.perf_counter() - t0) * 1000)
        out.append(
            {
                "checkpoint": path,
                "runtime": runtime,
                "layout": loaded.layout.name,
                "model": loaded.meta["model"].get("channels"),
                "input_frames": loaded.meta["input"]["frames"],
                "window_s": window_s,
                "fps": fps,
                **_percentiles(times),
            }
        )
    return out


def main_windows(a: argparse.Namespace) -> None:
    """--checkpoints: the per-window table."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            r for path in a.checkpoints for r in measure_windows(path, a.window, a.fps, a.runs, a.warmup, Path(tmp))
        ]
    table = md_table(
        ["checkpoint", "layout", "input T", "runtime", "p50 ms", "p95 ms", "mean ms"],
        [
            [r["checkpoint"], r["layout"], r["input_frames"], r["runtime"], r["p50_ms"], r["p95_ms"], r["mean_ms"]]
            for r in rows
        ],
    )
    _report(
        "Streaming latency per window (preparation + forward, batch 1)",
        f"Windows of {a.window} s at {a.fps:g} Hz cut from each checkpoint's own test clips, {a.runs} timed after "
        f"{a.warmup} warm-up.",
        table,
        rows,
        a.save,
    )


def _report(title: str, protocol: str, table: str, rows: list[dict], save: Path | None) -> None:
    """Print the report (provenance, machine load, protocol, table) and, with --save, write <SAVE>.json (rows, meta,
    command) and <SAVE>.md."""
    prov = provenance()
    meta = {
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "date": prov.date,
        "code": prov.code_version,
        "load_avg_after": os.getloadavg(),
    }
    device = f"{meta['cpu']}, {meta['threads']} torch threads, torch {meta['torch']}"
    head = md_head(title, Provenance(prov.command, prov.date, prov.code_version, device))
    md = "\n".join([*head, f"Shared machine (load average after: {meta['load_avg_after']}). {protocol}", "", table, ""])
    if save:
        publish(save, {"rows": rows, "meta": meta, "command": prov.command}, md)
    print(md)


def main() -> None:
    """CLI: measure every clip × precision (or every checkpoint's windows) and print (and optionally save) it."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="stgcn", choices=["stgcn", "agcn"])
    p.add_argument("--preset", default="full", help="model preset (full | small | tiny)")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    add_save_arg(p)
    p.add_argument("--checkpoints", nargs="+", default=None, help="per-window latency of these checkpoints instead")
    p.add_argument("--window", type=float, default=2.0, help="window length in seconds (--checkpoints)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the windows (--checkpoints)")
    add_threads_arg(p, help="torch (and onnxruntime) threads")
    a = p.parse_args()
    set_threads(a.threads)
    if a.checkpoints:
        main_windows(a)
        return
    rows = [
        measure(a.arch, a.preset, clip, prec, a.runs, a.warmup) for clip in CLIPS for prec in a.precisions.split(",")
    ]
    table = md_table(
        ["clip", "precision", "p50 ms", "p95 ms"], [[r["clip"], r["precision"], r["p50_ms"], r["p95_ms"]] for r in rows]
    )
    _report(
        f"Single-clip inference latency ({a.arch}, preset {a.preset})",
        f"{a.runs} timed runs after {a.warmup} warm-up per clip and precision.",
        table,
        rows,
        a.save,
    )


if __name__ == "__main__":
    main()
