"""The built-in synthetic paired dataset: procedural 3D actions on `ntu25`, low-quality twin by estimator sim.

Each action drives the joint angles of chosen body parts (its carriers) as a function of time; positions come from
forward kinematics on a bone tree with per-subject bone lengths. Kinect camera space in metres (x to the
sensor's left, y up, z away from the camera); subjects face the camera, the floor is at y = FLOOR_Y.

Two action sets (`motion`): "clean", the default, is the ground truth for part importance: only the carriers move
in a class-specific way, every other part gets the same class-independent idle sway in every class, and the pelvis
stays put (but for jumping jacks' hop, a class every part carries), so no carrier drags another part along.
"coupled" is the earlier set: bow pitches the trunk (the arms follow), squat lowers the whole body and there is no
idle sway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from partkd.data.dataset import PairedDataset, SkeletonDataset
from partkd.data.estimator import EstimatorSim, ar1_noise, simulate_estimator
from partkd.data.transforms import body_size, present
from partkd.errors import ConfigError, where
from partkd.layouts import PARTS, Layout, get_layout

SUBJECTS = 10
TRAIN_SUBJECTS = 7  # subjects 0..6 train, 7..9 test
FLOOR_Y = -1.0
NOISE_M = 0.002  # std of the smooth per-joint sensor noise (metres)
NOISE_RHO = 0.85  # its AR(1) frame-to-frame correlation

Pose = dict[str, np.ndarray | float]

# Rest pose in degrees (hop in metres). Limb angles are absolute in the body frame (x to the subject's
# left, y up, z forward): flex raises a segment forward from hanging down, abd raises it sideways.
REST: dict[str, float] = {"trunk_pitch": 0.0, "neck_pitch": 0.0, "neck_roll": 0.0, "hop": 0.0} | {
    f"{k}_{s}": v
    for s in "lr"
    for k, v in (
        ("arm_flex", 5.0),
        ("arm_abd", 8.0),
        ("fore_flex", 15.0),
        ("fore_abd", 5.0),
        ("thigh_flex", 0.0),
        ("thigh_abd", 4.0),
        ("shank_flex", 0.0),
        ("shank_abd", 4.0),
    )
}

# Bone tree of ntu25: (child, parent, mean length in metres, direction key). Rooted at spine_base.
BONES: tuple[tuple[str, str, float, str], ...] = (
    ("spine_mid", "spine_base", 0.28, "trunk"),
    ("spine_shoulder", "spine_mid", 0.22, "trunk"),
    ("neck", "spine_shoulder", 0.08, "neck"),
    ("head", "neck", 0.14, "neck"),
) + tuple(
    bone
    for s, side in (("l", "left"), ("r", "right"))
    for bone in (
        (f"{side}_shoulder", "spine_shoulder", 0.17, f"shoulder_{s}"),
        (f"{side}_elbow", f"{side}_shoulder", 0.28, f"arm_{s}"),
        (f"{side}_wrist", f"{side}_elbow", 0.25, f"fore_{s}"),
        (f"{side}_hand", f"{side}_wrist", 0.07, f"fore_{s}"),
        (f"{side}_hand_tip", f"{side}_hand", 0.07, f"fore_{s}"),
        (f"{side}_thumb", f"{side}_hand", 0.05, f"thumb_{s}"),
        (f"{side}_hip", "spine_base", 0.09, f"hip_{s}"),
        (f"{side}_knee", f"{side}_hip", 0.42, f"thigh_{s}"),
        (f"{side}_ankle", f"{side}_knee", 0.40, f"shank_{s}"),
        (f"{side}_foot", f"{side}_ankle", 0.12, f"foot_{s}"),
    )
)
DIRECTION_KEYS: tuple[str, ...] = ("trunk", "neck") + tuple(
    f"{k}_{s}" for k in ("shoulder", "arm", "fore", "thumb", "hip", "thigh", "shank", "foot") for s in "lr"
)


def bump(t: np.ndarray, cycles: float) -> np.ndarray:
    """Smooth 0 -> 1 -> 0 pulse repeated `cycles` times over t in [0, 1]."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * cycles * t)


