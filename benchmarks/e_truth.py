"""Does the part-efficiency matrix E name the parts that carry each action? Teachers with and without part / joint
dropout: their test top-1, every definition of E (miss rate, eq. 12; probability drop; part Shapley value), and on
the synthetic data, whose carrier parts are known, the carrier recovery of each; heatmaps of E (the paper's Fig. 5).

    python benchmarks/e_truth.py --dataset synthetic --seeds 0 1 2 --variants 0:0 0.5:0 0.5:0.1
    python benchmarks/e_truth.py --dataset penn_action --seeds 0 --variants 0:0 0.5:0.1 --threads 1

synthetic: the shipped checkpoints' recipe (configs/app_default.toml: its data, clean motion, and its teacher
section); real datasets: the `bench` preset and kd_real's data protocol (harness_data; a teacher of kd_real's --work
is reused for variant 0:0 when --reuse names it). A variant is PART:JOINT (teacher part_dropout : joint_dropout).
Results: benchmarks/results/e_truth_<dataset>.{json,md} and e_truth_<dataset>_<variant>.png (seed of the first run).
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
    md_table,
    provenance,
    publish,
    set_threads,
)
from harness_data import DATASETS, data_spec, draw_e, finished, mean_std, train_cfg, variant_label

RECIPE = ROOT / "configs" / "app_default.toml"


def variant_key(part: float, joint: float, mode: str = "one") -> str:
    """A variant's key in run folders and results, e.g. 'pd0.5_jd0.1' (its mode unless 'one')."""
    return f"pd{part:g}_jd{joint:g}" + ("" if mode == "one" else f"_{mode}")


def parse_variant(text: str) -> tuple[float, float, str]:
    """PART:JOINT[:MODE] -> (part_dropout, joint_dropout, part_dropout_mode)."""
    part, joint, mode = (text.split(":") + ["", ""])[:3]
    return float(part), float(joint or 0.0), mode or "one"


def spec_and_cfg(
    dataset: str, seed: int, part: float, joint: float, mode: str = "one", modalities: tuple[str, ...] = ("j",)
) -> tuple[Any, Any]:
    """The DataSpec and teacher TrainConfig of one run."""
    from dataclasses import replace

    if dataset == "synthetic":
        from partkd.engine.reproduce import load_recipe

        recipe = load_recipe(RECIPE)
        return recipe.data, replace(
            recipe.teacher,
            seed=seed,
            part_dropout=part,
            joint_dropout=joint,
            part_dropout_mode=mode,
            modalities=modalities,
        )
    return data_spec(dataset), train_cfg(
        "bench",
        seed,
        **DATASETS[dataset].get("teacher", {}),
        part_dropout=part,
        joint_dropout=joint,
        part_dropout_mode=mode,
        modalities=modalities,
    )


def heatmap(E: list[list[float]], classes: list[str], title: str, path: Path) -> None:
    """Save an annotated heatmap of E (classes × parts) to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(4.6, 0.32 * len(classes) + 1.4))
    im = draw_e(ax, E, classes, title, max(1e-6, float(np.max(E))), vmin=min(0.0, float(np.min(E))))
    fig.colorbar(im, ax=ax, fraction=0.05)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cell_of(v: dict[str, Any], key: str, pct: bool) -> str:
    """Mean ± std of a summary entry's per-seed list (a percentage or a signed gap), or a dash."""
    vals = v.get(key)
    if not vals:
        return "—"
    m, sd = mean_std(vals)
    return f"{100 * m:.1f} ± {100 * sd:.1f}" if pct else f"{m:+.3f} ± {sd:.3f}"


