"""Video frames streamed one at a time through imageio-ffmpeg (FFmpeg in a wheel), downscaled by FFmpeg itself so
that a long or large video never sits in memory."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partkd.errors import ConfigError, DataError, where

#: Frames are decoded with their longer side at most this many pixels (the landmark model reads a 256-pixel crop).
WORK_SIDE = 960
# imageio-ffmpeg warns on every downscaled read that the size differs from the source: that is the intent
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)


@dataclass(frozen=True)
class VideoInfo:
    """What FFmpeg reports of a video: source size in pixels, frame rate, duration in seconds, codec."""

    path: str
    width: int
    height: int
    fps: float
    duration: float
    codec: str

    @property
    def frames(self) -> int:
        """Expected number of frames (duration × rate)."""
        return max(1, round(self.duration * self.fps))

    def work_size(self, side: int = WORK_SIDE) -> tuple[int, int]:
        """(width, height) the frames are decoded at: the source scaled so its longer side is ≤ side, even sizes."""
        scale = min(1.0, side / max(self.width, self.height))
        return max(2, 2 * round(self.width * scale / 2)), max(2, 2 * round(self.height * scale / 2))


def _ffmpeg() -> object:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ConfigError(
            where("video", 'needs the optional video extra: pip install -e ".[video]" (or make run)')
        ) from None
    return imageio_ffmpeg


def _reader(
    path: Path, size: tuple[int, int] | None, start_s: float = 0.0
) -> tuple[dict, Generator[bytes, None, None]]:
    iff = _ffmpeg()
    if not path.is_file():
        raise DataError(where(path, "no such file"))
    out = ["-vf", f"scale={size[0]}:{size[1]}"] if size else None
    inp = ["-ss", f"{start_s:.3f}"] if start_s > 0 else None
    gen = iff.read_frames(str(path), input_params=inp, output_params=out)  # type: ignore[attr-defined]
    try:
        meta = next(gen)
    except (OSError, RuntimeError, StopIteration) as e:
        gen.close()
        text = " ".join(str(e).split()).rsplit(": ", 1)[-1][:160] or "FFmpeg found no video stream"
        raise DataError(where(path, f"not a readable video ({text})")) from None
    return meta, gen


def probe(path: Path | str) -> VideoInfo:
    """Size, rate and duration of a video; DataError naming the file when FFmpeg cannot read it as one."""
    path = Path(path)
    meta, gen = _reader(path, None)
    gen.close()
    w, h = meta.get("source_size") or meta.get("size") or (0, 0)
    fps, duration = float(meta.get("fps") or 0.0), float(meta.get("duration") or 0.0)
    if not (w > 0 and h > 0 and fps > 0):
        raise DataError(where(path, f"not a readable video (size {w}×{h}, {fps} frames/s)"))
    return VideoInfo(str(path), int(w), int(h), fps, duration, str(meta.get("codec", "")))


def frames(info: VideoInfo, side: int = WORK_SIDE) -> Iterator[np.ndarray]:
    """The video's frames in order as (H, W, 3) uint8 RGB at work_size(side); DataError when decoding breaks."""
    w, h = info.work_size(side)
    _, gen = _reader(Path(info.path), (w, h))
    try:
        for raw in gen:
            if len(raw) != w * h * 3:
                break
            yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)
    except (OSError, RuntimeError) as e:
        raise DataError(where(info.path, f"decoding failed ({' '.join(str(e).split())[-160:]})")) from None
    finally:
        gen.close()


def frame_at(info: VideoInfo, index: int, side: int = WORK_SIDE) -> np.ndarray:
    """One frame (by index) at work_size(side), found by seeking; the last decodable one when past the end."""
    w, h = info.work_size(side)
    _, gen = _reader(Path(info.path), (w, h), start_s=max(0, index) / info.fps)
    try:
        raw = next(gen, b"")
    finally:
        gen.close()
    if len(raw) != w * h * 3:
        raise DataError(where(info.path, f"no frame {index}"))
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


__all__ = ["WORK_SIDE", "VideoInfo", "frame_at", "frames", "probe"]