def swing(t: np.ndarray, cycles: float) -> np.ndarray:
    """Sine oscillation in [-1, 1], `cycles` periods over t in [0, 1]."""
    return np.sin(2 * np.pi * cycles * t)


def _both(**angles: np.ndarray | float) -> Pose:
    """The same angles for the left (_l) and right (_r) limb."""
    return {f"{k}_{s}": v for k, v in angles.items() for s in "lr"}


def _kick(t: np.ndarray, a: np.ndarray) -> Pose:
    s = bump(t, 2)
    return {"thigh_flex_r": 80 * a * s, "shank_flex_r": 80 * a * s - 70 * np.sin(np.pi * s)}


def _wave(t: np.ndarray, a: np.ndarray) -> Pose:
    return {"arm_abd_r": 75.0, "arm_flex_r": 15.0, "fore_flex_r": 15.0, "fore_abd_r": 150 + 25 * a * swing(t, 3)}


def _drink(t: np.ndarray, a: np.ndarray) -> Pose:
    s = bump(t, 2) * a
    return {"arm_flex_l": 10 + 35 * s, "arm_abd_l": 8 + 7 * s, "fore_flex_l": 15 + 140 * s, "fore_abd_l": 5 - 35 * s}


def _squat(t: np.ndarray, a: np.ndarray) -> Pose:
    s = bump(t, 2) * a
    return _both(thigh_flex=85 * s, shank_flex=-55 * s, thigh_abd=4 + 8 * s, shank_abd=4 + 4 * s)


def _jumping_jacks(t: np.ndarray, a: np.ndarray) -> Pose:
    s = bump(t, 3) * a
    return {"hop": 0.06 * np.sin(np.pi * bump(t, 3)), "neck_pitch": -25 * s} | _both(
        arm_abd=8 + 150 * s, fore_abd=5 + 155 * s, thigh_abd=4 + 25 * s, shank_abd=4 + 25 * s
    )


def _bow(t: np.ndarray, a: np.ndarray) -> Pose:
    s = bump(t, 2) * a
    return {"trunk_pitch": 60 * s, "neck_pitch": 20 * s}


def _clap(t: np.ndarray, a: np.ndarray) -> Pose:
    s = bump(t, 4) * a
    return _both(arm_flex=75.0, fore_flex=85.0, arm_abd=35 - 45 * s, fore_abd=30 - 50 * s)


def _punch(t: np.ndarray, a: np.ndarray) -> Pose:
    s = bump(t, 3) ** 2 * a
    return {"arm_flex_r": 20 + 70 * s, "arm_abd_r": 15 - 10 * s, "fore_flex_r": 140 - 50 * s, "fore_abd_r": -10.0}


def _raise_hands(t: np.ndarray, a: np.ndarray) -> Pose:
    s = bump(t, 1.5) * a
    return _both(arm_flex=5 + 150 * s, fore_flex=15 + 150 * s)


def _march(t: np.ndarray, a: np.ndarray) -> Pose:
    w = swing(t, 3)
    left, right = 60 * a * np.maximum(w, 0), 60 * a * np.maximum(-w, 0)
    return {"thigh_flex_l": left, "shank_flex_l": -0.4 * left, "thigh_flex_r": right, "shank_flex_r": -0.4 * right}


def _nod(t: np.ndarray, a: np.ndarray) -> Pose:
    return {"neck_pitch": 50 * a * bump(t, 5)}


def _nod_fast(t: np.ndarray, a: np.ndarray) -> Pose:
    return {"neck_pitch": 50 * a * bump(t, 4)}


def _head_tilt(t: np.ndarray, a: np.ndarray) -> Pose:
    return {"neck_roll": 45 * a * swing(t, 2)}


def _leg_swing_right(t: np.ndarray, a: np.ndarray) -> Pose:
    s = bump(t, 3) * a
    return {"thigh_abd_r": 4 + 40 * s, "shank_abd_r": 4 + 40 * s}


