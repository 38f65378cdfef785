"""Teacher vs student without KD vs student with PMSC on the built-in synthetic data, over several seeds.

    python benchmarks/kd_synthetic.py --seeds 0 1 2 --ops 0.6
    python benchmarks/kd_synthetic.py --seeds 0 1 2 --ops 0 0.3 0.6       # the whole OP row (≈ 2.3× longer)

Data and recipe = configs/synthetic_default.toml (10 classes × 24 clips, ntu25 3D teacher -> simulated coco17 2D
student, medium estimator; ST-GCN tiny, T = 32, 16 epochs, lr 0.1 ×0.1 at 10/14, batch 16). Every seed trains its
own teacher (training seed = the seed; the synthetic data set is fixed, data seed 0, unless --vary-data) and its
students. Each finished run is added to benchmarks/results/kd_synthetic.{json,md} at once.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    RESULTS,
    ROOT,
    Provenance,
    add_save_arg,
    add_seeds_arg,
    add_threads_arg,
    md_head,
    md_notes,
    md_table,
    provenance,
    publish,
    set_threads,
)
from harness_data import finished, mean_std, refuse_stale, training_seconds

RECIPE = ROOT / "configs" / "synthetic_default.toml"


def table_md(res: dict[str, Any]) -> str:
    """The report: per-seed teacher and student top-1 and PMSC gain at each OP, their mean ± std, the verdicts."""
    ops = res["ops"]
    lines = [
        *md_head("Synthetic data: teacher vs student w/o KD vs student w/ PMSC", Provenance.from_record(res)),
        f"Recipe `{res['recipe']}` ({res['recipe_summary']}). Top-1 (%) on the {res.get('test_clips', '?')} "
        f"synthetic test clips; students tested at the OP they were trained with (occlusion reading "
        f"`{res.get('occlusion', 'joint')}`, test seed 0).",
        "",
    ]
    header = ["seed", "teacher (H)"] + [f"{k} OP {op:g}" for op in ops for k in ("w/o KD", "PMSC", "gain")]
    rows = []
    for s in res["per_seed"]:
        cells = []
        for op in ops:
            a, b = s["students"].get(f"none_{op:g}"), s["students"].get(f"pmsc_{op:g}")
            cells += [
                f"{100 * a:.2f}" if a is not None else "",
                f"{100 * b:.2f}" if b is not None else "",
                f"{100 * (b - a):+.2f}" if a is not None and b is not None else "",
            ]
        t = s.get("teacher")
        rows.append([s["seed"], "" if t is None else f"{100 * t:.2f}", *cells])
    sm = res["summary"]

    def bold(v: dict[str, Any] | None) -> str:
        return "" if v is None else f"**{v['mean']:.2f} ± {v['std']:.2f}**"

    rows.append(
        ["mean ± std", bold(sm.get("teacher"))]
        + [bold(sm.get(f"{k}_{op:g}")) for op in ops for k in ("none", "pmsc", "gain")]
    )
    lines += [md_table(header, rows), ""]
    for op in ops:
        v = sm.get(f"verdict_{op:g}")
        if v:
            lines.append(
                f"- OP {op:g}: PMSC beats no-KD on average: **{'yes' if v['mean'] else 'no'}** "
                f"({sm[f'gain_{op:g}']['mean']:+.2f} points); per seed: {v['wins']}/{v['n']} seeds "
                f"({', '.join(f'{g:+.2f}' for g in v['gains'])})."
            )
    train_s = sum(v for s in res["per_seed"] for v in s["seconds"].values())
    lines += [
        "",
        f"Wall time of this invocation {res['seconds']:.0f} s (finished runs in --work are reused); training "
        f"time of all {sum(len(s['seconds']) for s in res['per_seed'])} runs {train_s:.0f} s. One test clip "
        f"= {100 / max(res.get('test_clips', 1), 1):.2f} points.",
        "",
    ]
    lines += md_notes(res.get("notes", []))
    return "\n".join(lines)


def summarize(res: dict[str, Any]) -> None:
    """Mean ± std over seeds of every column, the PMSC gains and their verdicts, into res['summary']."""
    sm: dict[str, Any] = {}
    tv = [s["teacher"] for s in res["per_seed"] if s.get("teacher") is not None]
    if tv:
        m, sd = mean_std([100 * v for v in tv])
        sm["teacher"] = {"mean": m, "std": sd, "n": len(tv)}
    for op in res["ops"]:
        for kd in ("none", "pmsc"):
            vals = [100 * s["students"][f"{kd}_{op:g}"] for s in res["per_seed"] if f"{kd}_{op:g}" in s["students"]]
            if vals:
                m, sd = mean_std(vals)
                sm[f"{kd}_{op:g}"] = {"mean": m, "std": sd, "n": len(vals)}
        gains = [
            100 * (s["students"][f"pmsc_{op:g}"] - s["students"][f"none_{op:g}"])
            for s in res["per_seed"]
            if f"pmsc_{op:g}" in s["students"] and f"none_{op:g}" in s["students"]
        ]
        if gains:
            m, sd = mean_std(gains)
            sm[f"gain_{op:g}"] = {"mean": m, "std": sd, "n": len(gains)}
            sm[f"verdict_{op:g}"] = {"mean": m > 0, "wins": sum(g > 0 for g in gains), "n": len(gains), "gains": gains}
    res["summary"] = sm


def main(argv: list[str] | None = None) -> int:
    """CLI: per seed, a teacher and its no-KD and PMSC students at each OP; write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_seeds_arg(ap, [0, 1, 2])
    ap.add_argument("--ops", type=float, nargs="+", default=[0.6])
    ap.add_argument("--recipe", type=Path, default=RECIPE, help="reproduce TOML giving data + teacher/student recipe")
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    ap.add_argument("--vary-data", action="store_true", help="also use the seed as the synthetic data seed")
    add_threads_arg(ap)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench" / "kd_synthetic")
    add_save_arg(ap, RESULTS / "kd_synthetic")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args(argv)

    import dataclasses

    set_threads(args.threads)
    from partkd.checkpoints import load_checkpoint, read_meta
    from partkd.engine.data import load_paired
    from partkd.engine.evaluate import evaluate
    from partkd.engine.reproduce import load_recipe
    from partkd.engine.student import train_student
    from partkd.engine.teacher import compute_part_matrix, train_teacher

    recipe = load_recipe(args.recipe)
    tcfg, scfg_train = recipe.teacher, recipe.student
    if args.epochs:
        tcfg = dataclasses.replace(tcfg, epochs=args.epochs)
        scfg_train = dataclasses.replace(scfg_train, epochs=args.epochs)
    info = provenance(argv).record()
    d = recipe.data
    res: dict[str, Any] = {
        **info,
        "recipe": str(args.recipe.relative_to(ROOT) if args.recipe.is_relative_to(ROOT) else args.recipe),
        "recipe_summary": f"{d.num_classes} classes × {d.clips_per_class} clips, L {d.low_layout} {d.level}; model "
        f"{tcfg.model}, T={tcfg.frames}, {tcfg.epochs} epochs, lr {tcfg.lr} ×{tcfg.gamma} at "
        f"{list(tcfg.milestones)}, batch {tcfg.batch_size}, α={recipe.variants['pmsc'].alpha}, "
        f"τ={recipe.variants['pmsc'].tau}, w={recipe.variants['pmsc'].w}"
        if "pmsc" in recipe.variants
        else "",
        "teacher_train": dataclasses.asdict(tcfg),
        "student_train": dataclasses.asdict(scfg_train),
        "ops": args.ops,
        "occlusion": next(iter(recipe.variants.values())).occlusion,
        "seeds": args.seeds,
        "vary_data": args.vary_data,
        "per_seed": [],
        "notes": list(args.note),
    }
    started = time.time()

    def flush() -> None:
        summarize(res)
        res["seconds"] = round(time.time() - started, 1)
        publish(args.save, res, table_md(res))

    for seed in args.seeds:
        spec = dataclasses.replace(d, seed=seed) if args.vary_data else d
        data = load_paired(spec)
        res["test_clips"] = len(data.high.by_split("test"))
        low_test = data.low.by_split("test")
        entry: dict[str, Any] = {
            "seed": seed,
            "teacher": None,
            "teacher_top5": None,
            "students": {},
            "students_top5": {},
            "seconds": {},
        }
        res["per_seed"].append(entry)
        root = args.work / f"s{seed}"
        tdir = root / "teacher"
        if not finished(tdir):
            train_teacher(dataclasses.replace(tcfg, seed=seed), spec, tdir)
        tpath = tdir / "model.safetensors"
        if "E" not in read_meta(tpath):
            compute_part_matrix(tpath, spec)
        m = evaluate(load_checkpoint(tpath), data.high.by_split("test"))
        entry.update(teacher=m["top1"], teacher_top5=m["top5"])
        entry["seconds"]["teacher"] = training_seconds(read_meta(tpath))
        print(f"seed {seed} teacher: top1 {100 * m['top1']:.2f}", flush=True)
        flush()
        for op in args.ops:
            for kd in ("none", "pmsc"):
                sdir = root / f"{kd}_op{op:g}"
                kcfg = dataclasses.replace(recipe.variants.get(kd) or recipe.variants["pmsc"], kd=kd, op=op)
                if finished(sdir):
                    refuse_stale(sdir, student=kcfg)
                else:
                    train_student(dataclasses.replace(scfg_train, seed=seed), kcfg, tpath, spec, sdir)
                m = evaluate(load_checkpoint(sdir / "model.safetensors"), low_test, op=op, mode=kcfg.occlusion, seed=0)
                entry["students"][f"{kd}_{op:g}"] = m["top1"]
                entry["students_top5"][f"{kd}_{op:g}"] = m["top5"]
                entry["seconds"][f"{kd}_{op:g}"] = training_seconds(read_meta(sdir))
                print(f"seed {seed} {kd} OP {op:g}: top1 {100 * m['top1']:.2f}", flush=True)
                flush()
    print(table_md(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
