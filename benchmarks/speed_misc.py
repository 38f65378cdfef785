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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kd_real import DATA_ROOT, RESULTS, ROOT, atomic_json, atomic_text, env_info  # noqa: E402

PY = sys.executable

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
print(json.dumps({"prep_s": t1 - t0, "matrix_s": t3 - t2, "matrix_cpu_s": c3 - c2, "clips": int(len(x)), "input_shape": list(x.shape),
                  "threads": torch.get_num_threads(), "model": teacher.meta["model"].get("preset") or
                  teacher.meta.get("train", {}).get("model"), "E_raw_mean": float(raw.mean())}))
"""


def run_child(code: str, args: list[str], env: dict[str, str] | None = None) -> tuple[dict[str, Any], float, int]:
    """Run a child Python program; returns (its JSON line, wall seconds, max RSS in MiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([PY, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, **(env or {})}, cwd=ROOT)
    out, err = p.communicate()
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"child failed ({p.returncode}): {err.strip().splitlines()[-1] if err.strip() else ''}")
    return json.loads(out.strip().splitlines()[-1]), wall, 0


def run_cmd_rss(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Run a command; returns (wall seconds, max RSS MiB of that process, exit status) via wait4."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                         cwd=ROOT)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t0, usage.ru_maxrss / 1024.0, p.returncode


def train_small_teacher(out: Path, data: Path) -> Path:
    """A cpu-preset-sized (small model, T = 48) Penn Action teacher trained for 1 epoch (E time does not depend on
    the weights' quality, only on the model size and the clip count)."""
    cmd = [PY, "-m", "partkd", "train-teacher", "--data", str(data), "--format", "penn_action", "--preset", "cpu",
           "--epochs", "1", "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out / "model.safetensors"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", nargs="+", default=["e_matrix", "load", "memory", "synth"],
                    choices=["e_matrix", "load", "memory", "synth"])
    ap.add_argument("--teacher", type=Path, default=None, help="cpu-preset Penn teacher (default: train 1 epoch)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads for the E matrix (0 = torch default)")
    ap.add_argument("--data-root", type=Path, default=DATA_ROOT)
    ap.add_argument("--save", type=Path, default=RESULTS / "speed_misc")
    args = ap.parse_args(argv)
    info = env_info([sys.argv[0]] + (argv if argv is not None else sys.argv[1:]))
    res: dict[str, Any] = {**info, "repeats": args.repeats}
    try:
        res["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    prev = json.loads(args.save.with_suffix(".json").read_text()) if args.save.with_suffix(".json").exists() else {}
    for k in ("e_matrix", "load", "memory", "synth"):
        if k not in args.parts and k in prev:
            res[k] = {"command": prev.get("command"), "date": prev.get("date"), **prev[k]}
    tmp = Path(tempfile.mkdtemp(prefix="partkd_speed_"))

    def flush() -> None:
        atomic_json(args.save.with_suffix(".json"), res)
        atomic_text(args.save.with_suffix(".md"), to_md(res))

    penn = args.data_root / "penn_action"
    if "e_matrix" in args.parts:
        teacher = args.teacher or train_small_teacher(tmp / "penn_teacher", penn)
        runs = [run_child(E_CHILD, [str(teacher), str(penn), str(args.threads)])[0] for _ in range(args.repeats)]
        times = [r["matrix_s"] for r in runs]
        res["e_matrix"] = {"command": info["command"], "date": info["date"], "teacher": str(teacher), "clips": runs[0]["clips"], "input_shape": runs[0]["input_shape"],
                           "threads": runs[0]["threads"], "forward_passes": 5 * runs[0]["clips"],
                           "matrix_s_median": statistics.median(times), "matrix_s_all": times,
                           "matrix_cpu_s_median": statistics.median(r["matrix_cpu_s"] for r in runs),
                           "idle_estimate_s": statistics.median(r["matrix_cpu_s"] for r in runs) / runs[0]["threads"],
                           "prep_s_median": statistics.median(r["prep_s"] for r in runs),
                           "target_s": 20.0, "met": statistics.median(times) <= 20.0}
        print(f"E matrix: {statistics.median(times):.2f} s for {runs[0]['clips']} clips", flush=True)
        flush()
    if "load" in args.parts:
        res["load"] = {"command": info["command"], "date": info["date"]}
        for name, fmt in (("penn_action", "penn_action"), ("nw_ucla", "nw_ucla")):
            cold, warm, sim, sim_cached = [], [], [], []
            for i in range(args.repeats):
                cache = tmp / f"cache_{name}_{i}"
                env = {"PARTKD_CACHE": str(cache)}
                c, cw, _ = run_child(LOAD_CHILD, [str(args.data_root / name), fmt], env)
                w, ww, _ = run_child(LOAD_CHILD, [str(args.data_root / name), fmt, "sim"], env)
                cold.append(c["load_s"])
                warm.append(w["load_s"])
                sim.append(w["simulate_s"])
                sim_cached.append(w["simulate_cached_s"])
                clips = c["clips"]
            res["load"][name] = {"clips": clips, "cold_s_median": statistics.median(cold), "cold_s_all": cold,
                                 "cached_s_median": statistics.median(warm), "cached_s_all": warm,
                                 "speedup": statistics.median(cold) / max(statistics.median(warm), 1e-9),
                                 "simulate_estimator_s_median": statistics.median(sim),
                                 "simulate_cached_s_median": statistics.median(sim_cached)}
            print(f"load {name}: cold {statistics.median(cold):.2f} s, cached {statistics.median(warm):.2f} s, "
                  f"simulate {statistics.median(sim):.2f} s, cached {statistics.median(sim_cached):.2f} s", flush=True)
            flush()
    if "synth" in args.parts:
        runs = [run_child(SYNTH_CHILD, [])[0] for _ in range(args.repeats)]
        res["synth"] = {"command": info["command"], "date": info["date"], "clips": runs[0]["clips"],
                        "wall_s_median": statistics.median(r["wall_s"] for r in runs),
                        "cpu_s_median": statistics.median(r["cpu_s"] for r in runs), "target_s": 10.0}
        print(f"synthetic 10 x 60: {res['synth']['wall_s_median']:.2f} s", flush=True)
        flush()
    if "memory" in args.parts:
        res["memory"] = {"command": info["command"], "date": info["date"]}
        tdir, sdir = tmp / "smoke_teacher", tmp / "smoke_student"
        cmds = {
            "train-teacher synthetic smoke": [PY, "-m", "partkd", "train-teacher", "--data", "synthetic", "--preset",
                                              "smoke", "--out", str(tdir)],
            "train-student synthetic smoke pmsc OP 0.3": [PY, "-m", "partkd", "train-student", "--data", "synthetic",
                                                          "--preset", "smoke", "--teacher",
                                                          str(tdir / "model.safetensors"), "--kd", "pmsc", "--op",
                                                          "0.3", "--out", str(sdir)],
            "train-teacher penn_action cpu preset, 1 epoch": [PY, "-m", "partkd", "train-teacher", "--data", str(penn),
                                                              "--format", "penn_action", "--preset", "cpu",
                                                              "--epochs", "1", "--out", str(tmp / "cpu_teacher")],
        }
        for label, cmd in cmds.items():
            wall, rss, rc = run_cmd_rss(cmd)
            res["memory"][label] = {"command": " ".join(["partkd"] + cmd[3:]).replace(str(tmp), "$TMP"),
                                    "max_rss_mib": round(rss, 1), "wall_s": round(wall, 1), "exit": rc}
            print(f"{label}: max RSS {rss:.0f} MiB, {wall:.1f} s (exit {rc})", flush=True)
            flush()
    try:
        res["loadavg_end"] = os.getloadavg()
    except OSError:
        pass
    flush()
    print(to_md(res))
    return 0


def _cmd(section: dict[str, Any], res: dict[str, Any]) -> str:
    return (f"Measured by `{section.get('command') or res['command']}` on {section.get('date') or res['date']}.\n")


def to_md(res: dict[str, Any]) -> str:
    lines = ["# Miscellaneous speed: E matrix, dataset loading, synthetic data, peak memory", "", f"Last command: `{res['command']}`", "",
             f"Device: {res['device']}; date {res['date']}; code {res['code_version']}; load average at start "
             f"{', '.join(f'{v:.1f}' for v in res.get('loadavg_start', []))} (shared machine). Medians of "
             f"{res['repeats']} fresh subprocesses.", ""]
    e = res.get("e_matrix")
    if e:
        lines += ["## Part-efficiency matrix E (eq. 12) on the Penn Action training set", "", _cmd(e, res),
                  "| clips | input (N, M, T, V, C) | forward passes | torch threads | time (s) | target | met |",
                  "|---|---|---|---|---|---|---|",
                  f"| {e['clips']} | {tuple(e['input_shape'])} | {e['forward_passes']} | {e['threads']} | "
                  f"{e['matrix_s_median']:.2f} (all: {', '.join(f'{t:.2f}' for t in e['matrix_s_all'])}) | ≤ 20 s | "
                  f"{'yes' if e['met'] else 'no'} |", "",
                  f"Process CPU time of the call: {e['matrix_cpu_s_median']:.1f} s, i.e. about "
                  f"{e['idle_estimate_s']:.1f} s of wall time on {e['threads']} otherwise idle cores (CPU time / threads; "
                  f"wall time on this shared machine is inflated by the other jobs, see the load average).", "",
                  f"Teacher: cpu-preset-sized ST-GCN (`small`, T = 48, M = 1), `{e['teacher']}`. Time = the "
                  f"`part_miss_matrix` call (the 5 part-occluded copies of each clip, one batched pass per 64 clips); loading and "
                  f"preparing the inputs took a further {e['prep_s_median']:.2f} s.", ""]
    ld = res.get("load")
    if ld:
        lines += ["## Dataset load time, cold vs cached (`load_dataset`, temporary PARTKD_CACHE)", "", _cmd(ld, res),
                  "| dataset | clips | cold (s) | cached (s) | speed-up | + simulated L, coco17 medium: first / cached (s) |",
                  "|---|---|---|---|---|---|"]
        for name, v in ld.items():
            if not isinstance(v, dict):
                continue
            lines.append(f"| {name} | {v['clips']} | {v['cold_s_median']:.2f} | {v['cached_s_median']:.3f} | "
                         f"{v['speedup']:.0f}× | {v['simulate_estimator_s_median']:.2f} / "
                         f"{v.get('simulate_cached_s_median', float('nan')):.2f} |")
        lines.append("")
    sy = res.get("synth")
    if sy:
        lines += ["## Built-in synthetic paired dataset (10 classes × 60 clips, high + simulated low)", "", _cmd(sy, res),
                  "| clips | wall (s) | CPU (s) | target |", "|---|---|---|---|",
                  f"| {sy['clips']} | {sy['wall_s_median']:.2f} | {sy['cpu_s_median']:.2f} | < 10 s |", ""]
    mem = res.get("memory")
    if mem:
        lines += ["## Peak memory (max RSS of the training process)", "", _cmd(mem, res), "| run | command | max RSS (MiB) | wall (s) |",
                  "|---|---|---|---|"]
        for label, v in mem.items():
            if not isinstance(v, dict):
                continue
            lines.append(f"| {label} | `{v['command']}` | {v['max_rss_mib']:.0f} | {v['wall_s']:.1f} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
