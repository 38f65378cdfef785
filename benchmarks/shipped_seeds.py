"""How much of a shipped pair's PMSC − no-KD difference is the seed? Trains the recipe's students for more seeds
beside a `partkd reproduce` run (its teacher, its layout: students/<kd>_op<OP>_s<seed>) and reads every seed's
test curve under the default occlusion reading.

    python benchmarks/shipped_seeds.py configs/penn_action_app.toml runs/penn_action_app --seeds 0 1 2 --threads 1

Finished students are reused. Records: per seed and student, top-1 % at each OP; the summary: mean, the spread
(sample standard deviation) and each seed's PMSC − no-KD difference.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness import RESULTS, add_threads_arg, md_head, md_table, provenance, publish, set_threads
from harness_data import refuse_stale

from partkd.paper import TABLE_OPS as OPS


def summarize(curves: dict[str, dict[int, list[float]]]) -> dict[str, Any]:
    """Per student the mean and spread of each OP over seeds; per seed the PMSC − no-KD difference at each OP."""
    out: dict[str, Any] = {}
    for kd, by_seed in curves.items():
        cols = list(zip(*by_seed.values()))
        out[kd] = {
            "mean": [statistics.fmean(c) for c in cols],
            "sd": [statistics.stdev(c) if len(c) > 1 else 0.0 for c in cols],
        }
    common = sorted(set(curves.get("none", {})) & set(curves.get("pmsc", {})))
    gains = {s: [p - n for p, n in zip(curves["pmsc"][s], curves["none"][s])] for s in common}
    out["gain_per_seed"] = gains
    out["gain_mean"] = [statistics.fmean(c) for c in zip(*gains.values())] if gains else []
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("recipe", type=Path, help="the shipped pair's reproduce TOML")
    ap.add_argument("run", type=Path, help="its reproduce run folder (teacher/ and students/)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--save", type=Path, default=None, help="result stem (default benchmarks/results/seeds_<name>)")
    add_threads_arg(ap)
    args = ap.parse_args(argv)

    set_threads(args.threads)
    from partkd.checkpoints import load_checkpoint
    from partkd.engine.data import load_paired
    from partkd.engine.evaluate import accuracy_vs_op
    from partkd.engine.reproduce import load_recipe
    from partkd.engine.student import train_student

    rec = load_recipe(args.recipe)
    op = max(rec.ops)
    teacher = args.run / "teacher" / "model.safetensors"
    test = load_paired(rec.data).by_split("test")
    curves: dict[str, dict[int, list[float]]] = {"none": {}, "pmsc": {}}
    for seed in args.seeds:
        for kd in curves:
            out = args.run / "students" / f"{kd}_op{op:g}_s{seed}"
            cfg, kd_cfg = replace(rec.student, seed=seed), replace(rec.variants[kd], op=op)
            if not (out / "model.safetensors").exists():
                train_student(cfg, kd_cfg, teacher, rec.data, out)
            refuse_stale(out, rec.data, cfg, kd_cfg)
            rows = accuracy_vs_op(
                load_checkpoint(out / "model.safetensors"), test, list(OPS), seed=rec.eval_seed, mode=kd_cfg.occlusion
            )
            curves[kd][seed] = [100 * r["top1"] for r in rows]
            print(f"{kd} seed {seed}: " + " / ".join(f"{v:.2f}" for v in curves[kd][seed]), flush=True)
    res = summarize(curves)
    prov = provenance(argv)
    pmsc = rec.variants["pmsc"]
    fmt = " / ".join
    table = [
        [f"{'no KD' if kd == 'none' else 'PMSC'}, seed {s}", fmt(f"{v:.2f}" for v in c)]
        for kd in curves
        for s, c in curves[kd].items()
    ]
    table += [
        [
            f"{'no KD' if kd == 'none' else 'PMSC'}, mean ± sd",
            fmt(f"{m:.2f} ± {d:.2f}" for m, d in zip(*res[kd].values())),
        ]
        for kd in curves
    ]
    table += [[f"PMSC − no KD, seed {s}", fmt(f"{g:+.2f}" for g in gs)] for s, gs in res["gain_per_seed"].items()]
    table.append(["PMSC − no KD, mean", fmt(f"{g:+.2f}" for g in res["gain_mean"])])
    md = [
        *md_head(f"Shipped recipe over seeds: {args.recipe}", prov),
        f"Data: {rec.data.describe()}; {len(test.low)} test clips; occlusion {pmsc.occlusion}, "
        f"evaluation seed {rec.eval_seed}; students trained at OP {op:g} ({pmsc.op_sampling} "
        f"sampling); PMSC part weights {pmsc.efficiency} (T {pmsc.efficiency_temperature:g}). Top-1 %.",
        "",
        md_table(["student", " / ".join(f"OP {o:g}" for o in OPS)], table),
    ]
    save = args.save or RESULTS / f"seeds_{rec.name}"
    publish(
        save,
        {
            **prov.record(),
            "recipe": str(args.recipe),
            "occlusion": pmsc.occlusion,
            "efficiency": [pmsc.efficiency, pmsc.efficiency_temperature],
            "ops": OPS,
            "curves": curves,
            "summary": res,
        },
        "\n".join(md) + "\n",
    )
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
