"""The generic `.npz` format: dense arrays any dataset can be converted to (read without pickle)."""

from __future__ import annotations

import io
import json
from pathlib import Path

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
)
from partkd.data.transforms import resample_rate
from partkd.errors import DataError, where
from partkd.io import atomic_write_bytes
from partkd.layouts import BUILTIN, Layout, layout_from_dict

KEYS = ("keypoint", "keypoint_score", "label", "split", "class_names", "layout", "pair_id", "length", "name", "fps")


def files(path: Path) -> list[Path]:
    """The one .npz file."""
    if path.is_dir():
        raise DataError(where(path, "is a folder; the npz format is one .npz file"))
    return list_files(path, (".npz",), "generic .npz")


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The known arrays of the file, loaded with allow_pickle=False."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in KEYS if k in z.files}
    except Exception as e:  # noqa: BLE001 - zipfile, numpy and OS errors all mean an unreadable file
        raise DataError(where(path, f"not a readable .npz without pickled objects ({type(e).__name__}: {e})")) from None
    for k in ("keypoint", "label"):
        if k not in arrays:
            raise DataError(where(path, f"missing array '{k}'"))
    return arrays


def file_layout(value: np.ndarray, source: Path) -> Layout:
    """The layout stored in the file: a built-in name or a layout JSON string."""
    text = str(value.reshape(-1)[0]) if value.size == 1 and value.dtype.kind == "U" else None
    if text is None:
        raise DataError(where(source, "'layout' must be one string (a built-in name or layout JSON)"))
    if text.lstrip().startswith("{"):
        try:
            return layout_from_dict(json.loads(text), source)
        except (ValueError, RecursionError) as e:
            raise DataError(where(source, f"'layout' is not valid JSON ({e})")) from None
    if text not in BUILTIN:
        raise DataError(
            where(source, f"'layout' {text!r} is neither a built-in layout ({', '.join(BUILTIN)}) nor layout JSON")
        )
    return BUILTIN[text]


def per_clip(arrays: dict[str, np.ndarray], key: str, n: int, default: np.ndarray, source: Path) -> np.ndarray:
    """Array `key` of length n and the default's kind (integers or strings), or `default` when absent."""
    value = arrays.get(key, default)
    if value.ndim != 1 or len(value) != n:
        raise DataError(where(source, f"'{key}' has shape {value.shape}, expected ({n},)"))
    kinds = "U" if default.dtype.kind == "U" else "iu"
    if value.dtype.kind not in kinds:
        raise DataError(
            where(source, f"'{key}' must be {'strings' if kinds == 'U' else 'integers'}, got {value.dtype}")
        )
    return value


