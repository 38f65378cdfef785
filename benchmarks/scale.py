"""Cost against dataset size on this machine: pyskl-format sets of random smooth skeletons, NTU shape (ntu25 3D,
1 person, 2 in a fifth of the clips, 32-299 frames) and Kinetics-like (coco17 2D with scores, 1-3 persons, 150-300
frames), and for each set every command in a fresh process with its own cache: `data inspect` cold (parse +
writing the clip store) and warm (from the store), the first training step of `train-teacher` at the paper preset
(T = 300, M = 2) with an empty cache (the run parses the pickle) and with the store made, and at the cpu preset,
E (`part-matrix`) and `evaluate` of one smoke teacher; wall time and peak RSS (the process's VmHWM, polled), then
the log-log slopes from 20k clips up and a plot.

    python benchmarks/scale.py --ntu 5000 20000 57000 114000 --kinetics 5000 20000 --threads 2 --work /tmp/scale
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PARTKD = [sys.executable, "-m", "partkd"]
SHAPES = {
    # a fifth of NTU's clips are two-person (its mutual actions): ~59 KB per clip, as NTU-120's pyskl pickle
    "ntu": {"joints": 25, "dims": 3, "persons": (0.8, 0.2), "frames": (32, 299), "classes": 60},
    "kinetics": {"joints": 17, "dims": 2, "persons": (0.5, 0.3, 0.2), "frames": (150, 300), "classes": 400},
}


def make_set(path: Path, n: int, kind: str, seed: int = 0) -> None:
    """A pyskl annotation pickle of `n` random smooth clips of `kind` (SHAPES), split 60/40 by index."""
    s = SHAPES[kind]
    rng = np.random.default_rng(seed)
    v, d = s["joints"], s["dims"]
    base = rng.normal(scale=0.3 if d == 3 else 60.0, size=(v, d)).astype(np.float32)
    anns = []
    for i in range(n):
        m = 1 + int(rng.choice(len(s["persons"]), p=s["persons"]))
        t = int(rng.integers(s["frames"][0], s["frames"][1] + 1))
        freq = rng.uniform(0.2, 1.5, size=(m, 1, v, d)) / 30.0
        phase = rng.uniform(0, 2 * np.pi, size=(m, 1, v, d))
        amp = rng.uniform(0.02, 0.1, size=(m, 1, v, d)) * (1.0 if d == 3 else 200.0)
        frames = np.arange(t, dtype=np.float32)[None, :, None, None]
        offset = rng.normal(scale=1.0 if d == 3 else 300.0, size=(m, 1, 1, d))
        kp = (base + offset + amp * np.sin(2 * np.pi * freq * frames + phase)).astype(np.float32)
        if d == 3:
            kp[..., 2] += 3.0  # in front of the camera, as NTU's
        label = i % s["classes"]
        name = f"S{1 + i % 17:03d}C001P{1 + i % 40:03d}R001A{1 + label % 60:03d}_{i}" if kind == "ntu" else f"k{i:07d}"
        ann = {"frame_dir": name, "label": label, "total_frames": t, "keypoint": kp}
        if d == 2:
            ann["keypoint_score"] = rng.uniform(0.3, 1.0, size=(m, t, v)).astype(np.float32)
            ann["img_shape"] = (1080, 1920)
        anns.append(ann)
    names = [a["frame_dir"] for a in anns]
    cut = int(0.6 * n)
    doc = {"split": {"xsub_train": names[:cut], "xsub_val": names[cut:]}, "annotations": anns}
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(doc, f, protocol=4)
    tmp.replace(path)


def make_in_child(path: Path, n: int, kind: str) -> None:
    """make_set in a child process: the measuring parent never holds a set (children inherit its RSS high mark)."""
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import scale; " \
           f"scale.make_set(__import__('pathlib').Path({str(path)!r}), {n}, {kind!r})"
    subprocess.run([sys.executable, "-c", code], check=True)


def run(cmd: list[str], env: dict, until_step: Path | None = None, timeout: float = 3600) -> dict:
    """Run `cmd`; wall seconds and peak RSS (GB). With `until_step` (a progress.json), stop the process once it
    reports its first optimiser step and return the time to it."""
    start = time.monotonic()
    err_file = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: nothing blocks on a child's output
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err_file, text=True, start_new_session=True)
    hwm = 0.0
    stopped = False
    while proc.poll() is None and time.monotonic() - start < timeout:
        hwm = max(hwm, _vm_hwm(proc.pid))  # VmHWM: wait4's ru_maxrss starts from the forking parent's RSS
        try:
            step = json.loads(until_step.read_text()).get("step", 0) if until_step is not None else 0
        except (OSError, ValueError):
            step = 0
        if step >= 1:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its DataLoader worker
            stopped = True
            break
        time.sleep(0.2)
    first = time.monotonic() - start
    status = proc.wait()
    seconds = first if stopped else time.monotonic() - start
    err_file.seek(0)
    err = err_file.read()
    ok = stopped or status == 0
    return {
        "seconds": round(seconds, 1),
        "peak_rss_gb": round(hwm, 3),
        "ok": ok,
        **({} if ok else {"error": err.strip().splitlines()[-1:] or ["exit " + str(status)]}),
    }


def _vm_hwm(pid: int) -> float:
    """The process's peak resident set so far (GB) from /proc."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    return next((int(x.split()[1]) * 1024 / 1e9 for x in lines if x.startswith("VmHWM:")), 0.0)


