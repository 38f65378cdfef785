"""Paper table 1 on real data: teacher on H, students on L without KD and with PMSC at OP 0 / 0.3 / 0.6, plus the
ablations at OP 0.3 (kl, global_msc, pmsc_uniform, skd homogeneous, 70 % paired with / without solitary clips).

    python benchmarks/kd_real.py --dataset penn_action --rows all --seeds 0 1 --preset bench --tau 0.1
    python benchmarks/kd_real.py --dataset nw_ucla --rows core --seeds 0 --preset bench --tau 0.1
    python benchmarks/kd_real.py --dataset penn_action --rows all --seeds 0 1 2 --preset paper   # GPU, the full grid

Split a grid over processes with --match (row-key globs) and the same --work, then rerun with --collect-only.

Every finished run is added to benchmarks/results/<dataset>.{json,md,png} at once (a cut-off run leaves valid files);
finished runs under --work are reused on a rerun (delete the folder to start over). Presets: `bench` = the `cpu`
preset shortened to fit 2 CPU cores (harness_data.BENCH_PRESETS), `cpu`, `paper` (engine presets).
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import statistics
import sys
import time
from dataclasses import replace
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
from harness_data import (
    BENCH_PRESETS,
    DATASETS,
    DEFAULT_TARGETS,
    data_spec,
    finished,
    mean_std,
    paired_diffs,
    refuse_stale,
    train_cfg,
    training_seconds,
)

#: The sharper softmax of the graded E (--rows efficiency): its entries span about 0.4, so at T = 1 eq. 13 is nearly
#: uniform; at 0.1 the best part of a class weighs about e^4 ≈ 50 times its worst.
SHARP_T = 0.1


# --------------------------------------------------------------------------------------------------------- rows
def grid(rows: str, ops: list[float], kl_alpha: float | None = None) -> list[dict[str, Any]]:
    """The student rows: (setting, kd, op, paired_fraction, solitary[, alpha]) in the order they are run."""

    def row(setting: str, kd: str, op: float, pf: float = 1.0, sol: bool = False) -> dict[str, Any]:
        r = {"setting": setting, "kd": kd, "op": op, "paired_fraction": pf, "solitary": sol}
        if kd == "kl" and kl_alpha is not None:
            r["alpha"] = kl_alpha
        return r

    out = []
    for op in ops:  # core: heterogeneous none vs pmsc at every OP
        out += [row("heterogeneous", "none", op), row("heterogeneous", "pmsc", op)]
    if rows == "all":
        for op in ops:
            out += [row("homogeneous", "none", op), row("homogeneous", "pmsc", op)]
        out += [row("heterogeneous", k, 0.3) for k in ("kl", "global_msc", "pmsc_uniform")]
        out += [
            row("homogeneous", "skd", 0.3),
            row("heterogeneous", "pmsc", 0.3, 0.7, False),
            row("heterogeneous", "pmsc", 0.3, 0.7, True),
        ]
    elif rows == "efficiency":  # which E weights the parts, at each OP: paper E, graded E, sharper softmax
        out = []
        for op in ops:
            out += [
                row("heterogeneous", "none", op),
                row("heterogeneous", "pmsc", op),
                {**row("heterogeneous", "pmsc", op), "efficiency": "drop", "temperature": 1.0},
                {**row("heterogeneous", "pmsc", op), "efficiency": "drop", "temperature": SHARP_T},
                row("heterogeneous", "pmsc_uniform", op),
                row("heterogeneous", "global_msc", op),
            ]
    elif rows == "ablations":
        out = [row("heterogeneous", k, 0.3) for k in ("kl", "global_msc", "pmsc_uniform")]
        out += [
            row("homogeneous", "skd", 0.3),
            row("heterogeneous", "pmsc", 0.3, 0.7, False),
            row("heterogeneous", "pmsc", 0.3, 0.7, True),
        ]
    return out


def row_key(r: dict[str, Any]) -> str:
    """A student row's key, e.g. 'het_pmsc_op0.3' or 'het_pmsc_op0.3_p0.7sol' (run folders, --match)."""
    eff = f"_E{r['efficiency']}_T{r['temperature']:g}" if r.get("efficiency") else ""
    pf = "" if r["paired_fraction"] == 1.0 else f"_p{r['paired_fraction']:g}" + ("sol" if r["solitary"] else "only")
    alpha = f"_a{r['alpha']:g}" if r.get("alpha") is not None else ""
    return f"{r['setting'][:3]}_{r['kd']}_op{r['op']:g}{eff}{pf}{alpha}"


