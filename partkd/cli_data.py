"""CLI sub-commands for datasets: `partkd data synth` and `partkd data inspect`."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from partkd.data.dataset import pairing_summary
from partkd.data.formats.npz import save_generic_npz
from partkd.data.joint_map import joint_report
from partkd.data.loaders import load_dataset
from partkd.data.synthetic import SYNTH_MOTIONS, make_synthetic
from partkd.engine.schema import parse_options
from partkd.errors import ConfigError, FlagHintError
from partkd.layouts import get_layout
from partkd.models.config import ModelConfig

FORMAT_NAMES = "penn_action, nw_ucla, h36m, ntu, pyskl, kinetics, npz, synthetic"
#: The temporal kernel of the default model's blocks: a shorter clip gives one convolution less than one window.
MIN_FRAMES = ModelConfig.temporal_kernel
MAX_CLASS_NAMES = 8


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `data` sub-command group."""
    data = sub.add_parser("data", help="generate synthetic data or inspect a dataset")
    dsub = data.add_subparsers(dest="data_command", required=True)

    synth = dsub.add_parser("synth", help="write paired synthetic data as DIR/high.npz and DIR/low.npz")
    synth.add_argument("--out", required=True, type=Path, help="output folder")
    synth.add_argument("--classes", type=int, default=10, help="number of action classes (default 10)")
    synth.add_argument("--clips-per-class", type=int, default=60, help="clips per class (default 60)")
    synth.add_argument("--frames", type=int, default=64, help="frames per clip (default 64)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--level", default="medium", help="pose-estimator noise preset: light, medium, heavy")
    synth.add_argument("--low-layout", default="coco17", help="layout of the low-quality half (default coco17)")
    synth.add_argument(
        "--motion",
        default="clean",
        choices=SYNTH_MOTIONS,
        help="action set: clean (default; only each class's carrier parts move class-specifically, the others sway "
        "the same way in every class) or coupled (the earlier set, whose carriers drag other parts along)",
    )
    synth.set_defaults(func=run_synth)

    inspect = dsub.add_parser("inspect", help="load a dataset and print its summary")
    inspect.add_argument("path", help="file or folder ('synthetic', 'synthetic:low' for generated data)")
    inspect.add_argument("--format", default=None, help=f"one of {FORMAT_NAMES} (default: detected)")
    inspect.add_argument(
        "--layout",
        "--high-layout",
        dest="layout",
        default=None,
        help="built-in layout name or a .json/.toml layout file",
    )
    inspect.add_argument(
        "--low",
        default=None,
        metavar="PATH",
        help="a low-quality file or folder: also report how its clips pair with PATH's by pair id",
    )
    inspect.add_argument(
        "--simulate",
        default=None,
        metavar="LAYOUT",
        help="also report how the pose-estimator simulation builds LAYOUT's joints from PATH's: mapped (same "
        "name or alias), mixed (a weighted mix or stand-in) or placed (face points)",
    )
    inspect.add_argument("--low-format", default=None, help="format of --low (default: detected)")
    inspect.add_argument("--low-layout", default=None, help="layout of --low (built-in name or layout file)")
    inspect.add_argument(
        "--min-frames",
        type=int,
        default=MIN_FRAMES,
        metavar="N",
        help=f"warn about clips shorter than N frames (default {MIN_FRAMES}: one temporal "
        "convolution of the default model)",
    )
    inspect.add_argument("--skip-bad", action="store_true", help="skip unreadable clips with a warning")
    inspect.add_argument("--no-cache", action="store_true", help="parse again instead of using the cache")
    inspect.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="format option, e.g. -o coords=2d -o benchmark=xview (repeatable)",
    )
    inspect.add_argument("--json", action="store_true", help="print the summary as JSON")
    inspect.set_defaults(func=run_inspect)


#: Metadata a windowed format (h36m) records about how its clips were cut, shown by `data inspect`.
WINDOW_KEYS = ("quality", "units", "fps", "frame_step", "rate_hz", "window_frames", "stride_frames")


