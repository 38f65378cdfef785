"""Human3.6M in the 3d-pose-baseline layout: Vicon motion capture (3D) and Stacked-Hourglass detections (2D).

One folder holds `cameras.h5` and `S<n>/MyPoses/3D_positions/<Action>[ <trial>].h5` (dataset `3D_positions`,
96 × T: 32 joints × xyz in mm, world frame, z up) and `S<n>/StackedHourglass/<Action>[_<trial>].<camera>.h5`
(dataset `poses`, T × 16 × 2 pixels, MPII joints). Action-recognition clips are fixed-length windows cut from each
sequence (the same windows for both qualities), split by subject. The `quality` option picks what is returned:
`mocap` (layout h36m17, 3D), `detections` (mpii16, 2D, confidence 1) or `projected` (the motion capture projected
into each camera in the detector's joints: the homogeneous high-quality source).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from partkd.data.cameras import Camera, read_cameras
from partkd.data.dataset import NO_PAIR, SkeletonDataset
from partkd.data.formats.common import Clip, FormatLoader, build_dataset, finish_clip, gather, one_line
from partkd.errors import ConfigError, DataError, where
from partkd.layouts import Layout, get_layout

ACTIONS: tuple[str, ...] = (
    "Directions",
    "Discussion",
    "Eating",
    "Greeting",
    "Phoning",
    "Photo",
    "Posing",
    "Purchases",
    "Sitting",
    "SittingDown",
    "Smoking",
    "Waiting",
    "WalkDog",
    "Walking",
    "WalkTogether",
)
#: Names the original Human3.6M release uses for some actions.
ALIASES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog", "WalkingTogether": "WalkTogether"}
#: The four Human3.6M cameras, in the order of `cameras.h5` (camera1..camera4).
CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
QUALITIES: tuple[str, ...] = ("mocap", "detections", "projected")
FRAMES_3D: tuple[str, ...] = ("camera", "world")
MOCAP_JOINTS = 32
#: The 17 joints of h36m17 among the 32 motion-capture joints (the rest are duplicates and end sites).
H36M17_FROM_32 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
#: mpii16 joint j of the motion capture = Σ weight · mocap joint. Limbs and pelvis are the same body points. The
#: detector's thorax, upper neck and head top are not mocap joints: these weights are the fit that brings the
#: projected motion capture closest to the detections (mean error over S1/S5/S7/S8/S9/S11 sequences, 4 cameras:
#: thorax 6.6 px as ¾ thorax + ¼ spine vs 12.5 as the thorax; upper neck 8.7 px as the thorax vs 17.1 as neck/nose;
#: head top 20.9 px as head + ½ (head − neck/nose) vs 27.2 as the head joint). See docs/data_formats.md.
MPII16_FROM_32: tuple[dict[int, float], ...] = (
    {3: 1.0},
    {2: 1.0},
    {1: 1.0},
    {6: 1.0},
    {7: 1.0},
    {8: 1.0},
    {0: 1.0},
    {13: 0.75, 12: 0.25},
    {13: 1.0},
    {15: 1.5, 14: -0.5},
    {27: 1.0},
    {26: 1.0},
    {25: 1.0},
    {17: 1.0},
    {18: 1.0},
    {19: 1.0},
)
#: Median over sequences of the mean joint displacement per 1/50 s (mm): 29.6 mm per frame on the 10 Hz copy / 5.
SPEED_PER_50HZ_FRAME_MM = 5.9
#: Rate of the windows when `frame_step` is not given: 10 Hz, whatever the files' rate.
TARGET_HZ = 10.0
#: Far above any sequence (~11 h at 50 Hz): a header claiming more is a damaged file, not data to allocate.
MAX_FRAMES = 2_000_000
SEQ_RE = re.compile(r"^(?P<action>[A-Za-z]+?)(?:[ _](?P<trial>\d+))?$")

OPTIONS = {
    "quality": "mocap",
    "frame": "camera",
    "fps": None,
    "frame_step": None,
    "window_s": 5.0,
    "stride_s": 5.0,
    "cameras": None,
    "train_subjects": [1, 5, 6, 7, 8],
    "test_subjects": [9, 11],
}


@dataclass
class Sequence:
    """One recording (subject, action, trial): its motion-capture file (None when missing) and detection files."""

    subject: int
    action: str
    trial: str
    mocap: Path | None = None
    detections: dict[str, Path] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, str, str]:
        return self.subject, self.action, self.trial

    @property
    def name(self) -> str:
        return f"S{self.subject}/{self.action}" + (f"_{self.trial}" if self.trial else "")


def files(path: Path) -> list[Path]:
    """`cameras.h5` (when present) and every motion-capture and detection .h5 under a Human3.6M root folder."""
    if not path.exists():
        raise DataError(where(path, "does not exist"))
    if not path.is_dir():
        raise DataError(
            where(path, "Human3.6M is read from its root folder (holding cameras.h5 and S*/), not from one file")
        )
    found = sorted(path.glob("S*/MyPoses/3D_positions/*.h5")) + sorted(path.glob("S*/StackedHourglass/*.h5"))
    if not found:
        raise DataError(where(path, "no Human3.6M files (S*/MyPoses/3D_positions/*.h5, S*/StackedHourglass/*.h5)"))
    cams = path / "cameras.h5"
    return ([cams] if cams.is_file() else []) + found


def is_h36m(path: Path) -> bool:
    """True for a folder laid out like the 3d-pose-baseline Human3.6M release."""
    return path.is_dir() and (any(path.glob("S*/MyPoses/3D_positions")) or any(path.glob("S*/StackedHourglass")))


def _subject(folder: str, source: Path) -> int:
    if not re.fullmatch(r"S\d+", folder):
        raise DataError(where(source, f"subject folder '{folder}' is not S<number>"))
    return int(folder[1:])


def _action_trial(stem: str, source: Path) -> tuple[str, str]:
    m = SEQ_RE.match(stem)
    action = ALIASES.get(m.group("action"), m.group("action")) if m else None
    if m is None or action not in ACTIONS:
        raise DataError(where(source, f"'{stem}' is not a Human3.6M action name ({', '.join(ACTIONS)})"))
    return action, m.group("trial") or ""


def sequences(paths: Iterable[Path]) -> list[Sequence]:
    """The recordings named by the files, sorted by (subject, action, trial); file-name quirks resolved."""
    seqs: dict[tuple[int, str, str], Sequence] = {}
    for p in paths:
        if p.name == "cameras.h5":
            continue
        kind = p.parent.name
        subj = _subject(p.parents[2].name if kind == "3D_positions" else p.parents[1].name, p)
        if kind == "3D_positions":
            action, trial = _action_trial(p.stem, p)
        else:
            stem, _, cam = p.stem.rpartition(".")
            if not stem or cam not in CAMERA_IDS:
                raise DataError(
                    where(
                        p,
                        f"detection file name is not <Action>[_<trial>].<camera>.h5 with one of "
                        f"the cameras {', '.join(CAMERA_IDS)}",
                    )
                )
            action, trial = _action_trial(stem, p)
        seq = seqs.setdefault((subj, action, trial), Sequence(subj, action, trial))
        if kind == "3D_positions":
            seq.mocap = p
        else:
            seq.detections[cam] = p
    return [seqs[k] for k in sorted(seqs)]


def _dataset(path: Path, key: str, shape_ok: object, expected: str, read: bool = True) -> np.ndarray | tuple:
    """The array (or, with read=False, the shape) of dataset `key` in an .h5 file; DataError naming the file."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if key not in f:
                raise DataError(where(path, f"has no dataset '{key}' (keys: {', '.join(list(f)[:5]) or 'none'})"))
            d = f[key]
            if not isinstance(d, h5py.Dataset) or not shape_ok(d.shape):  # type: ignore[operator]
                raise DataError(where(path, f"'{key}' has shape {getattr(d, 'shape', None)}, expected {expected}"))
            if d.dtype.kind not in "iuf":
                raise DataError(where(path, f"'{key}' holds {d.dtype} values, not real numbers"))
            if not read:
                return tuple(d.shape)
            with np.errstate(invalid="ignore"):  # a damaged float type may not cast; the finite check follows
                arr = np.asarray(d[()], dtype=np.float64)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - h5py raises OSError/KeyError/ValueError/TypeError on damaged files
        raise DataError(where(path, f"not a readable HDF5 file ({type(e).__name__}: {one_line(e)})")) from None
    if not np.isfinite(arr).all():
        raise DataError(where(path, f"'{key}' holds NaN or infinite values"))
    return arr