def table_md(res: dict[str, Any]) -> str:
    """The report: teacher top-1 and carrier recovery of every definition of E per variant, the alternatives, the
    faithfulness of the per-clip explainers, and each class's top part."""

    def label(v: dict[str, Any]) -> str:
        return variant_label(v["part"], v["joint"], v.get("mode", "one"))

    header = ["teacher dropout (part : joint)", "seeds", "teacher top-1 (%)"]
    header += [f"carrier recovery, {k}" for k in DEFS] + [f"gap, {k}" for k in DEFS]
    rows = [
        [label(v), len(v["top1"]), cell_of(v, "top1", True)]
        + [cell_of(v, f"recovery_{k}", True) for k in DEFS]
        + [cell_of(v, f"gap_{k}", False) for k in DEFS]
        for v in res["summary"]
    ]
    lines = [
        *md_head(f"Part-efficiency matrix E vs teacher dropout: {res['dataset']}", Provenance.from_record(res)),
        res["protocol"],
        "",
        md_table(header, rows),
    ]
    lines += [
        "",
        "Carrier recovery = share of the classes carried by a strict subset of the five parts whose largest "
        "E entry is a carrier part; gap = mean E on carrier parts − mean E on the others. Mean ± std over seeds.",
        "",
    ]
    alt = [v for v in res["summary"] if any(f"recovery_{k}" in v for k in ALTERNATIVES)]
    if alt:
        rows = [[label(v)] + [cell_of(v, f"recovery_{k}", True) for k in ALTERNATIVES] for v in alt]
        lines += [
            "E defined otherwise (--alternatives), carrier recovery (%) mean ± std over seeds:",
            "",
            md_table(["teacher dropout", *ALTERNATIVES], rows),
        ]
        lines += [""] + [f"- {k}: {d}" for k, d in ALTERNATIVES.items()] + [""]
        for v in alt:
            lines += [
                f"Classes whose top part is not a carrier, {v['key']}, seed {v['first_seed']}: "
                + "; ".join(
                    f"{k}: " + (", ".join(f"{c} → {t}" for c, t in v[f"top_{k}"].items()) or "none")
                    for k in ALTERNATIVES
                    if f"top_{k}" in v
                ),
                "",
            ]
    lines += faithfulness_md(res)
    for v in res["summary"]:
        for k in DEFS:
            if v.get(f"per_class_{k}"):
                lines += [
                    f"Top part per class, {k}, {v['key']}, seed {v['first_seed']}: "
                    + ", ".join(
                        f"{c} → {d['top']} ({'carrier' if d['hit'] else 'not a carrier'}: {'/'.join(d['carriers'])})"
                        for c, d in v[f"per_class_{k}"].items()
                    ),
                    "",
                ]
    return "\n".join(lines)


#: The definitions of E a teacher stores (partkd.distill.definitions), scored on every run.
DEFS = ("miss", "drop", "shapley")
#: Other definitions of E scored with --alternatives (the data's motion is a reference, not a teacher's E).
ALTERNATIVES = {
    "keep_only": "true-class probability with only this part kept",
    "motion": "the data's own mean joint motion of the part (no model)",
}


def alternatives(tpath: Path, spec: Any) -> dict[str, dict]:
    """Carrier recovery of E defined otherwise, on the teacher's H train clips (the clips E is computed on)."""
    from partkd.checkpoints import load_checkpoint
    from partkd.distill.efficiency import carrier_recovery, class_means, part_motion, part_subset_values
    from partkd.engine.data import load_high, model_inputs

    teacher = load_checkpoint(tpath)
    high = load_high(spec)
    train = high.by_split("train")
    x = model_inputs(train, teacher.meta)
    values = part_subset_values(teacher.model, x, train.labels, teacher.layout)
    per_clip = {"keep_only": values[:, [1 << p for p in range(5)]], "motion": part_motion(x, teacher.layout)}
    out = {}
    for k, m in per_clip.items():
        E = class_means(m, train.labels, train.num_classes)
        out[k] = {"E": E.tolist(), **carrier_recovery(E, train.class_names, high.meta["action_parts"])}
    return out


def faithfulness(tpath: Path, spec: Any, clips: int, windows: int = 8, stability_clips: int = 10) -> dict[str, Any]:
    """Per-clip explainers on `clips` test clips spread over the test split: each method's deletion-curve AUC (mean,
    std, share of clips below the random order's) against random order, and its stability under small noise."""
    import numpy as np

    from partkd.checkpoints import load_checkpoint
    from partkd.distill.explain import EXPLAINERS, stability
    from partkd.engine.data import load_high, model_inputs
    from partkd.engine.explain import explain_dataset_clip

    teacher = load_checkpoint(tpath)
    high = load_high(spec)
    rows = np.flatnonzero(high.split == "test")
    picked = rows[np.linspace(0, len(rows) - 1, min(clips, len(rows))).round().astype(int)]
    auc: dict[str, list[float]] = {k: [] for k in EXPLAINERS}
    rand: list[float] = []
    stab: dict[str, list[float]] = {k: [] for k in EXPLAINERS}
    for i, index in enumerate(picked):
        r = explain_dataset_clip(teacher, high, int(index), windows=windows)
        rand.append(r["random_auc"])
        for k in EXPLAINERS:
            auc[k].append(r["methods"][k]["auc"])
        if i < stability_clips:
            x = model_inputs(high.subset(np.array([index])), teacher.meta)[0]
            for k in EXPLAINERS:
                stab[k].append(stability(teacher.model, x, int(high.labels[index]), teacher.layout, k, windows))
    return {
        "clips": len(picked),
        "windows": windows,
        "random_auc": rand,
        "auc": auc,
        "stability": stab,
        "summary": {
            k: {
                "auc_mean": float(np.mean(v)),
                "auc_std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                "random_mean": float(np.mean(rand)),
                "below_random": float(np.mean(np.array(v) < np.array(rand))),
                "stability": float(np.mean(stab[k])) if stab[k] else None,
            }
            for k, v in auc.items()
        },
    }


