"""Northwestern-UCLA Multiview Action 3D: JSON clips of 20 Kinect v1 joints, cross-view split."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from partkd.data.dataset import SkeletonDataset
from partkd.data.formats.common import Clip, FormatLoader, build_dataset, finish_clip, gather, list_files
from partkd.errors import DataError, where
from partkd.layouts import Layout, get_layout

#: Action ids of the dataset (a01..a12 without a07, a10) and their names; `label` k is ACTION_IDS[k-1].
ACTION_IDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)
ACTIONS: tuple[str, ...] = (
    "pick up with one hand",
    "pick up with two hands",
    "drop trash",
    "walk around",
    "sit down",
    "stand up",
    "donning",
    "doffing",
    "throw",
    "carry",
)
TRAIN_VIEWS = (1, 2)
NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)")


def files(path: Path) -> list[Path]:
    """The JSON files of an `all_sqe/` folder, of its parent, or one JSON file."""
    if path.is_dir() and (path / "all_sqe").is_dir():
        path = path / "all_sqe"
    return list_files(path, (".json",), "NW-UCLA JSON")


def read_clip(path: Path, layout: Layout) -> Clip:
    """One NW-UCLA file as a (1, T, 20, 3) clip in metres."""
    m = NAME.fullmatch(path.stem)
    if not m:
        raise DataError(where(path, "file name does not follow aAA_sSS_eEE_vVV"))
    action, view = int(m.group(1)), int(m.group(4))
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise DataError(where(path, f"not readable JSON ({e})")) from None
    if not isinstance(doc, dict) or "skeletons" not in doc or "label" not in doc:
        raise DataError(where(path, "expected an object with 'label' and 'skeletons'"))
    label = doc["label"]
    if isinstance(label, bool) or not isinstance(label, int) or not 1 <= label <= len(ACTIONS):
        raise DataError(where(path, f"label {label!r} is not in 1..{len(ACTIONS)}"))
    if ACTION_IDS[label - 1] != action:
        raise DataError(
            where(path, f"label {label} is action a{ACTION_IDS[label - 1]:02d}, but the file name says a{action:02d}")
        )
    try:
        skel = np.asarray(doc["skeletons"], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(where(path, f"'skeletons' is not a [T][V][3] number array ({e})")) from None
    if skel.size == 0:
        raise DataError(where(path, "empty clip (0 frames)"))
    if skel.ndim != 3 or skel.shape[-1] != 3:
        raise DataError(where(path, f"'skeletons' has shape {skel.shape}, expected (T, V, 3)"))
    split = "train" if view in TRAIN_VIEWS else "test"
    return Clip(path.stem, finish_clip(skel[None], layout, path), label - 1, split)


def parse(path: Path, paths: list[Path], layout: Layout | None, skip_bad: bool) -> SkeletonDataset:
    """Every NW-UCLA clip; views 1 and 2 train, view 3 test (the cross-view protocol)."""
    layout = layout or get_layout("kinect_v1_20")
    clips, skipped = gather(((str(p), p) for p in paths), lambda p: read_clip(p, layout), path, skip_bad)
    return build_dataset(clips, list(ACTIONS), layout, skipped)


FORMAT = FormatLoader(
    "nw_ucla",
    files,
    parse,
    description="NW-UCLA all_sqe/*.json: 20 Kinect v1 joints, 3D, cross-view split (views 1-2 train, 3 test)",
    citation='J. Wang, X. Nie, Y. Xia, Y. Wu, S.-C. Zhu, "Cross-view Action Modeling, Learning and '
    'Recognition", CVPR 2014.',
)