def _knee_tuck(t: np.ndarray, a: np.ndarray) -> Pose:
    s = bump(t, 2) * a
    return _both(thigh_flex=85 * s, shank_flex=-55 * s)


def _leg_swing(t: np.ndarray, a: np.ndarray) -> Pose:
    s = bump(t, 3) * a
    return {"thigh_abd_l": 4 + 40 * s, "shank_abd_l": 4 + 40 * s}


def _arm_circle(t: np.ndarray, a: np.ndarray) -> Pose:
    u = 2 * np.pi * 3 * t
    flex, abd = 70 + 35 * a * np.cos(u), 50 + 35 * a * np.sin(u)
    return {"arm_flex_l": flex, "arm_abd_l": abd, "fore_flex_l": flex + 10, "fore_abd_l": abd}


@dataclass(frozen=True)
class SynthAction:
    """One synthetic action: its name, the parts whose joint angles carry it, and its motion(t, a) -> pose."""

    name: str
    parts: tuple[str, ...]
    description: str
    motion: Callable[[np.ndarray, np.ndarray], Pose]


SYNTH_ACTIONS: tuple[SynthAction, ...] = (
    SynthAction("kick", ("right_leg",), "right leg kicks forward twice, knee bending on the way up", _kick),
    SynthAction("wave", ("right_arm",), "right arm held out sideways, forearm up, waving 3 times", _wave),
    SynthAction("drink", ("left_arm",), "left hand brought to the mouth twice", _drink),
    SynthAction("squat", ("left_leg", "right_leg"), "two deep squats; the upper body rides down", _squat),
    SynthAction(
        "jumping_jacks", PARTS, "3 jumping jacks: arms overhead, legs apart, head tilts, small hop", _jumping_jacks
    ),
    SynthAction("bow", ("head",), "trunk and head bend forward twice; the arms hang", _bow),
    SynthAction("clap", ("left_arm", "right_arm"), "arms held forward, hands meet 4 times", _clap),
    SynthAction("punch", ("right_arm",), "right fist from guard to full extension 3 times", _punch),
    SynthAction("raise_hands", ("left_arm", "right_arm"), "both arms raised overhead 1.5 times", _raise_hands),
    SynthAction("march", ("left_leg", "right_leg"), "marching on the spot, knees raised alternately", _march),
    SynthAction("nod", ("head",), "head nods 5 times", _nod),
    SynthAction("leg_swing", ("left_leg",), "left leg swings out sideways 3 times", _leg_swing),
    SynthAction("arm_circle", ("left_arm",), "left arm draws 3 circles in front", _arm_circle),
)


_BY_NAME = {a.name: a for a in SYNTH_ACTIONS}

#: The clean set: every action moves its carriers only (no trunk pitch, no whole-body drop). Classes come in pairs
#: with the same carriers (the first 12 are six pairs), so that "every other part is idle" never names a class by
#: itself: telling a pair apart takes the carriers' own motion. The default 10 are the five limb pairs; the head
#: pair (11, 12) moves two joints only, and the tiny teacher of the shipped recipe tells it apart on some seeds only
#: (docs/synthetic_and_degradations.md).
CLEAN_ACTIONS: tuple[SynthAction, ...] = (
    _BY_NAME["wave"],
    _BY_NAME["punch"],
    _BY_NAME["drink"],
    _BY_NAME["arm_circle"],
    _BY_NAME["clap"],
    _BY_NAME["raise_hands"],
    SynthAction("knee_tuck", ("left_leg", "right_leg"), "both knees drawn up twice; the pelvis stays put", _knee_tuck),
    _BY_NAME["march"],
    _BY_NAME["kick"],
    SynthAction("side_leg_raise", ("right_leg",), "right leg swings out sideways 3 times", _leg_swing_right),
    SynthAction("nod", ("head",), "head nods 4 times, quickly", _nod_fast),
    SynthAction("head_tilt", ("head",), "head tilts to the left and right shoulder twice", _head_tilt),
    _BY_NAME["leg_swing"],
    _BY_NAME["jumping_jacks"],
)