def faithfulness_md(res: dict[str, Any]) -> list[str]:
    """The faithfulness table of every run that has one."""
    runs = [r for r in res["runs"] if r.get("faithfulness")]
    if not runs:
        return []
    lines = [
        "## Per-clip explanations: faithfulness (deletion curves) and stability",
        "",
        "Deletion curve: the clip's (window, joint) cells zeroed in the method's order, most important first, "
        "10 steps; AUC of the true-class probability (lower = more faithful), against the mean of 5 random "
        "orders on the same clip. Stability: Spearman correlation of the method's map on the clip and on a copy "
        "with N(0, 0.01) added to the normalised coordinates (first 10 clips).",
        "",
    ]
    header = [
        "teacher",
        "clips",
        "method",
        "deletion AUC, mean ± std",
        "random order AUC",
        "clips below random",
        "stability",
    ]
    rows = [
        [
            f"{r['variant']} s{r['seed']}",
            r["faithfulness"]["clips"],
            k,
            f"{v['auc_mean']:.3f} ± {v['auc_std']:.3f}",
            f"{v['random_mean']:.3f}",
            f"{100 * v['below_random']:.0f} %",
            "—" if v["stability"] is None else f"{v['stability']:.2f}",
        ]
        for r in runs
        for k, v in r["faithfulness"]["summary"].items()
    ]
    return lines + [md_table(header, rows), ""]


