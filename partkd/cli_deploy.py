"""CLI sub-commands for deployment: `partkd export` (ONNX / TorchScript) and `partkd predict` (sliding windows)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from partkd.cli_train import _threads_arg
from partkd.data.transforms import FRAME_MODES
from partkd.engine.config import DEFAULT_OCCLUSION_MODE, ESTIMATOR_LEVELS, OCCLUSION_MODES
from partkd.io import atomic_write_json, atomic_write_text


def _cmd_export(args: argparse.Namespace) -> int:
    from partkd.checkpoints import load_checkpoint
    from partkd.export import export

    loaded = load_checkpoint(args.checkpoint)
    with contextlib.redirect_stdout(sys.stderr):  # the exporter's progress lines are not the command's output
        path = export(loaded, args.format, args.out)
    print(path)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from partkd.checkpoints import load_checkpoint
    from partkd.figures import table_csv
    from partkd.streaming import format_rows, predict

    loaded = load_checkpoint(args.checkpoint)
    rows = []
    for path in args.files:
        rows += predict(
            loaded,
            path,
            window_s=args.window,
            hop_s=args.hop,
            fps=args.fps,
            op=args.op,
            mode=args.mode,
            seed=args.seed,
            level=args.level,
            format=args.format,
            layout=args.layout,
        )
    print(format_rows(rows))
    if args.json:
        atomic_write_json(args.json, {"checkpoint": str(loaded.path), "windows": rows})
    if args.csv:
        atomic_write_text(args.csv, table_csv([{k: v for k, v in r.items() if k != "top5"} for r in rows]))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from partkd.interop import import_teacher

    if args.class_names:
        names = [n.strip() for n in Path(args.class_names).read_text().splitlines() if n.strip()]
    else:
        names = [f"class_{i}" for i in range(args.classes or 0)]
    path = import_teacher(
        args.checkpoint,
        args.layout,
        names,
        args.out,
        frames=args.frames,
        persons=args.persons,
        frame_mode=args.frame_mode,
        normalize=args.normalize,
    )
    print(path)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `export`, `predict` and `import-mmaction2` sub-commands."""
    from partkd.export import FORMATS

    p = sub.add_parser(
        "export",
        help="export a checkpoint as ONNX or TorchScript",
        description="Write the model as ONNX or TorchScript with a dynamic batch and frame count: input (N, M, T, "
        "V, C) float32 as partkd.engine.data.model_inputs prepares it, output the class logits (N, K); the "
        "checkpoint's metadata (layout, classes, input settings) is stored in the file.",
    )
    p.add_argument("checkpoint", help="checkpoint (.safetensors, .json or run folder)")
    p.add_argument("--format", required=True, choices=list(FORMATS))
    p.add_argument("--out", required=True, help="output file (.onnx, .pt)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "predict",
        help="classify sliding windows over long pose sequences",
        description="Slide a window (seconds) with a hop (seconds) over every clip of each data file or folder and "
        "print each window's time, label and probability; a checkpoint of another layout reads the pose-estimator "
        "simulation of the data (as in training), and --op occludes every window by the engine's protocol.",
    )
    p.add_argument("checkpoint", help="checkpoint (.safetensors, .json or run folder)")
    p.add_argument("files", nargs="+", help="data files or folders in any supported format")
    p.add_argument("--format", default=None, help="data format (detected when omitted)")
    p.add_argument("--layout", default=None, help="layout of the files when they need one (name or layout file)")
    p.add_argument("--window", type=float, default=2.0, help="window length in seconds (default 2)")
    p.add_argument("--hop", type=float, default=1.0, help="hop between window starts in seconds (default 1)")
    p.add_argument("--fps", type=float, default=None, help="frame rate (default: the data's own, else 30)")
    p.add_argument("--op", type=float, default=0.0, help="occlusion probability of every window (default 0)")
    p.add_argument("--mode", default=DEFAULT_OCCLUSION_MODE, choices=list(OCCLUSION_MODES))
    p.add_argument("--seed", type=int, default=0, help="seed of the occlusion and the estimator simulation")
    p.add_argument(
        "--level",
        default="medium",
        choices=list(ESTIMATOR_LEVELS),
        help="estimator simulation level when the checkpoint's layout differs from the data's",
    )
    p.add_argument("--json", default=None, help="also write the windows (with top-5) to this JSON file")
    p.add_argument("--csv", default=None, help="also write the windows to this CSV file")
    _threads_arg(p)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser(
        "import-mmaction2",
        help="write an mmaction2 / pyskl ST-GCN checkpoint as a partkd teacher",
        description="Map an mmaction2 1.x or pyskl ST-GCN recognizer (backbone + GCNHead) onto partkd's ST-GCN and "
        "save it as a teacher checkpoint; the graph A is the checkpoint's own, so the logits equal the other "
        "toolkit's on the same (N, M, T, V, C) input.",
    )
    p.add_argument("checkpoint", help="mmaction2 / pyskl .pth (read with weights_only=True)")
    p.add_argument("--layout", required=True, help="partkd layout of its joints (e.g. coco17, ntu25)")
    names = p.add_mutually_exclusive_group(required=True)
    names.add_argument("--class-names", default=None, help="text file with one class name per line")
    names.add_argument("--classes", type=int, default=None, help="number of classes (named class_0, ...)")
    p.add_argument("--frames", type=int, default=100, help="input frames T partkd prepares clips to (default 100)")
    p.add_argument("--persons", type=int, default=2, help="input persons M (default 2)")
    p.add_argument("--frame-mode", default="pad", choices=list(FRAME_MODES))
    p.add_argument(
        "--normalize",
        action="store_true",
        help="apply partkd's clip normalisation to its inputs (off: the toolkit's own was used in training)",
    )
    p.add_argument("--out", required=True, help="run folder for model.safetensors / model.json")
    p.set_defaults(func=_cmd_import)
