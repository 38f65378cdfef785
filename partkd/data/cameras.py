"""Calibrated pinhole cameras with radial and tangential distortion (Human3.6M's `cameras.h5`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partkd.data.formats.common import one_line
from partkd.errors import DataError, where


@dataclass(frozen=True)
class Camera:
    """One calibrated camera: world-to-camera rotation R (3×3), centre T in world units (3,), focal f (2,),
    principal point c (2,), radial k (3,) and tangential p (2,) distortion, and its id."""

    name: str
    R: np.ndarray
    T: np.ndarray
    f: np.ndarray
    c: np.ndarray
    k: np.ndarray
    p: np.ndarray

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) in the camera frame: X_cam = R (X − T); x right, y down, z forward."""
        return (np.asarray(points, dtype=np.float64) - self.T) @ self.R.T

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) to pixels (..., 2): perspective division, Brown-Conrady distortion, f and c."""
        x_cam = self.to_camera(points)
        xy = x_cam[..., :2] / x_cam[..., 2:3]
        x, y = xy[..., 0], xy[..., 1]
        r2 = x * x + y * y
        radial = 1.0 + self.k[0] * r2 + self.k[1] * r2**2 + self.k[2] * r2**3
        xd = x * radial + 2.0 * self.p[0] * x * y + self.p[1] * (r2 + 2.0 * x * x)
        yd = y * radial + self.p[0] * (r2 + 2.0 * y * y) + 2.0 * self.p[1] * x * y
        return np.stack([xd, yd], axis=-1) * self.f + self.c


def _vector(group: object, key: str, size: int, source: str) -> np.ndarray:
    try:
        raw = np.asarray(group[key][()])  # type: ignore[index]
    except KeyError:
        raise DataError(where(source, f"has no '{key}'")) from None
    if raw.dtype.kind not in "iuf":
        raise DataError(where(source, f"'{key}' holds {raw.dtype} values, not real numbers"))
    arr = raw.astype(np.float64)
    if arr.size != size or not np.isfinite(arr).all():
        raise DataError(where(source, f"'{key}' must hold {size} finite numbers, got shape {arr.shape}"))
    return arr.reshape(-1)


def read_cameras(path: Path) -> dict[int, dict[str, Camera]]:
    """Every camera of a Human3.6M `cameras.h5`: {subject: {camera id: Camera}}.

    The file stores R camera-to-world (its transpose is used, as the 3d-pose-baseline release does) and Name as
    character codes."""
    import h5py

    out: dict[int, dict[str, Camera]] = {}
    try:
        with h5py.File(path, "r") as f:
            for subj in f:
                if not subj.startswith("subject") or not subj[7:].isdigit():
                    continue
                cams: dict[str, Camera] = {}
                for cam in f[subj]:
                    g = f[subj][cam]
                    src = f"{path}:{subj}/{cam}"
                    try:
                        codes = np.asarray(g["Name"][()]).reshape(-1)
                        name = "".join(chr(int(v)) for v in codes)
                    except (KeyError, ValueError, OverflowError):
                        raise DataError(where(src, "has no readable 'Name' (camera id as character codes)")) from None
                    rot = _vector(g, "R", 9, src).reshape(3, 3).T
                    cams[name] = Camera(
                        name,
                        rot,
                        _vector(g, "T", 3, src),
                        _vector(g, "f", 2, src),
                        _vector(g, "c", 2, src),
                        _vector(g, "k", 3, src),
                        _vector(g, "p", 2, src),
                    )
                out[int(subj[7:])] = cams
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - h5py raises OSError, KeyError, ValueError, TypeError on damaged files
        raise DataError(where(path, f"not a readable cameras file ({type(e).__name__}: {one_line(e)})")) from None
    return out


__all__ = ["Camera", "read_cameras"]