# ------------------------------------------------------------------------------------------------------- output
#: The precision of a run whose checkpoint predates the `precision_used` field.
NOT_RECORDED = "not recorded"


def precisions_used(res: dict[str, Any]) -> str:
    """The precisions the finished teachers and students were trained in, e.g. 'fp32' or 'bf16 (3 runs), fp32 (1)'."""
    runs = [s for key in ("teacher", "teacher_homogeneous") for s in (res.get(key) or {}).get("seeds", [])]
    runs += [s for st in res["students"] for s in st.get("seeds", [])]
    counts = collections.Counter(r.get("precision_used", NOT_RECORDED) for r in runs)
    if len(counts) <= 1:
        return next(iter(counts), "no runs yet")
    return ", ".join(f"{k} ({n} runs)" for k, n in sorted(counts.items()))


def table_md(res: dict[str, Any]) -> str:
    """The report: provenance, protocol, the teachers and main students by OP, the PMSC gains, the E-variant or
    ablation tables, and what was run."""
    ops = sorted({s["op"] for s in res["students"]}) or [0.0]
    kd = res["kd_config"]
    low = (
        f"simulated estimator (level {res['level']})"
        if res.get("low_source", "simulate") == "simulate"
        else "the dataset's real low-quality source"
    )
    lines = [
        *md_head(f"{res['dataset']}: teacher vs students (paper table 1 shape)", Provenance.from_record(res)),
        f"Preset `{res['preset']}` ({res['train_config_summary']}"
        + (f"; the teacher with {res['teacher_overrides']}" if res.get("teacher_overrides") else "")
        + f"); KD α = {kd['alpha']:g}, τ = {kd['tau']:g}, w = {kd['w']:g}. Data: H = {res['high_layout']}, L = {low}"
        f"; heterogeneous L layout `{res['low_layout_hetero']}`, homogeneous H: "
        f"{res.get('homogeneous_high') or 'H in the L layout'}. "
        f"Top-1 / top-5 (%) on the test split ({res.get('test_clips', '?')} H clips, "
        f"{res.get('low_test_clips', res.get('test_clips', '?'))} L clips), each student tested at the OP "
        f"it was trained with (occlusion reading `{res.get('occlusion', 'joint')}`, test seed 0). "
        "Mean ± std over seeds. "
        f"Training precision of the runs (from their checkpoints): {precisions_used(res)}.",
        "",
    ]
    rows = []
    teachers = {
        "teacher": "teacher (H, tested unoccluded)",
        "teacher_homogeneous": f"teacher (homogeneous H: {res.get('homogeneous_high')}, tested unoccluded)",
    }
    for key, label in teachers.items():
        t = res.get(key)
        if t:
            rows.append([label, f"{100 * t['top1']:.2f} (top-5 {100 * t['top5']:.2f})"] + [""] * (len(ops) - 1))
    for st in ("heterogeneous", "homogeneous"):
        for kd_name in ("none", "pmsc"):
            cells = []
            for op in ops:
                s = main_row(res["students"], st, kd_name, op)
                cells.append(f"{100 * s['top1']:.2f} ± {100 * s['top1_std']:.2f} (n={len(s['seeds'])})" if s else "")
            if any(cells):
                rows.append([f"student {'w/o KD' if kd_name == 'none' else 'w/ PMSC'}, {st}", *cells])
    lines.append(md_table(["model", *(f"OP {op:g}" for op in ops)], rows))
    gains = res.get("gains", {})
    if gains:
        lines += [
            "",
            "PMSC − no-KD (heterogeneous, top-1 points, mean over the seeds both rows share): "
            + ", ".join(
                f"OP {op}: {g['gain']:+.2f} (target ≥ {g['target']:g}: {'met' if g['met'] else 'not met'}; "
                f"per seed {', '.join(f'{x:+.2f}' for x in g['per_seed'])})"
                for op, g in gains.items()
            ),
        ]
    if res["rows"] == "efficiency":
        lines += efficiency_md(res["students"])
    abl = [
        s
        for s in res["students"]
        if s["op"] == 0.3
        and res["rows"] != "efficiency"
        and (s["kd"] not in ("none", "pmsc") or s["paired_fraction"] < 1)
    ]
    if abl:
        lines += ["", "Ablations at OP 0.3 (top-1 %, mean ± std):", ""]
        lines.append(
            md_table(
                ["setting", "kd", "pairing", "top-1", "top-5"],
                [
                    [
                        s["setting"],
                        s["kd"] + (f" (α {s['alpha']:g})" if s.get("alpha") is not None else ""),
                        pairing(s),
                        f"{100 * s['top1']:.2f} ± {100 * s['top1_std']:.2f}",
                        f"{100 * s['top5']:.2f}",
                    ]
                    for s in abl
                ],
            )
        )
    lines += [
        "",
        f"Rows requested: `{res['rows']}` ({len(res['planned'])} student runs × {len(res['seeds_requested'])} "
        f"seed(s)); done: {res['runs_done']}; not run: {', '.join(res['not_run']) if res['not_run'] else 'none'}.",
        "",
    ]
    lines += md_notes(res.get("notes", []))
    return "\n".join(lines)


