"""Low-quality skeletons (method.md §7): random occlusion and a parameterised pose-estimator simulation.

`occlude` zeroes joints (coordinates and confidence) i.i.d. per joint-frame, per joint for a whole clip,
per joint over contiguous spans of frames, or per body part; `simulate_estimator` turns a high-quality dataset
into the 2D + confidence output of a simulated pose estimator on another joint layout.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from partkd.data.dataset import SkeletonDataset
from partkd.data.transforms import body_size, present
from partkd.errors import ConfigError, DataError, LayoutError, where
from partkd.layouts import PARTS, Layout, get_layout

OCCLUSION_MODES = ("joint", "sequence", "span", "part")
#: Mean length of an occluded span in `span` mode, as a fraction of the clip's frames.
SPAN_FRACTION = 0.25


def _batch_view(x: np.ndarray, layout: Layout) -> np.ndarray:
    """View a clip (M, T, V, C) or batch (N, M, T, V, C) as a batch; check V against the layout."""
    if x.ndim not in (4, 5) or x.shape[-2] != layout.num_joints:
        raise DataError(
            where(
                "occlude",
                f"expected (M, T, V, C) or (N, M, T, V, C) with V = "
                f"{layout.num_joints} for '{layout.name}', got {x.shape}",
            )
        )
    return x if x.ndim == 5 else x[None]


def _part_index(part: int | str) -> int:
    """Index of a part given by name or index; ConfigError when unknown."""
    if isinstance(part, str) and part in PARTS:
        return PARTS.index(part)
    if not isinstance(part, str) and 0 <= int(part) < len(PARTS):
        return int(part)
    raise ConfigError(where("occlude", f"unknown part {part!r}, use one of {', '.join(PARTS)}"))


def check_occlusion(op: float, mode: str) -> None:
    """ConfigError unless `op` is a probability and `mode` an occlusion mode."""
    if not 0.0 <= op <= 1.0:
        raise ConfigError(where("occlude", f"occlusion probability must be in [0, 1], got {op}"))
    if mode not in OCCLUSION_MODES:
        raise ConfigError(where("occlude", f"unknown mode '{mode}', use one of {OCCLUSION_MODES}"))


def draws_per_clip(mode: str, persons: int, frames: int, joints: int) -> int:
    """How many uniform draws `occlude` takes per clip in `mode` (one per joint of each frame and person, per joint,
    or per part)."""
    per_frame = persons * frames * joints
    return {"joint": per_frame, "sequence": joints, "span": per_frame, "part": len(PARTS)}[mode]


def span_transitions(op: float, frames: int) -> tuple[float, float]:
    """(P(visible → occluded), P(occluded → visible)) per frame of the two-state chain whose stationary occluded
    share is `op` and whose occluded spans last SPAN_FRACTION of the clip on average (shorter where op is high)."""
    if op <= 0.0 or op >= 1.0:
        return (1.0, 0.0) if op >= 1.0 else (0.0, 1.0)
    leave = 1.0 / max(1.0, SPAN_FRACTION * frames)
    enter = op * leave / (1.0 - op)
    if enter > 1.0:
        enter, leave = 1.0, (1.0 - op) / op
    return enter, leave


def span_mask(draws: np.ndarray, op: float) -> np.ndarray:
    """Occluded frames (..., T) of joints occluded over contiguous spans, from uniform draws (..., T): the first
    frame occluded with probability `op`, then a two-state Markov chain (span_transitions)."""
    enter, leave = span_transitions(op, draws.shape[-1])
    out = np.empty(draws.shape, dtype=bool)
    out[..., 0] = draws[..., 0] < op
    for t in range(1, draws.shape[-1]):
        prev = out[..., t - 1]
        out[..., t] = np.where(prev, draws[..., t] >= leave, draws[..., t] < enter)
    return out


def occlusion_drop(
    draws: np.ndarray | None, op: float, mode: str, layout: Layout, shape: tuple[int, ...], parts: list[int] | None
) -> np.ndarray:
    """The drop mask, broadcastable to (N, M, T, V), of clips of `shape` (N, M, T, V) from their uniform draws
    (N, draws_per_clip), or, in part mode with `parts` (indices), of exactly those parts (no draws)."""
    n, m, t, v = shape
    if mode == "part" and parts is not None:
        gone = np.zeros((n, len(PARTS)), dtype=bool)
        gone[:, parts] = True
    else:
        hit = np.asarray(draws) < op
        if mode == "joint":
            return hit.reshape(n, m, t, v)
        if mode == "sequence":
            return hit.reshape(n, 1, 1, v)
        if mode == "span":
            per_joint = np.asarray(draws).reshape(n, m, v, t)
            return np.swapaxes(span_mask(per_joint, op), 2, 3)
        gone = hit
    return gone[:, np.asarray(layout.parts)][:, None, None, :]


def occlude(
    x: np.ndarray,
    layout: Layout,
    op: float,
    mode: str = "joint",
    parts: list[int | str] | tuple[int | str, ...] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Zero joints (all channels, so confidence 0) with probability `op` (method.md §7); returns a copy.

    joint: each joint of each frame of each person i.i.d.; sequence: each joint for the whole clip; span: each
    joint over contiguous spans covering a share `op` of the frames on average (an occluder that stays); part:
    each of the five parts for the whole clip, or exactly `parts` when given.
    """
    check_occlusion(op, mode)
    b = _batch_view(x, layout)
    n, m, t, v, _ = b.shape
    chosen = [_part_index(p) for p in parts] if mode == "part" and parts is not None else None
    draws = None if chosen is not None else np.random.default_rng(seed).random((n, draws_per_clip(mode, m, t, v)))
    drop = occlusion_drop(draws, op, mode, layout, (n, m, t, v), chosen)
    out = np.where(drop[..., None], np.zeros((), dtype=x.dtype), b)
    return out if x.ndim == 5 else out[0]