def measure(kind: str, n: int, work: Path, threads: int, teacher: Path | None, e_max: int) -> dict:
    """Every measurement of one set (made first when absent)."""
    pkl = work / f"{kind}_{n}.pkl"
    started = time.monotonic()
    if not pkl.exists():
        make_in_child(pkl, n, kind)
    made = time.monotonic() - started
    cache = work / f"cache_{kind}_{n}"
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    env = {**os.environ, "PARTKD_CACHE": str(cache), "OMP_NUM_THREADS": str(threads)}
    data = ["--data", str(pkl), "--format", "pyskl"]
    row: dict = {"kind": kind, "clips": n, "file_gb": round(pkl.stat().st_size / 1e9, 3), "make_s": round(made, 1)}
    for preset, key in (("paper", "first_step_paper_cold"), (None, "inspect_cold"), (None, "inspect_warm"),
                        ("paper", "first_step_paper"), ("cpu", "first_step_cpu")):
        if key.endswith("cold"):
            subprocess.run(["rm", "-rf", str(cache)], check=True)  # nothing parsed yet: the run pays the parse
        if preset is None:
            row[key] = run([*PARTKD, "data", "inspect", str(pkl), "--format", "pyskl"], env)
            continue
        out = work / f"run_{kind}_{n}_{key}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        cmd = [*PARTKD, "train-teacher", *data, "--preset", preset, "--model", "tiny", "--out", str(out),
               "--threads", str(threads)]
        row[key] = run(cmd, env, until_step=out / "progress.json")
    if teacher is not None:
        if n <= e_max:
            row["part_matrix"] = run([*PARTKD, "part-matrix", str(teacher), *data, "--threads", str(threads),
                                      "--json", str(work / f"e_{kind}_{n}.json")], env)
        row["evaluate"] = run([*PARTKD, "evaluate", str(teacher), *data, "--threads", str(threads)], env)
    return row


