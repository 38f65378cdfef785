"""`partkd report`: the paper's figures (Figs. 5-7, accuracy vs OP, part sensitivity) and Table 1 as files."""

from __future__ import annotations

import argparse
import sys

from partkd.engine.config import OCCLUSION_MODES
from partkd.errors import ConfigError, where
from partkd.figures import DPI, IMAGE_FORMATS


def _cmd_report(args: argparse.Namespace) -> int:
    from partkd.checkpoints import load_checkpoint
    from partkd.cli_train import _spec
    from partkd.engine.data import load_paired
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `report` sub-command."""
    from partkd.cli_train import _data_args, _threads_arg

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
    p.add_argument("--mode", default="joint", choices=list(OCCLUSION_MODES), help="occlusion mode")
    p.add_argument("--seed", type=int, default=0, help="seed of the occluded test sets (as evaluate --seed)")
    p.add_argument("--formats", nargs="+", default=list(IMAGE_FORMATS), choices=list(IMAGE_FORMATS))
    _data_args(p)
    _threads_arg(p)
    p.set_defaults(func=_cmd_report)
