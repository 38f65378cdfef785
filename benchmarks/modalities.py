"""Multi-modality on real data (IKEM, seed 003): joint-only vs 4-stream (j, b, jm, bm) late fusion for the
teacher and the low-quality student; the joint student with PMSC from a joint-only vs a 4-stream teacher;
relational KD alone (4-stream teacher, joint student); the 4-stream student with and without the IKEM exchange.

    python benchmarks/modalities.py --dataset penn_action --seeds 0 1 --threads 1
    python benchmarks/modalities.py --dataset h36m --seeds 0 1 --threads 1 \
        --teacher-j runs/bench/h36m_bench_t0.1/teacher_s0

Students train and are tested at one OP (default 0.3, the default occlusion reading, test seed 0) with the `bench`
preset and the real-data definitions of harness_data (kd_real.py's). Finished runs under --work are reused; every
finished run rewrites benchmarks/results/modalities_<dataset>.{json,md,png} (a cut-off run leaves valid files).
"""

from __future__ import annotations

import argparse
import fnmatch
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    DATA_ROOT,
    RESULTS,
    ROOT,
    Provenance,
    add_save_arg,
    add_seeds_arg,
    add_threads_arg,
    md_head,
    md_notes,
    md_table,
    output_path,
    provenance,
    publish,
    set_threads,
)
from harness_data import DATASETS, data_spec, finished, mean_std, paired_diffs, train_cfg, training_seconds

FOUR = ("j", "b", "jm", "bm")
#: key -> (student modalities, kd, teacher key or None, IKEM); core rows first, then the IKEM pair's second half.
ROWS: dict[str, tuple[tuple[str, ...], str, str | None, bool]] = {
    "j_none": (("j",), "none", None, False),
    "4s_none": (FOUR, "none", None, False),
    "j_pmsc_tj": (("j",), "pmsc", "j", False),
    "j_pmsc_t4s": (("j",), "pmsc", "4s", False),
    "j_relational_t4s": (("j",), "relational", "4s", False),
    "4s_ikem_none": (FOUR, "none", None, True),
}
LABELS = {
    "j_none": "joint student, no KD",
    "4s_none": "4-stream student (j+b+jm+bm), no KD",
    "j_pmsc_tj": "joint student, PMSC from the joint teacher",
    "j_pmsc_t4s": "joint student, PMSC from the 4-stream teacher",
    "j_relational_t4s": "joint student, relational KD from the 4-stream teacher",
    "4s_ikem_none": "4-stream student with IKEM exchange, no KD",
}
TEACHERS = {"j": ("j",), "4s": FOUR}