def _mocap_ok(s: tuple) -> bool:
    return len(s) == 2 and s[0] == 3 * MOCAP_JOINTS and 0 < s[1] <= MAX_FRAMES


def _det_ok(s: tuple) -> bool:
    return len(s) == 3 and s[1] == 16 and s[2] == 2 and 0 < s[0] <= MAX_FRAMES


def read_mocap(path: Path) -> np.ndarray:
    """(T, 32, 3) motion capture in mm, world frame."""
    arr = _dataset(path, "3D_positions", _mocap_ok, f"({3 * MOCAP_JOINTS}, T) with 0 < T <= {MAX_FRAMES}")
    return arr.T.reshape(-1, MOCAP_JOINTS, 3)  # type: ignore[union-attr]


def read_detections(path: Path) -> np.ndarray:
    """(T, 16, 2) Stacked-Hourglass detections in pixels."""
    return _dataset(path, "poses", _det_ok, f"(T, 16, 2) with 0 < T <= {MAX_FRAMES}")  # type: ignore[return-value]


def _frames(path: Path, mocap: bool) -> int:
    if mocap:
        return int(_dataset(path, "3D_positions", _mocap_ok, "(96, T)", read=False)[1])
    return int(_dataset(path, "poses", _det_ok, "(T, 16, 2)", read=False)[0])


