"""Reproduce recipe: one TOML runs teacher -> E -> students (with/without KD, ablations) at each OP and seed,
then writes results.json and results.md (the shape of paper table 1)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from partkd.checkpoints import load_checkpoint, read_meta
from partkd.engine.config import (
    DataSpec,
    StudentConfig,
    TrainConfig,
    data_spec_from_dict,
    student_config_from_dict,
    to_dict,
    train_config_from_dict,
)
from partkd.engine.data import load_paired
from partkd.engine.evaluate import evaluate
from partkd.engine.loop import ProgressFn
from partkd.engine.student import train_student
from partkd.engine.teacher import compute_part_matrix, train_teacher
from partkd.errors import ConfigError, where
from partkd.io import atomic_write_json, atomic_write_text, load_toml

_TOP_KEYS = {"name", "description", "data", "teacher", "student", "kd", "experiment", "ablation"}
_EXPERIMENT_KEYS = {"ops", "seeds", "methods", "eval_seed"}


@dataclass
class StudentRun:
    """One student to train: a label, its distillation settings and its seed."""

    label: str
    kd: StudentConfig
    seed: int


@dataclass
class Recipe:
    """A parsed reproduce TOML."""

    name: str
    description: str
    data: DataSpec
    teacher: TrainConfig
    student: TrainConfig
    ops: list[float]
    seeds: list[int]
    eval_seed: int
    variants: dict[str, StudentConfig] = field(default_factory=dict)

    def runs(self) -> list[StudentRun]:
        """Every (variant, OP, seed) student, OP-major so the table fills column by column."""
        return [
            StudentRun(label, replace(kd, op=op), seed)
            for op in self.ops
            for label, kd in self.variants.items()
            for seed in self.seeds
        ]


def load_recipe(path: str | Path) -> Recipe:
    """Parse and validate a reproduce TOML (unknown tables or keys are a one-line ConfigError)."""
    raw = load_toml(path)
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ConfigError(
            where(path, f"unknown table(s)/key(s) {', '.join(unknown)} (known: {', '.join(sorted(_TOP_KEYS))})")
        )
    exp = dict(raw.get("experiment", {}))
    bad = sorted(set(exp) - _EXPERIMENT_KEYS)
    if bad:
        raise ConfigError(where(f"{path}: experiment", f"unknown key(s) {', '.join(bad)}"))
    teacher = train_config_from_dict(raw.get("teacher", {}), f"{path}: teacher")
    # without a [student] table the students train as the teacher does, less the teacher-only dropout
    student = (
        train_config_from_dict(raw["student"], f"{path}: student")
        if "student" in raw
        else replace(teacher, part_dropout=0.0, joint_dropout=0.0, part_dropout_mode="one")
    )
    kd_base = dict(raw.get("kd", {}))
    for k in ("kd", "op"):
        if k in kd_base:
            raise ConfigError(where(f"{path}: kd", f"'{k}' is set per run by experiment.methods/ops"))
    variants = {
        m: student_config_from_dict({**kd_base, "kd": m}, f"{path}: kd") for m in exp.get("methods", ["none", "pmsc"])
    }
    for i, abl in enumerate(raw.get("ablation", [])):
        abl = dict(abl)
        label = abl.pop("name", None)
        if not isinstance(label, str) or not label or label in variants:
            raise ConfigError(where(f"{path}: ablation[{i}]", "needs a unique 'name'"))
        if "op" in abl:
            raise ConfigError(where(f"{path}: ablation[{i}]", "'op' is set per run by experiment.ops"))
        variants[label] = student_config_from_dict({**kd_base, **abl}, f"{path}: ablation[{i}]")
    ops = [float(o) for o in exp.get("ops", [0.0])]
    for op in ops:
        if not 0.0 <= op <= 1.0:
            raise ConfigError(where(f"{path}: experiment.ops", f"occlusion probability must be in [0, 1], got {op}"))
    return Recipe(
        str(raw.get("name", Path(path).stem)),
        str(raw.get("description", "")),
        data_spec_from_dict(raw.get("data", {}), f"{path}: data"),
        teacher,
        student,
        ops,
        [int(s) for s in exp.get("seeds", [0])],
        int(exp.get("eval_seed", 0)),
        variants,
    )


def _finished(run_dir: Path) -> bool:
    return (run_dir / "model.json").exists() and (run_dir / "model.safetensors").exists()


def _run_name(run: StudentRun) -> str:
    return f"{run.label}_op{run.kd.op:g}_s{run.seed}"


def reproduce(
    config_toml: str | Path, out_dir: str | Path | None = None, progress: ProgressFn | None = None, resume: bool = False
) -> dict[str, Any]:
    """Run a recipe: teacher, its E (eqs. 12-13), every student; write results.json/results.md in out_dir."""
    recipe = load_recipe(config_toml)
    out = Path(out_dir) if out_dir else Path("runs") / recipe.name
    out.mkdir(parents=True, exist_ok=True)
    runs = recipe.runs()
    total = 2 + len(runs)
    started = time.time()

    def relay(index: int, label: str) -> ProgressFn:
        def write(record: dict) -> None:
            full = {**record, "phase": f"{label}: {record.get('phase', '')}", "run": index, "runs": total}
            atomic_write_json(out / "progress.json", full)
            if progress is not None:
                progress(full)

        return write

    teacher_dir = out / "teacher"
    if not (resume and _finished(teacher_dir)):
        train_teacher(recipe.teacher, recipe.data, teacher_dir, progress=relay(1, "teacher"), resume=resume)
    teacher_path = teacher_dir / "model.safetensors"
    if not (resume and "E" in read_meta(teacher_path)):
        compute_part_matrix(teacher_path, recipe.data, progress=relay(2, "part matrix"), device=recipe.teacher.device)
    data = load_paired(recipe.data)
    teacher = load_checkpoint(teacher_path)
    teacher_eval = evaluate(teacher, data.high.by_split("test"), seed=recipe.eval_seed)
    rows: list[dict[str, Any]] = []
    for i, run in enumerate(runs):
        run_dir = out / "students" / _run_name(run)
        if not (resume and _finished(run_dir)):
            cfg = replace(recipe.student, seed=run.seed)
            train_student(
                cfg, run.kd, teacher_path, recipe.data, run_dir, progress=relay(3 + i, _run_name(run)), resume=resume
            )
        student = load_checkpoint(run_dir / "model.safetensors")
        m = evaluate(student, data.low.by_split("test"), op=run.kd.op, mode=run.kd.occlusion, seed=recipe.eval_seed)
        rows.append(
            {
                "label": run.label,
                "kd": run.kd.kd,
                "op": run.kd.op,
                "seed": run.seed,
                "top1": m["top1"],
                "top5": m["top5"],
                "checkpoint": str(run_dir / "model.safetensors"),
                "seconds": sum(h["seconds"] for h in read_meta(run_dir)["history"]),
            }
        )
    results = {
        "name": recipe.name,
        "description": recipe.description,
        "config": str(config_toml),
        "data": to_dict(recipe.data),
        "teacher_train": to_dict(recipe.teacher),
        "student_train": to_dict(recipe.student),
        "variants": {k: to_dict(v) for k, v in recipe.variants.items()},
        "teacher": {
            "top1": teacher_eval["top1"],
            "top5": teacher_eval["top5"],
            "checkpoint": str(teacher_path),
            "E_raw": read_meta(teacher_path)["E_raw"],
        },
        "students": rows,
        "summary": summarize(rows, recipe, teacher_eval["top1"]),
        "seconds": round(time.time() - started, 1),
    }
    atomic_write_json(out / "results.json", results)
    atomic_write_text(out / "results.md", results_markdown(results, recipe))
    return results


def summarize(rows: list[dict[str, Any]], recipe: Recipe, teacher_top1: float) -> dict[str, Any]:
    """Mean (and sample std over seeds) top-1 per variant and OP, plus the teacher's top-1."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for label in recipe.variants:
        for op in recipe.ops:
            vals = [r["top1"] for r in rows if r["label"] == label and r["op"] == op]
            if vals:
                table.setdefault(label, {})[f"{op:g}"] = {
                    "mean": statistics.fmean(vals),
                    "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                    "n": len(vals),
                }
    return {"teacher_top1": teacher_top1, "students": table}