def occlude_part(x: np.ndarray, layout: Layout, part: int | str) -> np.ndarray:
    """Zero every joint of one part in all frames and persons (the 'missed part' of method.md §4)."""
    out = _batch_view(x, layout).copy()
    out[..., layout.part_joints(_part_index(part)), :] = 0
    return out if x.ndim == 5 else out[0]


# ---------------------------------------------------------------------------------------------------
# Joint re-mapping between layouts, by joint name (a data table, no per-layout code).


def _side(table: dict[str, tuple]) -> dict[str, tuple]:
    """Add the right-side twin of every left_* entry (left_ <-> right_ swapped in all names)."""

    def flip(s: str) -> str:
        return s.replace("left_", "\0").replace("right_", "left_").replace("\0", "right_")

    twins = {flip(k): tuple(tuple((flip(j), w) for j, w in alt) for alt in alts) for k, alts in table.items()}
    return {**table, **twins}


_MID_SHOULDERS = (("left_shoulder", 0.5), ("right_shoulder", 0.5))
_MID_HIPS = (("left_hip", 0.5), ("right_hip", 0.5))
_MID_TORSO = tuple((j, 0.25) for j in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))

# A target joint takes the source joint of the same name; otherwise the first alternative listed here
# whose joints the source has (an alternative is a weighted mix of source joints). "shoulder_mid" is the
# point between the shoulders, used with "head" to place face points.
JOINT_SOURCES: dict[str, tuple[tuple[tuple[str, float], ...], ...]] = _side(
    {
        "shoulder_mid": ((("spine_shoulder", 1.0),), (("shoulder_center", 1.0),), (("neck", 1.0),), _MID_SHOULDERS),
        "neck": ((("spine_shoulder", 1.0),), (("shoulder_center", 1.0),), _MID_SHOULDERS),
        "spine_shoulder": ((("shoulder_center", 1.0),), (("neck", 1.0),), _MID_SHOULDERS),
        "shoulder_center": ((("spine_shoulder", 1.0),), (("neck", 1.0),), _MID_SHOULDERS),
        "spine_base": ((("hip_center", 1.0),), _MID_HIPS),
        "hip_center": ((("spine_base", 1.0),), _MID_HIPS),
        "spine_mid": ((("spine", 1.0),), _MID_TORSO),
        "spine": ((("spine_mid", 1.0),), _MID_TORSO),
        "head": ((("left_ear", 0.5), ("right_ear", 0.5)), (("nose", 1.0),)),
        "left_hand": ((("left_wrist", 1.0),),),
        "left_hand_tip": ((("left_hand", 1.0),), (("left_wrist", 1.0),)),
        "left_thumb": ((("left_hand", 1.0),), (("left_wrist", 1.0),)),
        "left_foot": ((("left_ankle", 1.0),),),
    }
)