#: Action sets by name (synth_high's `motion`); "clean" is the default.
ACTION_SETS: dict[str, tuple[SynthAction, ...]] = {"clean": CLEAN_ACTIONS, "coupled": SYNTH_ACTIONS}
SYNTH_MOTIONS: tuple[str, ...] = tuple(ACTION_SETS)
#: Idle sway of the clean set: std (degrees) and frame-to-frame AR(1) correlation of every joint angle's wander.
IDLE_DEG = {"trunk": 1.0, "neck": 1.0, "limb": 1.5}
IDLE_RHO = 0.97


def action_set(motion: str = "clean") -> tuple[SynthAction, ...]:
    """The actions of a set by name; ConfigError naming the choices otherwise."""
    if motion not in ACTION_SETS:
        raise ConfigError(where("synthetic", f"unknown motion '{motion}', use one of {', '.join(SYNTH_MOTIONS)}"))
    return ACTION_SETS[motion]


def action_parts(motion: str = "clean") -> dict[str, tuple[str, ...]]:
    """Action name -> the parts carrying its motion."""
    return {a.name: a.parts for a in action_set(motion)}


def idle_sway(rng: np.random.Generator, n: int, t: int) -> dict[str, np.ndarray]:
    """Class-independent wander (degrees, (n, t) per angle key) added to every clip of the clean set."""
    out = {}
    for key in REST:
        if key == "hop":
            continue
        std = IDLE_DEG["trunk" if key.startswith("trunk") else "neck" if key.startswith("neck") else "limb"]
        out[key] = ar1_noise(rng, (n, t), std, IDLE_RHO)
    return out


def _limb_dir(flex: np.ndarray, abd: np.ndarray) -> np.ndarray:
    """Unit segment directions (..., 2, 3) from flex/abd in degrees (..., 2); index -2 is left, right."""
    f, b = np.deg2rad(flex), np.deg2rad(abd)
    side = np.array([1.0, -1.0])
    return np.stack([side * np.sin(b), -np.cos(b) * np.cos(f), np.cos(b) * np.sin(f)], axis=-1)


def _directions(pose: Mapping[str, np.ndarray | float]) -> np.ndarray:
    """Directions (N, T, len(DIRECTION_KEYS), 3) of every bone kind for a pose of (N, T) arrays."""

    def sided(k: str) -> np.ndarray:
        return np.stack([pose[f"{k}_l"], pose[f"{k}_r"]], axis=-1)

    pitch, neck = np.deg2rad(pose["trunk_pitch"]), np.deg2rad(pose["trunk_pitch"] + pose["neck_pitch"])
    roll = np.deg2rad(pose["neck_roll"]) + np.zeros_like(pitch)
    zero = np.zeros_like(pitch)
    trunk = np.stack([zero, np.cos(pitch), np.sin(pitch)], axis=-1)
    head = np.stack([np.sin(roll), np.cos(roll) * np.cos(neck), np.cos(roll) * np.sin(neck)], axis=-1)
    side = np.array([1.0, -1.0])[:, None]
    shoulder = np.broadcast_to(np.array([1.0, 0.0, 0.0]) * side, pitch.shape + (2, 3))
    hip = np.broadcast_to(np.array([1.0, -0.6, 0.0]) / np.hypot(1.0, 0.6) * side, pitch.shape + (2, 3))
    arm = _limb_dir(sided("arm_flex"), sided("arm_abd"))
    fore = _limb_dir(sided("fore_flex"), sided("fore_abd"))
    thumb = fore + np.array([0.0, 0.0, 0.8])
    thumb /= np.linalg.norm(thumb, axis=-1, keepdims=True)
    thigh = _limb_dir(sided("thigh_flex"), sided("thigh_abd"))
    shank = _limb_dir(sided("shank_flex"), sided("shank_abd"))
    foot = _limb_dir(sided("shank_flex") + 90.0, np.zeros(pitch.shape + (2,)))
    return np.concatenate(
        [trunk[..., None, :], head[..., None, :], shoulder, arm, fore, thumb, hip, thigh, shank, foot], axis=-2
    )