def run_synth(args: argparse.Namespace) -> int:
    """Generate paired synthetic data and write it in the generic npz format."""

    for flag in ("classes", "clips_per_class", "frames"):
        if getattr(args, flag) < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}")
    pair = make_synthetic(
        num_classes=args.classes,
        clips_per_class=args.clips_per_class,
        frames=args.frames,
        seed=args.seed,
        low_layout=args.low_layout,
        level=args.level,
        motion=args.motion,
    )
    for quality, ds in (("high", pair.high), ("low", pair.low)):
        out = args.out / f"{quality}.npz"
        save_generic_npz(ds, out)
        print(f"{out}: {len(ds)} clips, {ds.num_classes} classes, layout {ds.layout.name}")
    print(f"carrier parts per class ({args.motion} motion):")
    for name, parts in pair.high.meta["action_parts"].items():
        print(f"  {name}: {', '.join(parts)}")
    return 0


def format_summary(s: dict) -> str:
    """Human-readable lines of a dataset summary."""
    names = ", ".join(s["class_names"][:MAX_CLASS_NAMES])
    more = f", ... +{s['classes'] - MAX_CLASS_NAMES} more" if s["classes"] > MAX_CLASS_NAMES else ""
    f = s["frames"]
    splits = ", ".join(f"{k} {v}" for k, v in s["splits"].items())
    return "\n".join(
        [
            f"source:  {s['source']}",
            f"format:  {s['format']}",
            f"clips:   {s['clips']}",
            f"classes: {s['classes']} ({names}{more})",
            f"frames:  min {f['min']}, median {f['median']:g}, max {f['max']}",
            f"persons: up to {s['persons_max']}",
            f"joints:  {s['joints']} (layout {s['layout']}, {s['dims']}D)",
            f"splits:  {splits}",
            f"paired:  {s['paired']}",
            f"coords:  {format_ranges(s)}",
        ]
        + ([f"fps:     {format_rate(s)}"] if "fps" in s else [])
        + (
            [
                f"windows: {s['window_frames']} frames every {s['stride_frames']} at {s['rate_hz']:g} Hz (files at "
                f"{s['fps']:g} Hz, frame step {s['frame_step']}); {s['quality']}, {s['units']}"
            ]
            if "window_frames" in s
            else []
        )
    )


def format_ranges(s: dict) -> str:
    """'x a..b, y a..b, z a..b m' and the conversion applied when the file declared other axes or units."""
    spans = ", ".join(f"{a} {r[0]:.4g}..{r[1]:.4g}" if r else f"{a} -" for a, r in s["ranges"].items())
    conv = s.get("converted_from")
    done = (
        f" (converted from {conv['up']}-up {conv['units']} to y-up metres)"
        if conv
        else " (as in the file: no up / units conversion)"
    )
    return f"{spans} {s['units']}{done}"


def format_rate(s: dict) -> str:
    """The common frame rate of the clips and how many were resampled to it from which rates."""
    other = s.get("resampled_from") or {}
    moved = ", ".join(f"{n} from {r}" for r, n in other.items())
    return f"{s['fps']:g} frames/s" + (f" (resampled to it: {moved})" if moved else " (every clip)")


