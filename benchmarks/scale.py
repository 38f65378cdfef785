"""Cost against dataset size on this machine: pyskl-format sets of random smooth skeletons, NTU shape (ntu25 3D,
1 person, 2 in a fifth of the clips, 32-299 frames) and Kinetics-like (coco17 2D with scores, 1-3 persons, 150-300
frames), and for each set every command in a fresh process with its own cache: `data inspect` cold (parse +
writing the clip store) and warm (from the store), the first training step of `train-teacher` at the paper preset
(T = 300, M = 2) with an empty cache (the run parses the pickle) and with the store made, and at the cpu preset,
E (`part-matrix`) and `evaluate` of one smoke teacher; wall time and peak RSS (the process's own high-water mark,
harness.run_child), then the log-log slopes from 20k clips up and a plot.

    python benchmarks/scale.py --ntu 5000 20000 57000 114000 --kinetics 5000 20000 --threads 2 --work /tmp/scale
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import pickle
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from harness import (
    RESULTS,
    add_save_arg,
    add_threads_arg,
    md_head,
    md_table,
    output_path,
    provenance,
    publish,
    run_child,
)

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
    """make_set in a fresh interpreter: the measuring parent never holds a set (its peak RSS stays small)."""
    proc = multiprocessing.get_context("spawn").Process(target=make_set, args=(path, n, kind))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"making {path} failed (exit {proc.exitcode})")


def run(cmd: list[str], env: dict[str, str], until_step: Path | None = None) -> dict:
    """Run `cmd` (env: variables to set); wall seconds and peak RSS (GB). With `until_step` (a progress.json), stop
    the process once it reports its first optimiser step and return the time to it."""

    def first_step() -> bool:
        try:
            return until_step is not None and json.loads(until_step.read_text()).get("step", 0) >= 1
        except (OSError, ValueError):
            return False

    child = run_child(cmd, env=env, stop=first_step)
    ok = child.stopped or child.returncode == 0
    return {
        "seconds": round(child.seconds, 1),
        "peak_rss_gb": round(child.peak_rss_bytes / 1e9, 3),
        "ok": ok,
        **({} if ok else {"error": [child.error_line()]}),
    }


def measure(kind: str, n: int, work: Path, threads: int, teacher: Path | None, e_max: int) -> dict:
    """Every measurement of one set (made first when absent)."""
    pkl = work / f"{kind}_{n}.pkl"
    started = time.monotonic()
    if not pkl.exists():
        make_in_child(pkl, n, kind)
    made = time.monotonic() - started
    cache = work / f"cache_{kind}_{n}"
    shutil.rmtree(cache, ignore_errors=True)
    env = {"PARTKD_CACHE": str(cache), "OMP_NUM_THREADS": str(threads)}
    data = ["--data", str(pkl), "--format", "pyskl"]
    row: dict = {"kind": kind, "clips": n, "file_gb": round(pkl.stat().st_size / 1e9, 3), "make_s": round(made, 1)}
    for preset, key in (
        ("paper", "first_step_paper_cold"),
        (None, "inspect_cold"),
        (None, "inspect_warm"),
        ("paper", "first_step_paper"),
        ("cpu", "first_step_cpu"),
    ):
        if key.endswith("cold"):
            shutil.rmtree(cache, ignore_errors=True)  # nothing parsed yet: the run pays the parse
        if preset is None:
            row[key] = run([*PARTKD, "data", "inspect", str(pkl), "--format", "pyskl"], env)
            continue
        out = work / f"run_{kind}_{n}_{key}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [
            *PARTKD,
            "train-teacher",
            *data,
            "--preset",
            preset,
            "--model",
            "tiny",
            "--out",
            str(out),
            "--threads",
            str(threads),
        ]
        row[key] = run(cmd, env, until_step=out / "progress.json")
    if teacher is not None:
        if n <= e_max:
            row["part_matrix"] = run(
                [
                    *PARTKD,
                    "part-matrix",
                    str(teacher),
                    *data,
                    "--threads",
                    str(threads),
                    "--json",
                    str(work / f"e_{kind}_{n}.json"),
                ],
                env,
            )
        row["evaluate"] = run([*PARTKD, "evaluate", str(teacher), *data, "--threads", str(threads)], env)
    return row


def smoke_teacher(kind: str, n: int, work: Path, threads: int) -> Path:
    """A smoke-preset tiny teacher, one epoch on the smallest set of `kind` (what E and evaluate time)."""
    out = work / f"teacher_{kind}"
    if not (out / "model.safetensors").exists():
        pkl = work / f"{kind}_{n}.pkl"
        run_child(
            [
                *PARTKD,
                "train-teacher",
                "--data",
                str(pkl),
                "--format",
                "pyskl",
                "--preset",
                "smoke",
                "--epochs",
                "1",
                "--out",
                str(out),
                "--threads",
                str(threads),
            ],
            env={"PARTKD_CACHE": str(work / f"cache_{kind}_{n}")},
            check=True,
        )
    return out / "model.safetensors"


def slope(rows: list[dict], key: str, field: str, lo: int) -> float | None:
    """Least-squares slope of log(field of key) against log(clips) over the sets of at least `lo` clips."""
    pts = [(r["clips"], r[key][field]) for r in rows if r["clips"] >= lo and key in r and r[key].get("ok")]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([max(p[1], 1e-3) for p in pts])
    return round(float(np.polyfit(x, y, 1)[0]), 3)


KEYS = [
    "inspect_cold",
    "inspect_warm",
    "first_step_paper_cold",
    "first_step_paper",
    "first_step_cpu",
    "part_matrix",
    "evaluate",
]


def table(rows: list[dict]) -> str:
    """One row per set: each measurement's seconds / peak RSS GB."""
    cells = [
        [
            f"{r[k]['seconds']} / {r[k]['peak_rss_gb']}" + ("" if r[k]["ok"] else " (failed)") if k in r else "—"
            for k in KEYS
        ]
        for r in rows
    ]
    return md_table(
        ["set", "clips", "file GB", *(f"{k} s / GB" for k in KEYS)],
        [[r["kind"], r["clips"], r["file_gb"], *c] for r, c in zip(rows, cells)],
    )


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
    """CLI: measure every set of every size; write the table, slopes and plot."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ntu", type=int, nargs="*", default=[5000, 20000, 57000, 114000])
    ap.add_argument("--kinetics", type=int, nargs="*", default=[5000, 20000])
    add_threads_arg(ap, 2, help="threads of each measured command (--threads, OMP_NUM_THREADS)")
    ap.add_argument("--e-max", type=int, default=20000, help="largest set whose E is computed (E runs 32 passes)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/partkd_scale"))
    ap.add_argument("--keep", action="store_true", help="keep the generated pickles (they are large)")
    add_save_arg(ap, RESULTS / "scale", help="write <SAVE>.json, <SAVE>.md and <SAVE>.png")
    ap.add_argument(
        "--rows",
        type=Path,
        nargs="*",
        default=[],
        help="also report the JSON rows an earlier run printed (its log), measuring nothing for them",
    )
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
    slopes = {
        f"ntu {k} {f}": slope([r for r in rows if r["kind"] == "ntu"], k, f, 20000)
        for k in KEYS
        for f in ("seconds", "peak_rss_gb")
    }
    prov = provenance(argv)
    record = {
        "command": prov.command,
        "date": prov.date,
        "machine": prov.machine,
        "code": prov.code_version,
        "rows": rows,
        "slopes_from_20k": slopes,
    }
    md = [
        *md_head("Cost against dataset size", prov),
        "Each cell: wall seconds / peak RSS GB of one fresh process (first_step_*: from start to the first "
        "optimiser step, tiny ST-GCN, _cold: with an empty cache; inspect_cold: parse + clip store; E and evaluate: "
        "a smoke teacher).\n",
        table(rows),
        "\nLog-log slopes (NTU shape, sets of 20k clips and up):\n",
        "\n".join(f"- {k}: {v}" for k, v in slopes.items() if v is not None),
        "",
    ]
    publish(args.save, record, "\n".join(md))
    plot(rows, output_path(args.save, ".png"), f"{record['command']} · {record['date']} · code {record['code']}")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