def main(argv: list[str] | None = None) -> int:
    """CLI: train (or reuse) each variant's teachers, score their E, write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=["synthetic", *sorted(DATASETS)], default="synthetic")
    add_seeds_arg(ap, [0, 1, 2])
    ap.add_argument(
        "--variants",
        nargs="+",
        default=["0:0", "0.5:0", "0.5:0.1"],
        metavar="PART:JOINT[:MODE]",
        help="teacher part dropout : joint dropout [: part dropout mode, one or subset]",
    )
    add_threads_arg(ap)
    ap.add_argument("--work", type=Path, default=None, help="run folders (default runs/bench/e_truth_<dataset>)")
    ap.add_argument(
        "--alternatives",
        action="store_true",
        help="also score E defined otherwise (exact Shapley value of each part, keep-only-this-part "
        "probability) and the data's own part motion, on data with known carriers",
    )
    ap.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="finished teacher run folder to use for variant 0:0, seed 0 (e.g. kd_real's teacher_s0)",
    )
    ap.add_argument(
        "--explain",
        type=int,
        default=0,
        metavar="N",
        help="also measure the per-clip explainers' faithfulness on N test clips of each variant's first-seed teacher",
    )
    ap.add_argument(
        "--modalities",
        default="j",
        help="teacher input modalities, comma-separated (default j; e.g. ba for bone angles)",
    )
    add_save_arg(ap, help="results stem (default benchmarks/results/e_truth_<dataset>)")
    args = ap.parse_args(argv)

    set_threads(args.threads)
    from partkd.checkpoints import load_checkpoint, read_meta
    from partkd.engine.data import load_paired
    from partkd.engine.evaluate import evaluate
    from partkd.engine.teacher import compute_part_matrix, train_teacher

    work = args.work or ROOT / "runs" / "bench" / f"e_truth_{args.dataset}"
    info = provenance(argv).record()
    protocol = (
        "Synthetic data and teacher recipe of the shipped checkpoints (configs/app_default.toml: 10 "
        "classes × 100 clips, clean motion, ntu25 3D, ST-GCN tiny, 16 epochs); the training seed varies, the "
        "data do not."
        if args.dataset == "synthetic"
        else f"kd_real's `bench` preset and {args.dataset} protocol (teacher on the high-quality train split, E on "
        "the same clips); top-1 on the test split."
    )
    res: dict[str, Any] = {"dataset": args.dataset, **info, "protocol": protocol, "runs": [], "summary": []}
    stem = args.save or RESULTS / f"e_truth_{args.dataset}"
    started = time.time()
    for var in args.variants:
        part, joint, mode = parse_variant(var)
        mods = tuple(args.modalities.split(","))
        key = variant_key(part, joint, mode) + ("" if mods == ("j",) else "_" + "".join(mods))
        for seed in args.seeds:
            spec, cfg = spec_and_cfg(args.dataset, seed, part, joint, mode, mods)
            tdir = work / f"{key}_s{seed}"
            if args.reuse and part == 0 and joint == 0 and seed == 0:
                tdir = args.reuse
            t0 = time.time()
            if not finished(tdir):
                train_teacher(cfg, spec, tdir, resume=True)
            tpath = tdir / "model.safetensors"
            if "E_shapley" not in read_meta(tpath):
                compute_part_matrix(tpath, spec)
            meta = read_meta(tpath)
            high = load_paired(spec).high
            m = evaluate(load_checkpoint(tpath), high.by_split("test"))
            truth = meta.get("E_truth") or {}
            run = {
                "variant": key,
                "part": part,
                "joint": joint,
                "mode": mode,
                "seed": seed,
                "top1": m["top1"],
                "checkpoint": str(tpath),
                "E_raw": meta["E_raw"],
                "E_drop": meta["E_drop"],
                "E_shapley": meta["E_shapley"],
                "E_ci": meta["E_ci"],
                "class_names": meta["class_names"],
                "truth": truth,
            }
            if args.alternatives and meta.get("E_truth"):
                run["alternatives"] = alternatives(tpath, spec)
            if args.explain and seed == args.seeds[0]:
                run["faithfulness"] = faithfulness(tpath, spec, args.explain)
            res["runs"].append(run)
            print(
                f"{run['variant']} s{seed}: top1 {100 * m['top1']:.2f}"
                + "".join(
                    f"; {k} recovery {v['recovery']:.2f} gap {v['gap']:+.3f}"
                    for k, v in truth.items()
                    if v.get("classes")
                )
                + f" ({time.time() - t0:.0f} s)",
                flush=True,
            )
            if seed == args.seeds[0]:
                for k, mkey, label in (
                    ("miss", "E_raw", "E miss rate (eq. 12)"),
                    ("shapley", "E_shapley", "E Shapley value"),
                ):
                    heatmap(
                        meta[mkey],
                        meta["class_names"],
                        f"{args.dataset}: {label}, teacher dropout {variant_label(part, joint, mode)}, "
                        f"seed {seed}, top-1 {100 * m['top1']:.1f} %",
                        stem.with_name(f"{stem.name}_{key}" + ("" if k == "miss" else f"_{k}") + ".png"),
                    )
        runs = [r for r in res["runs"] if r["variant"] == key]
        entry = {
            "key": key,
            "part": part,
            "joint": joint,
            "mode": mode,
            "first_seed": runs[0]["seed"],
            "top1": [r["top1"] for r in runs],
        }
        for k in DEFS:
            entry[f"per_class_{k}"] = runs[0]["truth"].get(k, {}).get("per_class", {})
            if all(r["truth"].get(k, {}).get("classes") for r in runs):
                entry[f"recovery_{k}"] = [r["truth"][k]["recovery"] for r in runs]
                entry[f"gap_{k}"] = [r["truth"][k]["gap"] for r in runs]
        for k in ALTERNATIVES:
            if all(k in r.get("alternatives", {}) for r in runs):
                entry[f"recovery_{k}"] = [r["alternatives"][k]["recovery"] for r in runs]
                entry[f"gap_{k}"] = [r["alternatives"][k]["gap"] for r in runs]
                entry[f"top_{k}"] = {
                    c: d["top"] for c, d in runs[0]["alternatives"][k]["per_class"].items() if not d["hit"]
                }
        res["summary"].append(entry)
        res["seconds"] = round(time.time() - started, 1)
        publish(stem, res, table_md(res))
    print(table_md(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
