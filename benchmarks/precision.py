"""Training precision on this CPU: the same teacher recipe trained in fp32 and in bf16 autocast, per seed, on a real
dataset: test top-1 (evaluated in fp32), training seconds and the part matrix's seconds (E runs in the teacher's
training precision).

    python benchmarks/precision.py --dataset penn_action --seeds 0 1 2 --save benchmarks/results/precision_penn_action

The two precisions alternate within each seed. bf16 is only used where the engine enables it (CUDA, or a CPU with
AMX or AVX512-BF16: partkd.engine.evaluate.amp_enabled); each run records the precision it used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    DATA_ROOT,
    Provenance,
    add_save_arg,
    add_seeds_arg,
    add_threads_arg,
    cpu_features,
    md_head,
    md_table,
    provenance,
    publish,
    set_threads,
)
from harness_data import DATASETS

PRECISIONS = ("fp32", "bf16")


def train_one(dataset: str, preset: str, precision: str, seed: int, work: Path) -> dict[str, Any]:
    """Train one teacher, compute its part matrix, evaluate it on the test split; seconds and top-1."""
    from partkd.checkpoints import load_checkpoint, read_meta
    from partkd.engine.config import DataSpec, train_preset
    from partkd.engine.data import load_high
    from partkd.engine.evaluate import evaluate
    from partkd.engine.teacher import compute_part_matrix, train_teacher

    ds = DATASETS[dataset]
    spec = DataSpec(source=str(DATA_ROOT / dataset), format=ds["format"], seed=0, options=dict(ds.get("options", {})))
    t0 = time.perf_counter()
    path = train_teacher(train_preset(preset, precision=precision, seed=seed), spec, work)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    compute_part_matrix(path, spec)
    part_s = time.perf_counter() - t0
    meta = read_meta(path)
    m = evaluate(load_checkpoint(path), load_high(spec).by_split("test"))
    return {
        "precision": precision,
        "seed": seed,
        "precision_used": meta.get("precision_used"),
        "top1": m["top1"],
        "top5": m["top5"],
        "train_seconds": round(train_s, 1),
        "part_matrix_seconds": round(part_s, 1),
        "epoch_seconds": [round(h["seconds"], 1) for h in meta["history"]],
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-precision medians and the paired bf16 − fp32 differences (top-1 points, time ratios) per seed."""
    by = {(r["seed"], r["precision"]): r for r in runs}
    seeds = sorted({r["seed"] for r in runs if (r["seed"], "fp32") in by and (r["seed"], "bf16") in by})
    out: dict[str, Any] = {"seeds_paired": seeds}
    for p in PRECISIONS:
        rs = [r for r in runs if r["precision"] == p]
        if rs:
            out[p] = {k: statistics.median(r[k] for r in rs) for k in ("top1", "train_seconds", "part_matrix_seconds")}
    if seeds:
        diff = [100 * (by[s, "bf16"]["top1"] - by[s, "fp32"]["top1"]) for s in seeds]
        speed = [by[s, "fp32"]["train_seconds"] / by[s, "bf16"]["train_seconds"] for s in seeds]
        part = [by[s, "fp32"]["part_matrix_seconds"] / by[s, "bf16"]["part_matrix_seconds"] for s in seeds]
        out.update(
            top1_diff_points=diff,
            top1_diff_median=statistics.median(diff),
            train_speedup=[round(x, 3) for x in speed],
            train_speedup_median=statistics.median(speed),
            part_matrix_speedup=[round(x, 3) for x in part],
            part_matrix_speedup_median=statistics.median(part),
        )
    return out


def markdown(res: dict[str, Any]) -> str:
    """The result as a markdown report with its command, machine, date and code version."""
    rows = [
        [
            r["seed"],
            f"{r['precision']} ({r['precision_used']} used)",
            f"{100 * r['top1']:.2f}",
            f"{100 * r['top5']:.2f}",
            r["train_seconds"],
            r["part_matrix_seconds"],
        ]
        for r in res["runs"]
    ]
    s = res["summary"]
    device = f"{res['device']} ({res['cpu_features']})"
    lines = [
        *md_head(
            f"Training precision: fp32 against bf16 autocast ({res['dataset']}, `{res['preset']}` preset)",
            Provenance(res["command"], res["date"], res["code_version"], device),
        ),
        "Teacher on the dataset's high-quality clips, evaluated on its test split in fp32; the part matrix "
        "(32 part subsets over the train clips) runs in the teacher's training precision.",
        "",
        md_table(["seed", "precision", "test top-1 %", "top-5 %", "training s", "part matrix s"], rows),
        "",
    ]
    if "top1_diff_points" in s:
        d = ", ".join(f"{x:+.2f}" for x in s["top1_diff_points"])
        lines += [
            f"- bf16 − fp32 test top-1 per seed: {d} points (median {s['top1_diff_median']:+.2f})",
            f"- training speed-up fp32 s / bf16 s per seed: {s['train_speedup']} "
            f"(median {s['train_speedup_median']:.2f}×)",
            f"- part matrix speed-up: {s['part_matrix_speedup']} (median {s['part_matrix_speedup_median']:.2f}×)",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: train each seed's teacher in fp32 and bf16; print and (with --save) write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=sorted(DATASETS), default="penn_action")
    ap.add_argument("--preset", default="cpu", help="engine training preset (default cpu, the default recipe)")
    add_seeds_arg(ap, [0, 1, 2])
    add_threads_arg(ap, 2, help="torch threads")
    ap.add_argument("--work", type=Path, default=None, help="run folders (default: a temporary folder)")
    add_save_arg(ap)
    args = ap.parse_args(argv)

    set_threads(args.threads)
    res: dict[str, Any] = {
        "dataset": args.dataset,
        "preset": args.preset,
        "cpu_features": cpu_features(),
        **provenance(argv).record(),
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        for seed in args.seeds:
            for precision in PRECISIONS:
                run = train_one(args.dataset, args.preset, precision, seed, work / f"{precision}_s{seed}")
                res["runs"].append(run)
                res["summary"] = summary(res["runs"])
                print(json.dumps(run), flush=True)
                if args.save:
                    publish(args.save, res, markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
