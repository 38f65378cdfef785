"""mmaction2 / pyskl annotation pickles, read with an unpickler that only rebuilds numpy arrays and plain data."""

from __future__ import annotations

import _codecs
import builtins
import io
import pickle
from pathlib import Path
from typing import cast

import numpy as np

from partkd.data.dataset import SkeletonDataset
from partkd.data.formats.common import (
    Clip,
    FormatLoader,
    build_dataset,
    check_dims,
    check_label,
    finish_clip,
    gather,
    layout_for_joints,
    list_files,
    one_line,
)
from partkd.data.formats.ntu import ACTIONS as NTU_ACTIONS
from partkd.data.formats.ntu import NAME as NTU_NAME
from partkd.data.formats.ntu import NTU60
from partkd.errors import DataError, where
from partkd.layouts import Layout

try:
    from numpy._core import multiarray, numeric
except ImportError:  # numpy < 2
    from numpy.core import multiarray, numeric  # type: ignore[no-redef]

#: Default (train, test) split-name pairs, first one present wins.
SPLIT_PAIRS = (("xsub_train", "xsub_val"), ("train", "val"), ("train", "test"))
PLAIN_BUILTINS = ("dict", "list", "str", "int", "float", "tuple", "bool")


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """`_codecs.encode` as protocol-2 pickles use it for bytes: only latin-1, no other codec."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return _codecs.encode(text, encoding)


def _empty_reconstruct(subtype: type, shape: tuple, dtype: object) -> np.ndarray:
    """`multiarray._reconstruct` as numpy's own pickles call it: an empty (0,) ndarray that BUILD then fills,
    so a forged pickle cannot make it allocate (uninitialised) memory of any declared size."""
    if subtype is not np.ndarray or shape != (0,):
        raise pickle.UnpicklingError(f"refused _reconstruct of shape {shape!r} (numpy pickles use (0,))")
    return cast(np.ndarray, multiarray._reconstruct(subtype, shape, dtype))


ALLOWED: dict[tuple[str, str], object] = {
    **{(mod, "_reconstruct"): _empty_reconstruct for mod in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(mod, "scalar"): multiarray.scalar for mod in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{
        (mod, "_frombuffer"): numeric._frombuffer  # type: ignore[attr-defined]
        for mod in ("numpy.core.numeric", "numpy._core.numeric")
    },
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
    **{("builtins", name): getattr(builtins, name) for name in PLAIN_BUILTINS},
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose globals are limited to numpy array reconstruction and plain builtin types."""

    def __init__(self, file: io.BufferedIOBase, source: object) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> object:
        """Return an allowed global; anything else raises DataError naming it."""
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        raise DataError(
            where(
                self.source,
                f"refused unsafe pickle global '{module}.{name}' (only numpy arrays and plain data are allowed)",
            )
        )


def safe_load_pickle(path: Path) -> object:
    """Unpickle `path` with RestrictedUnpickler; every failure is a DataError naming the file."""
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, path).load()
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - truncated or corrupt pickles raise many types
        raise DataError(where(path, f"corrupt or unreadable pickle ({type(e).__name__}: {one_line(e)})")) from None


def files(path: Path) -> list[Path]:
    """The one annotation pickle."""
    if path.is_dir():
        raise DataError(where(path, "is a folder; the pyskl format is one annotation .pkl file"))
    return list_files(path, (".pkl", ".pickle"), "pyskl annotation pickle")


def split_lookup(splits: dict, split_train: str | None, split_test: str | None, source: object) -> dict[str, str]:
    """frame_dir -> 'train'/'test' from the pickle's split lists (named, or the first default pair present)."""
    if split_train is None and split_test is None:
        pair = next((p for p in SPLIT_PAIRS if p[0] in splits and p[1] in splits), None)
        if pair is None:
            raise DataError(
                where(source, f"no default split pair in {sorted(map(str, splits))}; pass split_train and split_test")
            )
        split_train, split_test = pair
    lookup: dict[str, str] = {}
    for key, value in (("split_test", split_test), ("split_train", split_train)):
        if value is None:
            continue
        if value not in splits:
            raise DataError(
                where(source, f"{key} '{value}' is not a split of the file ({', '.join(sorted(map(str, splits)))})")
            )
        if not isinstance(splits[value], (list, tuple)):
            raise DataError(where(source, f"split '{value}' is not a list of clip names"))
        lookup.update(dict.fromkeys(map(str, splits[value]), "train" if key == "split_train" else "test"))
    return lookup