def _forward_kinematics(layout: Layout, pose: Mapping[str, np.ndarray | float], lengths: np.ndarray) -> np.ndarray:
    """Joint positions (N, T, V, 3) relative to spine_base: sum of bone vectors along each root path."""
    index = {j: i for i, j in enumerate(layout.joints)}
    child = np.array([index[c] for c, _, _, _ in BONES])
    parent = np.array([index[p] for _, p, _, _ in BONES])
    kind = np.array([DIRECTION_KEYS.index(k) for _, _, _, k in BONES])
    v = layout.num_joints
    step = np.zeros((v, v))
    step[child, parent] = 1.0
    ancestors = np.linalg.inv(np.eye(v) - step)  # [j, k] = 1 when k is j or an ancestor of j
    dirs = _directions(pose)
    bones = np.zeros(dirs.shape[:2] + (v, 3))
    bones[:, :, child] = dirs[:, :, kind] * lengths[:, None, :, None]
    return ancestors @ bones


def _smoothstep_envelope(t: np.ndarray, ramp: float = 0.12) -> np.ndarray:
    """0 at the clip ends, 1 in the middle, smooth ramps of `ramp` of the clip length."""
    e = np.clip(np.minimum(t, 1.0 - t) / ramp, 0.0, 1.0)
    return e * e * (3.0 - 2.0 * e)


def _subject_lengths(rng: np.random.Generator) -> np.ndarray:
    """Bone lengths (SUBJECTS, len(BONES)): a global scale times per-bone factors shared by left and right."""
    kinds = sorted({c.replace("left_", "").replace("right_", "") for c, _, _, _ in BONES})
    kind_of = np.array([kinds.index(c.replace("left_", "").replace("right_", "")) for c, _, _, _ in BONES])
    scale = rng.uniform(0.9, 1.1, (SUBJECTS, 1))
    factor = np.clip(rng.normal(1.0, 0.04, (SUBJECTS, len(kinds))), 0.9, 1.1)
    return np.array([b[2] for b in BONES]) * scale * factor[:, kind_of]


