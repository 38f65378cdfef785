"""Miscellaneous speed numbers: E-matrix time (Penn Action train set, cpu-preset-sized teacher), dataset load time cold
vs cached (Penn Action, NW-UCLA; a temporary PARTKD_CACHE), and the peak memory (max RSS) of smoke training runs.

    python benchmarks/speed_misc.py                       # all three, results in benchmarks/results/speed_misc.*
    python benchmarks/speed_misc.py --teacher runs/bench/penn_action_bench/teacher_s0/model.safetensors

Every measurement runs in a fresh subprocess (so no in-process cache or warm import hides a cost); times are wall
clock, medians over --repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import (
    DATA_ROOT,
    RESULTS,
    ROOT,
    Provenance,
    add_save_arg,
    add_threads_arg,
    md_head,
    md_table,
    output_path,
    provenance,
    publish,
    run_child,
)

PY = sys.executable
PARTKD = [PY, "-m", "partkd"]

# Child programs: each prints one JSON line as its last line of stdout.
LOAD_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from partkd.data.loaders import load_dataset
t1 = time.perf_counter()
ds = load_dataset(sys.argv[1], format=sys.argv[2])
t2 = time.perf_counter()
out = {"import_s": t1 - t0, "load_s": t2 - t1, "clips": len(ds)}
if len(sys.argv) > 3:
    from partkd.engine.data import simulated
    t3 = time.perf_counter()
    simulated(ds, "coco17", "medium", 0)
    t4 = time.perf_counter()
    simulated(ds, "coco17", "medium", 0)
    out["simulate_s"], out["simulate_cached_s"] = t4 - t3, time.perf_counter() - t4
print(json.dumps(out))
"""

SYNTH_CHILD = r"""
import json, time
from partkd.data.synthetic import make_synthetic
t0, c0 = time.perf_counter(), time.process_time()
pair = make_synthetic(num_classes=10, clips_per_class=60)
print(json.dumps({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "clips": len(pair.high)}))
"""

E_CHILD = r"""
import json, sys, time
import torch
if int(sys.argv[3]) > 0:
    torch.set_num_threads(int(sys.argv[3]))
from partkd.checkpoints import load_checkpoint
from partkd.data.loaders import load_dataset
from partkd.distill.efficiency import part_miss_matrix
from partkd.engine.data import model_inputs
t0 = time.perf_counter()
teacher = load_checkpoint(sys.argv[1])
train = load_dataset(sys.argv[2], format="penn_action").by_split("train")
x = model_inputs(train, teacher.meta)
t1 = time.perf_counter()
part_miss_matrix(teacher.model, x[:64], train.labels[:64], teacher.layout, train.num_classes)   # warm-up
t2 = time.perf_counter()
c2 = time.process_time()
raw = part_miss_matrix(teacher.model, x, train.labels, teacher.layout, train.num_classes)
t3 = time.perf_counter()
c3 = time.process_time()
model = teacher.meta["model"].get("preset") or teacher.meta.get("train", {}).get("model")
print(json.dumps({"prep_s": t1 - t0, "matrix_s": t3 - t2, "matrix_cpu_s": c3 - c2, "clips": int(len(x)),
                  "input_shape": list(x.shape), "threads": torch.get_num_threads(), "model": model,
                  "E_raw_mean": float(raw.mean())}))
"""