def read_annotation(ann: object, layout: Layout, split: dict[str, str], default_split: str, source: str) -> Clip:
    """One annotation dict as a clip of (x, y, score) for 2D keypoints or (x, y, z) for 3D ones."""
    if not isinstance(ann, dict) or "keypoint" not in ann or "label" not in ann:
        raise DataError(where(source, "annotation is not a dict with 'keypoint' and 'label'"))
    kp, label = ann["keypoint"], ann["label"]
    if not isinstance(kp, np.ndarray) or kp.dtype.kind not in "fiu" or kp.ndim != 4:
        raise DataError(
            where(
                source, f"keypoint must be a numeric (M, T, V, C) array, got {getattr(kp, 'shape', type(kp).__name__)}"
            )
        )
    label = check_label(label, source)
    c = kp.shape[-1]
    if c not in (2, 3):
        raise DataError(where(source, f"keypoint has {c} coordinates, expected 2 (x, y) or 3 (x, y, z)"))
    check_dims(layout, c, source)
    if c == 2:
        score = ann.get("keypoint_score")
        if score is None:
            score = (kp != 0).any(axis=-1)
        elif not isinstance(score, np.ndarray) or score.shape != kp.shape[:3]:
            raise DataError(
                where(
                    source,
                    f"keypoint_score shape {getattr(score, 'shape', None)} does not match keypoint {kp.shape[:3]}",
                )
            )
        kp = np.concatenate([kp.astype(np.float32), score.astype(np.float32)[..., None]], axis=-1)
    name = ann.get("frame_dir", source.rsplit(":", 1)[-1])
    if not isinstance(name, str) or not name.isprintable():
        raise DataError(where(source, "frame_dir is not one line of text"))
    return Clip(name, finish_clip(kp, layout, source), label, split.get(name, default_split))


def first_keypoint(anns: list, source: object) -> np.ndarray:
    """The first annotation's (M, T, V, C) keypoint array, which fixes the default layout."""
    for ann in anns:
        kp = ann.get("keypoint") if isinstance(ann, dict) else None
        if isinstance(kp, np.ndarray) and kp.ndim == 4:
            return kp
    raise DataError(where(source, "no annotation holds a (M, T, V, C) keypoint array"))


def class_names(names: list[str], labels: list[int]) -> list[str]:
    """NTU action names when every clip is named like an NTU file, else class_000, class_001, ..."""
    k = max(labels) + 1
    if all(NTU_NAME.match(n) for n in names) and k <= len(NTU_ACTIONS):
        return list(NTU_ACTIONS[: NTU60 if k <= NTU60 else len(NTU_ACTIONS)])
    return [f"class_{i:03d}" for i in range(k)]


def parse(
    path: Path,
    paths: list[Path],
    layout: Layout | None,
    skip_bad: bool,
    split_train: str | None = None,
    split_test: str | None = None,
) -> SkeletonDataset:
    """Every annotation of the pickle; clips outside the chosen splits get split 'other'."""
    doc = safe_load_pickle(paths[0])
    if isinstance(doc, list):
        doc = {"annotations": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
        raise DataError(where(path, "expected a dict with an 'annotations' list (pyskl format)"))
    splits = doc.get("split")
    if isinstance(splits, dict):
        lookup, default_split = split_lookup(splits, split_train, split_test, path), "other"
    else:
        lookup, default_split = {}, "train"
    anns = doc["annotations"]
    if not anns:
        raise DataError(where(path, "no annotations"))
    kp = first_keypoint(anns, path)
    dims = 2 if kp.shape[-1] == 2 else 3
    layout = layout or layout_for_joints(kp.shape[2], dims, path)
    check_dims(layout, dims, path)

    def one(item: tuple[int, object]) -> Clip:
        i, ann = item
        frame_dir = ann.get("frame_dir") if isinstance(ann, dict) else None
        clip_id = frame_dir if isinstance(frame_dir, str) and frame_dir.isprintable() else i
        clip = read_annotation(ann, layout, lookup, default_split, f"{path}:{clip_id}")
        if isinstance(ann, dict):  # the source arrays go as soon as their clip is made: about one copy in memory
            ann.pop("keypoint", None)
            ann.pop("keypoint_score", None)
        return clip

    clips, skipped = gather(
        ((f"{path}:{i}", (i, a)) for i, a in enumerate(anns)), one, path, skip_bad, noun="annotations"
    )
    return build_dataset(clips, class_names([c.name for c in clips], [c.label for c in clips]), layout, skipped)


FORMAT = FormatLoader(
    "pyskl",
    files,
    parse,
    options={"split_train": None, "split_test": None},
    description="mmaction2/pyskl annotation .pkl ({split, annotations}) read with a restricted unpickler; "
    "layout by joint count (coco17 for 17, ntu25 for 25) unless given",
    citation='H. Duan et al., "Revisiting Skeleton-based Action Recognition" (PoseC3D), CVPR 2022; '
    '"PYSKL", ACM MM 2022.',
)
