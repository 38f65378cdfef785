"""Kinetics-skeleton JSON (ST-GCN's OpenPose-18 release): per-frame people, normalised x, y and score."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from partkd.data.dataset import SkeletonDataset
from partkd.data.formats.common import Clip, FormatLoader, build_dataset, check_label, finish_clip, gather, list_files
from partkd.errors import ConfigError, DataError, where
from partkd.layouts import Layout, get_layout

TEST_FOLDER_WORDS = ("val", "test")


def files(path: Path) -> list[Path]:
    """Clip JSON files of a folder (searched recursively, `*_label.json` indexes left out) or one file."""
    found = [
        p
        for p in list_files(path, (".json",), "Kinetics-skeleton JSON", recursive=True)
        if not p.name.endswith("_label.json")
    ]
    if not found:
        raise DataError(where(path, "only *_label.json index files, no clip files found"))
    return found


def split_of(path: Path) -> str:
    """'test' for clips in a folder named like *val* or *test*, else 'train'."""
    return "test" if any(w in path.parent.name.lower() for w in TEST_FOLDER_WORDS) else "train"


def read_clip(path: Path, layout: Layout, persons: int) -> tuple[Clip, str | None]:
    """One clip as (M<=persons, T, V, 3); in each frame the people are ranked by their total score."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise DataError(where(path, f"not readable JSON ({e})")) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise DataError(where(path, "expected an object with a 'data' list of frames"))
    index, name = doc.get("label_index"), doc.get("label")
    has_index = isinstance(index, int) and not isinstance(index, bool) and index >= 0
    if not has_index and not isinstance(name, str):
        raise DataError(where(path, "no usable 'label_index' (non-negative int) or 'label' (string)"))
    label = check_label(index, path) if has_index else -1
    try:
        frames = np.array([int(f["frame_index"]) for f in doc["data"]], dtype=np.int64)
        people = [(int(f["frame_index"]), s["pose"], s["score"]) for f in doc["data"] for s in f["skeleton"]]
        if not people:
            raise DataError(where(path, f"empty clip ({len(frames)} frames, no person in any frame)"))
        fidx = np.array([p[0] for p in people], dtype=np.int64)
        pose = np.array([p[1] for p in people], dtype=np.float64).reshape(len(people), -1, 2)
        score = np.array([p[2] for p in people], dtype=np.float64).reshape(len(people), -1)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(where(path, f"malformed frame or skeleton entry ({type(e).__name__}: {e})")) from None
    if pose.shape[1] != score.shape[1]:
        raise DataError(where(path, f"pose has {pose.shape[1]} joints but score has {score.shape[1]}"))
    t = fidx - frames.min()
    order = np.lexsort((-score.sum(axis=1), t))
    t, pose, score = t[order], pose[order], score[order]
    uniq, first = np.unique(t, return_index=True)
    rank = np.arange(len(t)) - first[np.searchsorted(uniq, t)]
    keep = rank < persons
    clip = np.zeros((min(persons, int(rank.max()) + 1), int(frames.max() - frames.min()) + 1, pose.shape[1], 3))
    clip[rank[keep], t[keep]] = np.concatenate([pose, score[..., None]], axis=-1)[keep]
    return Clip(path.stem, finish_clip(clip, layout, path), label, split_of(path)), name


def class_names(parsed: list[tuple[Clip, str | None]], source: object) -> list[str]:
    """Names indexed by label_index when every clip has one (gaps named class_NNN), else the sorted labels."""
    if all(c.label >= 0 for c, _ in parsed):
        names: list[str | None] = [None] * (max(c.label for c, _ in parsed) + 1)
        for c, n in parsed:
            if n is not None and names[c.label] not in (None, n):
                raise DataError(where(source, f"label_index {c.label} is both '{names[c.label]}' and '{n}'"))
            names[c.label] = n if n is not None else names[c.label]
        return [n if n is not None else f"class_{i:03d}" for i, n in enumerate(names)]
    if any(n is None for _, n in parsed):
        raise DataError(where(source, "some clips have only 'label_index', others only 'label'"))
    names_sorted = sorted({n for _, n in parsed if n is not None})
    for c, n in parsed:
        c.label = names_sorted.index(str(n))
    return names_sorted


def parse(path: Path, paths: list[Path], layout: Layout | None, skip_bad: bool, persons: int = 2) -> SkeletonDataset:
    """Every clip, keeping the `persons` best-scored people per frame; split by the folder name."""
    if isinstance(persons, bool) or not isinstance(persons, int) or persons < 1:
        raise ConfigError(f"kinetics option persons must be a positive integer, got {persons!r}")
    layout = layout or get_layout("openpose18")
    parsed, skipped = gather(((str(p), p) for p in paths), lambda p: read_clip(p, layout, persons), path, skip_bad)
    names = class_names(parsed, path)
    ds = build_dataset([c for c, _ in parsed], names, layout, skipped)
    ds.meta["units"] = "normalised"  # x, y as fractions of the image
    return ds


FORMAT = FormatLoader(
    "kinetics",
    files,
    parse,
    options={"persons": 2},
    description="Kinetics-skeleton JSON (folder or file): OpenPose-18, 2D normalised x, y + score, "
    "best `persons` (2) people per frame; clips under a *val*/*test* folder are the test split",
    citation='W. Kay et al., "The Kinetics Human Action Video Dataset", 2017; skeletons from S. Yan, Y. Xiong, '
    'D. Lin, "Spatial Temporal Graph Convolutional Networks" (ST-GCN), AAAI 2018.',
)
