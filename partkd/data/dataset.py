"""The dataset container: per-clip (M, T, V, C) arrays with labels, classes, split, layout and pairing ids."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from partkd.data.store import StoredClips, open_flat, write_npz
from partkd.errors import DataError, where
from partkd.layouts import Layout, layout_from_dict

NO_PAIR = -1


@dataclass
class SkeletonDataset:
    """Clips of one skeleton layout.

    clips[i] is float32 (M, T, V, C); C = 3 holds (x, y, z) for 3D layouts and (x, y, confidence)
    for 2D ones; missing joints are zeros (confidence 0). pair_ids[i] links a clip to the clip with
    the same id in the paired dataset of the other quality; NO_PAIR (-1) marks a solitary clip. `clips` is a list,
    or StoredClips read from the dataset cache one clip at a time.
    """

    clips: Sequence[np.ndarray]
    labels: np.ndarray
    class_names: list[str]
    split: np.ndarray
    layout: Layout
    names: list[str]
    pair_ids: np.ndarray = field(default=None)  # type: ignore[arg-type]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.clips)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.split = np.asarray(self.split, dtype="<U16").reshape(-1)
        if self.pair_ids is None:
            self.pair_ids = np.arange(n, dtype=np.int64)
        self.pair_ids = np.asarray(self.pair_ids, dtype=np.int64).reshape(-1)
        src = self.meta.get("source", "dataset")
        for what, arr in (("labels", self.labels), ("split", self.split), ("pair_ids", self.pair_ids)):
            if len(arr) != n:
                raise DataError(where(src, f"{len(arr)} {what} for {n} clips"))
        if len(self.names) != n:
            raise DataError(where(src, f"{len(self.names)} names for {n} clips"))
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise DataError(where(src, f"labels outside 0..{len(self.class_names) - 1}"))

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def check_clips(self) -> None:
        """Validate every clip: 4-D, V matching the layout, C = 3, at least one frame, finite values."""
        src = self.meta.get("source", "dataset")
        for name, c in zip(self.names, self.clips):
            validate_clip(c, self.layout, f"{src}:{name}")

    def subset(self, index: np.ndarray | list[int]) -> SkeletonDataset:
        """A new dataset holding the clips at `index` (an index array or boolean mask)."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return SkeletonDataset(
            self.clips.take(idx) if isinstance(self.clips, StoredClips) else [self.clips[i] for i in idx],
            self.labels[idx],
            list(self.class_names),
            self.split[idx],
            self.layout,
            [self.names[i] for i in idx],
            self.pair_ids[idx],
            dict(self.meta),
        )

    def by_split(self, name: str) -> SkeletonDataset:
        """The clips whose split equals `name` ('train' or 'test')."""
        return self.subset(self.split == name)

    def summary(self) -> dict:
        """Counts and shapes for `partkd data inspect` and the app."""
        shapes = np.array(self.shapes()) if len(self) else np.zeros((1, 4), int)
        frames, persons = shapes[:, 1], shapes[:, 0]
        splits = {str(s): int((self.split == s).sum()) for s in np.unique(self.split)}
        return {
            "clips": len(self),
            "classes": self.num_classes,
            "class_names": list(self.class_names),
            "frames": {"min": int(frames.min()), "median": float(np.median(frames)), "max": int(frames.max())},
            "persons_max": int(persons.max()),
            "joints": self.layout.num_joints,
            "layout": self.layout.name,
            "dims": self.layout.dims,
            "splits": splits,
            "paired": int((self.pair_ids != NO_PAIR).sum()),
            "units": coordinate_unit(self),
            "ranges": coordinate_ranges(self),
            **({"converted_from": self.meta["converted_from"]} if "converted_from" in self.meta else {}),
            **({"fps": self.meta["fps"]} if "fps" in self.meta else {}),
            **({"resampled_from": self.meta["resampled_from"]} if self.meta.get("resampled_from") else {}),
        }

    def shapes(self) -> list[tuple[int, ...]]:
        """Every clip's (M, T, V, C), without reading stored clips."""
        if isinstance(self.clips, StoredClips):
            return [self.clips.shape(i) for i in range(len(self))]
        return [tuple(c.shape) for c in self.clips]

    def save_npz(self, path: str | Path) -> None:
        """Write every array and the metadata into one uncompressed .npz (atomically, one clip at a time); read back
        with load_npz."""
        shapes = self.shapes()
        header = {
            "class_names": list(self.class_names),
            "layout": self.layout.to_dict(),
            "names": list(self.names),
            "meta": self.meta,
        }
        arrays = {
            "lengths": np.array([s[1] for s in shapes], dtype=np.int64),
            "persons": np.array([s[0] for s in shapes], dtype=np.int64),
            "labels": self.labels,
            "split": self.split,
            "pair_ids": self.pair_ids,
            "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        }
        rows = int((arrays["persons"] * arrays["lengths"]).sum()) * self.layout.num_joints
        write_npz(Path(path), self.clips, rows, arrays)

    @classmethod
    def load_npz(cls, path: str | Path, check_values: bool = True) -> SkeletonDataset:
        """Read a dataset written by save_npz (no pickle involved), its clips left on disk (StoredClips) after a
        check of every value (`check_values` off: a file just written from valid clips); every clip's shape is
        validated."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(z["header"].tobytes().decode())
                lengths, persons = z["lengths"].astype(np.int64), z["persons"].astype(np.int64)
                v = len(header["layout"]["joints"])
                if lengths.ndim != 1 or persons.shape != lengths.shape:
                    raise ValueError(f"{persons.shape} persons for {lengths.shape} lengths")
                if len(lengths) and not (1 <= lengths.min() <= lengths.max() <= 10**8):
                    raise ValueError("clip lengths outside 1..1e8")
                if len(persons) and not (1 <= persons.min() <= persons.max() <= 10**3):
                    raise ValueError("persons outside 1..1000")
                clips = open_flat(path, persons, lengths, v, check_values)
                if clips.channels != 3:
                    raise ValueError(f"{clips.channels} coordinate channels, expected 3")
                ds = cls(
                    clips,
                    z["labels"],
                    header["class_names"],
                    z["split"],
                    layout_from_dict(header["layout"], path),
                    header["names"],
                    z["pair_ids"],
                    header["meta"],
                )
                return ds
        except Exception as e:  # noqa: BLE001 - any failure to parse is a bad file
            raise DataError(where(path, f"not a partkd dataset cache ({type(e).__name__}: {e})")) from None


def validate_clip(clip: np.ndarray, layout: Layout, source: str) -> None:
    """Raise DataError unless clip is finite float (M, T, V, C=3) with V matching the layout and T > 0."""
    if not isinstance(clip, np.ndarray) or clip.ndim != 4:
        raise DataError(
            where(source, f"clip must be a 4-D array (M, T, V, C), got shape {getattr(clip, 'shape', None)}")
        )
    m, t, v, c = clip.shape
    if m == 0 or t == 0:
        raise DataError(where(source, f"empty clip ({m} persons, {t} frames)"))
    if v != layout.num_joints:
        raise DataError(where(source, f"{v} joints but layout '{layout.name}' has {layout.num_joints}"))
    if c != 3:
        raise DataError(where(source, f"{c} coordinate channels, expected 3"))
    if not np.isfinite(clip).all():
        raise DataError(where(source, "NaN or infinite coordinates"))


def pairing_summary(high: SkeletonDataset, low: SkeletonDataset) -> dict:
    """How a low-quality set pairs with a high-quality one by pair id: matches, solitary clips, and pairs whose
    label or split disagree (for `data inspect --low` and the app)."""
    h_index: dict[int, int] = {}
    duplicates = 0
    for i, p in enumerate(high.pair_ids):
        if p != NO_PAIR:
            duplicates += int(p) in h_index
            h_index.setdefault(int(p), i)
    matched = [(h_index[int(p)], j) for j, p in enumerate(low.pair_ids) if p != NO_PAIR and int(p) in h_index]
    hn, ln = list(high.class_names), list(low.class_names)
    return {
        "low_clips": len(low),
        "high_clips": len(high),
        "low_matched": len(matched),
        "high_matched": len({i for i, _ in matched}),
        "low_solitary": len(low) - len(matched),
        "high_without_low": len(high) - len({i for i, _ in matched}),
        "label_mismatch": sum(hn[high.labels[i]] != ln[low.labels[j]] for i, j in matched),
        "split_mismatch": sum(high.split[i] != low.split[j] for i, j in matched),
        "duplicate_high_ids": duplicates,
        "class_names_equal": hn == ln,
    }


@dataclass
class PairedDataset:
    """High-quality and low-quality views of the same actions, linked by pair_ids (method.md §1)."""

    high: SkeletonDataset
    low: SkeletonDataset

    def __post_init__(self) -> None:
        if list(self.high.class_names) != list(self.low.class_names):
            raise DataError("paired dataset: high- and low-quality class names differ")

    def high_index_of_low(self) -> np.ndarray:
        """For each low clip, the index of its high-quality clip, or -1 when solitary."""
        pos = {int(p): i for i, p in enumerate(self.high.pair_ids) if p != NO_PAIR}
        return np.array([pos.get(int(p), -1) if p != NO_PAIR else -1 for p in self.low.pair_ids], dtype=np.int64)

    def by_split(self, name: str) -> PairedDataset:
        return PairedDataset(self.high.by_split(name), self.low.by_split(name))


def coordinate_unit(ds: SkeletonDataset) -> str:
    """The unit of a dataset's raw coordinates: what its loader recorded (meta 'units'), else metres for 3D (partkd
    converts declared 3D units to metres) and pixels for 2D."""
    unit = ds.meta.get("units")
    if ds.layout.dims == 3:
        return str(unit) if unit in ("m", "cm", "mm") else "m"
    return str(unit) if unit in ("px", "normalised") else "px"


def coordinate_ranges(ds: SkeletonDataset) -> dict[str, list[float]]:
    """{axis: [min, max]} of the coordinates of present joints over every clip (x, y and, in 3D, z)."""
    axes = ("x", "y", "z")[: ds.layout.dims]
    lo = np.full(len(axes), np.inf)
    hi = np.full(len(axes), -np.inf)
    for clip in ds.clips:
        pts = clip[..., : len(axes)][np.any(clip[..., : len(axes)] != 0, axis=-1)]
        if len(pts):
            lo, hi = np.minimum(lo, pts.min(axis=0)), np.maximum(hi, pts.max(axis=0))
    return {a: [float(lo[i]), float(hi[i])] if np.isfinite(lo[i]) else [] for i, a in enumerate(axes)}
