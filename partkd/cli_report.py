"""`partkd report`: the paper's figures (Figs. 5-7, accuracy vs OP, part sensitivity) and Table 1 as files."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from partkd.cli_train import _data_args, _spec, _threads_arg
from partkd.data.loaders import load_dataset
from partkd.engine.config import DEFAULT_OCCLUSION_MODE, OCCLUSION_MODES
from partkd.engine.data import load_paired
from partkd.errors import ConfigError, where
from partkd.figures import DPI, IMAGE_FORMATS
from partkd.layouts import PARTS


def _cmd_report(args: argparse.Namespace) -> int:
    from partkd.checkpoints import load_checkpoint
    from partkd.report import assign_roles, write_report

    teacher = load_checkpoint(args.teacher) if args.teacher else None
    students = [load_checkpoint(s) for s in args.students]
    models = assign_roles(teacher, students)
    if not models:
        raise ConfigError(where("report", "give a --teacher and/or --students"))
    base = (students[0] if students else models["teacher"]).meta.get("data")  # the first student's, else the teacher's
    spec = _spec(args, base)
    record = write_report(
        models,
        load_paired(spec),
        spec.describe(),
        args.out,
        clip=args.clip,
        mode=args.mode,
        seed=args.seed,
        formats=args.formats,
        progress=lambda what: print(f"partkd: {what}", file=sys.stderr),
    )
    for note in record["notes"]:
        print(f"note: {note}")
    print(f"{args.out}/report.md: {len(record['files'])} files")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from partkd.checkpoints import load_checkpoint
    from partkd.engine.explain import explain_dataset_clip, pick_clip, stored_data, write_explanation

    loaded = load_checkpoint(args.checkpoint)
    if args.file in (None, "stored"):
        ds, what = stored_data(loaded), "the checkpoint's stored data"
    else:
        ds, what = load_dataset(args.file, format=args.format, layout=args.layout), args.file
    _, index = pick_clip(ds, args.split, args.clip)
    result = explain_dataset_clip(loaded, ds, index, windows=args.windows, steps=args.steps)
    source = f"{loaded.path.name} on {what}, {args.split} clip {args.clip} ({result['clip']})"
    paths = write_explanation(result, loaded, args.out, source)
    print(
        f"{source}: true {result['true']}, predicted {result['predicted']} (p = {result['predicted_probability']:.2f})"
    )
    for name, m in result["methods"].items():
        parts = np.asarray(m["parts"]).sum(axis=0)
        top = PARTS[int(np.argmax(parts))]
        print(f"  {name:<10} deletion AUC {m['auc']:.3f} (random {result['random_auc']:.3f}); top part {top}")
    for path in paths:
        print(path)
    return 0


def _positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `report` and `explain` sub-commands."""

    p = sub.add_parser(
        "report",
        help="write the paper's figures and Table 1 for a teacher and students",
        description="E heatmap (Fig. 5), the clip grid (Figs. 6-7), accuracy vs OP and part sensitivity as PNG "
        f"({DPI} dpi), PDF and SVG with their numbers as CSV, and Table 1 as Markdown, CSV and LaTeX. The data is "
        "the first student's (or the teacher's) unless --data is given.",
    )
    p.add_argument("--teacher", default=None, help="teacher checkpoint")
    p.add_argument("--students", nargs="+", default=[], metavar="S", help="student checkpoints (with and without KD)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--clip", type=int, default=None, help="test clip of the grid (default: one the paper would show)")
    p.add_argument("--mode", default=DEFAULT_OCCLUSION_MODE, choices=list(OCCLUSION_MODES), help="occlusion mode")
    p.add_argument("--seed", type=int, default=0, help="seed of the occluded test sets (as evaluate --seed)")
    p.add_argument("--formats", nargs="+", default=list(IMAGE_FORMATS), choices=list(IMAGE_FORMATS))
    _data_args(p)
    _threads_arg(p)
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "explain",
        help="explain one clip: part and joint importance over time, three methods, their faithfulness",
        description="For one clip, the importance of every joint in every time window by occlusion sensitivity, "
        "exact part Shapley values and Grad-CAM on the last block's joint features; each method's deletion curve "
        "(its cells zeroed most important first) against random order. Writes OUT/explain_<index>.json and .png.",
    )
    p.add_argument("checkpoint", help="teacher or student checkpoint (.safetensors, .json or run folder)")
    p.add_argument(
        "file",
        nargs="?",
        default=None,
        help="data file or folder in the checkpoint's layout (omit, or 'stored', for the data stored in the "
        "checkpoint: high quality for a teacher, low quality for a student)",
    )
    p.add_argument("--clip", type=int, default=0, help="index of the clip within --split (default 0)")
    p.add_argument("--split", default="test", choices=["test", "train", "all"], help="split the index counts in")
    p.add_argument("--format", default=None, help="data format of FILE (detected when omitted)")
    p.add_argument("--layout", default=None, help="layout of FILE when it needs one")
    p.add_argument("--windows", type=_positive, default=8, help="time windows (default 8)")
    p.add_argument(
        "--steps", type=_positive, default=10, help="points of the deletion curve after the first (default 10)"
    )
    p.add_argument("--out", default="explain", help="output folder (default ./explain)")
    _threads_arg(p)
    p.set_defaults(func=_cmd_explain)
