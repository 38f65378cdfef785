"""CLI sub-commands of the training engine: train-teacher, part-matrix, train-student, evaluate, reproduce."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from partkd.distill.definitions import DEFAULT_EFFICIENCY, EFFICIENCIES
from partkd.efficiency_view import e_caveats
from partkd.engine.config import (
    DEFAULT_PRESET,
    DEGRADATION_FIELDS,
    LOW_SOURCES,
    OCCLUSION_MODES,
    TRAIN_PRESETS,
    DataSpec,
    StudentConfig,
    TrainConfig,
    data_spec_from_dict,
    scaled_milestones,
    student_config_from_dict,
    train_config_from_dict,
    train_preset,
)
from partkd.engine.data import load_high, load_paired
from partkd.engine.run_config import read_run_config
from partkd.engine.schema import add_flags, given
from partkd.errors import ConfigError, where
from partkd.io import atomic_write_json
from partkd.layouts import PARTS

#: TrainConfig options that only the teacher's training reads (the student command has no such flags).
TEACHER_ONLY = ("part_dropout", "joint_dropout", "part_dropout_mode")
CANCELLED_EXIT = 143  # 128 + SIGTERM, like a shell reports a terminated command


def _data_args(p: argparse.ArgumentParser) -> None:
    add_flags(p.add_argument_group("data"), DataSpec)


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        default=None,
        metavar="TOML",
        help="run config ([data], [train], [student], teacher; the app writes one per job); flags override it",
    )


def _train_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument(
        "--preset",
        default=None,
        choices=sorted(TRAIN_PRESETS),
        help=f"training preset (default: the --config's, else {DEFAULT_PRESET})",
    )
    add_flags(g, TrainConfig, exclude=TEACHER_ONLY, default_note="default: the --preset's")
    _threads_arg(g)
    g.add_argument("--out", required=True, help="run folder (model.*, last.*, progress.json, history.jsonl)")
    g.add_argument("--resume", action="store_true", help="continue from <out>/last.* when present")


def _threads_arg(g: Any) -> None:
    g.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch CPU threads (default: torch's choice, usually one per core)",
    )


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def degradation_of(stored: dict[str, Any]) -> dict[str, Any]:
    """The fields of a stored spec that say how L is made (level, simulated layout, data seed, simulate / real),
    without those that name files (a path in `low` and the layout of those files)."""
    keep = {k: v for k, v in stored.items() if k in DEGRADATION_FIELDS}
    if keep.get("low", "simulate") not in LOW_SOURCES:
        keep.pop("low")
        keep.pop("low_layout", None)
    return keep


def _spec(args: argparse.Namespace, base: dict | None = None) -> DataSpec:
    """DataSpec from the data flags, on top of `base` (a checkpoint's stored spec); when --data names other files,
    only the base's degradation (degradation_of) is kept. Paths are stored absolute, so that a stored spec finds
    its files from any folder."""
    d: dict[str, Any] = dict(base or {})
    flags = given(args, DataSpec)
    for side in (d, flags):
        if side.get("source") not in (None, "synthetic"):
            side["source"] = _absolute(side["source"])
    if "source" in flags and flags["source"] != d.get("source"):
        d = degradation_of(d)
    if "options" in flags:
        flags["options"] = {**d.get("options", {}), **flags["options"]}
    d.update(flags)
    if d.get("low") not in (None, *LOW_SOURCES):
        d["low"] = _absolute(d["low"])
    for key in ("high_layout", "low_layout"):
        if isinstance(d.get(key), str) and d[key].endswith((".json", ".toml")):
            d[key] = _absolute(d[key])
    return data_spec_from_dict(d, "data")


def _run_file(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """The --config run config's tables ({} without one); ConfigError when neither it nor --data names the data."""
    run = read_run_config(args.config, kind) if args.config else {}
    if getattr(args, "source", None) is None and "data" not in run:
        raise ConfigError(where(kind, "--data is required (or a --config with a [data] table)"))
    return run


def _train_cfg(args: argparse.Namespace, run: dict[str, Any]) -> TrainConfig:
    """The training recipe: the run config's [train] (on its preset), then the flags; --epochs without --lr-steps
    moves the file's milestones to the same fractions of the new run, as it does a preset's."""
    table = dict(run.get("train", {}))
    file_preset = table.pop("preset", None)
    if not run:
        return train_preset(args.preset or DEFAULT_PRESET, **given(args, TrainConfig))
    if args.preset and file_preset and args.preset != file_preset:
        raise ConfigError(
            where(
                args.config,
                f"sets preset '{file_preset}'; --preset {args.preset} would mix two recipes "
                "(edit its [train] table instead)",
            )
        )
    preset = args.preset or file_preset or DEFAULT_PRESET
    flags = given(args, TrainConfig)
    if "epochs" in flags and "milestones" not in flags and "milestones" in table:
        epochs = int(table.get("epochs", TRAIN_PRESETS[preset].get("epochs", TrainConfig.epochs)))
        flags["milestones"] = scaled_milestones(tuple(table["milestones"]), epochs, flags["epochs"])
    return train_config_from_dict({**table, **flags, "preset": preset}, args.config)


def _cancellable(fn: Any) -> Any:
    """Run a training call; a graceful SIGTERM cancel prints one line and exits 143."""

    def wrapped(args: argparse.Namespace) -> int:
        from partkd.engine.loop import Cancelled

        try:
            return fn(args)
        except Cancelled as e:
            print(f"partkd: {e}", file=sys.stderr)
            return CANCELLED_EXIT

    return wrapped


def _cmd_train_teacher(args: argparse.Namespace) -> int:
    from partkd.engine.teacher import train_teacher

    run = _run_file(args, "train-teacher")
    path = train_teacher(_train_cfg(args, run), _spec(args, run.get("data")), args.out, resume=args.resume)
    print(path)
    return 0


def _cmd_part_matrix(args: argparse.Namespace) -> int:
    from partkd.checkpoints import read_meta
    from partkd.engine.teacher import compute_part_matrix

    meta = read_meta(args.teacher)
    spec = _spec(args, meta.get("data"))
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    shown = [-1]

    def progress(p: dict) -> None:
        if out is not None:  # the jobs' progress.json (epoch 1 of 1, step = clips done)
            atomic_write_json(out / "progress.json", {**p, "epoch": 1, "epochs": 1, "eta_s": None})
        pct = 100 * p["step"] // max(p["steps"], 1)
        if pct // 10 != shown[0] // 10 or p["step"] == p["steps"]:
            shown[0] = pct
            print(f"part matrix: {p['step']}/{p['steps']} clips ({pct}%)", file=sys.stderr, flush=True)

    result = compute_part_matrix(args.teacher, spec, progress=progress, device=args.device)
    for caveat in e_caveats(meta):
        print(f"warning: {caveat}", file=sys.stderr)
    names = meta["class_names"]
    clips = sum(result["E_clips"])
    print(
        f"E of {args.teacher} on {spec.describe()}: {clips} high-quality train clips of {len(names)} classes, "
        f"32 part subsets each; default definition '{result['E_default']}'"
    )
    picked = list(EFFICIENCIES) if args.efficiency == "all" else [args.efficiency]
    for name in picked:
        d = EFFICIENCIES[name]
        ci = result["E_ci"][name]
        title = f"{d.label} [95% interval]"
        width = max(len(title), *(len(n) for n in names))
        print(f"{title:<{width}}  " + " ".join(f"{p:>19}" for p in PARTS))
        for i, (cls, row) in enumerate(zip(names, result[d.key])):
            cells = (f"{v:6.3f} [{lo:5.2f},{hi:5.2f}]" for v, lo, hi in zip(row, ci["lo"][i], ci["hi"][i]))
            print(f"{cls:<{width}}  " + " ".join(f"{c:>19}" for c in cells))
        print()
    for line in truth_lines({k: v for k, v in (result.get("E_truth") or {}).items() if k in picked}):
        print(line)
    if args.json:
        atomic_write_json(args.json, {"class_names": names, "parts": list(PARTS), **result})
    return 0


def truth_lines(truth: dict | None) -> list[str]:
    """One line per matrix scoring it against the known carrier parts (E_truth), or none when they are unknown."""
    from partkd.distill.efficiency import describe_truth

    return [f"carrier recovery ({name}): {describe_truth(t)}" for name, t in (truth or {}).items()]


def _cmd_train_student(args: argparse.Namespace) -> int:
    from partkd.engine.student import train_student

    run = _run_file(args, "train-student")
    scfg = student_config_from_dict({**run.get("student", {}), **given(args, StudentConfig)}, args.config or "student")
    teacher = args.teacher or run.get("teacher")
    path = train_student(
        _train_cfg(args, run), scfg, teacher, _spec(args, run.get("data")), args.out, resume=args.resume
    )
    print(path)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from partkd.checkpoints import load_checkpoint
    from partkd.engine.evaluate import accuracy_vs_op, data_side, evaluate, part_sensitivity

    loaded = load_checkpoint(args.checkpoint)
    spec = _spec(args, loaded.meta.get("data"))
    data = load_high(spec) if loaded.role == "teacher" else load_paired(spec)  # a teacher needs no simulated L
    ds = data_side(loaded, data).by_split(args.split)
    trained = loaded.meta.get("degradation", {})
    ops = args.op if args.op else [float(trained.get("op") or 0.0)]
    mode = args.mode or loaded.occlusion
    print(f"data: {spec.describe()}")
    result: dict[str, Any] = {
        "checkpoint": str(loaded.path),
        "role": loaded.role,
        "split": args.split,
        "data": spec.describe(),
        "mode": mode,
        **evaluate(loaded, ds, op=ops[0], mode=mode, seed=args.seed),
    }
    print(
        f"{loaded.role} {loaded.path}: top1 {result['top1']:.4f} top5 {result['top5']:.4f} "
        f"({result['n']} {args.split} clips, OP {ops[0]}, {mode})"
    )
    for name, m in result.get("streams", {}).items():
        print(f"  stream {name}: top1 {m['top1']:.4f} top5 {m['top5']:.4f}")
    if len(ops) > 1:
        result["accuracy_vs_op"] = accuracy_vs_op(loaded, ds, ops, seed=args.seed, mode=mode)
        for row in result["accuracy_vs_op"]:
            print(f"  OP {row['op']:.2f}: top1 {row['top1']:.4f}")
    if args.part_sensitivity:
        drops = part_sensitivity(loaded, ds)
        result["part_sensitivity"] = dict(zip(PARTS, drops.tolist()))
        print("  top-1 drop with part occluded: " + ", ".join(f"{p} {d:+.3f}" for p, d in zip(PARTS, drops)))
    if args.json:
        atomic_write_json(args.json, result)
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from partkd.engine.reproduce import reproduce

    results = reproduce(args.config, args.out, resume=args.resume)
    print(json.dumps(results["summary"], indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the engine's sub-commands."""
    p = sub.add_parser(
        "train-teacher",
        help="train the teacher on high-quality skeletons",
        description="Train the ST-GCN teacher with cross-entropy on the H train clips.",
    )
    _config_arg(p)
    _data_args(p)
    _train_args(p)
    g = p.add_argument_group("teacher dropout (makes a missing part in distribution for E, method.md §4)")
    add_flags(g, TrainConfig, names=list(TEACHER_ONLY))
    p.set_defaults(func=_cancellable(_cmd_train_teacher))

    p = sub.add_parser(
        "part-matrix",
        help="compute the action x part efficiency matrix E of a teacher",
        description="Run the teacher on every high-quality train clip with each of the 32 subsets of the five "
        "parts kept (the rest zeroed) and store every definition of E in its metadata: the miss rate (eq. 12) and "
        "its softmax (eq. 13), the probability drop and the part Shapley value, each with a 95% bootstrap "
        "interval over clips. It reads the data stored in the checkpoint (what the teacher was trained on) "
        "unless --data is given.",
    )
    p.add_argument("teacher", help="teacher checkpoint (.safetensors, .json or run folder)")
    _data_args(p)
    p.add_argument(
        "--efficiency",
        default=DEFAULT_EFFICIENCY,
        choices=[*EFFICIENCIES.names(), "all"],
        help=f"which definition of E to print (all are stored; default {DEFAULT_EFFICIENCY}, the most truthful "
        "measured): " + "; ".join(f"{d.name}: {d.description}" for d in EFFICIENCIES.values()),
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--json", default=None, help="also write E to this JSON file")
    p.add_argument("--out", default=None, help="folder for progress.json while it runs (as a background job does)")
    _threads_arg(p)
    p.set_defaults(func=_cmd_part_matrix)

    p = sub.add_parser(
        "train-student",
        help="train a student on low-quality skeletons (with or without KD)",
        description="Train the student with L_ce + alpha * L_kd on the L train clips.",
    )
    _config_arg(p)
    _data_args(p)
    _train_args(p)
    g = p.add_argument_group("distillation")
    g.add_argument("--teacher", default=None, help="teacher checkpoint (needed unless --kd none)")
    add_flags(g, StudentConfig)
    p.set_defaults(func=_cancellable(_cmd_train_student))

    p = sub.add_parser(
        "evaluate",
        help="accuracy of a checkpoint (top-1/5, per class, confusion, vs OP)",
        description="Evaluate a checkpoint on its data (the stored data spec unless --data).",
    )
    p.add_argument("checkpoint")
    _data_args(p)
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument(
        "--op",
        type=float,
        nargs="*",
        default=None,
        help="occlusion level(s); several give accuracy vs OP (default: the training OP)",
    )
    p.add_argument(
        "--mode", default=None, choices=list(OCCLUSION_MODES), help="occlusion mode (default: the training mode)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the occluded test set")
    p.add_argument("--part-sensitivity", action="store_true", help="top-1 drop when each part is removed")
    p.add_argument("--json", default=None, help="write all metrics to this JSON file")
    _threads_arg(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "reproduce",
        help="teacher -> E -> students at each OP from a TOML recipe",
        description="Run a reproduce recipe (see docs/engine.md) and write results.md/json.",
    )
    p.add_argument("config", help="TOML recipe, e.g. configs/synthetic_default.toml")
    p.add_argument("--out", default=None, help="output folder (default runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="reuse finished runs and resume interrupted ones")
    _threads_arg(p)
    p.set_defaults(func=_cancellable(_cmd_reproduce))