def run_inspect(args: argparse.Namespace) -> int:
    """Load a dataset and print clip count, classes, frame statistics, joints, layout and split sizes."""

    options = parse_options(args.option)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        def load(path: str, fmt: str | None, layout: str | None, **opts: Any) -> Any:
            return load_dataset(
                path, format=fmt, layout=layout, skip_bad=args.skip_bad, cache=not args.no_cache, **opts
            )

        ds = load(args.path, args.format, args.layout, **options)
        low = None
        if args.low is not None:
            try:
                low = load(args.low, args.low_format, args.low_layout)
            except FlagHintError as e:
                raise e.for_low() from None
    summary = {**_described(ds, args.path), **{k: ds.meta[k] for k in WINDOW_KEYS if k in ds.meta}}
    warn = short_clip_warnings(ds, args.min_frames, "")
    if low is not None:
        summary["low"] = {**_described(low, args.low), "pairing": pairing_summary(ds, low)}
        warn += short_clip_warnings(low, args.min_frames, "low-quality ") + pairing_warnings(summary["low"]["pairing"])
    if args.simulate is not None:
        summary["simulate"] = {"layout": args.simulate, **joint_report(ds.layout, get_layout(args.simulate))}
    warn = [str(w.message) for w in caught] + warn
    if args.json:
        print(json.dumps({**summary, "warnings": warn}, indent=2))
    else:
        print(format_summary(summary))
        if low is not None:
            print(format_low(summary["low"]))
        if "simulate" in summary:
            print(format_simulate(summary["simulate"], ds.layout.name))
    sys.stdout.flush()  # the summary's last line, newline included, before any warning on stderr
    for line in warn:
        print(f"partkd: warning: {line}", file=sys.stderr)
    return 0


def _described(ds: Any, path: str) -> dict[str, Any]:
    """A loaded dataset's source, format and summary."""
    return {"source": ds.meta.get("source", path), "format": ds.meta.get("format"), **ds.summary()}


def short_clip_warnings(ds: Any, min_frames: int, what: str) -> list[str]:
    """One warning when clips are shorter than `min_frames` (a 1-frame clip holds no motion)."""
    lengths = [c.shape[1] for c in ds.clips]
    short = [n for n, t in zip(ds.names, lengths) if t < min_frames]
    if not short:
        return []
    return [
        f"{len(short)} {what}clip(s) have fewer than {min_frames} frames (shortest {min(lengths)}), e.g. "
        f"{', '.join(short[:3])}: the model sees almost no motion in them"
    ]


def pairing_warnings(p: dict) -> list[str]:
    """Warnings about a pairing that would train badly: nothing matched, labels or splits that disagree."""
    out = []
    if not p["class_names_equal"]:
        out.append("the two files have different class names: a student needs the same classes on both sides")
    if p["low_matched"] == 0:
        out.append(
            "no low-quality clip shares a pair id with the high-quality data: every one is solitary (PMSC needs pairs)"
        )
    if p["label_mismatch"]:
        out.append(f"{p['label_mismatch']} matched pair(s) have different class labels")
    if p["split_mismatch"]:
        out.append(f"{p['split_mismatch']} matched pair(s) are in different splits")
    if p["duplicate_high_ids"]:
        out.append(f"{p['duplicate_high_ids']} high-quality clip(s) repeat a pair id (only the first is paired)")
    return out


def format_simulate(s: dict, source: str) -> str:
    """How the estimator simulation builds each target joint: mapped, mixed (with its weights) and placed."""
    lines = [f"simulate: {source} -> {s['layout']}"]
    lines.append(f"  mapped ({len(s['mapped'])}): " + (", ".join(s["mapped"]) or "none"))
    lines.append(f"  mixed ({len(s['mixed'])}): " + ("; ".join(f"{k} = {v}" for k, v in s["mixed"].items()) or "none"))
    lines.append(
        f"  placed ({len(s['placed'])}): "
        + (", ".join(s["placed"]) or "none")
        + (" (face points set from the head and shoulders)" if s["placed"] else "")
    )
    return "\n".join(lines)


def format_low(s: dict) -> str:
    """The low-quality file's summary lines and how it pairs with the high-quality one."""
    p = s["pairing"]
    return "\n".join(
        [
            "",
            f"low:     {s['source']} ({s['format']}, {s['clips']} clips, {s['joints']} joints, layout {s['layout']}, "
            f"{s['dims']}D)",
            f"pairs:   {p['low_matched']} of {p['low_clips']} low-quality clips share a pair id with the high-quality "
            f"data ({p['high_matched']} of {p['high_clips']} high-quality clips matched)",
            f"solitary: {p['low_solitary']} low-quality clips without a high-quality pair; {p['high_without_low']} "
            "high-quality clips without a low-quality one",
        ]
    )