def synth_high(
    num_classes: int = 10, clips_per_class: int = 60, frames: int = 64, seed: int = 0, motion: str = "clean"
) -> SkeletonDataset:
    """The high-quality half: `ntu25` 3D clips in metres, one person, ≈ `frames` frames, split by subject; `motion`
    names the action set (ACTION_SETS)."""
    actions = action_set(motion)
    if not 1 <= num_classes <= len(actions):
        raise ConfigError(where("synthetic", f"num_classes must be in 1..{len(actions)}, got {num_classes}"))
    if clips_per_class < 1 or frames < 8:
        raise ConfigError(where("synthetic", "need clips_per_class >= 1 and frames >= 8"))
    layout = get_layout("ntu25")
    rng = np.random.default_rng(seed)
    sub_len = _subject_lengths(rng)
    sub_speed, sub_amp = rng.uniform(0.85, 1.15, SUBJECTS), rng.uniform(0.85, 1.15, SUBJECTS)
    sub_yaw = rng.uniform(-30.0, 30.0, SUBJECTS)

    n = num_classes * clips_per_class
    labels = np.repeat(np.arange(num_classes), clips_per_class)
    subject = np.tile(np.arange(clips_per_class) % SUBJECTS, num_classes)
    length = np.round(frames * rng.uniform(0.9, 1.1, n)).astype(np.int64)
    speed = sub_speed[subject] * rng.uniform(0.92, 1.08, n)
    amp = (sub_amp[subject] * rng.uniform(0.92, 1.08, n))[:, None]
    yaw = np.deg2rad(180.0 + sub_yaw[subject] + rng.uniform(-20.0, 20.0, n))
    place = np.stack([rng.uniform(-0.3, 0.3, n), rng.uniform(2.8, 3.6, n)], axis=-1)
    t_max = int(length.max())
    t = np.arange(t_max)[None, :] / (length[:, None] - 1.0)

    pose = {k: np.full((n, t_max), v) for k, v in REST.items()}
    env = _smoothstep_envelope(np.clip(t, 0.0, 1.0))
    for k, action in enumerate(actions[:num_classes]):
        rows = labels == k
        for key, target in action.motion(t[rows] * speed[rows, None], amp[rows]).items():
            pose[key][rows] = REST[key] + env[rows] * (target - REST[key])
    clean = motion == "clean"
    if clean:
        for key, wander in idle_sway(rng, n, t_max).items():
            pose[key] = pose[key] + wander

    rel = _forward_kinematics(layout, pose, sub_len[subject])
    feet = [layout.joints.index(j) for j in ("left_ankle", "left_foot", "right_ankle", "right_foot")]
    if clean:  # the pelvis stays at its rest height, whatever the legs do
        rest = _forward_kinematics(layout, {k: np.full((n, 1), v) for k, v in REST.items()}, sub_len[subject])
        lift = FLOOR_Y - rest[:, :, feet, 1].min(axis=2) + pose["hop"]
    else:
        lift = FLOOR_Y - rel[:, :, feet, 1].min(axis=2) + pose["hop"]
    c, s = np.cos(yaw)[:, None, None], np.sin(yaw)[:, None, None]
    x, y, z = rel[..., 0], rel[..., 1], rel[..., 2]
    world = np.stack(
        [c * x + s * z + place[:, None, None, 0], y + lift[:, :, None], -s * x + c * z + place[:, None, None, 1]],
        axis=-1,
    )
    world += ar1_noise(rng, world.shape, NOISE_M, NOISE_RHO)
    clips = [world[i, : length[i]][None].astype(np.float32) for i in range(n)]
    names = [f"{actions[k].name}_s{p:02d}_{i:04d}" for i, (k, p) in enumerate(zip(labels, subject))]
    split = np.where(subject < TRAIN_SUBJECTS, "train", "test")
    meta = {
        "source": "synthetic",
        "seed": seed,
        "frames": frames,
        "motion": motion,
        "subjects": SUBJECTS,
        "train_subjects": list(range(TRAIN_SUBJECTS)),
        "subject": subject.tolist(),
        "action_parts": {a.name: list(a.parts) for a in actions[:num_classes]},
    }
    return SkeletonDataset(
        clips, labels, [a.name for a in actions[:num_classes]], split, layout, names, np.arange(n), meta
    )


def make_synthetic(
    num_classes: int = 10,
    clips_per_class: int = 60,
    frames: int = 64,
    seed: int = 0,
    low_layout: str | Layout = "coco17",
    level: str | EstimatorSim = "medium",
    motion: str = "clean",
) -> PairedDataset:
    """Paired synthetic data: high `ntu25` 3D (synth_high) and its low twin by simulate_estimator."""
    high = synth_high(num_classes, clips_per_class, frames, seed, motion)
    return PairedDataset(high, simulate_estimator(high, low_layout, level, seed))


def bone_motion(clip: np.ndarray, layout: Layout) -> np.ndarray:
    """Frame-to-frame change of every bone vector (M, T-1, V, d); zero where a bone end is missing."""
    d = layout.dims
    par = layout.parents()
    ok = present(clip)
    bone = np.where((ok & ok[..., par])[..., None], clip[..., :d] - clip[..., par, :d], 0.0)
    return np.diff(bone, axis=1)


def part_motion_energy(clip: np.ndarray, layout: Layout) -> np.ndarray:
    """(5,) mean squared bone motion per frame in body sizes, summed over the bones whose child is in a part.

    Invariant to translation and scale, so it equals the energy of the normalised clip; apply it to clips
    before centring (a centred 3D clip has its centre joint at (0, 0, 0), which reads as missing).
    """
    per_bone = (bone_motion(clip, layout) ** 2).sum(-1).mean(axis=(0, 1)) / body_size(clip, layout) ** 2
    return np.bincount(np.asarray(layout.parts), weights=per_bone, minlength=len(PARTS))
