"""Penn Action: one MATLAB file per clip with 13 annotated 2D joints and a visibility flag."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any, cast

import numpy as np

from partkd.data.dataset import SkeletonDataset
from partkd.data.formats.common import Clip, FormatLoader, build_dataset, finish_clip, gather, list_files
from partkd.errors import DataError, where
from partkd.layouts import Layout, get_layout

ACTIONS: tuple[str, ...] = (
    "baseball_pitch",
    "baseball_swing",
    "bench_press",
    "bowl",
    "clean_and_jerk",
    "golf_swing",
    "jump_rope",
    "jumping_jacks",
    "pullup",
    "pushup",
    "situp",
    "squat",
    "strum_guitar",
    "tennis_forehand",
    "tennis_serve",
)


#: MAT-file v5 data types (element tags) and array classes this reader understands.
MAT_NUMERIC = {
    1: "i1",
    2: "u1",
    3: "i2",
    4: "u2",
    5: "i4",
    6: "u4",
    7: "f4",
    9: "f8",
    12: "i8",
    13: "u8",
    16: "u1",
    17: "u2",
    18: "u4",
}
MI_MATRIX, MI_COMPRESSED = 14, 15
MX_CHAR = 4
MX_NUMERIC = range(6, 16)
#: Largest decompressed variable: far above a Penn Action clip (a few kB), so a zlib bomb cannot fill memory.
MAT_MAX_BYTES = 64 << 20


class MatError(ValueError):
    """A MAT-file that is truncated, corrupt or uses a feature this reader does not handle."""


def mat_elements(buf: bytes, order: str) -> list[tuple[int, bytes]]:
    """The (type, data) elements of a MAT v5 byte stream, small-element format and padding handled."""
    out, pos = [], 0
    while pos < len(buf):
        if pos + 8 > len(buf):
            raise MatError(f"element tag cut off at byte {pos}")
        kind, size = (int(x) for x in np.frombuffer(buf, f"{order}u4", 2, pos))
        if kind >> 16:  # small element: type and size in the first word, data in the second
            kind, size, start = kind & 0xFFFF, kind >> 16, pos + 4
            if size > 4:
                raise MatError(f"small element of {size} bytes at byte {pos}")
            pos += 8
        else:
            start = pos + 8
            pos = start + (size if kind == MI_COMPRESSED else -(-size // 8) * 8)
        if start + size > len(buf):
            raise MatError(f"element at byte {start} declares {size} bytes past the end")
        out.append((kind, buf[start : start + size]))
    return out


def mat_array(data: bytes, order: str) -> tuple[str, object] | None:
    """(name, value) of one miMATRIX: numeric arrays (column-major) and strings; None for other classes."""
    parts = mat_elements(data, order)
    if len(parts) < 3 or parts[0][0] != 6 or len(parts[0][1]) != 8 or parts[1][0] != 5:
        raise MatError("array without flags, dimensions and name")
    flags = int(np.frombuffer(parts[0][1], f"{order}u4", 1)[0])
    dims = [int(d) for d in np.frombuffer(parts[1][1], f"{order}i4", len(parts[1][1]) // 4)]
    name = parts[2][1].decode("latin-1")
    cls = flags & 0xFF
    if cls != MX_CHAR and cls not in MX_NUMERIC:
        return None
    if flags & 0x800 or len(parts) != 4 or min(dims, default=-1) < 0 or parts[3][0] not in MAT_NUMERIC:
        raise MatError(f"variable '{name}': not a real array (dims {dims}, {len(parts)} parts)")
    dtype = np.dtype(MAT_NUMERIC[parts[3][0]]).newbyteorder(cast(Any, order))  # "<" or ">"
    real = np.frombuffer(parts[3][1], dtype, len(parts[3][1]) // dtype.itemsize)
    if len(real) != np.prod(dims, dtype=object):
        raise MatError(f"variable '{name}': {len(real)} values for dimensions {dims}")
    if cls == MX_CHAR:
        return name, "".join(map(chr, real.reshape(dims, order="F").T.reshape(-1)))
    return name, real.reshape(dims, order="F")


def read_mat(path: Path) -> dict[str, object]:
    """The numeric and string variables of a MATLAB v5 .mat file (what Penn Action uses), in pure Python."""
    raw = path.read_bytes()
    if len(raw) < 128 or raw[126:128] not in (b"IM", b"MI"):
        raise MatError("no MATLAB 5.0 header")
    order = "<" if raw[126:128] == b"IM" else ">"
    out: dict[str, object] = {}
    for kind, data in mat_elements(raw[128:], order):
        if kind == MI_COMPRESSED:
            z = zlib.decompressobj()
            data = z.decompress(data, MAT_MAX_BYTES)
            if z.unconsumed_tail:
                raise MatError(f"compressed variable larger than {MAT_MAX_BYTES >> 20} MiB")
            ((kind, data),) = mat_elements(data, order) or [(0, b"")]
        if kind == MI_MATRIX and (var := mat_array(data, order)) is not None:
            out[var[0]] = var[1]
    return out


def files(path: Path) -> list[Path]:
    """The .mat files of a `labels/` folder, of its parent, or a single .mat file."""
    if path.is_dir() and (path / "labels").is_dir():
        path = path / "labels"
    return list_files(path, (".mat",), "Penn Action .mat")


def read_clip(path: Path, layout: Layout) -> Clip:
    """One Penn Action file as a (1, T, 13, 3) clip of (x, y, visibility)."""
    try:
        mat = read_mat(path)
    except (OSError, ValueError, zlib.error) as e:  # MatError is a ValueError, as are bad reshapes and chr()
        raise DataError(where(path, f"not a readable MATLAB file ({type(e).__name__}: {e})")) from None
    missing = [k for k in ("action", "x", "y", "visibility", "train") if k not in mat]
    if missing:
        raise DataError(where(path, f"missing keys {', '.join(missing)}"))
    action = str(np.asarray(mat["action"]).reshape(-1)[0]).strip()
    if action not in ACTIONS:
        raise DataError(where(path, f"unknown action '{action}'"))
    x, y, vis = (np.asarray(mat[k], dtype=np.float64) for k in ("x", "y", "visibility"))
    if not x.shape == y.shape == vis.shape or x.ndim != 2:
        raise DataError(
            where(path, f"x, y, visibility shapes differ or are not 2-D: {x.shape}, {y.shape}, {vis.shape}")
        )
    clip = np.stack([x, y, (vis > 0).astype(np.float64)], axis=-1)[None]
    train = int(np.asarray(mat["train"]).reshape(-1)[0])
    return Clip(path.stem, finish_clip(clip, layout, path), ACTIONS.index(action), "train" if train == 1 else "test")


def parse(path: Path, paths: list[Path], layout: Layout | None, skip_bad: bool) -> SkeletonDataset:
    """Every Penn Action clip; split from the `train` flag (1 train, -1 test)."""
    layout = layout or get_layout("penn13")
    clips, skipped = gather(((str(p), p) for p in paths), lambda p: read_clip(p, layout), path, skip_bad)
    return build_dataset(clips, list(ACTIONS), layout, skipped)


FORMAT = FormatLoader(
    "penn_action",
    files,
    parse,
    description="Penn Action .mat folder (labels/): 13 joints, 2D + visibility, train flag split",
    citation='W. Zhang, M. Zhu, K. Derpanis, "From Actemes to Action", ICCV 2013.',
)