def estimate_fps(seqs: list[Sequence]) -> float:
    """The files' frame rate: 50 Hz / k, k the decimation that best explains the median joint speed per frame."""
    speeds = []
    for s in seqs:
        if s.mocap is not None:
            x = read_mocap(s.mocap)[:, list(H36M17_FROM_32)]
            if len(x) > 1:
                speeds.append(float(np.linalg.norm(np.diff(x, axis=0), axis=-1).mean()))
    if not speeds:
        raise ConfigError("h36m: cannot tell the frame rate without motion-capture files; pass the fps option")
    return 50.0 / max(1, round(float(np.median(speeds)) / SPEED_PER_50HZ_FRAME_MM))


def mpii_from_mocap(points32: np.ndarray) -> np.ndarray:
    """Motion-capture joints (..., 32, 3) as the detector's 16 MPII body points (..., 16, 3)."""
    w = np.zeros((16, MOCAP_JOINTS))
    for j, terms in enumerate(MPII16_FROM_32):
        for src, weight in terms.items():
            w[j, src] = weight
    return np.einsum("jk,...kc->...jc", w, points32)


def windows(frames: int, length: int, stride: int) -> list[int]:
    """Start frames of the windows of `length` every `stride` frames; one whole-sequence window when shorter."""
    return list(range(0, frames - length + 1, stride)) if frames >= length else [0]


def pair_id(seq_index: int, cam_slot: int, window: int) -> int:
    """The id linking a high- and a low-quality window: (sequence, camera, window); cam_slot 7 = all cameras."""
    return (seq_index * 8 + cam_slot) * 100_000 + window


@dataclass
class _Plan:
    quality: str
    frame: str
    step: int
    length: int
    stride: int
    cameras: list[str] | None
    split_of: dict[int, str]
    layout: Layout
    cams: dict[int, dict[str, Camera]] | None
    cams_path: Path


def _camera(plan: _Plan, subject: int, cam: str) -> Camera:
    if plan.cams is None:
        raise DataError(where(plan.cams_path, "not found: needed for the camera frame and the projected source"))
    if subject not in plan.cams or cam not in plan.cams[subject]:
        raise DataError(where(plan.cams_path, f"has no camera {cam} for subject {subject}"))
    return plan.cams[subject][cam]


def _sequence_clips(seq: Sequence, index: int, plan: _Plan) -> list[Clip]:
    """The windows of one recording in the requested quality (several cameras, or one world-frame set)."""
    if plan.quality != "detections" and seq.mocap is None:
        return []
    wanted = set(plan.cameras) if plan.cameras is not None else set(CAMERA_IDS)
    if plan.quality == "detections":
        cams = sorted(set(seq.detections) & wanted)
    elif plan.cameras is not None:
        cams = sorted(wanted)
    else:  # every camera the subject has: calibrated, or with detections (which then must be calibrated)
        cams = sorted(set(plan.cams.get(seq.subject, {}) if plan.cams else {}) & wanted | set(seq.detections))
    lengths = ([_frames(seq.mocap, True)] if seq.mocap is not None else []) + [
        _frames(p, False) for c, p in sorted(seq.detections.items()) if c in wanted
    ]
    if not lengths:
        return []
    total = (min(lengths) + plan.step - 1) // plan.step
    starts = windows(total, plan.length, plan.stride)
    split = plan.split_of[seq.subject]
    label = ACTIONS.index(seq.action)
    out: list[Clip] = []

    def cut(data: np.ndarray, cam_slot: int, cam_name: str, paired: bool) -> None:
        data = data[: total * plan.step : plan.step]
        for w, s in enumerate(starts):
            clip = data[s : s + plan.length][None]
            pid = pair_id(index, cam_slot, w) if paired else NO_PAIR
            out.append(
                Clip(f"{seq.name}.{cam_name}/w{w:03d}", finish_clip(clip, plan.layout, seq.name), label, split, pid)
            )

    if plan.quality == "detections":
        for cam in cams:
            det = read_detections(seq.detections[cam])
            xyc = np.concatenate([det, np.ones(det.shape[:2] + (1,))], axis=-1)
            slot = 7 if plan.frame == "world" else CAMERA_IDS.index(cam)
            cut(xyc, slot, cam, seq.mocap is not None)
        return out
    mocap = read_mocap(seq.mocap)  # type: ignore[arg-type]
    if plan.quality == "mocap" and plan.frame == "world":
        cut(mocap[:, list(H36M17_FROM_32)], 7, "world", True)
        return out
    for cam in cams:
        camera = _camera(plan, seq.subject, cam)
        slot = CAMERA_IDS.index(cam)
        if plan.quality == "mocap":
            cut(camera.to_camera(mocap[:, list(H36M17_FROM_32)]), slot, cam, True)
        else:
            uv = camera.project(mpii_from_mocap(mocap))
            cut(np.concatenate([uv, np.ones(uv.shape[:2] + (1,))], axis=-1), slot, cam, True)
    return out


