"""Penn Action: one MATLAB file per clip with 13 annotated 2D joints and a visibility flag."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from partkd.data.dataset import SkeletonDataset
from partkd.data.formats.common import Clip, FormatLoader, build_dataset, finish_clip, gather, list_files
from partkd.errors import DataError, where
from partkd.layouts import Layout, get_layout

ACTIONS: tuple[str, ...] = (
    "baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk", "golf_swing", "jump_rope",
    "jumping_jacks", "pullup", "pushup", "situp", "squat", "strum_guitar", "tennis_forehand", "tennis_serve",
)


def files(path: Path) -> list[Path]:
    """The .mat files of a `labels/` folder, of its parent, or a single .mat file."""
    if path.is_dir() and (path / "labels").is_dir():
        path = path / "labels"
    return list_files(path, (".mat",), "Penn Action .mat")


def read_clip(path: Path, layout: Layout) -> Clip:
    """One Penn Action file as a (1, T, 13, 3) clip of (x, y, visibility)."""
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as e:  # noqa: BLE001 - scipy raises many types on truncated or foreign files
        raise DataError(where(path, f"not a readable MATLAB file ({type(e).__name__}: {e})")) from None
    missing = [k for k in ("action", "x", "y", "visibility", "train") if k not in mat]
    if missing:
        raise DataError(where(path, f"missing keys {', '.join(missing)}"))
    action = str(np.asarray(mat["action"]).reshape(-1)[0]).strip()
    if action not in ACTIONS:
        raise DataError(where(path, f"unknown action '{action}'"))
    x, y, vis = (np.asarray(mat[k], dtype=np.float64) for k in ("x", "y", "visibility"))
    if not x.shape == y.shape == vis.shape or x.ndim != 2:
        raise DataError(where(path, f"x, y, visibility shapes differ or are not 2-D: "
                                    f"{x.shape}, {y.shape}, {vis.shape}"))
    clip = np.stack([x, y, (vis > 0).astype(np.float64)], axis=-1)[None]
    train = int(np.asarray(mat["train"]).reshape(-1)[0])
    return Clip(path.stem, finish_clip(clip, layout, path), ACTIONS.index(action), "train" if train == 1 else "test")


def parse(path: Path, paths: list[Path], layout: Layout | None, skip_bad: bool) -> SkeletonDataset:
    """Every Penn Action clip; split from the `train` flag (1 train, -1 test)."""
    layout = layout or get_layout("penn13")
    clips, skipped = gather(((str(p), p) for p in paths), lambda p: read_clip(p, layout), path, skip_bad)
    return build_dataset(clips, list(ACTIONS), layout, skipped)


FORMAT = FormatLoader(
    "penn_action", files, parse,
    description="Penn Action .mat folder (labels/): 13 joints, 2D + visibility, train flag split",
    citation="W. Zhang, M. Zhu, K. Derpanis, \"From Actemes to Action\", ICCV 2013.",
)
