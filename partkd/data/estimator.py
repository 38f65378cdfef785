"""The pose-estimator simulation (method.md §7): a high-quality dataset turned into the 2D + confidence output of a
parameterised pose estimator on another joint layout (projection, re-mapping, jitter, drift, misses, swaps)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from partkd.data.dataset import SkeletonDataset
from partkd.data.joint_map import JointMap, apply_joint_map, joint_map, joint_report
from partkd.data.transforms import body_size, present
from partkd.errors import ConfigError, where
from partkd.layouts import Layout, get_layout


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


__all__ = ["ESTIMATOR_PRESETS", "EstimatorSim", "ar1_noise", "project", "resolve_preset", "simulate_estimator"]