def results_markdown(results: dict[str, Any], recipe: Recipe) -> str:
    """A table in the shape of paper table 1: rows = teacher and student variants, columns = OP."""
    s = results["summary"]
    head = "| model | " + " | ".join(f"OP {op:g}" for op in recipe.ops) + " |"
    lines = [
        f"# {recipe.name}",
        "",
        recipe.description,
        "",
        f"Top-1 accuracy (%) on the test split; mean ± std over seeds {recipe.seeds}; occluded test sets use "
        f"seed {recipe.eval_seed}. Teacher preset `{recipe.teacher.preset}`, student preset "
        f"`{recipe.student.preset}`, data `{recipe.data.source}` (L: {recipe.data.low}, "
        f"{recipe.data.simulated_layout}, level {recipe.data.level}).",
        "",
        head,
        "|" + "---|" * (len(recipe.ops) + 1),
        f"| teacher (H) | {100 * s['teacher_top1']:.2f} |" + " |" * (len(recipe.ops) - 1),
    ]
    for label, per_op in s["students"].items():
        cells = [
            f"{100 * per_op[f'{op:g}']['mean']:.2f} ± {100 * per_op[f'{op:g}']['std']:.2f}"
            if f"{op:g}" in per_op
            else ""
            for op in recipe.ops
        ]
        lines.append(f"| student {label} | " + " | ".join(cells) + " |")
    lines += ["", f"Total time {results['seconds']:.0f} s. Command: `partkd reproduce {results['config']}`.", ""]
    return "\n".join(lines)


__all__ = ["Recipe", "StudentRun", "load_recipe", "reproduce", "summarize", "results_markdown"]