# Face points placed around the head when the source has none: offset = a * (head - shoulder_mid) + b * l,
# l = (left_shoulder - right_shoulder) made orthogonal to the head-neck direction.
FACE_POINTS: dict[str, tuple[float, float]] = {
    "nose": (-0.10, 0.0),
    "left_eye": (0.05, 0.10),
    "right_eye": (0.05, -0.10),
    "left_ear": (0.0, 0.22),
    "right_ear": (0.0, -0.22),
}
_FACE_ANCHORS = ("head", "shoulder_mid", "left_shoulder", "right_shoulder")


def _mix_row(name: str, source: Layout) -> np.ndarray | None:
    """Weights (Vs,) over source joints for one target joint name, or None when unresolvable."""
    index = source.canonical_index()
    for alt in (((name, 1.0),),) + JOINT_SOURCES.get(name, ()):
        if all(j in index for j, _ in alt):
            row = np.zeros(source.num_joints)
            row[[index[j] for j, _ in alt]] = [w for _, w in alt]
            return row
    return None


@dataclass(frozen=True)
class JointMap:
    """Linear re-mapping source -> target (weights (Vt, Vs)) plus face points built from 4 anchors."""

    weights: np.ndarray
    anchors: np.ndarray
    face: np.ndarray
    is_face: np.ndarray


def accepted_sources(name: str) -> str:
    """What a source layout may offer for target joint `name`: the name itself or one of its mixes."""
    alts = [" + ".join(j for j, _ in alt) for alt in JOINT_SOURCES.get(name, ())]
    return name + (f" (or {' or '.join(alts)})" if alts else "")


def unmapped_message(source: Layout, target: Layout, missing: list[str]) -> str:
    """The error naming every canonical joint the source lacks and the layout-file line that adds it."""
    face = [n for n in missing if n in _FACE_ANCHORS and n not in target.joints]
    own = [n for n in missing if n not in face]
    need = ", ".join(accepted_sources(n) for n in own)
    if face:
        need += ("; " if need else "") + "for the face points: " + ", ".join(accepted_sources(n) for n in face)
    example = next(iter(own + face))
    return (
        f"cannot map '{source.name}' to '{target.name}': joints are matched by name and no joint of "
        f"'{source.name}' is named or aliased {need}. Add them to its layout file as "
        f'"aliases": {{"<your joint>": "{example}", ...}} (docs/data_formats.md, joint matching)'
    )


def joint_map(source: Layout, target: Layout) -> JointMap:
    """Resolve every target joint by name through JOINT_SOURCES, then FACE_POINTS; LayoutError if not."""
    rows, face, is_face, missing = [], [], [], []
    for name in target.joints:
        row = _mix_row(name, source)
        fp = name in FACE_POINTS and row is None
        if row is None and not fp:
            missing.append(name)
        rows.append(np.zeros(source.num_joints) if row is None else row)
        face.append(FACE_POINTS.get(name, (0.0, 0.0)) if fp else (0.0, 0.0))
        is_face.append(fp)
    anchor_rows = [_mix_row(a, source) for a in _FACE_ANCHORS]
    if any(is_face):
        missing += [a for a, r in zip(_FACE_ANCHORS, anchor_rows) if r is None and a not in missing]
    if missing:
        raise LayoutError(where("simulate_estimator", unmapped_message(source, target, missing)))
    anchors = np.stack([r if r is not None else np.zeros(source.num_joints) for r in anchor_rows])
    return JointMap(np.stack(rows), anchors, np.asarray(face), np.asarray(is_face))


def joint_report(source: Layout, target: Layout) -> dict[str, dict[str, str]]:
    """How the simulation builds each target joint from `source`: 'mapped' (one source joint of that name or
    alias), 'mixed' (a weighted mix or a stand-in joint, e.g. neck = the shoulders' mean) or 'placed' (a face point
    set around the head); {kind: {target joint: what it is made of}}. LayoutError when a joint cannot be made."""
    jm = joint_map(source, target)
    index = source.canonical_index()
    out: dict[str, dict[str, str]] = {"mapped": {}, "mixed": {}, "placed": {}}
    for name, row, face in zip(target.joints, jm.weights, jm.is_face):
        used = [int(j) for j in np.flatnonzero(row)]
        if face:
            out["placed"][name] = "a face point set from the head and shoulders"
        elif len(used) == 1 and row[used[0]] == 1.0 and index.get(name) == used[0]:
            out["mapped"][name] = source.joints[used[0]]
        else:
            out["mixed"][name] = " + ".join(f"{row[j]:g} {source.joints[j]}" for j in used)
    return out