def _check_options(opts: dict) -> None:
    if opts["quality"] not in QUALITIES:
        raise ConfigError(f"h36m: quality '{opts['quality']}' is not one of {', '.join(QUALITIES)}")
    if opts["frame"] not in FRAMES_3D:
        raise ConfigError(f"h36m: frame '{opts['frame']}' is not one of {', '.join(FRAMES_3D)}")
    if opts["quality"] == "projected" and opts["frame"] == "world":
        raise ConfigError("h36m: the projected source is one clip per camera; use frame=camera with it")
    for k in ("window_s", "stride_s"):
        v = opts[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise ConfigError(f"h36m: {k} must be a positive number of seconds, got {v!r}")
    for k in ("fps", "frame_step"):
        v = opts[k]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
            raise ConfigError(f"h36m: {k} must be positive (or omitted), got {v!r}")
    if opts["frame_step"] is not None and int(opts["frame_step"]) != opts["frame_step"]:
        raise ConfigError(f"h36m: frame_step must be a whole number of frames, got {opts['frame_step']!r}")
    cams = opts["cameras"]
    if cams is not None and (not isinstance(cams, list) or not cams or not set(cams) <= set(CAMERA_IDS)):
        raise ConfigError(
            f"h36m: cameras must be a non-empty list of camera ids from {', '.join(CAMERA_IDS)}, got {cams!r}"
        )
    overlap = set(opts["train_subjects"]) & set(opts["test_subjects"])
    if overlap:
        raise ConfigError(f"h36m: subjects {sorted(overlap)} are in both the train and the test split")


def parse(path: Path, paths: list[Path], layout: Layout | None, skip_bad: bool, **opts: Any) -> SkeletonDataset:
    """Windows of every recording in one quality; split by subject; pair ids link the qualities (method.md §1)."""
    _check_options(opts)
    quality, frame = str(opts["quality"]), str(opts["frame"])
    layout = layout or get_layout("h36m17" if quality == "mocap" else "mpii16")
    seqs = [s for s in sequences(paths) if s.subject in set(opts["train_subjects"]) | set(opts["test_subjects"])]
    if not seqs:
        raise DataError(where(path, "no recording of the train or test subjects"))
    fps = float(opts["fps"]) if opts["fps"] is not None else estimate_fps(seqs)
    step = int(opts["frame_step"]) if opts["frame_step"] is not None else max(1, round(fps / TARGET_HZ))
    rate = fps / step
    cams_path = path / "cameras.h5"
    needs_cams = quality == "projected" or (quality == "mocap" and frame == "camera")
    plan = _Plan(
        quality,
        frame,
        step,
        max(1, round(float(opts["window_s"]) * rate)),
        max(1, round(float(opts["stride_s"]) * rate)),
        None if opts["cameras"] is None else list(opts["cameras"]),
        {**{s: "train" for s in opts["train_subjects"]}, **{s: "test" for s in opts["test_subjects"]}},
        layout,
        read_cameras(cams_path) if needs_cams and cams_path.is_file() else None,
        cams_path,
    )
    groups, skipped = gather(
        ((s.name, (i, s)) for i, s in enumerate(seqs)),
        lambda item: _sequence_clips(item[1], item[0], plan),
        path,
        skip_bad,
        "recordings",
    )
    clips = [c for g in groups for c in g]
    if not clips:
        raise DataError(where(path, f"no {quality} clips (no recording has the requested cameras)"))
    ds = build_dataset(clips, list(ACTIONS), layout, skipped)
    ds.meta.update(
        {
            "quality": quality,
            "frame": frame if quality == "mocap" else "image",
            "fps": fps,
            "frame_step": step,
            "rate_hz": rate,
            "window_frames": plan.length,
            "stride_frames": plan.stride,
            "units": "mm" if quality == "mocap" else "px",
        }
    )
    return ds


FORMAT = FormatLoader(
    "h36m",
    files,
    parse,
    options=OPTIONS,
    real_low="detections",
    description="Human3.6M (3d-pose-baseline folders): motion capture 3D (h36m17) or Stacked-Hourglass 2D "
    "detections (mpii16), windows split by subject",
    citation='C. Ionescu, D. Papava, V. Olaru, C. Sminchisescu, "Human3.6M", TPAMI 2014; detections and layout: '
    'J. Martinez et al., "A simple yet effective baseline for 3d human pose estimation", ICCV 2017.',
)