def comparisons(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's comparisons as per-seed differences (top-1 points) over the seeds both rows share."""
    out = []
    for a, b, target, what in (
        ("4s_none", "j_none", 2.0, "4-stream fusion − joint-only (student, no KD)"),
        ("j_pmsc_t4s", "j_pmsc_tj", 0.0, "PMSC from the 4-stream teacher − from the joint teacher"),
        ("j_relational_t4s", "j_none", None, "relational KD (4-stream teacher) − no KD"),
        ("4s_ikem_none", "4s_none", None, "IKEM on − off (4-stream student)"),
        ("j_pmsc_tj", "j_none", None, "PMSC (joint teacher) − no KD"),
    ):
        if a not in rows or b not in rows:
            continue
        per = paired_diffs(rows[a]["seeds"], rows[b]["seeds"])
        if not per:
            continue
        m, sd = mean_std(per)
        out.append(
            {
                "a": a,
                "b": b,
                "what": what,
                "gain": m,
                "std": sd,
                "per_seed": per,
                "target": target,
                "met": None if target is None else m >= target,
            }
        )
    return out


def stream_agreement(loaded: Any, ds: Any, op: float) -> float | None:
    """Mean over stream pairs of the share of test clips on which both streams predict the same class (None for a
    single stream): how much diversity late fusion has to work with."""
    from itertools import combinations

    from partkd.engine.evaluate import occluded_inputs, proba_and_streams
    from partkd.models.multistream import MultiStream

    if not isinstance(loaded.model, MultiStream):  # one stream: no second pass over the test set
        return None
    _, streams = proba_and_streams(loaded, occluded_inputs(loaded, ds, op, seed=0)[1])
    preds = [p.argmax(axis=1) for p in streams.values()]
    if len(preds) < 2:
        return None
    return statistics.fmean(float((a == b).mean()) for a, b in combinations(preds, 2))


def teacher_dir(work: Path, key: str, seed: int, teacher_j: Path | None) -> Path:
    """A teacher's run folder: seed 0 keeps its historical name (and --teacher-j may replace the joint one)."""
    if seed == 0:
        return teacher_j if key == "j" and teacher_j else work / f"teacher_{key}"
    return work / f"teacher_{key}_s{seed}"


def teacher_gain(teachers: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """4-stream − joint-only teacher top-1 (points), per seed both were trained with."""
    if "j" not in teachers or "4s" not in teachers:
        return None
    per = paired_diffs(teachers["4s"]["seeds"], teachers["j"]["seeds"])
    if not per:
        return None
    m, sd = mean_std(per)
    return {"gain": m, "std": sd, "per_seed": per}


def table_md(res: dict[str, Any]) -> str:
    """The report: teachers, students, the issue's comparisons, and what was run."""
    lines = [
        *md_head(f"{res['dataset']}: joint-only vs multi-modality", Provenance.from_record(res)),
        f"Preset `bench` ({res['train_summary']}); students trained and tested at OP {res['op']:g} (joint "
        f"occlusion, test seed 0); KD α = {res['alpha']:g}, τ = {res['tau']:g}, w = 0.5. Data: {res['data']}. "
        f"Top-1 (%) on the test split ({res['test_clips']} H clips, {res['low_test_clips']} L clips); late "
        "fusion = equal-weight mean of the streams' softmax scores.",
        "",
        "## Teachers (high quality, tested unoccluded; the seed-0 teachers guide the students)",
        "",
    ]
    rows = []
    for key, t in res["teachers"].items():
        streams = "; ".join(
            ", ".join(f"{k} {100 * v['top1']:.2f}" for k, v in s["streams"].items()) for s in t["seeds"] if s["streams"]
        )
        rows.append(
            [
                f"{key} ({'+'.join(TEACHERS[key])})",
                f"{100 * t['top1']:.2f} ± {100 * t['top1_std']:.2f} ({len(t['seeds'])})",
                per_seed(t["seeds"]),
                streams or "—",
            ]
        )
    lines.append(md_table(["teacher", "fused top-1 mean ± sd (n)", "per seed", "per stream (per seed)"], rows))
    if res.get("teacher_comparison"):
        c = res["teacher_comparison"]
        lines += [
            "",
            f"4-stream − joint-only teacher: {c['gain']:+.2f} ± {c['std']:.2f} points "
            f"(per seed {', '.join(f'{x:+.2f}' for x in c['per_seed'])}).",
        ]
    rows = []
    for key, r in res["students"].items():
        streams = r.get("streams_mean") or {}
        rows.append(
            [
                LABELS[key],
                f"{100 * r['top1']:.2f} ± {100 * r['top1_std']:.2f} ({len(r['seeds'])})",
                per_seed(r["seeds"]),
                ", ".join(f"{k} {v:.2f}" for k, v in streams.items()) or "—",
                "—" if r.get("agreement") is None else f"{100 * r['agreement']:.1f} %",
            ]
        )
    lines += [
        "",
        f"## Students (low quality, OP {res['op']:g})",
        "",
        md_table(
            ["student", "top-1 mean ± sd (n)", "per seed", "per stream (mean over seeds)", "stream agreement"], rows
        ),
    ]
    if res["comparisons"]:
        rows = []
        for c in res["comparisons"]:
            target = (
                "—"
                if c["target"] is None
                else (
                    f"≥ {c['target']:g}: {'met' if c['met'] else 'not met'}"
                    if c["target"] > 0
                    else f"≥ 0 (at least as good): {'met' if c['met'] else 'not met'}"
                )
            )
            rows.append(
                [c["what"], f"{c['gain']:+.2f} ± {c['std']:.2f}", ", ".join(f"{x:+.2f}" for x in c["per_seed"]), target]
            )
        lines += [
            "",
            "## Comparisons (per-seed differences, top-1 points)",
            "",
            md_table(["comparison", "mean ± sd", "per seed", "target"], rows),
        ]
    lines += ["", f"Runs done: {res['runs_done']}; not run: {', '.join(res['not_run']) or 'none'}.", ""]
    lines += md_notes(res.get("notes", []))
    return "\n".join(lines)


def per_seed(seeds: list[dict[str, Any]]) -> str:
    """Each seed's top-1, e.g. 's0 71.20, s1 70.04'."""
    return ", ".join(f"s{s['seed']} {100 * s['top1']:.2f}" for s in seeds)


def plot(res: dict[str, Any], path: Path) -> None:
    """Each student row's top-1 (mean ± sd, seeds as dots), saved to `path`."""
    from matplotlib.figure import Figure

    from partkd.figures import save_figure

    rows = res["students"]
    if not rows:
        return
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    keys = list(rows)
    means = [100 * rows[k]["top1"] for k in keys]
    sds = [100 * rows[k]["top1_std"] for k in keys]
    ax.barh(range(len(keys)), means, xerr=sds, color="#4c72b0", capsize=3)
    for i, k in enumerate(keys):
        ax.plot([100 * s["top1"] for s in rows[k]["seeds"]], [i] * len(rows[k]["seeds"]), "k.", ms=4)
    ax.set_yticks(range(len(keys)), [LABELS[k] for k in keys], fontsize=7)
    ax.invert_yaxis()
    lo = min(100 * s["top1"] for k in keys for s in rows[k]["seeds"])
    ax.set_xlim(max(0.0, lo - 10), min(100.0, max(means) + 6))
    ax.set_xlabel(f"top-1 (%) at OP {res['op']:g}; bars: mean ± sd, dots: seeds")
    ax.set_title(f"{res['dataset']}: modalities ({res['code_version']})", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path.with_suffix(""), formats=("png",))


def main(argv: list[str] | None = None) -> int:
    """CLI: train (or reuse) the teachers and student rows; rewrite the results after every run."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    add_seeds_arg(ap, [0, 1])
    ap.add_argument("--op", type=float, default=0.3)
    ap.add_argument("--match", nargs="+", default=None, metavar="GLOB", help="only the student rows matching a glob")
    ap.add_argument(
        "--teacher-j",
        type=Path,
        default=None,
        help="reuse this finished joint-only teacher run folder (kd_real.py's teacher_s0)",
    )
    ap.add_argument(
        "--teacher-seeds",
        type=int,
        nargs="+",
        default=[0],
        help="teacher seeds for the teacher table (the students learn from seed 0)",
    )
    ap.add_argument("--tau", type=float, default=0.1)
    ap.add_argument("--alpha", type=float, default=1.0)
    add_threads_arg(ap)
    ap.add_argument("--data-root", type=Path, default=DATA_ROOT)
    ap.add_argument("--work", type=Path, default=None, help="run folders (default runs/bench/modalities_<dataset>)")
    add_save_arg(ap, help="output stem (default results/modalities_<dataset>)")
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("--collect-only", action="store_true", help="train nothing; rewrite the results of finished runs")
    args = ap.parse_args(argv)

    set_threads(args.threads)
    from partkd.checkpoints import load_checkpoint, read_meta
    from partkd.engine.config import StudentConfig
    from partkd.engine.data import load_paired
    from partkd.engine.evaluate import evaluate
    from partkd.engine.student import train_student
    from partkd.engine.teacher import compute_part_matrix, train_teacher

    ds = DATASETS[args.dataset]
    work = args.work or ROOT / "runs" / "bench" / f"modalities_{args.dataset}"
    save = args.save or RESULTS / f"modalities_{args.dataset}"
    spec = data_spec(args.dataset, args.data_root)
    teacher_extra = ds.get("teacher", {})
    cfg0 = train_cfg("bench", 0)
    info = provenance(argv).record()
    data = load_paired(spec)
    high_test, low_test = data.high.by_split("test"), data.low.by_split("test")
    res: dict[str, Any] = {
        "dataset": args.dataset,
        "op": args.op,
        "tau": args.tau,
        "alpha": args.alpha,
        "data": spec.describe(),
        "train_summary": f"{cfg0.arch} model {cfg0.model}, {cfg0.epochs} epochs, lr {cfg0.lr} ×{cfg0.gamma} at "
        f"{list(cfg0.milestones)}, batch {cfg0.batch_size}, T={cfg0.frames}, M={cfg0.persons}",
        "test_clips": len(high_test),
        "low_test_clips": len(low_test),
        "teachers": {},
        "students": {},
        "comparisons": [],
        "notes": list(args.note),
        "runs_done": 0,
        "not_run": [],
        **info,
    }
    planned = [k for k in ROWS if args.match is None or any(fnmatch.fnmatchcase(k, g) for g in args.match)]
    per_run: dict[str, dict[str, Any]] = {}

    def streams_of(m: dict[str, Any]) -> dict[str, dict[str, float]]:
        return {k: {"top1": v["top1"], "top5": v["top5"]} for k, v in m.get("streams", {}).items()}

    def flush() -> None:
        rows: dict[str, dict[str, Any]] = {}
        for key in ROWS:
            seeds = [per_run[n] for n in sorted(per_run) if per_run[n]["row"] == key]
            if not seeds:
                continue
            t1, sd = mean_std([s["top1"] for s in seeds])
            names = list(seeds[0]["streams"])
            rows[key] = {
                "top1": t1,
                "top1_std": sd,
                "seeds": seeds,
                "streams_mean": {n: 100 * statistics.fmean(s["streams"][n]["top1"] for s in seeds) for n in names},
                "agreement": None
                if seeds[0].get("agreement") is None
                else statistics.fmean(s["agreement"] for s in seeds),
            }
        res["students"] = rows
        res["comparisons"] = comparisons(rows)
        res["runs_done"] = len(per_run)
        res["not_run"] = [f"{k}_s{s}" for k in planned for s in args.seeds if f"{k}_s{s}" not in per_run]
        publish(save, res, table_md(res))
        plot(res, output_path(save, ".png"))

    needed = {"j"} | {ROWS[k][2] for k in planned if ROWS[k][2]}
    teachers: dict[str, Path] = {}  # the seed-0 teachers, which guide the students
    for key in ("j", "4s"):
        seeds_t = []
        for seed in sorted({0, *args.teacher_seeds}):  # the students always learn from the seed-0 teacher
            tdir = teacher_dir(work, key, seed, args.teacher_j)
            if not finished(tdir) and (key not in needed or (seed and args.collect_only)):
                continue
            if not finished(tdir):
                if args.collect_only:
                    raise SystemExit(f"--collect-only: no finished teacher in {tdir}")
                train_teacher(
                    train_cfg("bench", seed, modalities=TEACHERS[key], **teacher_extra), spec, tdir, resume=True
                )
            tpath = tdir / "model.safetensors"
            if seed == 0:
                if "E" not in read_meta(tpath):
                    compute_part_matrix(tpath, spec)
                teachers[key] = tpath
            m = evaluate(load_checkpoint(tpath), high_test)
            meta = read_meta(tpath)
            seeds_t.append(
                {
                    "seed": seed,
                    "top1": m["top1"],
                    "top5": m["top5"],
                    "streams": streams_of(m),
                    "checkpoint": str(tpath),
                    "seconds": training_seconds(meta),
                }
            )
            print(f"teacher {key} s{seed}: top1 {100 * m['top1']:.2f} {streams_of(m)}", flush=True)
        if seeds_t:
            t1, sd = mean_std([s["top1"] for s in seeds_t])
            res["teachers"][key] = {"top1": t1, "top1_std": sd, "seeds": seeds_t}
    res["teacher_comparison"] = teacher_gain(res["teachers"])
    flush()

    # the rows with targets first (every seed), then relational KD, then IKEM: a cut-off run keeps the targets
    tiers = (("j_none", "4s_none", "j_pmsc_tj", "j_pmsc_t4s"), ("j_relational_t4s",), ("4s_ikem_none",))
    order = [(k, s) for tier in tiers for s in args.seeds for k in tier if k in planned]
    for key, seed in order:
        mods, kd, teacher, ikem = ROWS[key]
        name = f"{key}_s{seed}"
        rdir = work / "students" / name
        if not finished(rdir):
            if args.collect_only:
                continue
            t0 = time.time()
            scfg = StudentConfig(kd=kd, alpha=args.alpha, tau=args.tau, w=0.5, op=args.op)
            train_student(
                train_cfg("bench", seed, modalities=mods, ikem=ikem),
                scfg,
                teachers[teacher] if teacher else None,
                spec,
                rdir,
                resume=True,
            )
            print(f"{name}: trained in {time.time() - t0:.0f} s", flush=True)
        st = load_checkpoint(rdir / "model.safetensors")
        m = evaluate(st, low_test, op=args.op, mode=st.occlusion, seed=0)
        meta = read_meta(rdir / "model.safetensors")
        per_run[name] = {
            "row": key,
            "seed": seed,
            "top1": m["top1"],
            "top5": m["top5"],
            "streams": streams_of(m),
            "agreement": stream_agreement(st, low_test, args.op),
            "checkpoint": str(rdir / "model.safetensors"),
            "seconds": training_seconds(meta),
        }
        print(f"{name}: top1 {100 * m['top1']:.2f} {streams_of(m)}", flush=True)
        flush()
    print(table_md(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
