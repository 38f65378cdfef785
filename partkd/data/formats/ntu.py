"""NTU RGB+D 60/120 `.skeleton` text files: 25 Kinect v2 joints, 3D or 2D colour coordinates."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from partkd.data.dataset import SkeletonDataset
from partkd.data.formats.common import Clip, FormatLoader, build_dataset, finish_clip, gather, list_files
from partkd.errors import ConfigError, DataError, where
from partkd.layouts import Layout, get_layout

ACTIONS: tuple[str, ...] = (
    "drink water",
    "eat meal/snack",
    "brushing teeth",
    "brushing hair",
    "drop",
    "pickup",
    "throw",
    "sitting down",
    "standing up (from sitting position)",
    "clapping",
    "reading",
    "writing",
    "tear up paper",
    "wear jacket",
    "take off jacket",
    "wear a shoe",
    "take off a shoe",
    "wear on glasses",
    "take off glasses",
    "put on a hat/cap",
    "take off a hat/cap",
    "cheer up",
    "hand waving",
    "kicking something",
    "reach into pocket",
    "hopping (one foot jumping)",
    "jump up",
    "make a phone call/answer phone",
    "playing with phone/tablet",
    "typing on a keyboard",
    "pointing to something with finger",
    "taking a selfie",
    "check time (from watch)",
    "rub two hands together",
    "nod head/bow",
    "shake head",
    "wipe face",
    "salute",
    "put the palms together",
    "cross hands in front (say stop)",
    "sneeze/cough",
    "staggering",
    "falling",
    "touch head (headache)",
    "touch chest (stomachache/heart pain)",
    "touch back (backache)",
    "touch neck (neckache)",
    "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm",
    "punching/slapping other person",
    "kicking other person",
    "pushing other person",
    "pat on back of other person",
    "point finger at the other person",
    "hugging other person",
    "giving something to other person",
    "touch other person's pocket",
    "handshaking",
    "walking towards each other",
    "walking apart from each other",
    # NTU RGB+D 120 adds A61..A120
    "put on headphone",
    "take off headphone",
    "shoot at the basket",
    "bounce ball",
    "tennis bat swing",
    "juggling table tennis balls",
    "hush (quite)",
    "flick hair",
    "thumb up",
    "thumb down",
    "make ok sign",
    "make victory sign",
    "staple book",
    "counting money",
    "cutting nails",
    "cutting paper (using scissors)",
    "snapping fingers",
    "open bottle",
    "sniff (smell)",
    "squat down",
    "toss a coin",
    "fold paper",
    "ball up paper",
    "play magic cube",
    "apply cream on face",
    "apply cream on hand back",
    "put on bag",
    "take off bag",
    "put something into a bag",
    "take something out of a bag",
    "open a box",
    "move heavy objects",
    "shake fist",
    "throw up cap/hat",
    "hands up (both hands)",
    "cross arms",
    "arm circles",
    "arm swings",
    "running on the spot",
    "butt kicks (kick backward)",
    "cross toe touch",
    "side kick",
    "yawn",
    "stretch oneself",
    "blow nose",
    "hit other person with something",
    "wield knife towards other person",
    "knock over other person (hit with body)",
    "grab other person's stuff",
    "shoot at other person with a gun",
    "step on foot",
    "high-five",
    "cheers and drink",
    "carry something with other person",
    "take a photo of other person",
    "follow other person",
    "whisper in other person's ear",
    "exchange things with other person",
    "support somebody with hand",
    "finger-guessing game (playing rock-paper-scissors)",
)
NTU60 = 60

#: Training subjects of the cross-subject benchmark (NTU-120 list; its first 20 are NTU-60's).
TRAIN_SUBJECTS = frozenset(
    (
        1,
        2,
        4,
        5,
        8,
        9,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
        25,
        27,
        28,
        31,
        34,
        35,
        38,
        45,
        46,
        47,
        49,
        50,
        52,
        53,
        54,
        55,
        56,
        57,
        58,
        59,
        70,
        74,
        78,
        80,
        81,
        82,
        83,
        84,
        85,
        86,
        89,
        91,
        92,
        93,
        94,
        95,
        97,
        98,
        100,
        103,
    )
)
TRAIN_CAMERAS = frozenset((2, 3))
BENCHMARKS = ("xsub", "xview", "xset")
NAME = re.compile(r"(?=.*S(\d{3}))(?=.*C(\d{3}))(?=.*P(\d{3}))(?=.*R(\d{3}))(?=.*A(\d{3}))")
JOINTS = 25
BODY_INFO = 10
JOINT_VALUES = 12
MAX_BODIES = 2

#: The NTU joints in 2D colour-image pixels with tracking confidence.
NTU25_2D = replace(
    get_layout("ntu25"),
    name="ntu25_2d",
    dims=2,
    _cache={},
    description="Kinect v2, 25 joints, 2D colour pixels + tracking confidence (NTU RGB+D)",
)


def files(path: Path) -> list[Path]:
    """The .skeleton files of a folder, or one .skeleton file."""
    return list_files(path, (".skeleton",), "NTU .skeleton")


def name_fields(name: str, source: object) -> dict[str, int]:
    """Setup, camera, performer, replication and action numbers from an NTU file name."""
    m = NAME.match(name)
    if not m:
        raise DataError(where(source, "file name does not follow SsssCcccPpppRrrrAaaa"))
    return dict(zip("SCPRA", map(int, m.groups())))


def read_bodies(path: Path) -> np.ndarray:
    """Every body of a .skeleton file as (B, T, 25, 12), zero where a body is absent from a frame."""
    try:
        tok = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(where(path, f"not a readable .skeleton text file ({e})")) from None
    try:
        frames = int(tok[0])
        pos = 1
        ids: dict[str, int] = {}
        rows: list[tuple[int, int, np.ndarray]] = []
        for t in range(frames):
            bodies = int(tok[pos])
            pos += 1
            for _ in range(bodies):
                body_id, joints = tok[pos], int(tok[pos + BODY_INFO])
                if joints != JOINTS:
                    raise DataError(where(path, f"frame {t}: body has {joints} joints, expected {JOINTS}"))
                start = pos + BODY_INFO + 1
                pos = start + JOINTS * JOINT_VALUES
                if pos > len(tok):
                    raise IndexError("file ends inside a body")
                values = np.array(tok[start:pos], dtype=np.float64).reshape(JOINTS, JOINT_VALUES)
                rows.append((ids.setdefault(body_id, len(ids)), t, values))
    except (IndexError, ValueError) as e:
        raise DataError(where(path, f"truncated or malformed .skeleton file ({e})")) from None
    if pos != len(tok):
        raise DataError(where(path, f"{len(tok) - pos} unexpected values after the last frame"))
    if not rows:
        raise DataError(where(path, f"empty clip ({frames} frames, no body in any frame)"))
    out = np.zeros((len(ids), frames, JOINTS, JOINT_VALUES))
    body, frame = (np.array(col) for col in zip(*[(r[0], r[1]) for r in rows]))
    out[body, frame] = np.stack([r[2] for r in rows])
    return out


def most_active(bodies: np.ndarray, keep: int) -> np.ndarray:
    """The `keep` bodies with the largest motion variance of their 3D joints, most active first."""
    xyz = bodies[..., :3]
    present = (xyz != 0).any(axis=(2, 3))[..., None, None]  # (B, T, 1, 1)
    count = np.maximum(present.sum(axis=1), 1)  # (B, 1, 1)
    mean = xyz.sum(axis=1) / count  # (B, V, 3); absent frames are zero
    var = (((xyz - mean[:, None]) ** 2) * present).sum(axis=(1, 2, 3)) / count[:, 0, 0]
    return bodies[np.argsort(-var, kind="stable")[:keep]]


def split_of(fields: dict[str, int], benchmark: str) -> str:
    """'train' or 'test' of a clip under a benchmark (cross-subject, cross-view, cross-setup)."""
    if benchmark == "xsub":
        train = fields["P"] in TRAIN_SUBJECTS
    elif benchmark == "xview":
        train = fields["C"] in TRAIN_CAMERAS
    else:
        train = fields["S"] % 2 == 0
    return "train" if train else "test"


def read_clip(path: Path, layout: Layout, coords: str, benchmark: str) -> Clip:
    """One .skeleton file as a (M<=2, T, 25, 3) clip; 3D joints or 2D colour pixels + confidence."""
    fields = name_fields(path.stem, path)
    if not 1 <= fields["A"] <= len(ACTIONS):
        raise DataError(where(path, f"action A{fields['A']:03d} is outside A001..A{len(ACTIONS)}"))
    bodies = most_active(read_bodies(path), MAX_BODIES)
    if coords == "3d":
        data = bodies[..., :3]
    else:
        data = np.concatenate([bodies[..., 5:7], bodies[..., 11:12] / 2.0], axis=-1)
    return Clip(path.stem, finish_clip(data, layout, path), fields["A"] - 1, split_of(fields, benchmark))


def parse(
    path: Path, paths: list[Path], layout: Layout | None, skip_bad: bool, coords: str = "3d", benchmark: str = "xsub"
) -> SkeletonDataset:
    """Every NTU clip; labels from the A number, split by the benchmark; 60 or 120 class names."""
    if coords not in ("3d", "2d"):
        raise ConfigError(f"ntu option coords must be '3d' or '2d', got '{coords}'")
    if benchmark not in BENCHMARKS:
        raise ConfigError(f"ntu option benchmark must be one of {', '.join(BENCHMARKS)}, got '{benchmark}'")
    layout = layout or (get_layout("ntu25") if coords == "3d" else NTU25_2D)
    clips, skipped = gather(
        ((str(p), p) for p in paths), lambda p: read_clip(p, layout, coords, benchmark), path, skip_bad
    )
    classes = NTU60 if max(c.label for c in clips) < NTU60 else len(ACTIONS)
    return build_dataset(clips, list(ACTIONS[:classes]), layout, skipped)


FORMAT = FormatLoader(
    "ntu",
    files,
    parse,
    options={"coords": "3d", "benchmark": "xsub"},
    description="NTU RGB+D 60/120 .skeleton files: 25 joints, 3D (coords=3d) or 2D colour pixels (coords=2d); "
    "benchmark xsub, xview or xset",
    citation='A. Shahroudy et al., "NTU RGB+D", CVPR 2016; J. Liu et al., "NTU RGB+D 120", TPAMI 2020.',
)