def main_row(rows: list[dict[str, Any]], setting: str, kd: str, op: float) -> dict[str, Any] | None:
    """The student row of a main-table cell: `setting` and `kd` at `op`, every clip paired, the paper's E."""
    return next(
        (
            r
            for r in rows
            if r["setting"] == setting
            and r["kd"] == kd
            and r["op"] == op
            and r["paired_fraction"] == 1.0
            and not r.get("efficiency")
        ),
        None,
    )


def pairing(s: dict[str, Any]) -> str:
    """How a student row pairs its clips, e.g. '70 % paired + 30 % solitary'."""
    if s["paired_fraction"] == 1.0:
        return "100 % paired"
    rest = f" + {100 * (1 - s['paired_fraction']):g} % solitary" if s["solitary"] else " only"
    return f"{100 * s['paired_fraction']:g} % paired" + rest


def row_label(s: dict[str, Any]) -> str:
    """A student row as a reader names it: the KD method and which E (at which temperature) weights its parts."""
    if s["kd"] == "pmsc":
        src, t = s.get("efficiency", "miss"), s.get("temperature", 1.0)
        return f"pmsc, E = {'miss rate (eq. 12)' if src == 'miss' else 'probability drop'}, T = {t:g}"
    return {
        "none": "no KD",
        "pmsc_uniform": "pmsc_uniform (equal part weights)",
        "global_msc": "global_msc (no parts)",
    }.get(s["kd"], s["kd"])


def paired_gap(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float, int] | None:
    """Mean ± std over the shared seeds of a − b (top-1 points), and the number of seeds."""
    per = paired_diffs(a["seeds"], b["seeds"])
    if not per:
        return None
    m, sd = mean_std(per)
    return m, sd, len(per)


def efficiency_md(students: list[dict[str, Any]]) -> list[str]:
    """The E-variant table: each row's top-1 and its per-seed gaps to pmsc_uniform and global_msc."""
    out: list[str] = []
    for op in sorted({s["op"] for s in students}):
        rows = [s for s in students if s["op"] == op and s["setting"] == "heterogeneous"]
        ref = {k: next((s for s in rows if s["kd"] == k), None) for k in ("pmsc_uniform", "global_msc")}
        table = []
        for s in rows:
            cells = []
            for k in ("pmsc_uniform", "global_msc"):
                g = paired_gap(s, ref[k]) if ref[k] is not None and ref[k] is not s else None
                cells.append(f"{g[0]:+.2f} ± {g[1]:.2f} (n={g[2]})" if g else "")
            top1 = f"{100 * s['top1']:.2f} ± {100 * s['top1_std']:.2f} (n={len(s['seeds'])})"
            table.append([row_label(s), top1, *cells])
        out += [
            "",
            f"Which E weights the parts, OP {op:g} (heterogeneous; top-1 %, mean ± std over seeds; gaps are "
            "per-seed differences, mean ± std):",
            "",
            md_table(["student", "top-1", "− pmsc_uniform", "− global_msc"], table),
        ]
    return out


