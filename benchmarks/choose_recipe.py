"""Choose a shipped pair's student recipe on a validation split carved from the training subjects, never on test.

The recipe's teacher and every candidate student are trained on the training split minus the held-out subjects
(DataSpec.validation) and read on those subjects at each OP under the default occlusion reading. The schedule
(epochs) is the one the no-KD student reads best with (mean validation top-1 over the OPs), so the baseline is never
under-trained to flatter KD; PMSC keeps its best τ and part weights on that schedule. The test split is not loaded.

    python benchmarks/choose_recipe.py configs/penn_action_app.toml --threads 1
    python benchmarks/choose_recipe.py configs/app_default.toml --epochs 10 20 --taus 0.1 1 --threads 1
    python benchmarks/choose_recipe.py configs/penn_action_app.toml --epochs 20 --teacher-inputs j --threads 1

--teacher-inputs also distils PMSC students from teachers of other inputs (trained on the same split, weighted by
their own E), so the distilling teacher's input is chosen on validation too.

Finished runs under --work are reused; the result files are rewritten after every run. Records: one per candidate
with its validation top-1 at each OP; `chosen` names each method's pick and whether it is the shipped recipe's.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness import RESULTS, ROOT, add_threads_arg, md_head, md_notes, md_table, provenance, publish, set_threads
from harness_data import refuse_stale

#: PMSC part weights tried: (E definition, softmax temperature): the default Shapley E and the paper's miss rate.
EFFICIENCIES: tuple[tuple[str, float], ...] = (("shapley", 0.2), ("miss", 1.0))


def candidates(
    epochs: list[int], taus: list[float], efficiencies: list[str] | None = None, teachers: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """No-KD students per epoch count; PMSC students per epoch count, τ, part weights (EFFICIENCIES by name) and
    teacher (the recipe's, then one per input named in `teachers`)."""
    out: list[dict[str, Any]] = [{"kd": "none", "epochs": e} for e in epochs]
    weights = [w for w in EFFICIENCIES if efficiencies is None or w[0] in efficiencies]
    for t, e, tau, (eff, temp) in itertools.product((None, *teachers), epochs, taus, weights):
        c = {"kd": "pmsc", "epochs": e, "tau": tau, "efficiency": eff, "temperature": temp}
        out.append({**c, "teacher": t} if t else c)
    return out


def run_name(c: dict[str, Any]) -> str:
    """A candidate's folder name, e.g. 'pmsc_e10_tau0.1_shapley'."""
    if c["kd"] == "none":
        return f"none_e{c['epochs']}"
    return f"pmsc_e{c['epochs']}_tau{c['tau']:g}_{c['efficiency']}" + (f"_t{c['teacher']}" if c.get("teacher") else "")


def seed_dir(c: dict[str, Any], seed: int) -> str:
    """A candidate's run folder for one seed: run_name, suffixed '_s<seed>' past seed 0."""
    return run_name(c) + (f"_s{seed}" if seed else "")


def shipped(c: dict[str, Any], recipe: Any) -> bool:
    """Whether a candidate is the recipe file's own student recipe."""
    kd = recipe.variants[c["kd"]]
    same = c["epochs"] == recipe.student.epochs
    if c["kd"] == "none":
        return same
    weights = (c["efficiency"], c["temperature"]) == (kd.efficiency, kd.efficiency_temperature)
    return same and c["tau"] == kd.tau and weights and not c.get("teacher")


def choose(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The no-KD student's best schedule by mean validation top-1 (ties: fewer epochs), so the baseline is never
    under-trained; each KD method's best τ and part weights on that schedule."""

    def best(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return max(rows, key=lambda r: (r["mean"], -r["epochs"]))

    base = [r for r in records if r["kd"] == "none"]
    if not base:
        return {}
    out = {"none": best(base)}
    for kd in sorted({r["kd"] for r in records} - {"none"}):
        rows = [r for r in records if r["kd"] == kd and r["epochs"] == out["none"]["epochs"]]
        if rows:
            out[kd] = best(rows)
    return out


def table_md(res: dict[str, Any]) -> str:
    ops = res["ops"]
    head = [
        "student",
        "epochs",
        "τ",
        "part weights",
        *[f"val OP {o:g}" for o in ops],
        "mean",
        "seeds",
        "shipped recipe",
    ]
    rows = []
    for r in res["records"]:
        pick = " **chosen**" if res["chosen"].get(r["kd"], {}).get("run") == r["run"] else ""
        weights = "—" if r["kd"] == "none" else f"{r['efficiency']} (T {r['temperature']:g})"
        if r.get("teacher"):
            weights += f", from a `{r['teacher']}` teacher"
        rows.append(
            [
                ("no KD" if r["kd"] == "none" else "PMSC") + pick,
                r["epochs"],
                "—" if r["kd"] == "none" else f"{r['tau']:g}",
                weights,
                *[f"{v:.2f}" for v in r["top1"]],
                f"{r['mean']:.2f}",
                len(r["seeds"]),
                "yes" if r["shipped"] else "",
            ]
        )
    lines = md_head(f"Recipe choice on validation: {res['recipe']}", res["provenance"])
    lines += [
        f"Data: {res['data']}. Validation: {res['validation']['clips']} clips of the held-out training groups "
        f"{', '.join(res['validation']['groups'][:12])}{' …' if len(res['validation']['groups']) > 12 else ''}; "
        f"teacher top-1 on them {res['teacher_top1']:.2f} %. Occlusion: {res['mode']}, evaluation seed 0. Top-1 % "
        "on the validation clips, mean over the student seeds (column seeds).",
        "",
        md_table(head, rows),
    ]
    same = [k for k, r in res["chosen"].items() if r["shipped"]]
    notes = [
        f"Chosen by the mean validation top-1 over OP {', '.join(f'{o:g}' for o in ops)}: the schedule by the no-KD "
        "student's, PMSC's τ and part weights on that schedule; the test split was not read.",
        "The shipped recipe is the one chosen for: " + (", ".join(same) if same else "no method") + ".",
    ]
    if res["records"]:
        n = res["records"][0]["n"]
        se = 100 * (0.8 * 0.2 / max(n, 1)) ** 0.5
        notes.append(f"{n} validation clips per OP: one binomial standard error is {se:.1f} points at 80 % top-1.")
    return "\n".join(lines + [""] + md_notes(notes)) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("recipe", type=Path, help="a reproduce TOML (configs/<name>.toml)")
    ap.add_argument("--validation", type=float, default=0.2, help="share of the training subjects held out")
    ap.add_argument("--epochs", type=int, nargs="+", default=[10, 20], help="student epoch counts tried")
    ap.add_argument("--taus", type=float, nargs="+", default=[0.1, 1.0], help="PMSC temperatures τ tried")
    ap.add_argument(
        "--efficiencies", nargs="+", choices=[w[0] for w in EFFICIENCIES], default=[w[0] for w in EFFICIENCIES]
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="student seeds per candidate (mean read)")
    ap.add_argument(
        "--teacher-inputs", nargs="+", default=[], metavar="INPUT", help="also distil from teachers of these inputs"
    )
    ap.add_argument("--ops", type=float, nargs="+", default=[0.0, 0.3, 0.6])
    ap.add_argument("--work", type=Path, default=None, help="run folder (default runs/choose_recipe/<recipe name>)")
    ap.add_argument("--save", type=Path, default=None, help="result stem (default benchmarks/results/recipe_<name>)")
    add_threads_arg(ap)
    args = ap.parse_args(argv)

    set_threads(args.threads)
    from partkd.checkpoints import load_checkpoint, read_meta
    from partkd.engine.config import scaled_milestones
    from partkd.engine.data import load_paired
    from partkd.engine.evaluate import accuracy_vs_op, evaluate
    from partkd.engine.reproduce import load_recipe
    from partkd.engine.student import train_student
    from partkd.engine.teacher import compute_part_matrix, train_teacher

    rec = load_recipe(args.recipe)
    work = args.work or ROOT / "runs" / "choose_recipe" / rec.name
    save = args.save or RESULTS / f"recipe_{rec.name}"
    spec = replace(rec.data, validation=args.validation)
    data = load_paired(spec)
    val = data.by_split("test")  # the carved validation split stands in for the test split

    def teacher(cfg: Any, tdir: Path) -> Path:
        """The teacher trained on the carved split (reused when finished with the same data), with its E."""
        if not (tdir / "model.safetensors").exists():
            train_teacher(cfg, spec, tdir, resume=True)
        path = tdir / "model.safetensors"
        refuse_stale(path, spec=spec)
        if "E" not in read_meta(path):
            compute_part_matrix(path, spec)
        return path

    tpath = teacher(rec.teacher, work / "teacher")
    teacher_top1 = 100 * evaluate(load_checkpoint(tpath), val.high)["top1"]
    own = tuple(read_meta(tpath)["model"].get("modalities") or ("j",))
    teachers: dict[str | None, Path] = {None: tpath}
    for name in (m for m in args.teacher_inputs if (m,) != own):
        teachers[name] = teacher(replace(rec.teacher, modalities=(name,)), work / f"teacher_{name}")
    res: dict[str, Any] = {
        "recipe": str(args.recipe),
        "provenance": provenance(argv),
        "data": spec.describe(),
        "validation": data.high.meta["validation"],
        "teacher_top1": teacher_top1,
        "mode": rec.variants["none"].occlusion,
        "ops": args.ops,
        "records": [],
        "chosen": {},
    }

    def flush() -> None:
        res["chosen"] = choose(res["records"])
        out = {**res, "provenance": res["provenance"].record()}
        publish(save, out, table_md(res))

    for c in candidates(args.epochs, args.taus, args.efficiencies, tuple(t for t in teachers if t)):
        kd = replace(rec.variants[c["kd"]], op=max(rec.ops))
        if c["kd"] != "none":
            kd = replace(kd, tau=c["tau"], efficiency=c["efficiency"], efficiency_temperature=c["temperature"])
        cfg = replace(
            rec.student,
            epochs=c["epochs"],
            milestones=scaled_milestones(rec.student.milestones, rec.student.epochs, c["epochs"]),
        )
        per_seed = []
        for seed in args.seeds:
            out = work / seed_dir(c, seed)
            if not (out / "model.safetensors").exists():
                train_student(replace(cfg, seed=seed), kd, teachers[c.get("teacher")], spec, out, resume=True)
            refuse_stale(out, spec, replace(cfg, seed=seed), kd)
            rows = accuracy_vs_op(
                load_checkpoint(out / "model.safetensors"), val, args.ops, seed=rec.eval_seed, mode=kd.occlusion
            )
            per_seed.append([100 * r["top1"] for r in rows])
            print(f"{seed_dir(c, seed)}: " + " / ".join(f"{v:.2f}" for v in per_seed[-1]), flush=True)
        top1 = [statistics.fmean(col) for col in zip(*per_seed)]
        res["records"].append(
            {
                **c,
                "run": run_name(c),
                "seeds": list(args.seeds),
                "per_seed": per_seed,
                "top1": top1,
                "mean": statistics.fmean(top1),
                "n": int(rows[0]["n"]),
                "shipped": shipped(c, rec),
            }
        )
        flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