def smoke_teacher(kind: str, n: int, work: Path, threads: int) -> Path:
    """A smoke-preset tiny teacher, one epoch on the smallest set of `kind` (what E and evaluate time)."""
    out = work / f"teacher_{kind}"
    if not (out / "model.safetensors").exists():
        pkl = work / f"{kind}_{n}.pkl"
        env = {**os.environ, "PARTKD_CACHE": str(work / f"cache_{kind}_{n}")}
        subprocess.run([*PARTKD, "train-teacher", "--data", str(pkl), "--format", "pyskl", "--preset", "smoke",
                        "--epochs", "1", "--out", str(out), "--threads", str(threads)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    return out / "model.safetensors"


def slope(rows: list[dict], key: str, field: str, lo: int) -> float | None:
    """Least-squares slope of log(field of key) against log(clips) over the sets of at least `lo` clips."""
    pts = [(r["clips"], r[key][field]) for r in rows if r["clips"] >= lo and key in r and r[key].get("ok")]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([max(p[1], 1e-3) for p in pts])
    return round(float(np.polyfit(x, y, 1)[0]), 3)


KEYS = ["inspect_cold", "inspect_warm", "first_step_paper_cold", "first_step_paper", "first_step_cpu", "part_matrix",
        "evaluate"]


def table(rows: list[dict]) -> str:
    head = "| set | clips | file GB | " + " | ".join(f"{k} s / GB" for k in KEYS) + " |"
    lines = [head, "|" + "---|" * (3 + len(KEYS))]
    for r in rows:
        cells = [f"{r[k]['seconds']} / {r[k]['peak_rss_gb']}" + ("" if r[k]["ok"] else " (failed)") if k in r else "—"
                 for k in KEYS]
        lines.append(f"| {r['kind']} | {r['clips']} | {r['file_gb']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path, title: str) -> None:
    """Log-log time and peak RSS against clips, one colour per measurement; `title` names the run and code."""
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.4))
    axes = fig.subplots(1, 2)
    colours = matplotlib.colormaps["tab10"]  # one colour per measurement, one line style per data shape
    styles = {"ntu": "o-", "kinetics": "s--"}
    for kind in sorted({r["kind"] for r in rows}):
        mine = [r for r in rows if r["kind"] == kind]
        for i, key in enumerate(KEYS):
            pts = [(r["clips"], r[key]) for r in mine if key in r and r[key]["ok"]]
            if len(pts) < 2:
                continue
            n, style = [p[0] for p in pts], dict(color=colours(i), label=f"{kind} {key}")
            axes[0].loglog(n, [p[1]["seconds"] for p in pts], styles.get(kind, "^:"), **style)
            axes[1].loglog(n, [p[1]["peak_rss_gb"] for p in pts], styles.get(kind, "^:"), **style)
    axes[0].set(xlabel="clips", ylabel="seconds", title="time")
    axes[1].set(xlabel="clips", ylabel="peak RSS (GB)", title="memory")
    axes[1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(title, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ntu", type=int, nargs="*", default=[5000, 20000, 57000, 114000])
    ap.add_argument("--kinetics", type=int, nargs="*", default=[5000, 20000])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--e-max", type=int, default=20000, help="largest set whose E is computed (E runs 32 passes)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/partkd_scale"))
    ap.add_argument("--keep", action="store_true", help="keep the generated pickles (they are large)")
    ap.add_argument("--save", type=Path, default=RESULTS / "scale")
    ap.add_argument("--rows", type=Path, nargs="*", default=[],
                    help="also report the JSON rows an earlier run printed (its log), measuring nothing for them")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for log in args.rows for line in log.read_text().splitlines() if line.startswith("{")]
    for kind, sizes in (("ntu", sorted(args.ntu)), ("kinetics", sorted(args.kinetics))):
        if not sizes:
            continue
        first = args.work / f"{kind}_{sizes[0]}.pkl"
        if not first.exists():
            make_in_child(first, sizes[0], kind)
        teacher = smoke_teacher(kind, sizes[0], args.work, args.threads)
        for n in sizes:
            rows.append(measure(kind, n, args.work, args.threads, teacher, args.e_max))
            print(json.dumps(rows[-1]), flush=True)
            if not args.keep:
                (args.work / f"{kind}_{n}.pkl").unlink(missing_ok=True)
    slopes = {f"ntu {k} {f}": slope([r for r in rows if r["kind"] == "ntu"], k, f, 20000)
              for k in KEYS for f in ("seconds", "peak_rss_gb")}
    from partkd.checkpoints import code_version

    record = {
        "command": "python benchmarks/scale.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "code": code_version(),
        "rows": rows,
        "slopes_from_20k": slopes,
    }
    args.save.parent.mkdir(parents=True, exist_ok=True)
    from partkd.io import atomic_write_text

    atomic_write_text(f"{args.save}.json", json.dumps(record, indent=2) + "\n")
    md = [f"# Cost against dataset size\n\nCommand: `{record['command']}`; {record['date']}; {record['machine']}; "
          f"code {record['code']}. Each cell: wall seconds / peak RSS GB of one fresh process (first_step_*: "
          "from start to the first optimiser step, tiny ST-GCN, _cold: with an empty cache; inspect_cold: parse + clip "
          "store; E and evaluate: "
          "a smoke teacher).\n", table(rows), "\nLog-log slopes (NTU shape, sets of 20k clips and up):\n",
          "\n".join(f"- {k}: {v}" for k, v in slopes.items() if v is not None), ""]
    atomic_write_text(f"{args.save}.md", "\n".join(md))
    plot(rows, Path(f"{args.save}.png"), f"{record['command']} · {record['date']} · code {record['code']}")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