def plot_title(res: dict[str, Any]) -> str:
    """The figure's title: dataset, preset and, where the result records them, the occlusion reading and the
    teacher's settings that differ from the preset (on a second line)."""
    reading = f", occlusion '{res['occlusion']}'" if res.get("occlusion") else ""
    over = res.get("teacher_overrides") or {}
    teacher = "\nteacher: " + ", ".join(f"{k} {v}" for k, v in over.items()) if over else ""
    return f"{res['dataset']} ({res['preset']} preset{reading}){teacher}"


def plot(res: dict[str, Any], path: Path) -> None:
    """Top-1 against OP of the main student rows (and the teacher's line), saved to `path`."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for st, kd, style in (
        ("heterogeneous", "none", "o--"),
        ("heterogeneous", "pmsc", "o-"),
        ("homogeneous", "none", "s--"),
        ("homogeneous", "pmsc", "s-"),
    ):
        pts = sorted(
            (s["op"], 100 * s["top1"], 100 * s["top1_std"])
            for s in res["students"]
            if s["setting"] == st and s["kd"] == kd and s["paired_fraction"] == 1.0 and not s.get("efficiency")
        )
        if pts:
            ax.errorbar(
                [p[0] for p in pts],
                [p[1] for p in pts],
                yerr=[p[2] for p in pts],
                fmt=style,
                capsize=3,
                label=f"{'w/o KD' if kd == 'none' else 'PMSC'} ({st[:5]}.)",
            )
    if res.get("teacher"):
        ax.axhline(100 * res["teacher"]["top1"], color="gray", lw=1, ls=":", label="teacher (H)")
    ax.set_xlabel("occlusion probability OP")
    ax.set_ylabel("top-1 (%)")
    ax.set_title(plot_title(res), fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def collect(res: dict[str, Any], per_run: dict[str, dict[str, Any]]) -> None:
    """Group per-seed results into the `students` rows (mean over seeds) and the PMSC gains."""
    rows = []
    for r in res["planned"]:
        seeds = [per_run[k] for k in sorted(per_run) if per_run[k]["row"] == row_key(r)]
        if not seeds:
            continue
        t1, sd = mean_std([s["top1"] for s in seeds])
        rows.append(
            {
                **r,
                "top1": t1,
                "top5": statistics.fmean(s["top5"] for s in seeds),
                "top1_std": sd,
                "seeds": [
                    {
                        **{k: s[k] for k in ("seed", "top1", "top5", "val_curve", "seconds", "checkpoint")},
                        "precision_used": s.get("precision_used", NOT_RECORDED),
                    }
                    for s in seeds
                ],
            }
        )
    res["students"] = rows
    targets = res.get("targets") or DEFAULT_TARGETS
    min_seeds, positive = res.get("min_seeds", 2), res.get("every_seed_positive", False)
    gains = {}
    for op in sorted({r["op"] for r in rows}):
        a, b = main_row(rows, "heterogeneous", "none", op), main_row(rows, "heterogeneous", "pmsc", op)
        if a and b:
            common = sorted({s["seed"] for s in a["seeds"]} & {s["seed"] for s in b["seeds"]})
            if not common:
                continue
            per = [
                100
                * (
                    next(s["top1"] for s in b["seeds"] if s["seed"] == sd)
                    - next(s["top1"] for s in a["seeds"] if s["seed"] == sd)
                )
                for sd in common
            ]
            g = statistics.fmean(per)
            target = targets.get(f"{op:g}", 0.0)
            gains[f"{op:g}"] = {
                "gain": g,
                "per_seed": per,
                "seeds": common,
                "target": target,
                "met": g >= target and len(common) >= min_seeds and (not positive or min(per) > 0),
                "met_ignoring_seed_count": g >= target,
            }
    res["gains"] = gains


# ---------------------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """CLI: train (or reuse) the teachers and the student grid; rewrite the results after every run."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    ap.add_argument(
        "--rows",
        choices=("core", "all", "ablations", "efficiency"),
        default="core",
        help="core: heterogeneous none vs pmsc at each OP; all: + homogeneous rows and OP 0.3 ablations; "
        "ablations: only the OP 0.3 ablations (add to an existing core run); efficiency: at each "
        "--ops, pmsc weighted by the paper's E, by the graded E (probability drop) at T 1 and "
        f"{SHARP_T:g}, against pmsc_uniform, global_msc and no KD",
    )
    ap.add_argument("--ops", type=float, nargs="+", default=[0.0, 0.3, 0.6])
    add_seeds_arg(ap, [0])
    ap.add_argument(
        "--match",
        nargs="+",
        default=None,
        metavar="GLOB",
        help="only the rows whose key matches one of these globs, e.g. 'het_none_*' (split a grid "
        "over parallel processes; keys look like het_pmsc_op0.3 or het_pmsc_op0.3_p0.7sol)",
    )
    ap.add_argument("--preset", choices=sorted(BENCH_PRESETS), default="bench")
    ap.add_argument("--arch", default=None, help="backbone of teacher and students (default: the preset's, stgcn)")
    ap.add_argument(
        "--model",
        default=None,
        help="model preset of teacher and students (default: the preset's, small; e.g. effgcn-b0 with "
        "--arch efficientgcn)",
    )
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's epochs (milestones scale)")
    ap.add_argument(
        "--precision",
        choices=("bf16", "fp32"),
        default=None,
        help="training precision (default: the engine's, bf16 autocast on CUDA and on AMX or AVX512-BF16 "
        "CPUs, else fp32); fp32 keeps such a run comparable with fp32 runs elsewhere",
    )
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument(
        "--kl-alpha",
        type=float,
        default=None,
        help="α of the logit-KD row only (its T²-scaled KL dwarfs CE at α 1: 0.1 trains)",
    )
    ap.add_argument("--tau", type=float, default=1.0)
    ap.add_argument("--w", type=float, default=0.5)
    ap.add_argument("--level", default="medium")
    ap.add_argument(
        "--teacher",
        type=Path,
        default=None,
        help="reuse this finished teacher run folder (e.g. another --work's teacher_s0) instead of training",
    )
    ap.add_argument("--teacher-per-seed", action="store_true", help="train one teacher per seed (default: one, seed 0)")
    ap.add_argument(
        "--teacher-dropout",
        default=None,
        metavar="PART:JOINT",
        help="train the teacher(s) with this part / joint dropout (method.md §4), e.g. 0.5:0.1",
    )
    add_threads_arg(ap)
    ap.add_argument("--data-root", type=Path, default=DATA_ROOT)
    ap.add_argument(
        "--work",
        type=Path,
        default=None,
        help="run folders, reused when finished (default runs/bench/<dataset>_<preset>[_e.._a.._t.._w..], "
        "named after the non-default --epochs/--alpha/--tau/--w/--level/--precision)",
    )
    add_save_arg(ap, help="output stem (default benchmarks/results/<dataset>)")
    ap.add_argument("--note", action="append", default=[], help="free-text note for the .md (repeatable)")
    ap.add_argument(
        "--collect-only",
        action="store_true",
        help="train nothing: evaluate the finished runs in --work and rewrite the result files",
    )
    args = ap.parse_args(argv)

    set_threads(args.threads)
    from partkd.checkpoints import load_checkpoint, read_meta
    from partkd.engine.config import StudentConfig, scaled_milestones
    from partkd.engine.data import load_paired
    from partkd.engine.evaluate import evaluate
    from partkd.engine.student import train_student
    from partkd.engine.teacher import compute_part_matrix, train_teacher

    ds = DATASETS[args.dataset]
    tag = "".join(
        f"_{k}{v:g}"
        for k, v, d in (("e", args.epochs or 0, 0), ("a", args.alpha, 1.0), ("t", args.tau, 1.0), ("w", args.w, 0.5))
        if v != d
    )
    tag += "" if args.level == "medium" else f"_{args.level}"
    tag += f"_{args.precision}" if args.precision else ""
    dropout = {}
    if args.teacher_dropout:
        part, _, joint = args.teacher_dropout.partition(":")
        dropout = {"part_dropout": float(part), "joint_dropout": float(joint or 0.0)}
        tag += f"_pd{dropout['part_dropout']:g}_jd{dropout['joint_dropout']:g}"
    # finished runs in the work folder are reused, so every setting that changes them is part of its name
    work = args.work or ROOT / "runs" / "bench" / f"{args.dataset}_{args.preset}{tag}"
    save = args.save or RESULTS / args.dataset
    save.parent.mkdir(parents=True, exist_ok=True)
    spec_het = data_spec(args.dataset, args.data_root, args.level)
    spec_hom = (
        replace(spec_het, high_source=ds["homogeneous_high"])
        if ds.get("homogeneous_high")
        else replace(spec_het, low_layout="same")
    )
    extra: dict[str, Any] = {
        k: v for k, v in (("arch", args.arch), ("model", args.model), ("precision", args.precision)) if v
    }
    if args.epochs:
        base = train_cfg(args.preset, 0)
        extra.update(epochs=args.epochs, milestones=scaled_milestones(base.milestones, base.epochs, args.epochs))
    cfg0 = train_cfg(args.preset, 0, **extra)
    teacher_extra = {**(ds.get("teacher", {}) if args.preset == "bench" else {}), **dropout}
    planned = [
        r
        for r in grid(args.rows, args.ops, args.kl_alpha)
        if args.match is None or any(fnmatch.fnmatchcase(row_key(r), g) for g in args.match)
    ]
    info = provenance(argv).record()
    res: dict[str, Any] = {
        "dataset": args.dataset,
        "preset": args.preset,
        "device": info["device"],
        "command": info["command"],
        "teacher": None,
        "students": [],
        "date": info["date"],
        "code_version": info["code_version"],
        "train_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg0).items()},
        "train_config_summary": f"engine preset `{cfg0.preset}` with {cfg0.arch} model {cfg0.model}, "
        f"{cfg0.epochs} epochs, lr {cfg0.lr} ×{cfg0.gamma} at {list(cfg0.milestones)}, batch {cfg0.batch_size}, "
        f"T={cfg0.frames} ({cfg0.frame_mode}), M={cfg0.persons}",
        "teacher_overrides": {k: (list(v) if isinstance(v, tuple) else v) for k, v in teacher_extra.items()},
        "kd_config": {"alpha": args.alpha, "tau": args.tau, "w": args.w},
        "occlusion": StudentConfig().occlusion,
        "high_layout": ds["high"],
        "low_layout_hetero": ds.get("low_layout", "coco17"),
        "level": args.level,
        "low_source": ds.get("low", "simulate"),
        "homogeneous_high": ds.get("homogeneous_high"),
        "data_options": ds.get("options", {}),
        "targets": ds.get("targets", DEFAULT_TARGETS),
        "min_seeds": ds.get("min_seeds", 2),
        "every_seed_positive": ds.get("every_seed_positive", False),
        "rows": args.rows,
        "ops": args.ops,
        "seeds_requested": args.seeds,
        "planned": planned,
        "runs_done": 0,
        "not_run": [],
        "notes": list(args.note),
        "seconds": 0.0,
    }
    started = time.time()
    per_run: dict[str, dict[str, Any]] = {}

    def flush() -> None:
        collect(res, per_run)
        res["runs_done"] = len(per_run)
        res["not_run"] = [
            f"{row_key(r)}_s{s}" for r in planned for s in args.seeds if f"{row_key(r)}_s{s}" not in per_run
        ]
        res["seconds"] = round(time.time() - started, 1)
        publish(save, res, table_md(res))
        plot(res, output_path(save, ".png"))

    # ---- teacher(s): one on H; a second on the homogeneous H when the dataset has its own (h36m: projected)
    data_het = load_paired(spec_het)
    paired = {"heterogeneous": data_het}

    def paired_for(setting: str) -> Any:
        """The setting's paired data, loaded once for its teachers and its students' test set."""
        if setting not in paired:
            paired[setting] = load_paired(spec_het if setting == "heterogeneous" else spec_hom)
        return paired[setting]

    res["test_clips"] = len(data_het.high.by_split("test"))
    res["train_clips"] = len(data_het.high.by_split("train"))
    res["low_test_clips"] = len(data_het.low.by_split("test"))
    res["low_train_clips"] = len(data_het.low.by_split("train"))
    teacher_seeds = args.seeds if args.teacher_per_seed else [args.seeds[0]]
    own_hom = bool(ds.get("homogeneous_high"))
    settings = ["heterogeneous"] + (
        ["homogeneous"] if own_hom and any(r["setting"] == "homogeneous" for r in planned) else []
    )
    teachers: dict[tuple[str, int], Path] = {}
    for setting in settings:
        spec_t = spec_het if setting == "heterogeneous" else spec_hom
        data_t = paired_for(setting)
        metrics = []
        for seed in teacher_seeds:
            tdir = (
                args.teacher
                if setting == "heterogeneous" and args.teacher
                else work / (f"teacher_s{seed}" if setting == "heterogeneous" else f"teacher_hom_s{seed}")
            )
            t0 = time.time()
            if not finished(tdir):
                if args.collect_only:
                    raise SystemExit(f"--collect-only: no finished teacher in {tdir}")
                train_teacher(train_cfg(args.preset, seed, **{**extra, **teacher_extra}), spec_t, tdir, resume=True)
            tpath = tdir / "model.safetensors"
            if "E" not in read_meta(tpath):
                compute_part_matrix(tpath, spec_t)
            teachers[(setting, seed)] = tpath
            m = evaluate(load_checkpoint(tpath), data_t.high.by_split("test"))
            meta = read_meta(tpath)
            metrics.append(
                {
                    "seed": seed,
                    "top1": m["top1"],
                    "top5": m["top5"],
                    "checkpoint": str(tpath),
                    "seconds": training_seconds(meta),
                    "val_curve": [h["val_acc"] for h in meta["history"]],
                    "E_raw": meta["E_raw"],
                    "precision_used": meta.get("precision_used", NOT_RECORDED),
                    "E_drop": meta.get("E_drop"),
                    "class_names": meta["class_names"],
                }
            )
            print(
                f"teacher {setting[:3]} s{seed}: top1 {100 * m['top1']:.2f} top5 {100 * m['top5']:.2f} "
                f"({time.time() - t0:.0f} s)",
                flush=True,
            )
        t1, t1sd = mean_std([t["top1"] for t in metrics])
        res["teacher" if setting == "heterogeneous" else "teacher_homogeneous"] = {
            "top1": t1,
            "top5": statistics.fmean(t["top5"] for t in metrics),
            "top1_std": t1sd,
            "seeds": metrics,
        }
    flush()

    def teacher_for(setting: str, seed: int) -> Path:
        key = setting if own_hom else "heterogeneous"
        return teachers.get((key, seed), teachers[(key, teacher_seeds[0])])

    # ---- students: seed-major so a cut-off run has every row at seed 0 first
    for seed in args.seeds:
        for r in planned:
            name = f"{row_key(r)}_s{seed}"
            rdir = work / "students" / name
            if own_hom and r["setting"] == "homogeneous" and r["kd"] == "none":
                # L is the same in both settings and no-KD never sees H: the heterogeneous run is this run
                rdir = work / "students" / f"{row_key({**r, 'setting': 'heterogeneous'})}_s{seed}"
            spec = spec_het if r["setting"] == "heterogeneous" else spec_hom
            scfg = StudentConfig(
                kd=r["kd"],
                alpha=r.get("alpha", args.alpha),
                tau=args.tau,
                w=args.w,
                op=r["op"],
                paired_fraction=r["paired_fraction"],
                use_solitary=r["solitary"] or r["paired_fraction"] == 1.0,
                efficiency=r.get("efficiency", "miss"),
                efficiency_temperature=r.get("temperature", 1.0),
            )
            t0 = time.time()
            if args.collect_only and not finished(rdir):
                continue
            if finished(rdir):
                refuse_stale(rdir, student=scfg)
            else:
                train_student(
                    train_cfg(args.preset, seed, **extra),
                    scfg,
                    teacher_for(r["setting"], seed),
                    spec,
                    rdir,
                    resume=True,
                )
            st = load_checkpoint(rdir / "model.safetensors")
            m = evaluate(st, paired_for(r["setting"]).low.by_split("test"), op=r["op"], mode=scfg.occlusion, seed=0)
            meta = read_meta(rdir / "model.safetensors")
            per_run[name] = {
                "row": row_key(r),
                "seed": seed,
                "top1": m["top1"],
                "top5": m["top5"],
                "checkpoint": str(rdir / "model.safetensors"),
                "seconds": training_seconds(meta),
                "val_curve": [h["val_acc"] for h in meta["history"]],
                "precision_used": meta.get("precision_used", NOT_RECORDED),
            }
            print(
                f"{name}: top1 {100 * m['top1']:.2f} top5 {100 * m['top5']:.2f} ({time.time() - t0:.0f} s)", flush=True
            )
            flush()
    print(table_md(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
