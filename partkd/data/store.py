"""Clips kept on disk: a dataset file (.npz) holds every clip's rows in one uncompressed float32 member, written clip
by clip and read back one clip at a time, so memory grows with a batch, not with the dataset."""

from __future__ import annotations

import os
import struct
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from partkd.errors import DataError, PartKDError, where

#: The member holding the clips' rows (persons x frames x joints, channels) back to back.
FLAT = "flat.npy"
#: Rows validated per read when a file is opened (768 KiB at 3 channels).
CHECK_ROWS = 1 << 16
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


class StoredClips(Sequence[np.ndarray]):
    """A read-only sequence of (M, T, V, C) float32 clips stored in one file: clip i is read from disk when indexed
    (a fresh writable array each time); `take` makes a sub-sequence without reading anything."""

    def __init__(
        self,
        path: Path,
        offset: int,
        starts: np.ndarray,
        persons: np.ndarray,
        lengths: np.ndarray,
        joints: int,
        channels: int,
        index: np.ndarray | None = None,
    ) -> None:
        self.path, self.offset, self.joints, self.channels = Path(path), int(offset), int(joints), int(channels)
        self.starts, self.persons, self.lengths = starts, persons, lengths
        self.order = np.arange(len(starts), dtype=np.int64) if index is None else np.asarray(index, np.int64)
        self._fd: int | None = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self.order)

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, i: slice) -> StoredClips: ...

    def __getitem__(self, i: int | slice) -> np.ndarray | StoredClips:
        if isinstance(i, slice):
            return self.take(np.arange(len(self))[i])
        return self._read(int(self.order[i]))

    def __iter__(self) -> Iterator[np.ndarray]:
        for j in self.order:
            yield self._read(int(j))

    def take(self, idx: Iterable[int] | np.ndarray) -> StoredClips:
        """The clips at positions `idx` of this sequence (no data read)."""
        order = self.order[np.asarray(list(idx), dtype=np.int64)]
        return StoredClips(
            self.path, self.offset, self.starts, self.persons, self.lengths, self.joints, self.channels, order
        )

    def shape(self, i: int) -> tuple[int, int, int, int]:
        """Clip i's (M, T, V, C) without reading it."""
        j = int(self.order[i])
        return int(self.persons[j]), int(self.lengths[j]), self.joints, self.channels

    def _handle(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except OSError as e:
                raise DataError(where(self.path, f"cannot read stored clips ({e.strerror})")) from None
            self._pid = os.getpid()
        return self._fd

    def _read(self, j: int) -> np.ndarray:
        m, t = int(self.persons[j]), int(self.lengths[j])
        out = np.empty((m, t, self.joints, self.channels), dtype=np.float32)
        pos = self.offset + int(self.starts[j]) * self.channels * 4
        got = os.preadv(self._handle(), [out.data.cast("B")], pos)
        if got != out.nbytes:
            raise DataError(where(self.path, f"stored clip {j} is truncated ({got} of {out.nbytes} bytes)"))
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fd": None, "_pid": -1}

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None and self._pid == os.getpid():
            os.close(self._fd)  # type: ignore[arg-type]


def member_offset(path: Path, name: str = FLAT) -> tuple[int, np.dtype, tuple[int, ...]] | None:
    """(byte offset of the array data, dtype, shape) of an uncompressed .npy member of a zip file, else None."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        with zf.open(info) as f:
            major, _ = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
            npy_header = f.tell()
    with open(path, "rb") as raw:
        raw.seek(info.header_offset)
        fields = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    if fields[0] != b"PK\x03\x04" or fortran:
        return None
    return info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10] + npy_header, np.dtype(dtype), shape


def open_flat(path: Path, persons: np.ndarray, lengths: np.ndarray, joints: int, check: bool = True) -> StoredClips:
    """StoredClips over the FLAT member of `path`, after checking that every value is finite (read in chunks) unless
    `check` is off (a file just written from valid clips). ValueError when the member is compressed or does not
    fit."""
    found = member_offset(path)
    if found is None:
        raise ValueError(f"{FLAT} is not an uncompressed array")
    offset, dtype, shape = found
    if dtype != np.dtype("<f4") or len(shape) != 2:
        raise ValueError(f"stored rows are {dtype} {shape}, expected float32 (rows, channels)")
    rows, channels = shape
    sizes = persons * lengths * joints
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    if starts[-1] != rows:
        raise ValueError(f"clip sizes cover {starts[-1]} of {rows} stored rows")
    clips = StoredClips(path, offset, starts[:-1], persons, lengths, joints, channels)
    buf = np.empty((min(rows, CHECK_ROWS), channels), dtype=np.float32)  # read, not mapped: no resident file pages
    for lo in range(0, rows if check else 0, CHECK_ROWS):
        part = buf[: min(CHECK_ROWS, rows - lo)]
        if os.preadv(clips._handle(), [part.data.cast("B")], offset + lo * channels * 4) != part.nbytes:
            raise ValueError("stored rows are truncated")
        if not np.isfinite(part).all():
            raise ValueError("NaN or infinite coordinates")
    return clips


def write_npz(
    path: Path, clips: Iterable[np.ndarray], rows: int, arrays: dict[str, np.ndarray], channels: int = 3
) -> None:
    """Write `arrays` and the `rows` rows of every clip as FLAT (float32 (rows, channels)) into an uncompressed .npz
    at `path`, one clip at a time (no copy of the whole set in memory), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            with zf.open(FLAT, "w", force_zip64=True) as f:
                header = {"descr": "<f4", "fortran_order": False, "shape": (rows, channels)}
                np.lib.format.write_array_header_2_0(f, header)
                for c in clips:
                    f.write(np.ascontiguousarray(c, dtype="<f4").reshape(-1, channels).tobytes())
            for name, arr in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.asarray(arr), allow_pickle=False)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except (OSError, ValueError) as e:
        Path(tmp).unlink(missing_ok=True)
        raise PartKDError(where(path, f"cannot write ({getattr(e, 'strerror', None) or e})")) from None


__all__ = ["FLAT", "StoredClips", "member_offset", "open_flat", "write_npz"]