def apply_joint_map(jm: JointMap, xy: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map 2D points (..., Vs, 2) with presence (..., Vs) to the target: (..., Vt, 2) and presence."""
    out = jm.weights @ xy
    out_ok = ((~ok).astype(np.float64) @ (jm.weights != 0).T.astype(np.float64)) == 0
    head, neck, ls, rs = np.moveaxis(jm.anchors @ xy, -2, 0)
    up = head - neck
    lat = ls - rs
    lat = lat - up * ((lat * up).sum(-1, keepdims=True) / np.maximum((up * up).sum(-1, keepdims=True), 1e-12))
    face = head[..., None, :] + jm.face[:, :1] * up[..., None, :] + jm.face[:, 1:] * lat[..., None, :]
    anchors_ok = ((~ok).astype(np.float64) @ (jm.anchors != 0).T.astype(np.float64)).sum(-1) == 0
    out = np.where(jm.is_face[:, None], face, out)
    out_ok = np.where(jm.is_face, anchors_ok[..., None], out_ok)
    return out, out_ok


# ---------------------------------------------------------------------------------------------------
# Pose-estimator simulation.


@dataclass(frozen=True)
class EstimatorSim:
    """Parameters of the simulated pose estimator (method.md §7); lengths in frames, noise in body sizes.

    The defaults are the `light` preset; see ESTIMATOR_PRESETS for the calibrated `medium` and `heavy`.

    Body size is the mean bone length of the clean mapped 2D clip (transforms.body_size).
    """

    camera_distance: float = 3.5  # metres from the camera to the subject's centre joint (3D sources)
    focal_px: float = 1000.0  # pinhole focal length in pixels; principal point (960, 540)
    yaw_deg: float = 30.0  # per-clip camera yaw drawn uniformly in ±yaw_deg (3D sources)
    jitter: float = 0.06  # std of i.i.d. per-joint, per-frame Gaussian noise
    drift: float = 0.06  # stationary std of the AR(1) per-joint drift
    drift_rho: float = 0.92  # AR(1) coefficient of the drift (frame to frame correlation)
    miss_rate: float = 0.06  # expected fraction of joint-frames lost in missed-detection bursts
    miss_len: float = 5.0  # mean burst length of a missed joint (frames, geometric)
    person_miss_rate: float = 0.01  # expected fraction of frames where the whole person is missed
    person_miss_len: float = 3.0  # mean burst length of a missed person (frames)
    swap_rate: float = 0.02  # expected fraction of frames with swapped left/right arms (and legs)
    swap_len: float = 4.0  # mean length of a left/right swap (frames)
    conf_tau: float = 0.25  # confidence = exp(-|error| / (conf_tau * body size)) + noise
    conf_noise: float = 0.08  # std of the Gaussian noise added to the confidence
    conf_floor: float = 0.05  # lowest confidence of a detected joint

    def __post_init__(self) -> None:
        rates = ("miss_rate", "person_miss_rate", "swap_rate")
        bad = [k for k in rates if not 0.0 <= getattr(self, k) <= 1.0]
        bad += [k for k in ("miss_len", "person_miss_len", "swap_len") if getattr(self, k) < 1.0]
        bad += [k for k in ("jitter", "drift", "conf_noise", "yaw_deg") if getattr(self, k) < 0.0]
        bad += [k for k in ("camera_distance", "focal_px", "conf_tau") if getattr(self, k) <= 0.0]
        if not 0.0 <= self.drift_rho < 1.0:
            bad.append("drift_rho")
        if not 0.0 < self.conf_floor <= 1.0:
            bad.append("conf_floor")
        if bad:
            raise ConfigError(where("EstimatorSim", f"invalid values for {', '.join(bad)}"))


# Calibrated on Penn Action (docs/synthetic_and_degradations.md): "medium" costs a no-KD COCO-17 student about as
# much as the paper's PifPaf students lose (7.1 points); the earlier, milder defaults are now "light".
ESTIMATOR_PRESETS: dict[str, EstimatorSim] = {
    "light": EstimatorSim(),
    "medium": EstimatorSim(
        yaw_deg=45.0,
        jitter=0.15,
        drift=0.15,
        drift_rho=0.95,
        miss_rate=0.2,
        miss_len=8.0,
        person_miss_rate=0.05,
        person_miss_len=5.0,
        swap_rate=0.08,
        swap_len=6.0,
        conf_noise=0.12,
    ),
    "heavy": EstimatorSim(
        yaw_deg=45.0,
        jitter=0.2,
        drift=0.2,
        drift_rho=0.95,
        miss_rate=0.3,
        miss_len=10.0,
        person_miss_rate=0.08,
        person_miss_len=6.0,
        swap_rate=0.12,
        swap_len=8.0,
        conf_noise=0.15,
    ),
}
IMAGE_CENTER = np.array([960.0, 540.0])


def _bursts(rng: np.random.Generator, shape: tuple[int, ...], rate: float, mean_len: float) -> np.ndarray:
    """Boolean mask of bursts along axis 1 (time): starts w.p. rate/mean_len, geometric lengths."""
    start = rng.random(shape) < rate / mean_len
    length = rng.geometric(1.0 / mean_len, shape)
    t = np.arange(shape[1]).reshape((1, -1) + (1,) * (len(shape) - 2))
    last = np.maximum.accumulate(np.where(start, t, -1), axis=1)
    last_len = np.take_along_axis(np.where(start, length, 0), np.maximum(last, 0), axis=1)
    return (last >= 0) & (t - last < last_len)


def ar1_noise(rng: np.random.Generator, shape: tuple[int, ...], std: float, rho: float) -> np.ndarray:
    """Stationary AR(1) noise along axis 1: x_t = rho x_{t-1} + e_t, marginal std `std`."""
    t = shape[1]
    lag = np.arange(t)[:, None] - np.arange(t)[None, :]
    kernel = np.where(lag >= 0, rho ** np.maximum(lag, 0), 0.0)
    e = rng.normal(0.0, std, shape)
    e[:, 1:] *= np.sqrt(1.0 - rho**2)
    return (kernel @ e.reshape(shape[0], t, -1)).reshape(shape)


def project(clip: np.ndarray, center: int, distance: float, focal: float, yaw: float) -> np.ndarray:
    """Perspective projection (M, T, V, 3) metres -> (M, T, V, 2) pixels (image x right, y down).

    Kinect camera space (x to the sensor's left, y up, z forward). The scene is re-centred on the first
    seen centre joint, turned by `yaw` about the vertical y axis and put `distance` metres from the camera.
    """
    ok = present(clip)
    seen = np.argwhere(ok[..., center])
    root = clip[seen[0][0], seen[0][1], center] if len(seen) else np.zeros(3)
    p = clip - root
    c, s = np.cos(yaw), np.sin(yaw)
    x, y, z = c * p[..., 0] + s * p[..., 2], p[..., 1], -s * p[..., 0] + c * p[..., 2]
    depth = np.maximum(distance + z, 0.1)
    return IMAGE_CENTER - focal * np.stack([x, y], axis=-1) / depth[..., None]


def _lr_pairs(layout: Layout) -> dict[str, np.ndarray]:
    """Permutations swapping left/right arm joints ('arms') and leg joints ('legs') of a layout."""
    index = {j: i for i, j in enumerate(layout.joints)}
    perms = {}
    for group, part in (("arms", "left_arm"), ("legs", "left_leg")):
        perm = np.arange(layout.num_joints)
        for i in layout.part_joints(part):
            twin = index.get(layout.joints[i].replace("left_", "right_"))
            if layout.joints[i].startswith("left_") and twin is not None:
                perm[i], perm[twin] = twin, i
        perms[group] = perm
    return perms


def _simulate_clip(
    clip: np.ndarray,
    source: Layout,
    target: Layout,
    jm: JointMap,
    perms: dict[str, np.ndarray],
    p: EstimatorSim,
    rng: np.random.Generator,
) -> np.ndarray:
    """One clip (M, T, Vs, 3) -> (M, T, Vt, 3): (x, y, confidence) for 2D targets, noisy (x, y, z) for 3D."""
    ok = present(clip)
    if source.dims == 3 and target.dims == 2:
        xy = project(clip, source.center, p.camera_distance, p.focal_px, np.deg2rad(rng.uniform(-p.yaw_deg, p.yaw_deg)))
    else:
        xy = clip[..., : target.dims].astype(np.float64)
    xy, ok = apply_joint_map(jm, xy, ok)
    m, t, v, d = xy.shape
    size = body_size(np.concatenate([xy, np.ones((m, t, v, 3 - d))], axis=-1) * ok[..., None], target)
    for perm in perms.values():
        swap = _bursts(rng, (m, t, 1, 1), p.swap_rate, p.swap_len)
        xy, ok = np.where(swap, xy[..., perm, :], xy), np.where(swap[..., 0], ok[..., perm], ok)
    err = rng.normal(0.0, p.jitter * size, xy.shape) + ar1_noise(rng, xy.shape, p.drift * size, p.drift_rho)
    out = xy + err
    if d == 2:
        conf = np.exp(-np.linalg.norm(err, axis=-1) / (p.conf_tau * size))
        conf += rng.normal(0.0, p.conf_noise, ok.shape)
        out = np.concatenate([out, np.clip(conf, p.conf_floor, 1.0)[..., None]], axis=-1)
    ok = (
        ok
        & ~_bursts(rng, (m, t, v), p.miss_rate, p.miss_len)
        & ~_bursts(rng, (m, t, 1), p.person_miss_rate, p.person_miss_len)
    )
    return np.where(ok[..., None], out, 0.0).astype(np.float32)


def resolve_preset(level: str | EstimatorSim) -> tuple[str, EstimatorSim]:
    """(name, parameters) for a preset name or an EstimatorSim instance ('custom')."""
    if isinstance(level, EstimatorSim):
        return "custom", level
    if level not in ESTIMATOR_PRESETS:
        raise ConfigError(
            where("simulate_estimator", f"unknown level '{level}', use one of {', '.join(ESTIMATOR_PRESETS)}")
        )
    return level, ESTIMATOR_PRESETS[level]


def simulate_estimator(
    high: SkeletonDataset, target_layout: str | Layout = "coco17", level: str | EstimatorSim = "medium", seed: int = 0
) -> SkeletonDataset:
    """Low-quality dataset simulated from `high` (method.md §7), deterministic per seed.

    Projection (3D source, 2D target), name-based re-mapping to `target_layout` with face points, swaps,
    jitter, AR(1) drift, confidence (2D targets), missed-detection bursts. A 3D target (homogeneous 3D,
    e.g. ntu25 -> ntu25) keeps (x, y, z) and gets the same noise in metres. Clip i uses generator (seed, i).
    """
    target = get_layout(target_layout)
    if target.dims > high.layout.dims:
        raise ConfigError(where("simulate_estimator", f"cannot make 3D '{target.name}' from 2D '{high.layout.name}'"))
    name, params = resolve_preset(level)
    jm = joint_map(high.layout, target)
    perms = _lr_pairs(target)
    clips = [
        _simulate_clip(c, high.layout, target, jm, perms, params, np.random.default_rng([seed, i]))
        for i, c in enumerate(high.clips)
    ]
    meta = {
        **high.meta,
        "source": f"simulate_estimator({high.meta.get('source', high.layout.name)})",
        "units": "px" if target.dims == 2 else high.meta.get("units", "m"),
        "estimator": {
            "level": name,
            "params": asdict(params),
            "seed": seed,
            "from_layout": high.layout.name,
            "projected": high.layout.dims > target.dims,
            "joints": joint_report(high.layout, target),
        },
    }
    return SkeletonDataset(
        clips,
        high.labels.copy(),
        list(high.class_names),
        high.split.copy(),
        target,
        list(high.names),
        high.pair_ids.copy(),
        meta,
    )


__all__ = [
    "OCCLUSION_MODES",
    "occlude",
    "occlude_part",
    "check_occlusion",
    "draws_per_clip",
    "occlusion_drop",
    "JOINT_SOURCES",
    "FACE_POINTS",
    "JointMap",
    "joint_map",
    "joint_report",
    "apply_joint_map",
    "EstimatorSim",
    "ESTIMATOR_PRESETS",
    "project",
    "ar1_noise",
    "resolve_preset",
    "simulate_estimator",
]