def child_json(code: str, args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a child Python program from the repository root; the JSON line it prints last."""
    return run_child([PY, "-c", code, *args], env=env, cwd=ROOT, check=True).last_json()


def penn_teacher_cmd(data: Path, out: Path) -> list[str]:
    """`partkd train-teacher` of a cpu-preset-sized (small model, T = 48) Penn Action teacher for 1 epoch."""
    options = ["--format", "penn_action", "--preset", "cpu", "--epochs", "1"]
    return [*PARTKD, "train-teacher", "--data", str(data), *options, "--out", str(out)]


def train_small_teacher(out: Path, data: Path) -> Path:
    """A cpu-preset-sized Penn Action teacher trained for 1 epoch (E time does not depend on the weights' quality,
    only on the model size and the clip count)."""
    run_child(penn_teacher_cmd(data, out), cwd=ROOT, check=True)
    return out / "model.safetensors"


def main(argv: list[str] | None = None) -> int:
    """CLI: measure the chosen parts, each in fresh subprocesses; keep the other parts' earlier results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--parts",
        nargs="+",
        default=["e_matrix", "load", "memory", "synth"],
        choices=["e_matrix", "load", "memory", "synth"],
    )
    ap.add_argument("--teacher", type=Path, default=None, help="cpu-preset Penn teacher (default: train 1 epoch)")
    ap.add_argument("--repeats", type=int, default=3)
    add_threads_arg(ap, 0, help="torch threads for the E matrix (0 = torch default)")
    ap.add_argument("--data-root", type=Path, default=DATA_ROOT)
    add_save_arg(ap, RESULTS / "speed_misc")
    args = ap.parse_args(argv)
    info = provenance(argv).record()
    res: dict[str, Any] = {**info, "repeats": args.repeats}
    try:
        res["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    saved = output_path(args.save, ".json")
    prev = json.loads(saved.read_text()) if saved.exists() else {}
    for k in ("e_matrix", "load", "memory", "synth"):
        if k not in args.parts and k in prev:
            res[k] = {"command": prev.get("command"), "date": prev.get("date"), **prev[k]}
    tmp = Path(tempfile.mkdtemp(prefix="partkd_speed_"))

    def flush() -> None:
        publish(args.save, res, to_md(res))

    penn = args.data_root / "penn_action"
    if "e_matrix" in args.parts:
        teacher = args.teacher or train_small_teacher(tmp / "penn_teacher", penn)
        runs = [child_json(E_CHILD, [str(teacher), str(penn), str(args.threads)]) for _ in range(args.repeats)]
        times = [r["matrix_s"] for r in runs]
        res["e_matrix"] = {
            "command": info["command"],
            "date": info["date"],
            "teacher": str(teacher),
            "clips": runs[0]["clips"],
            "input_shape": runs[0]["input_shape"],
            "threads": runs[0]["threads"],
            "forward_passes": 5 * runs[0]["clips"],
            "matrix_s_median": statistics.median(times),
            "matrix_s_all": times,
            "matrix_cpu_s_median": statistics.median(r["matrix_cpu_s"] for r in runs),
            "idle_estimate_s": statistics.median(r["matrix_cpu_s"] for r in runs) / runs[0]["threads"],
            "prep_s_median": statistics.median(r["prep_s"] for r in runs),
            "target_s": 20.0,
            "met": statistics.median(times) <= 20.0,
        }
        print(f"E matrix: {statistics.median(times):.2f} s for {runs[0]['clips']} clips", flush=True)
        flush()
    if "load" in args.parts:
        res["load"] = {"command": info["command"], "date": info["date"]}
        for name, fmt in (("penn_action", "penn_action"), ("nw_ucla", "nw_ucla")):
            cold, warm, sim, sim_cached = [], [], [], []
            for i in range(args.repeats):
                cache = tmp / f"cache_{name}_{i}"
                env = {"PARTKD_CACHE": str(cache)}
                c = child_json(LOAD_CHILD, [str(args.data_root / name), fmt], env)
                w = child_json(LOAD_CHILD, [str(args.data_root / name), fmt, "sim"], env)
                cold.append(c["load_s"])
                warm.append(w["load_s"])
                sim.append(w["simulate_s"])
                sim_cached.append(w["simulate_cached_s"])
                clips = c["clips"]
            res["load"][name] = {
                "clips": clips,
                "cold_s_median": statistics.median(cold),
                "cold_s_all": cold,
                "cached_s_median": statistics.median(warm),
                "cached_s_all": warm,
                "speedup": statistics.median(cold) / max(statistics.median(warm), 1e-9),
                "simulate_estimator_s_median": statistics.median(sim),
                "simulate_cached_s_median": statistics.median(sim_cached),
            }
            print(
                f"load {name}: cold {statistics.median(cold):.2f} s, cached {statistics.median(warm):.2f} s, "
                f"simulate {statistics.median(sim):.2f} s, cached {statistics.median(sim_cached):.2f} s",
                flush=True,
            )
            flush()
    if "synth" in args.parts:
        runs = [child_json(SYNTH_CHILD, []) for _ in range(args.repeats)]
        res["synth"] = {
            "command": info["command"],
            "date": info["date"],
            "clips": runs[0]["clips"],
            "wall_s_median": statistics.median(r["wall_s"] for r in runs),
            "cpu_s_median": statistics.median(r["cpu_s"] for r in runs),
            "target_s": 10.0,
        }
        print(f"synthetic 10 x 60: {res['synth']['wall_s_median']:.2f} s", flush=True)
        flush()
    if "memory" in args.parts:
        res["memory"] = {"command": info["command"], "date": info["date"]}
        tdir, sdir = tmp / "smoke_teacher", tmp / "smoke_student"

        def smoke(command: str, out: Path, *options: str) -> list[str]:
            return [*PARTKD, command, "--data", "synthetic", "--preset", "smoke", *options, "--out", str(out)]

        kd = ["--teacher", str(tdir / "model.safetensors"), "--kd", "pmsc", "--op", "0.3"]
        cmds = {
            "train-teacher synthetic smoke": smoke("train-teacher", tdir),
            "train-student synthetic smoke pmsc OP 0.3": smoke("train-student", sdir, *kd),
            "train-teacher penn_action cpu preset, 1 epoch": penn_teacher_cmd(penn, tmp / "cpu_teacher"),
        }
        for label, cmd in cmds.items():
            run = run_child(cmd, cwd=ROOT)
            res["memory"][label] = {
                "command": " ".join(["partkd"] + cmd[3:]).replace(str(tmp), "$TMP"),
                "max_rss_mib": round(run.peak_rss_mib, 1),
                "wall_s": round(run.seconds, 1),
                "exit": run.returncode,
            }
            print(
                f"{label}: max RSS {run.peak_rss_mib:.0f} MiB, {run.seconds:.1f} s (exit {run.returncode})", flush=True
            )
            flush()
    try:
        res["loadavg_end"] = os.getloadavg()
    except OSError:
        pass
    flush()
    print(to_md(res))
    return 0


def _section(title: str, part: dict[str, Any], res: dict[str, Any], table: str) -> list[str]:
    """A part's report section: its title, the command and date that measured it, its table."""
    measured = f"Measured by `{part.get('command') or res['command']}` on {part.get('date') or res['date']}.\n"
    return [f"## {title}", "", measured, table, ""]


def to_md(res: dict[str, Any]) -> str:
    """The report: one section per part measured (by this command or, where it says so, an earlier one)."""
    loadavg = ", ".join(f"{v:.1f}" for v in res.get("loadavg_start", []))
    lines = [
        *md_head(
            "Miscellaneous speed: E matrix, dataset loading, synthetic data, peak memory", Provenance.from_record(res)
        ),
        f"Load average at start {loadavg} (shared machine). Medians of {res['repeats']} fresh subprocesses.",
        "",
    ]
    e = res.get("e_matrix")
    if e:
        times = ", ".join(f"{t:.2f}" for t in e["matrix_s_all"])
        header = ["clips", "input (N, M, T, V, C)", "forward passes", "torch threads", "time (s)", "target", "met"]
        row = [
            e["clips"],
            tuple(e["input_shape"]),
            e["forward_passes"],
            e["threads"],
            f"{e['matrix_s_median']:.2f} (all: {times})",
            "≤ 20 s",
            "yes" if e["met"] else "no",
        ]
        lines += _section(
            "Part-efficiency matrix E (eq. 12) on the Penn Action training set",
            e,
            res,
            md_table(header, [row]),
        )
        lines += [
            f"Process CPU time of the call: {e['matrix_cpu_s_median']:.1f} s, i.e. about {e['idle_estimate_s']:.1f} s "
            f"of wall time on {e['threads']} otherwise idle cores (CPU time / threads; wall time on this shared "
            "machine is inflated by the other jobs, see the load average).",
            "",
            f"Teacher: cpu-preset-sized ST-GCN (`small`, T = 48, M = 1), `{e['teacher']}`. Time = the "
            "`part_miss_matrix` call (the 5 part-occluded copies of each clip, one batched pass per 64 clips); "
            f"loading and preparing the inputs took a further {e['prep_s_median']:.2f} s.",
            "",
        ]
    ld = res.get("load")
    if ld:
        header = [
            "dataset",
            "clips",
            "cold (s)",
            "cached (s)",
            "speed-up",
            "+ simulated L, coco17 medium: first / cached (s)",
        ]
        rows = [
            [
                name,
                v["clips"],
                f"{v['cold_s_median']:.2f}",
                f"{v['cached_s_median']:.3f}",
                f"{v['speedup']:.0f}×",
                f"{v['simulate_estimator_s_median']:.2f} / {v.get('simulate_cached_s_median', float('nan')):.2f}",
            ]
            for name, v in ld.items()
            if isinstance(v, dict)
        ]
        lines += _section(
            "Dataset load time, cold vs cached (`load_dataset`, temporary PARTKD_CACHE)",
            ld,
            res,
            md_table(header, rows),
        )
    sy = res.get("synth")
    if sy:
        row = [sy["clips"], f"{sy['wall_s_median']:.2f}", f"{sy['cpu_s_median']:.2f}", "< 10 s"]
        lines += _section(
            "Built-in synthetic paired dataset (10 classes × 60 clips, high + simulated low)",
            sy,
            res,
            md_table(["clips", "wall (s)", "CPU (s)", "target"], [row]),
        )
    mem = res.get("memory")
    if mem:
        rows = [
            [label, f"`{v['command']}`", f"{v['max_rss_mib']:.0f}", f"{v['wall_s']:.1f}"]
            for label, v in mem.items()
            if isinstance(v, dict)
        ]
        lines += _section(
            "Peak memory (max RSS of the training process)",
            mem,
            res,
            md_table(["run", "command", "max RSS (MiB)", "wall (s)"], rows),
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