def parse(path: Path, paths: list[Path], layout: Layout | None, skip_bad: bool) -> SkeletonDataset:
    """Every clip of the file; each keeps its first `length` frames."""
    arrays = read_arrays(paths[0])
    kp = arrays["keypoint"]
    if kp.ndim != 5 or kp.shape[-1] not in (2, 3) or kp.dtype.kind not in "fiu":
        raise DataError(where(path, f"'keypoint' must be numeric (N, M, T, V, C=2|3), got {kp.shape} {kp.dtype}"))
    n, _, t, v, c = kp.shape
    if n == 0:
        raise DataError(where(path, "'keypoint' holds no clips"))
    if c == 2:
        score = arrays.get("keypoint_score", (kp != 0).any(axis=-1))
        if score.shape != kp.shape[:4] or score.dtype.kind not in "biuf":
            raise DataError(
                where(path, f"'keypoint_score' must be numeric {kp.shape[:4]}, got {score.shape} {score.dtype}")
            )
        kp = np.concatenate([kp.astype(np.float32), score.astype(np.float32)[..., None]], axis=-1)
    if layout is None and "layout" in arrays:
        layout = file_layout(arrays["layout"], path)
    layout = layout or layout_for_joints(v, 2 if c == 2 else None, path)
    if c == 2:
        check_dims(layout, 2, path)
    labels = per_clip(arrays, "label", n, np.zeros(0, dtype=np.int64), path)
    check_label(labels.min(), path)
    k = check_label(labels.max(), path) + 1
    split = per_clip(arrays, "split", n, np.full(n, "train"), path)
    names = per_clip(arrays, "name", n, np.array([f"{i:06d}" for i in range(n)]), path)
    if not all(s.isprintable() for s in names):
        raise DataError(where(path, "'name' holds text that is not one printable line"))
    pair_ids = per_clip(arrays, "pair_id", n, np.arange(n), path).astype(np.int64)
    lengths = per_clip(arrays, "length", n, np.full(n, t), path).astype(np.int64)
    class_names = arrays.get("class_names", np.array([f"class_{i:03d}" for i in range(k)]))
    if class_names.ndim != 1 or len(class_names) < k or class_names.dtype.kind != "U":
        raise DataError(
            where(path, f"'class_names' must be at least {k} strings, got {class_names.shape} {class_names.dtype}")
        )

    fps = frame_rates(arrays, n, path)
    rate = common_rate(fps) if fps is not None else None

    def one(i: int) -> Clip:
        if not 0 < lengths[i] <= t:
            raise DataError(where(f"{path}:{names[i]}", f"length {lengths[i]} is outside 1..{t}"))
        clip = finish_clip(kp[i, :, : lengths[i]], layout, f"{path}:{names[i]}")
        if fps is not None and rate is not None and fps[i] != rate:
            clip = resample_rate(clip, float(fps[i]), rate)
        return Clip(str(names[i]), clip, int(labels[i]), str(split[i]), int(pair_ids[i]))

    clips, skipped = gather(((f"{path}:{names[i]}", i) for i in range(n)), one, path, skip_bad, noun="clips")
    ds = build_dataset(clips, [str(s) for s in class_names], layout, skipped)
    if fps is not None and rate is not None:
        other = {f"{float(r):g}": int((fps == r).sum()) for r in np.unique(fps) if r != rate}
        ds.meta.update(fps=rate, resampled_from=other)
    return ds


def frame_rates(arrays: dict[str, np.ndarray], n: int, source: Path) -> np.ndarray | None:
    """The optional 'fps' array: one positive rate for every clip, or one per clip (None when absent)."""
    if "fps" not in arrays:
        return None
    fps = arrays["fps"]
    if fps.dtype.kind not in "fiu" or fps.ndim > 1 or (fps.ndim == 1 and len(fps) != n):
        raise DataError(where(source, f"'fps' must be one number or ({n},) numbers, got {fps.shape} {fps.dtype}"))
    fps = np.broadcast_to(fps.astype(np.float64), (n,))
    if not np.all(np.isfinite(fps)) or (fps <= 0).any():
        raise DataError(where(source, "'fps' must be positive frame rates"))
    return fps


def common_rate(fps: np.ndarray) -> float:
    """The rate every clip is resampled to: the most common one in the file (the lowest of equally common ones)."""
    values, counts = np.unique(fps, return_counts=True)
    return float(values[np.argmax(counts)])


def save_generic_npz(ds: SkeletonDataset, path: str | Path) -> None:
    """Write `ds` in the generic npz format (zero-padded to the longest clip and largest person count)."""
    n = len(ds)
    m = max((c.shape[0] for c in ds.clips), default=1)
    t = max((c.shape[1] for c in ds.clips), default=1)
    kp = np.zeros((n, m, t, ds.layout.num_joints, 3), dtype=np.float32)
    for i, c in enumerate(ds.clips):
        kp[i, : c.shape[0], : c.shape[1]] = c
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        keypoint=kp,
        label=ds.labels,
        split=ds.split.astype(str),
        class_names=np.array(ds.class_names, dtype=str),
        layout=np.array(json.dumps(ds.layout.to_dict())),
        pair_id=ds.pair_ids,
        length=np.array([c.shape[1] for c in ds.clips], dtype=np.int64),
        name=np.array(ds.names, dtype=str),
    )
    atomic_write_bytes(Path(path), buf.getvalue())


FORMAT = FormatLoader(
    "npz",
    files,
    parse,
    description="generic .npz: keypoint (N, M, T, V, C), label (N,), optional split, class_names, layout, "
    "pair_id, length, name, keypoint_score",
)
